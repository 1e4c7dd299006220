// Runs a workflow with n8n's engine in-process, starting where n8n would:
// - Manual Trigger: an editor run ('manual' mode), the trigger node runs itself.
// - Schedule Trigger: the node's trigger function fires once (as "Execute step" does), then the
//   workflow runs in 'trigger' mode from what it emitted, as a scheduled production run does.
// - Webhook: the node's `webhook()` reads the request (and checks its authentication) exactly as in
//   n8n; the response is what the Webhook node, the Respond to Webhook node (through the
//   `sendResponse` hook) or n8n's webhook layer (response modes onReceived / lastNode) answered.
import { NodeExecuteFunctions, TriggersAndPollers, WebhookContext, WorkflowExecute } from 'n8n-core';
import {
	createRunExecutionData,
	isNodeClassInstance,
	resolveWebhookDescriptionField,
	Workflow,
	type IDataObject,
	type IExecuteResponsePromiseData,
	type INode,
	type INodeExecutionData,
	type IRun,
	type IWebhookData,
	type IWebhookResponseData,
	type IWorkflowExecuteAdditionalData,
	type WorkflowExecuteMode,
} from 'n8n-workflow';
import { createAdditionalData, createHooks } from './additional-data';
import { HarnessCredentialTypes } from './credential-types';
import { TestCredentialsHelper, type TestCredentials } from './credentials-helper';
import { loaders } from './loaders';
import { HarnessNodeTypes } from './node-types';
import { executeWorkflowIn, type SubExecution, type SubWorkflowHost } from './sub-workflows';
import { fakeRequest, RecordingResponse, type CapturedResponse, type WebhookRequest } from './webhook-http';
import { findStartNode, loadWorkflow, workflowOf, type TriggerKind, type WorkflowJson } from './workflow-file';

export interface RunOptions {
	/** Which trigger to start from; default: the workflow's only trigger (webhook when `webhook` is given). */
	trigger?: TriggerKind;
	/** The trigger node's name, when the workflow has several of a kind. */
	startNode?: string;
	/** The HTTP request for a Webhook start (default: the node's method and path, no body). */
	webhook?: WebhookRequest;
	/** Test credentials by credential type name. */
	credentials?: TestCredentials;
	/** `$vars` as the workflow sees them. */
	variables?: Record<string, string>;
	/** The community package whose nodes and credentials are loaded; default this one (the harness's own tests use a fixture package). */
	packageRoot?: string;
	/** Other workflows an Execute Workflow node may call by id (the running workflow can always call itself). */
	workflows?: Array<WorkflowJson | string>;
	/**
	 * Aborting it cancels the execution as n8n does when a user presses Stop or the workflow timeout
	 * ends the run: the engine aborts the execution's cancel signal and the node's code goes on.
	 */
	cancel?: AbortSignal;
}

export interface RunError {
	message: string;
	description?: string;
	node?: string;
}

export interface RunResult {
	/** n8n's execution status: 'success', 'error', … ('success' too when a webhook was refused before the run). */
	status: IRun['status'];
	mode: WorkflowExecuteMode;
	/** The first output of each executed node, items' `json`, all runs of the node in order. */
	nodeOutputs: Record<string, IDataObject[]>;
	/** Every output of each executed node (e.g. an IF node's true and false branches). */
	nodeBranches: Record<string, IDataObject[][]>;
	/** Node names in the order they finished. */
	executedNodes: string[];
	/** What the webhook caller received. */
	response?: CapturedResponse;
	error?: RunError;
	/** The engine's full result, for what the fields above leave out. */
	run?: IRun;
	/** Milliseconds from the start of the run to the end of this execution (the webhook's answer is sent by then). */
	durationMs?: number;
	/**
	 * The sub-executions its Execute Workflow nodes started (nested ones too), in order. Those it did
	 * not wait for may end after it; runWorkflow returns once every one of them has ended.
	 */
	subExecutions: SubExecution[];
}

let executionCounter = 0;

