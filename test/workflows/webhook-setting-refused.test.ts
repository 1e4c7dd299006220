// The shipped webhooks answer a refused setting of their own node 500 "fix it in the workflow" and a
// caller's bad input 400, telling the two apart by the failed item's `setting` (the refused setting's
// name: nodes/shared/per-item.ts), not by the words of its message. A caller's field whose refusal
// has a refused option's words (" must be one of … (got …)") is the caller's 400 with the caller's
// hint, never "fix it in the workflow". (With the words-based test this held too: each webhook
// checked the caller's own refusal first, and those end in "is not a UUID", which the pattern for a
// refused option, anchored on "(got …)" at the end, never matched. It guards the order and the field.)
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { testStack } from '../helpers/stack';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const WORDS = 'x must be one of a, b (got c)';
let sims: RunningSimulators;
let credentials: TestCredentials;

beforeAll(async () => {
	sims = await startSimulators();
	const stack = testStack();
	credentials = {
		httpHeaderAuth: KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: `key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowFacebookPageApi: { pageId: '123', accessToken: 'x', appSecret: '', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		leadflowWhatsAppApi: { phoneNumberId: '106540352242922', accessToken: 'EAAG-x', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
	} as TestCredentials;
});

afterAll(async () => {
	await sims.stop();
});

test.each([
	['tag-monitor-send', 'Trigger Now', {}, { ruleId: WORDS }, 'ruleId', /^Send ruleId as the id of one of your follow-up rules/],
	['queue-run', 'Run Now', { 'X-Leadflow-Owner': WORDS }, {}, undefined, /^Use the id of the Supabase Auth user/],
	['auto-assign', 'Analyse Now', { 'X-Leadflow-Owner': WORDS }, {}, 'X-Leadflow-Owner', /^Send X-Leadflow-Owner as the Supabase user id/],
	['contact-move', 'Move Request', {}, { conversationId: WORDS, stage: 'Qualified' }, undefined, /^Give the contact's id/],
])("%s (%s): a caller's %j %j refused in a refused option's words is still the caller's 400 (field: %s)", async (workflow, startNode, headers, body, field, hint) => {
	const run = await runWorkflow(loadWorkflow(`workflows/${workflow}.json`), {
		startNode,
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body },
		credentials,
	});

	expect(run.response?.statusCode).toBe(400);
	const answer = run.response?.body as { status?: unknown; error?: unknown; field?: unknown; hint?: unknown };
	expect(answer).toMatchObject({ status: 400, error: expect.stringContaining(`"${WORDS}" is not a UUID`), hint: expect.stringMatching(hint) });
	if (field !== undefined) expect(answer.field).toBe(field);
	expect(String(answer.hint)).not.toMatch(/fix it in the workflow/);
});
