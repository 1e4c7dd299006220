// Reads a workflow as n8n exports it (the JSON of `workflows/*.json` or a fixture) and finds the
// node a run starts from.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Workflow, type IConnections, type INode, type INodeTypes, type IWorkflowSettings } from 'n8n-workflow';
import { PACKAGE_ROOT } from './package-entries';

export interface WorkflowJson {
	id?: string;
	name?: string;
	nodes: INode[];
	connections: IConnections;
	settings?: IWorkflowSettings;
}

export type TriggerKind = 'manual' | 'schedule' | 'webhook';

export const TRIGGER_NODE_TYPES: Record<TriggerKind, string> = {
	manual: 'n8n-nodes-base.manualTrigger',
	schedule: 'n8n-nodes-base.scheduleTrigger',
	webhook: 'n8n-nodes-base.webhook',
};

/** Node types a run starts from like a Webhook node: n8n's, and this package's webhook triggers. */
export const WEBHOOK_TRIGGER_TYPES: readonly string[] = [TRIGGER_NODE_TYPES.webhook, 'n8n-nodes-leadflow.messengerTrigger'];

/** A workflow object, its JSON text, or a file path (relative paths are from the package root). */
export function loadWorkflow(source: WorkflowJson | string): WorkflowJson {
	if (typeof source !== 'string') return source;
	const text = source.trimStart().startsWith('{') ? source : readFileSync(path.resolve(PACKAGE_ROOT, source), 'utf8');
	const workflow = JSON.parse(text) as WorkflowJson;
	if (!Array.isArray(workflow.nodes) || typeof workflow.connections !== 'object') {
		throw new Error(`${typeof source === 'string' && !text.startsWith('{') ? source : 'The workflow'} is not an n8n workflow export (no nodes/connections).`);
	}
	return workflow;
}

/** The trigger a run starts from: the named node, else the only enabled node of the kind asked for (or of any kind). */
export function findStartNode(workflow: WorkflowJson, kind?: TriggerKind, nodeName?: string): { node: INode; kind: TriggerKind } {
	const kindOf = (node: INode) =>
		WEBHOOK_TRIGGER_TYPES.includes(node.type) ? 'webhook' : (Object.keys(TRIGGER_NODE_TYPES) as TriggerKind[]).find((one) => TRIGGER_NODE_TYPES[one] === node.type);
	if (nodeName) {
		const node = workflow.nodes.find((one) => one.name === nodeName);
		const nodeKind = node && kindOf(node);
		if (!node || !nodeKind) throw new Error(`No Manual Trigger, Schedule Trigger or Webhook node named "${nodeName}" in the workflow.`);
		return { node, kind: nodeKind };
	}
	const candidates = workflow.nodes.filter((node) => !node.disabled && kindOf(node) && (!kind || kindOf(node) === kind));
	if (candidates.length !== 1) {
		const what = kind ? `${kind} trigger` : 'Manual Trigger, Schedule Trigger or Webhook node';
		throw new Error(
			candidates.length === 0
				? `The workflow has no enabled ${what} to start from.`
				: `The workflow has ${candidates.length} candidates (${candidates.map((node) => node.name).join(', ')}): pass startNode.`,
		);
	}
	return { node: candidates[0], kind: kindOf(candidates[0]) as TriggerKind };
}

/** n8n's Workflow for a workflow file, as n8n builds one to run it (parameter defaults applied to its nodes). */
export function workflowOf(workflowJson: WorkflowJson, id: string, nodeTypes: INodeTypes, active: boolean): Workflow {
	return new Workflow({
		id,
		name: workflowJson.name,
		nodes: workflowJson.nodes,
		connections: workflowJson.connections,
		settings: workflowJson.settings,
		active,
		nodeTypes,
	});
}