export async function runWorkflow(source: WorkflowJson | string, options: RunOptions = {}): Promise<RunResult> {
	const workflowJson = loadWorkflow(source);
	const { node: startNode, kind } = findStartNode(workflowJson, options.trigger ?? (options.webhook ? 'webhook' : undefined), options.startNode);
	const loaded = await loaders(options.packageRoot);
	const nodeTypes = new HarnessNodeTypes(loaded);
	const credentialsHelper = new TestCredentialsHelper(new HarnessCredentialTypes(loaded), options.credentials ?? {});

	const workflowId = workflowJson.id ?? 'harness';
	const workflow = workflowOf(workflowJson, workflowId, nodeTypes, kind !== 'manual');
	// The Workflow holds its own copies of the nodes (with parameter defaults applied).
	const node = workflow.getNode(startNode.name) as INode;
	const mode: WorkflowExecuteMode = kind === 'manual' ? 'manual' : kind === 'schedule' ? 'trigger' : 'webhook';
	const executionId = String(++executionCounter);
	const hooks = createHooks(mode, executionId, workflowJson, workflowId);
	const host: SubWorkflowHost = {
		workflows: new Map([...(options.workflows ?? []).map(loadWorkflow), workflowJson].map((one) => [one.id ?? workflowId, one])),
		nodeTypes,
		nextExecutionId: () => String(++executionCounter),
		additionalDataFor: (subWorkflow, subWorkflowId, subExecutionId) =>
			createAdditionalData({
				credentialsHelper,
				hooks: createHooks('integrated', subExecutionId, subWorkflow, subWorkflowId),
				executionId: subExecutionId,
				workflowId: subWorkflowId,
				variables: options.variables,
			}),
		started: [],
		running: [],
		origin: performance.now(),
	};
	const additionalData = createAdditionalData({ credentialsHelper, hooks, executionId, workflowId, variables: options.variables, executeWorkflow: executeWorkflowIn(host) });

	const executedNodes: string[] = [];
	hooks.addHandler('nodeExecuteAfter', (nodeName) => void executedNodes.push(nodeName));
	const responses: IExecuteResponsePromiseData[] = [];
	hooks.addHandler('sendResponse', (response) => void responses.push(response));

	let durationMs: number | undefined;
	const execute = async (startData: INodeExecutionData[][]): Promise<IRun> => {
		const runExecutionData = createRunExecutionData({
			executionData: { nodeExecutionStack: [{ node, data: { main: startData }, source: null }] },
		});
		const execution = new WorkflowExecute(additionalData, mode, runExecutionData).processRunExecutionData(workflow);
		const cancel = () => execution.cancel();
		options.cancel?.addEventListener('abort', cancel, { once: true });
		try {
			return await execution;
		} finally {
			options.cancel?.removeEventListener('abort', cancel);
			durationMs = performance.now() - host.origin;
		}
	};
	const started = async (): Promise<RunResult> => {
		if (kind === 'manual') return summarise(await execute([[{ json: {} }]]), executedNodes, mode);
		if (kind === 'schedule') return summarise(await execute(await fireTrigger(workflow, node, additionalData)), executedNodes, mode);
		return await runWebhook({ workflow, node, additionalData, request: options.webhook ?? {}, execute, responses, executedNodes, mode });
	};
	try {
		return { ...(await started()), durationMs, subExecutions: host.started };
	} finally {
		// Sub-executions the run did not wait for (and theirs) end before the harness hands back the result.
		for (let settled = 0; settled < host.running.length; settled = host.running.length) await Promise.all(host.running.slice(settled));
	}
}

/** What the trigger node emits when it fires once. */
async function fireTrigger(workflow: Workflow, node: INode, additionalData: IWorkflowExecuteAdditionalData): Promise<INodeExecutionData[][]> {
	const response = await new TriggersAndPollers().runTriggerFunction(
		workflow,
		node,
		NodeExecuteFunctions.getExecuteTriggerFunctions,
		additionalData,
		'manual',
		'manual',
	);
	if (!response?.manualTriggerFunction || !response.manualTriggerResponse) throw new Error(`Trigger "${node.name}" cannot be fired on demand.`);
	try {
		await response.manualTriggerFunction();
		return await response.manualTriggerResponse;
	} finally {
		await response.closeFunction?.();
	}
}

interface WebhookRun {
	workflow: Workflow;
	node: INode;
	additionalData: IWorkflowExecuteAdditionalData;
	request: WebhookRequest;
	execute: (startData: INodeExecutionData[][]) => Promise<IRun>;
	responses: IExecuteResponsePromiseData[];
	executedNodes: string[];
	mode: WorkflowExecuteMode;
}

