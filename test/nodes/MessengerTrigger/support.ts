// A workflow holding only the Messenger Trigger (and a No-Op after it), run in-process with n8n's
// engine the way n8n runs a webhook trigger: the request goes to the node's webhook(), the answer is
// what the caller receives, and the node's items start the run.
import type { INode } from 'n8n-workflow';
import type { WorkflowJson } from '../../harness';
import { runWorkflow, type RunResult, type TestCredentials } from '../../harness';
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
}

/** POSTs `raw` (the exact bytes) as Meta does, to a workflow holding the trigger. */
export function post(pageId: string, raw: string, options: PostOptions = {}): Promise<RunResult> {
	const signature = options.signature === undefined ? signDelivery(raw, APP_SECRET) : options.signature;
	return runWorkflow(triggerWorkflow(options.parameters), {
		webhook: {
			method: 'POST',
			path: PATH,
			headers: { 'content-type': 'application/json', ...(signature !== null && { 'x-hub-signature-256': signature }) },
			body: raw,
		},
		credentials: options.credentials ?? credentials(pageId),
	});
}

export function verify(pageId: string, query: Record<string, string>, parameters: Record<string, unknown> = {}, creds?: TestCredentials): Promise<RunResult> {
	return runWorkflow(triggerWorkflow(parameters), { webhook: { method: 'GET', path: PATH, query }, credentials: creds ?? credentials(pageId) });
}
