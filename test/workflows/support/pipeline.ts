// The shipped follow-up workflows run in-process against the test stack and the simulators: the
// credentials they need, "trigger now" and "monitor" calls, and what the Graph simulator received.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import type { LoggedRequest, RunningSimulators } from '../../../simulators';
import { runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../../harness';
import { testStack } from '../../helpers/stack';

export const TRIGGER_WORKFLOW = 'workflows/tag-monitor-send.json';
export const MONITOR_WORKFLOW = 'workflows/automation-monitor.json';
export const WEBHOOK_KEY = { name: 'X-Leadflow-Key', value: 'pipeline-test-key' };
export const PAGE_TOKEN = 'page-token-pipeline';

export function pipelineCredentials(sims: RunningSimulators, pageId: string): TestCredentials {
	const stack = testStack();
	return {
		httpHeaderAuth: WEBHOOK_KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: 'gemini-key-1\ngemini-key-2', baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowFacebookPageApi: { pageId, accessToken: PAGE_TOKEN, appSecret: '', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
	};
}

/**
 * Credentials for every shipped workflow at once (the tests that send the same kind of request to
 * each webhook): the caller's `key`, Supabase, and Gemini, the Page and a WhatsApp number reached
 * through the simulators. The Gemini key is new each call, so no other test's rest of a key applies.
 */
export function everyWorkflowCredentials(sims: RunningSimulators, key: { name: string; value: string }): TestCredentials {
	const stack = testStack();
	return {
		httpHeaderAuth: key,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: `key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowFacebookPageApi: { pageId: '123', accessToken: 'x', appSecret: '', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		leadflowWhatsAppApi: { phoneNumberId: '106540352242922', accessToken: 'EAAG-x', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
	} as TestCredentials;
}

/** What POST /webhook/leadflow/trigger answers. */
/** The trigger's answer (docs/follow-up.md). */
export interface RunSummary {
	ruleId: string | null;
	requested: number;
	claimed: number;
	/** Why fewer than requested were claimed (null: as many as requested). */
	claimReason: string | null;
	/** The tagged contacts not claimed, by reason. */
	notClaimedByReason: Record<string, number>;
	rules: Array<{ ruleId: string; status: string; claimed: number; notClaimed: Record<string, number>; dailyLimit: number; usedToday: number | null; inActiveHours: boolean | null; nextActiveAt: string | null }>;
	sent: number;
	skipped: number;
	failed: number;
	skippedByReason: Record<string, number>;
	failedByReason: Record<string, number>;
	/** Generated contacts handed to a batch's sub-execution the run did not wait for (the schedule's path); 0 for the webhook. */
	dispatched: number;
}

export async function triggerNow(
	credentials: TestCredentials,
	body: IDataObject,
	workflow: WorkflowJson | string = TRIGGER_WORKFLOW,
): Promise<{ result: RunResult; summary: RunSummary }> {
	const result = await runWorkflow(workflow, {
		startNode: 'Trigger Now',
		webhook: { method: 'POST', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value }, body },
		credentials,
	});
	return { result, summary: result.response?.body as RunSummary };
}

export async function monitor(credentials: TestCredentials, ruleId: string): Promise<RunResult> {
	return await runWorkflow(MONITOR_WORKFLOW, {
		webhook: { method: 'GET', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value }, query: { ruleId } },
		credentials,
	});
}

/** The Send API calls the Graph simulator received (every POST …/messages, whatever it answered). */
export async function graphSends(sims: RunningSimulators): Promise<LoggedRequest[]> {
	const requests = await sims.graph.control.requests();
	return requests.filter((request) => request.method === 'POST' && request.path.endsWith('/messages'));
}