function defaultWebhookDescription(workflow: Workflow, node: INode) {
	return workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion).description.webhooks?.find((webhook) => webhook.name === 'default');
}

/** A field of the node's webhook description, resolved the way n8n's webhook service does. */
function describe(workflow: Workflow, node: INode, field: string, fallback: unknown): unknown {
	const description = defaultWebhookDescription(workflow, node);
	if (!description || description[field] === undefined) return fallback;
	const native = resolveWebhookDescriptionField(node, description, field);
	if (native.resolved) return native.value ?? fallback;
	return workflow.expression.getSimpleParameterValue(node, description[field] as string, 'internal', {}, undefined, fallback as string) ?? fallback;
}

/** Matches `a/:id` against `a/42`; returns the parameters, or undefined when the path differs. */
function matchPath(nodePath: string, requested: string): Record<string, string> | undefined {
	const expected = nodePath.split('/').filter(Boolean);
	const actual = requested.split('/').filter(Boolean);
	if (expected.length !== actual.length) return undefined;
	const params: Record<string, string> = {};
	for (const [index, segment] of expected.entries()) {
		if (segment.startsWith(':')) params[segment.slice(1)] = decodeURIComponent(actual[index]);
		else if (segment !== actual[index]) return undefined;
	}
	return params;
}

const json = (statusCode: number, body: unknown): CapturedResponse => ({
	statusCode,
	headers: { 'content-type': 'application/json; charset=utf-8' },
	body,
});

/** n8n's answer to a Respond to Webhook node's data: status, headers as given, the body as sent. */
function fromRespondNode(response: IExecuteResponsePromiseData): CapturedResponse {
	const headers: Record<string, string> = {};
	for (const [name, value] of Object.entries((response.headers ?? {}) as IDataObject)) headers[name.toLowerCase()] = String(value);
	if (!headers['content-type'] && typeof response.body === 'object') headers['content-type'] = 'application/json; charset=utf-8';
	return { statusCode: (response.statusCode as number | undefined) ?? 200, headers, body: response.body };
}

async function runWebhook(run: WebhookRun): Promise<RunResult> {
	const { workflow, node, additionalData } = run;
	const nodePath = String(describe(workflow, node, 'path', '')).replace(/^\/+|\/+$/g, '');
	const methods = [describe(workflow, node, 'httpMethod', 'GET')].flat().join(',').split(',').map((one) => one.trim().toUpperCase());
	const method = (run.request.method ?? methods[0]).toUpperCase();
	const requestedPath = (run.request.path ?? nodePath).replace(/^\/+|\/+$/g, '');
	const pathParams = run.request.path === undefined ? {} : matchPath(nodePath, requestedPath);
	const refused = (response: CapturedResponse): RunResult => ({ ...emptyResult(run.mode), response });

	if (!pathParams) return refused(json(404, { code: 404, message: `The requested webhook "${method} ${requestedPath}" is not registered.` }));
	if (!methods.includes(method)) {
		return refused(json(404, { code: 404, message: `This webhook is not registered for ${method} requests. Did you mean to make a ${methods[0]} request?` }));
	}

	const request = fakeRequest(run.request, method, requestedPath, { ...pathParams, ...run.request.params });
	const response = new RecordingResponse();
	// Typed as Express's request and response; the webhook nodes use only what these provide.
	additionalData.httpRequest = request as unknown as IWorkflowExecuteAdditionalData['httpRequest'];
	additionalData.httpResponse = response as unknown as IWorkflowExecuteAdditionalData['httpResponse'];

	const webhookData: IWebhookData = {
		httpMethod: method as IWebhookData['httpMethod'],
		node: node.name,
		path: requestedPath,
		webhookDescription: defaultWebhookDescription(workflow, node) as IWebhookData['webhookDescription'],
		workflowId: workflow.id,
		workflowExecuteAdditionalData: additionalData,
	};
	const closeFunctions: Array<() => Promise<void>> = [];
	const context = new WebhookContext(workflow, node, additionalData, run.mode, webhookData, closeFunctions, null);
	const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	let webhookResult: IWebhookResponseData;
	try {
		if (!nodeType.webhook) throw new Error(`Node "${node.name}" has no webhook method.`);
		webhookResult = isNodeClassInstance(nodeType) ? await nodeType.webhook(context) : await nodeType.webhook.call(context);
	} catch (error) {
		return refused(json(500, { code: 0, message: (error as Error).message }));
	} finally {
		await Promise.allSettled(closeFunctions.map(async (close) => await close()));
	}

	// As n8n's webhook layer does: a node that answered by itself (noWebhookResponse) has been
	// answered; without workflow data there is no execution (e.g. 403 for a wrong Header Auth value),
	// with it the run starts all the same and its answer is the node's.
	const answeredByNode = webhookResult.noWebhookResponse === true || response.headersSent;
	if (webhookResult.workflowData === undefined) {
		if (answeredByNode) return refused(response.captured());
		return refused(json(200, webhookResult.webhookResponse ?? { message: 'Webhook call received' }));
	}

	const responseMode = String(describe(workflow, node, 'responseMode', 'onReceived'));
	const responseCode = Number(describe(workflow, node, 'responseCode', 200));
	const answered = answeredByNode ? response.captured() : undefined;
	const finished = await run.execute(webhookResult.workflowData);
	const result = summarise(finished, run.executedNodes, run.mode);
	result.response = answered ?? webhookAnswer(responseMode, responseCode, finished, run.responses, webhookResult, workflow, node);
	return result;
}

