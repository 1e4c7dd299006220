// A workflow holding only the Messenger Trigger (and a No-Op after it), run in-process with n8n's
// engine the way n8n runs a webhook trigger: the request goes to the node's webhook(), the answer is
// what the caller receives, and the node's items start the run.
import { HookContext } from 'n8n-core';
import { resolveWebhookDescriptionField, type INode, type IWebhookData, type IWebhookDescription, type WorkflowActivateMode, type WorkflowExecuteMode } from 'n8n-workflow';
import type { WorkflowJson } from '../../harness';
import { runWorkflow, type RunResult, type TestCredentials } from '../../harness';
import { createAdditionalData, createHooks } from '../../harness/additional-data';
import { HarnessCredentialTypes } from '../../harness/credential-types';
import { TestCredentialsHelper } from '../../harness/credentials-helper';
import { loaders } from '../../harness/loaders';
import { HarnessNodeTypes } from '../../harness/node-types';
import { workflowOf } from '../../harness/workflow-file';
import { testStack } from '../../helpers/stack';
import { signDelivery } from '../../../simulators';

export const APP_ID = '414141414141';
export const APP_SECRET = 'messenger-app-secret';
export const VERIFY_TOKEN = 'leadflow-verify-token';
export const PATH = 'leadflow/messenger';

export function credentials(pageId: string, overrides: Record<string, string> = {}): TestCredentials {
	const stack = testStack();
	return {
		leadflowFacebookPageApi: {
			pageId,
			accessToken: 'page-token',
			appSecret: APP_SECRET,
			appId: APP_ID,
			verifyToken: VERIFY_TOKEN,
			graphApiVersion: 'v25.0',
			baseUrl: 'http://127.0.0.1:9',
			...overrides,
		},
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
	};
}

export function triggerWorkflow(parameters: Record<string, unknown> = {}): WorkflowJson {
	const trigger: INode = {
		id: 'trigger',
		name: 'Messenger Trigger',
		type: 'n8n-nodes-leadflow.messengerTrigger',
		typeVersion: 2,
		position: [0, 0],
		parameters: { subscribe: false, ...parameters },
		credentials: {
			leadflowFacebookPageApi: { id: 'fb', name: 'Facebook Page' },
			leadflowSupabaseApi: { id: 'sb', name: 'Supabase' },
		},
	};
	const after: INode = { id: 'after', name: 'Events', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [240, 0], parameters: {} };
	return { name: 'Messenger Trigger test', nodes: [trigger, after], connections: { 'Messenger Trigger': { main: [[{ node: 'Events', type: 'main' as const, index: 0 }]] } } };
}

export interface PostOptions {
	/** Default: signed with APP_SECRET over the exact bytes. */
	signature?: string | null;
	parameters?: Record<string, unknown>;
	credentials?: TestCredentials;
	/** Default: application/json, as Meta sends. */
	contentType?: string;
}

/** POSTs `raw` (the exact bytes) as Meta does, to a workflow holding the trigger. */
export function post(pageId: string, raw: string, options: PostOptions = {}): Promise<RunResult> {
	const signature = options.signature === undefined ? signDelivery(raw, APP_SECRET) : options.signature;
	return runWorkflow(triggerWorkflow(options.parameters), {
		webhook: {
			method: 'POST',
			path: PATH,
			headers: { 'content-type': options.contentType ?? 'application/json', ...(signature !== null && { 'x-hub-signature-256': signature }) },
			body: raw,
		},
		credentials: options.credentials ?? credentials(pageId),
	});
}

export function verify(pageId: string, query: Record<string, string>, parameters: Record<string, unknown> = {}, creds?: TestCredentials): Promise<RunResult> {
	return runWorkflow(triggerWorkflow(parameters), { webhook: { method: 'GET', path: PATH, query }, credentials: creds ?? credentials(pageId) });
}

/** A webhook method of the trigger, as n8n calls it. */
export type HookCall = 'checkExists' | 'create' | 'delete';

export interface Activation {
	/** The webhook methods n8n called, in order (once per HTTP method of the webhook: GET, then POST). */
	called: HookCall[];
	/** What n8n would show when activation is refused. */
	error?: { message: string; description?: string | null };
}

export interface HookOptions {
	/** A test listen ("Listen for test event"): the test URL (<base>/webhook-test/<path>), n8n's TestWebhooks. */
	test?: boolean;
}

