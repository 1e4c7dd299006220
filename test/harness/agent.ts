// A stand-in for n8n's AI Agent, to run a Leadflow node as an agent's tool in-process through
// n8n-core's own tool path (getInputConnectionData → the node made a tool → invoked): it invokes its
// one connected tool once with the arguments in its `args` parameter (JSON) and outputs what the
// tool answered, as the agent's model would read it (`answer`), or the error it threw (`thrown`).
// Type `leadflow-test.agent` (test/harness/node-types.ts); the tool is the node's type + `Tool`, as
// n8n names the tool variant of a `usableAsTool` node.
import { NodeConnectionTypes, type IDataObject, type IExecuteFunctions, type INodeType } from 'n8n-workflow';

interface InvokableTool {
	invoke(args: IDataObject): Promise<unknown>;
}

export const TEST_AGENT_TYPE = 'leadflow-test.agent';

export const testAgent: INodeType = {
	description: {
		displayName: 'Test Agent',
		name: 'agent',
		group: ['transform'],
		version: 1,
		defaults: { name: 'Agent' },
		description: 'Invokes its tool once',
		inputs: [NodeConnectionTypes.Main, { type: NodeConnectionTypes.AiTool, displayName: 'Tool' }],
		outputs: [NodeConnectionTypes.Main],
		properties: [{ displayName: 'Args', name: 'args', type: 'string', default: '{}' }],
	},
	async execute(this: IExecuteFunctions) {
		const connected = (await this.getInputConnectionData(NodeConnectionTypes.AiTool, 0)) as InvokableTool | InvokableTool[];
		const tool = Array.isArray(connected) ? connected[0] : connected;
		try {
			const answer = await tool.invoke(JSON.parse(this.getNodeParameter('args', 0) as string) as IDataObject);
			return [[{ json: { answer: typeof answer === 'string' ? answer : JSON.stringify(answer) } }]];
		} catch (error) {
			return [[{ json: { thrown: error instanceof Error ? error.message : String(error) } }]];
		}
	},
};

/** Manual Trigger → Agent, with `tool` (a node of this package, by its type name) as its tool. */
export function agentWorkflow(tool: string, parameters: IDataObject, credentials: IDataObject, args: IDataObject = {}) {
	return {
		name: 'Agent with a Leadflow tool',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'agent', name: 'Agent', type: TEST_AGENT_TYPE, typeVersion: 1, position: [200, 0], parameters: { args: JSON.stringify(args) } },
			{ id: 'tool', name: 'Leadflow Tool', type: `n8n-nodes-leadflow.${tool}Tool`, typeVersion: 1, position: [200, 200], parameters, credentials },
		],
		connections: {
			Start: { main: [[{ node: 'Agent', type: 'main', index: 0 }]] },
			'Leadflow Tool': { ai_tool: [[{ node: 'Agent', type: 'ai_tool', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}
