// The FacebookSend node in a small workflow run with n8n's engine in-process: Manual Trigger → Set
// (the items as raw JSON) → Split Out (one item each) → Facebook Send. The harness has no task
// runner, so the items come from core nodes rather than a Code node.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../../../harness';
import { PAGE_ID } from './contacts';

export const PAGE_TOKEN = 'page-token-send-tests';
/** The recipient of a sending process's warm-up (support/child-send.ts): not a contact of any test. */
export const WARM_UP_PSID = '100000000000001';

export interface SendRun {
	result: RunResult;
	sent: IDataObject[];
	skipped: IDataObject[];
	failed: IDataObject[];
}

const position = (x: number): [number, number] => [x, 0];

export function sendWorkflow(items: IDataObject[], parameters: IDataObject, settings: { continueOnFail?: boolean } = {}): WorkflowJson {
	return {
		name: 'FacebookSend fixture',
		nodes: [
			{ id: 's1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: position(0), parameters: {} },
			{
				id: 's2',
				name: 'Items',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: position(200),
				parameters: { mode: 'raw', jsonOutput: JSON.stringify({ items }), options: {} },
			},
			{
				id: 's3',
				name: 'One Per Item',
				type: 'n8n-nodes-base.splitOut',
				typeVersion: 1,
				position: position(400),
				parameters: { fieldToSplitOut: 'items', options: {} },
			},
			{
				id: 's4',
				name: 'Send',
				type: 'n8n-nodes-leadflow.facebookSend',
				typeVersion: 1,
				position: position(600),
				parameters,
				credentials: {
					leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook Page' },
					leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' },
				},
				...(settings.continueOnFail && { onError: 'continueRegularOutput' }),
			},
		],
		connections: {
			Start: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'One Per Item', type: 'main', index: 0 }]] },
			'One Per Item': { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

export async function runSend(
	items: IDataObject[],
	parameters: IDataObject,
	credentials: TestCredentials,
	settings: { continueOnFail?: boolean } = {},
): Promise<SendRun> {
	const result = await runWorkflow(sendWorkflow(items, parameters, settings), { credentials });
	const [sent = [], skipped = [], failed = []] = result.nodeBranches.Send ?? [];
	return { result, sent, skipped, failed };
}

export function facebookCredential(baseUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
	return { pageId: PAGE_ID, accessToken: PAGE_TOKEN, appSecret: '', graphApiVersion: 'v25.0', baseUrl, ...overrides };
}

/** Fast retries for tests: the backoff is real (n8n's sleep), only shorter. */
export const FAST = { options: { retries: 2, backoffMs: 5, leaseSeconds: 60 }, messagesPerSecond: 200 };

/**
 * FAST, one call at a time (Parallel Sends 1): for tests whose assertion is about what a call
 * changes for the calls after it (the token refused, throttling, a lease running out, a kill
 * mid-send), which only strict sequencing makes exact. With parallel sends, calls already in
 * flight finish: test/nodes/FacebookSend/concurrency.test.ts covers that.
 */
export const SEQUENTIAL = { ...FAST, options: { ...FAST.options, concurrency: 1 } };
