// A stand-in for n8n's AI Agent, to run a Leadflow node as an agent's tool in-process through
// n8n-core's own tool path (getInputConnectionData → the node made a tool → invoked): it invokes its
// one connected tool once with the arguments in its `args` parameter (JSON) and outputs what the
// tool answered, as the agent's model would read it (`answer`), or the error it threw (`thrown`).
// Type `leadflow-test.agent` (test/harness/node-types.ts); the tool is the node's type + `Tool`, as
// n8n names the tool variant of a `usableAsTool` node. That is the path of n8n's AI Agent before 3.0
// and of the MCP Server Trigger.
// `leadflow-test.engineAgent` is the other path, that of n8n's AI Agent from 3.0 (3.1 is the default
// `npm run editor` installs): the agent answers the engine with a request to run its tool, n8n-core's
// WorkflowExecute runs the tool node itself (its input item the agent's input item's JSON with the
// model's arguments over it; a thrown error becomes the output `{error: message}`, nothing else of
// it), then runs the agent again with the tool's result, which it turns into the text the model reads
// (`observation`) as @n8n/n8n-nodes-langchain 2.41's buildObservation (utils/agent-execution/
// buildSteps.js) does; that package is not among this project's dependencies, so its few lines are
// repeated here.
import { NodeConnectionTypes, type EngineRequest, type EngineResponse, type IDataObject, type IExecuteFunctions, type INodeType } from 'n8n-workflow';

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

export const TEST_ENGINE_AGENT_TYPE = 'leadflow-test.engineAgent';

/** The tool node's name in agentWorkflow and engineAgentWorkflow. */
const TOOL_NODE = 'Leadflow Tool';

/** What the model reads of a tool's result: @n8n/n8n-nodes-langchain 2.41's buildObservation. */
function buildObservation(toolData: { data?: { ai_tool?: Array<Array<{ json?: unknown } | null> | null> }; error?: { message?: string; name?: string } } | undefined): string {
	const aiToolData = toolData?.data?.ai_tool?.[0]?.map((item) => item?.json);
	if (aiToolData && aiToolData.length > 0) return JSON.stringify(aiToolData);
	if (toolData?.error) {
		return JSON.stringify({ error: toolData.error.message ?? 'Unknown error', ...(toolData.error.name && { errorType: toolData.error.name }) });
	}
	return JSON.stringify('');
}

export const testEngineAgent: INodeType = {
	description: {
		displayName: 'Test Engine Agent',
		name: 'engineAgent',
		group: ['transform'],
		version: 1,
		defaults: { name: 'Agent' },
		description: 'Asks the engine to run its tool once',
		inputs: [NodeConnectionTypes.Main, { type: NodeConnectionTypes.AiTool, displayName: 'Tool' }],
		outputs: [NodeConnectionTypes.Main],
		properties: [
			{ displayName: 'Args', name: 'args', type: 'string', default: '{}' },
			{ displayName: 'Tool', name: 'tool', type: 'string', default: TOOL_NODE },
		],
	},
	async execute(this: IExecuteFunctions, response?: EngineResponse) {
		if (!response?.actionResponses?.length) {
			const request: EngineRequest = {
				actions: [
					{
						actionType: 'ExecutionNodeAction',
						nodeName: this.getNodeParameter('tool', 0) as string,
						input: JSON.parse(this.getNodeParameter('args', 0) as string) as IDataObject,
						type: NodeConnectionTypes.AiTool,
						id: 'call_1',
						metadata: { itemIndex: 0 },
					},
				],
				metadata: {},
			};
			return request;
		}
		const observation = buildObservation(response.actionResponses[0].data as Parameters<typeof buildObservation>[0]);
		return [[{ json: { observation } }]];
	},
};

/** Manual Trigger → the engine-request agent, with `tool` as its tool, as agentWorkflow. */
export function engineAgentWorkflow(tool: string, parameters: IDataObject, credentials: IDataObject, args: IDataObject = {}) {
	const workflow = agentWorkflow(tool, parameters, credentials, args);
	return { ...workflow, nodes: workflow.nodes.map((node) => (node.id === 'agent' ? { ...node, type: TEST_ENGINE_AGENT_TYPE } : node)) };
}
