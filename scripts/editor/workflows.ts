// The workflows `npm run editor` imports: every file in `workflows/` as it is at run time, with one
// change for the editor's copy of each workflow that has both a Schedule Trigger and a webhook
// trigger (tag-monitor-send.json, auto-assign.json, queue-prepare.json, queue-run.json):
// - the Schedule Trigger is switched off, so that nothing runs by itself while a person explores:
//   the seeded contacts wait for them instead of being sent by n8n's first scheduled run, up to
//   5 minutes after the start, and the data `.stack/` keeps from `npm run demo` (its queue, its
//   pipeline) changes only when they run something (queue-run would otherwise send the queue's due
//   messages every minute and fill the Executions list with a run a minute);
// - the webhook trigger carries pinned test data (a call with the body `{}` and no owner header:
//   every enabled rule, every owner), so that *Execute workflow* on the canvas runs at once instead
//   of waiting for a test call. n8n uses pinned data only for runs started in the editor; calls to
//   the production webhook are not affected.
// `npm run editor` says which schedules are off (scripts/editor/ready.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { N8nWorkflow } from '../n8n/n8n-import';
import { PACKAGE_ROOT } from '../n8n/package-tarball';

export const WORKFLOWS_DIR = path.join(PACKAGE_ROOT, 'workflows');

export interface ShippedWorkflow {
	/** Relative to the package root, e.g. `workflows/tag-monitor-send.json`. */
	file: string;
	workflow: N8nWorkflow;
}

export function shippedWorkflows(dir = WORKFLOWS_DIR): ShippedWorkflow[] {
	return readdirSync(dir)
		.filter((name) => name.endsWith('.json'))
		.sort()
		.map((name) => {
			const workflow = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as N8nWorkflow;
			if (!workflow.id) throw new Error(`workflows/${name} has no id: n8n needs one to import and publish it.`);
			return { file: path.posix.join('workflows', name), workflow };
		});
}

const SCHEDULE_TRIGGER = 'n8n-nodes-base.scheduleTrigger';
const WEBHOOK = 'n8n-nodes-base.webhook';

export interface EditorCopy {
	workflow: N8nWorkflow;
	/** Schedule Triggers switched off. */
	pausedSchedules: string[];
	/** The webhook trigger that *Execute workflow* starts from with pinned data. */
	pinnedTrigger?: string;
}

export function editorCopy(workflow: N8nWorkflow): EditorCopy {
	const schedules = workflow.nodes.filter((node) => node.type === SCHEDULE_TRIGGER && !node.disabled);
	const webhook = workflow.nodes.find((node) => node.type === WEBHOOK && !node.disabled);
	if (schedules.length === 0 || !webhook) return { workflow, pausedSchedules: [] };
	const pinned = [{ json: { headers: { 'content-type': 'application/json' }, params: {}, query: {}, body: {} } }];
	return {
		workflow: {
			...workflow,
			nodes: workflow.nodes.map((node) => (node.type === SCHEDULE_TRIGGER ? { ...node, disabled: true } : node)),
			pinData: { ...((workflow.pinData as Record<string, unknown> | undefined) ?? {}), [webhook.name]: pinned },
		},
		pausedSchedules: schedules.map((node) => node.name),
		pinnedTrigger: webhook.name,
	};
}

/** The first enabled webhook of the shipped workflows with this path, e.g. `leadflow/trigger`. */
export function findWebhook(workflows: N8nWorkflow[], webhookPath: string): { workflow: N8nWorkflow; method: string } | undefined {
	for (const workflow of workflows) {
		const node = workflow.nodes.find((one) => one.type === WEBHOOK && !one.disabled && String(one.parameters?.path ?? '').replace(/^\/+/, '') === webhookPath);
		if (node) return { workflow, method: String(node.parameters?.httpMethod ?? 'GET').toUpperCase() };
	}
	return undefined;
}