/** The error the last refused activation threw, as n8n receives it (to check what it carries). */
export let lastActivationError: unknown;

/** The trigger's webhooks as n8n lists them for a saved workflow (one per HTTP method), and a HookContext for each. */
async function webhooksOf(creds: TestCredentials, parameters: Record<string, unknown>, options: HookOptions) {
	const workflowJson = triggerWorkflow(parameters);
	// A saved workflow's webhook node has a webhookId; with a full path, its production URL is then <base>/webhook/<path>.
	workflowJson.nodes[0].webhookId = 'messenger-trigger-activation';
	const nodeTypes = new HarnessNodeTypes(await loaders());
	const workflow = workflowOf(workflowJson, 'activation', nodeTypes, true);
	const node = workflow.getNode('Messenger Trigger') as INode;
	const nodeType = nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	const description = nodeType.description.webhooks?.find((webhook) => webhook.name === 'default') as IWebhookDescription;
	const path = resolveWebhookDescriptionField(node, description, 'path');
	const credentialsHelper = new TestCredentialsHelper(new HarnessCredentialTypes(await loaders()), creds);
	const additionalData = createAdditionalData({ credentialsHelper, hooks: createHooks('trigger', 'activation', workflowJson, 'activation'), executionId: 'activation', workflowId: 'activation' });
	const methods = nodeType.webhookMethods?.default;
	if (!methods?.checkExists || !methods.create || !methods.delete) throw new Error('The Messenger Trigger has no webhook methods');
	// n8n (WebhookService.getNodeWebhooks) splits the description's `GET,POST` into one webhook per method.
	const webhooks: IWebhookData[] = String(description.httpMethod)
		.split(',')
		.map((httpMethod) => ({
			httpMethod: httpMethod.trim() as IWebhookData['httpMethod'],
			node: node.name,
			path: String(path.resolved ? path.value : PATH),
			webhookDescription: description,
			workflowId: 'activation',
			workflowExecuteAdditionalData: additionalData,
			...(options.test && { isTest: true }),
		}));
	const context = (webhook: IWebhookData, mode: WorkflowExecuteMode, activation: WorkflowActivateMode) => new HookContext(workflow, node, additionalData, mode, activation, webhook);
	return { methods: { checkExists: methods.checkExists, create: methods.create, delete: methods.delete }, webhooks, context };
}

/**
 * Activates a workflow holding the trigger the way n8n 2.41 does: for each of its webhooks (GET,
 * then POST) the node's checkExists with n8n-core's HookContext, then create when it answered false
 * (WebhookService.createWebhookIfNotExists). A thrown error refuses the activation, and n8n then
 * calls delete to undo it: for every webhook of the workflow (ActiveWorkflowManager.addWebhooks →
 * clearWebhooks), or for a test listen for those registered so far (TestWebhooks.needsWebhook →
 * deactivateWebhooks), in mode internal / update.
 */
export async function activate(creds: TestCredentials, parameters: Record<string, unknown> = {}, options: HookOptions = {}): Promise<Activation> {
	const { methods, webhooks, context } = await webhooksOf(creds, parameters, options);
	const mode: WorkflowExecuteMode = options.test ? 'manual' : 'trigger';
	const activation: WorkflowActivateMode = options.test ? 'manual' : 'activate';
	const called: HookCall[] = [];
	for (const [index, webhook] of webhooks.entries()) {
		try {
			called.push('checkExists');
			if (!(await methods.checkExists.call(context(webhook, mode, activation)))) {
				called.push('create');
				await methods.create.call(context(webhook, mode, activation));
			}
		} catch (error) {
			lastActivationError = error;
			for (const registered of options.test ? webhooks.slice(0, index + 1) : webhooks) {
				called.push('delete');
				await methods.delete.call(context(registered, 'internal', 'update'));
			}
			const { message, description: why } = error as { message: string; description?: string | null };
			return { called, error: { message, description: why } };
		}
	}
	return { called };
}

/** Deactivates it (or ends a test listen) the way n8n does: delete for each webhook, in mode internal / update. */
export async function deactivate(creds: TestCredentials, parameters: Record<string, unknown> = {}, options: HookOptions = {}): Promise<HookCall[]> {
	const { methods, webhooks, context } = await webhooksOf(creds, parameters, options);
	const called: HookCall[] = [];
	for (const webhook of webhooks) {
		called.push('delete');
		await methods.delete.call(context(webhook, 'internal', 'update'));
	}
	return called;
}