/** The response n8n's webhook layer gives for each response mode once the run is over. */
function webhookAnswer(
	responseMode: string,
	responseCode: number,
	finished: IRun,
	responses: IExecuteResponsePromiseData[],
	webhookResult: IWebhookResponseData,
	workflow: Workflow,
	node: INode,
): CapturedResponse {
	if (responseMode === 'onReceived') {
		const responseData = describe(workflow, node, 'responseData', undefined);
		if (responseData === 'noData') return { statusCode: responseCode, headers: {}, body: undefined };
		return json(responseCode, responseData ?? webhookResult.webhookResponse ?? { message: 'Workflow was started' });
	}
	if (responseMode === 'responseNode' && responses.length > 0) return fromRespondNode(responses[0]);
	const lastNode = finished.data.resultData.lastNodeExecuted;
	const lastTask = lastNode ? finished.data.resultData.runData[lastNode]?.at(-1) : undefined;
	if (finished.data.resultData.error || lastTask?.error) return json(500, { message: 'Error in workflow' });
	if (responseMode === 'responseNode') return { statusCode: responseCode, headers: {}, body: undefined };
	const items = lastTask?.data?.main?.[0] ?? [];
	if (!lastTask) return json(responseCode, { message: 'Workflow executed successfully but the last node did not return any data' });
	const responseData = describe(workflow, node, 'responseData', 'firstEntryJson');
	if (responseData === 'noData') return { statusCode: responseCode, headers: {}, body: undefined };
	if (responseData === 'allEntries') return json(responseCode, items.map((item) => item.json));
	return json(responseCode, items[0]?.json ?? { message: 'Workflow executed successfully but the last node did not return any data' });
}

function emptyResult(mode: WorkflowExecuteMode): RunResult {
	return { status: 'success', mode, nodeOutputs: {}, nodeBranches: {}, executedNodes: [], subExecutions: [] };
}

function summarise(run: IRun, executedNodes: string[], mode: WorkflowExecuteMode): RunResult {
	const nodeOutputs: Record<string, IDataObject[]> = {};
	const nodeBranches: Record<string, IDataObject[][]> = {};
	for (const [nodeName, tasks] of Object.entries(run.data.resultData.runData)) {
		const branches: IDataObject[][] = [];
		for (const task of tasks) {
			for (const [index, items] of (task.data?.main ?? []).entries()) {
				branches[index] = [...(branches[index] ?? []), ...(items ?? []).map((item) => item.json)];
			}
		}
		nodeBranches[nodeName] = branches;
		nodeOutputs[nodeName] = branches[0] ?? [];
	}
	const { error: failure, lastNodeExecuted } = run.data.resultData;
	// Node errors name their node; any other error came from the node that ran last.
	const error: RunError | undefined = failure
		? { message: failure.message, description: failure.description ?? undefined, node: (failure as { node?: INode }).node?.name ?? lastNodeExecuted }
		: undefined;
	return { status: run.status, mode, nodeOutputs, nodeBranches, executedNodes: [...executedNodes], error, run, subExecutions: [] };
}
