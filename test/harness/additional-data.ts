// The `additionalData` the engine passes to every node: credentials, hooks, and the instance URLs.
// URLs must be absolute (nodes build webhook and resume URLs from them; a relative one makes
// getNodeParameter throw `Invalid URL`). Sub-workflows run as n8n runs them (sub-workflows.ts);
// services the harness does not provide (the Code node's task runner) fail with a sentence saying
// so instead of a mock's silence.
import { ExecutionLifecycleHooks, ExternalSecretsProxy } from 'n8n-core';
import type { IWorkflowBase, IWorkflowExecuteAdditionalData, WorkflowExecuteMode } from 'n8n-workflow';
import type { TestCredentialsHelper } from './credentials-helper';

/** Where the workflow believes its n8n instance is; only used to build URLs. */
export const INSTANCE_BASE_URL = 'http://127.0.0.1:5678';

export function createHooks(
	mode: WorkflowExecuteMode,
	executionId: string,
	workflow: Pick<IWorkflowBase, 'nodes' | 'connections' | 'settings'> & { name?: string },
	workflowId: string,
): ExecutionLifecycleHooks {
	const now = new Date();
	const workflowData: IWorkflowBase = {
		id: workflowId,
		name: workflow.name ?? workflowId,
		nodes: workflow.nodes,
		connections: workflow.connections,
		settings: workflow.settings,
		active: mode !== 'manual',
		isArchived: false,
		activeVersionId: null,
		createdAt: now,
		updatedAt: now,
	};
	return new ExecutionLifecycleHooks(mode, executionId, workflowData);
}

export function createAdditionalData(options: {
	credentialsHelper: TestCredentialsHelper;
	hooks: ExecutionLifecycleHooks;
	executionId: string;
	workflowId: string;
	variables?: Record<string, string>;
	/** How an Execute Workflow node's call runs (sub-workflows.ts); without it, such a call fails saying so. */
	executeWorkflow?: IWorkflowExecuteAdditionalData['executeWorkflow'];
}): IWorkflowExecuteAdditionalData {
	const base = INSTANCE_BASE_URL;
	return {
		credentialsHelper: options.credentialsHelper,
		hooks: options.hooks,
		executionId: options.executionId,
		workflowId: options.workflowId,
		currentNodeExecutionIndex: 0,
		restApiUrl: `${base}/rest`,
		instanceBaseUrl: `${base}/`,
		formBaseUrl: `${base}/form`,
		formWaitingBaseUrl: `${base}/form-waiting`,
		formTestBaseUrl: `${base}/form-test`,
		webhookBaseUrl: `${base}/webhook`,
		webhookWaitingBaseUrl: `${base}/webhook-waiting`,
		webhookTestBaseUrl: `${base}/webhook-test`,
		mcpBaseUrl: `${base}/mcp`,
		mcpTestBaseUrl: `${base}/mcp-test`,
		variables: { ...options.variables },
		externalSecretsProxy: new ExternalSecretsProxy(),
		logAiEvent: () => undefined,
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		executeWorkflow:
			options.executeWorkflow ??
			(async (workflowInfo) => {
				throw new Error(`Sub-workflow ${workflowInfo.id ?? workflowInfo.code?.name ?? ''} cannot run here: this run has no sub-workflow host.`);
			}),
		startRunnerTask: async (_additionalData, jobType, _settings, _executeFunctions, _inputData, node) => {
			throw new Error(
				`Node "${node.name}" needs n8n's task runner (${jobType}), which the in-process harness does not have. A shipped workflow that needs a Code node usually means a Leadflow node is missing.`,
			);
		},
	};
}
