// tag-monitor-send.json with option values an expression or a saved workflow gives its nodes:
// - Generate Follow-Up's run-wide Concurrency out of range: the node has an error output, so a thrown
//   refusal made n8n pass the claimed contacts on to Send Batch as if generated (Trigger Now answered
//   200 with every contact lease_lost, a scheduled run ended in success). Every item now fails with the
//   refusal on the error output: Trigger Now answers 500 with the message and a hint that the
//   workflow's node must be fixed, a scheduled run ends in error, the contacts are given back.
// - values saved before today's maxima (Generate's Timeout 900,000 ms, Facebook Send's Retry Later
//   After 20,160 min) still work.
// - a rule of another Page than Claim Due Contacts' Page ID: the request's rule refused (400 naming
//   ruleId, with where to send it), not the database's p_page_id, and not the Page ID to change.
// - a Rule picked in Claim Due Contacts itself, with a request of {}: a request without ruleId runs
//   it; its refusal (another Page, not a UUID, no such rule) is the workflow's 500, not a 400 / 404
//   naming a ruleId the caller never sent.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import type { INodeParameters } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { uniquePageId, withDb } from '../helpers/stack';
import { graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.gemini.control.reset();
	await sims.graph.control.reset();
});

/** The shipped workflow, `node`'s Options merged with `options`; the claim kept to `ruleId` when given (a scheduled run). */
function withOptions(ruleId: string | null, node: string, options: INodeParameters): WorkflowJson {
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((n) => {
			if (n.name === 'Claim Due Contacts' && ruleId) return { ...n, parameters: { ...n.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId } } };
			if (n.name === node) return { ...n, parameters: { ...n.parameters, options: { ...(n.parameters.options as INodeParameters), ...options } } };
			return n;
		}),
	};
}

async function statesOf(ruleId: string) {
	const { rows } = await withDb((db) =>
		db.query<{ stage: string; held: boolean; reason: string | null; n: number }>(
			`select current_stage as stage, locked_by is not null as held, stage_detail ->> 'reason' as reason, count(*)::int as n
			   from public.ai_automation_contact_states where rule_id = $1 group by 1, 2, 3 order by 1, 2, 3`,
			[ruleId],
		),
	);
	return rows;
}

const REFUSED = 'Concurrency must be a whole number from 1 to 100 (got 150)';

test('Trigger Now with Generate Follow-Up Concurrency ={{ 150 }} answers 500 with the refusal and the node to fix; nothing is generated or sent, the contacts are given back', async () => {
	const seed = await dueContacts(3, 500, 'opt-refused-now');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const { result } = await triggerNow(credentials, { ruleId: seed.ruleId }, withOptions(null, 'Generate Follow-Up', { concurrency: '={{ 150 }}' }));

	expect(result.response?.statusCode).toBe(500);
	expect(result.response?.body).toEqual({
		status: 500,
		error: REFUSED,
		field: null,
		hint: expect.stringMatching(/^The workflow's node Generate Follow-Up refuses its own setting: fix it in the workflow .*Set Concurrency in the node's Options to a whole number from 1 to 100/),
	});
	expect(result.executedNodes).not.toContain('Send Batch');
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await graphSends(sims)).toEqual([]);
	expect(await statesOf(seed.ruleId)).toEqual([{ stage: 'queued', held: false, reason: 'generation_setup_failed', n: 3 }]);
});

test('a scheduled run with Generate Follow-Up Concurrency ={{ 150 }} ends in error with the refusal; the contacts are given back', async () => {
	const seed = await dueContacts(3, 500, 'opt-refused-schedule');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(withOptions(seed.ruleId, 'Generate Follow-Up', { concurrency: '={{ 150 }}' }), { trigger: 'schedule', credentials });

	expect(result.status).toBe('error');
	expect(result.error?.message).toContain(REFUSED);
	expect(result.executedNodes).not.toContain('Send Batch');
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await statesOf(seed.ruleId)).toEqual([{ stage: 'queued', held: false, reason: 'generation_setup_failed', n: 3 }]);
});

test('a scheduled run with Generate Follow-Up Timeout (Ms) 900,000, saved before it had a maximum, generates and sends', async () => {
	const seed = await dueContacts(3, 500, 'opt-saved-timeout');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(withOptions(seed.ruleId, 'Generate Follow-Up', { timeoutMs: 900000 }), { trigger: 'schedule', credentials });

	expect([result.status, result.error?.message]).toEqual(['success', undefined]);
	expect((await sims.gemini.control.requests()).length).toBe(3);
	expect((await graphSends(sims)).length).toBe(3);
});

test('Trigger Now with Facebook Send Retry Later After 20,160 min, saved before it had a maximum, sends', async () => {
	const seed = await dueContacts(3, 500, 'opt-saved-retry-later');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const { result, summary } = await triggerNow(credentials, { ruleId: seed.ruleId }, withOptions(null, 'Facebook Send', { retryLaterMinutes: 20160 }));

	expect(result.response?.statusCode).toBe(200);
	expect(summary).toMatchObject({ claimed: 3, sent: 3, failed: 0 });
	expect((await graphSends(sims)).length).toBe(3);
});

// Claim Due Contacts set to one Page (one copy of the workflow per Page credential) and asked for a
// rule of another Page: the database refuses the rule naming its own argument (p_page_id). The
// README promises a 400 there: the request sent the rule to the wrong copy. The answer says where to
// send it; it never advises changing the copy's Page ID (that would claim contacts Facebook Send then
// fails for good, page_mismatch).
test('Trigger Now for a rule of another Page than Claim Due Contacts\' Page ID answers 400 naming ruleId and where to send it; nothing is claimed', async () => {
	const seed = await dueContacts(2, 500, 'opt-other-page');
	const copyPage = uniquePageId();
	const credentials = pipelineCredentials(sims, copyPage);
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	const workflow = { ...shipped, nodes: shipped.nodes.map((n) => (n.name === 'Claim Due Contacts' ? { ...n, parameters: { ...n.parameters, pageId: copyPage } } : n)) };

	const { result } = await triggerNow(credentials, { ruleId: seed.ruleId }, workflow);

	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual({
		status: 400,
		error: `The rule ${seed.ruleId} sends as Page ${seed.owner.pageId}, not as Page ${copyPage} (this Claim's Page ID)`,
		field: 'ruleId',
		hint: `Claim it where the Page ID is ${seed.owner.pageId}: in the copy of the workflow whose Facebook credential is that Page's (a Claim's Page ID stays its own credential's Page). Here, claim a rule that sends as Page ${copyPage} or as every Page.`,
	});
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await statesOf(seed.ruleId)).toEqual([]);
});

// The hint was chosen by the request: a ruleId that is a UUID got the node's description, anything
// else the workflow's "send {} to run every enabled rule", even when the caller had sent {} and the
// rule was the one picked in Claim Due Contacts. It follows the failed item's reason. And the rule
// picked in the node is the workflow's, not the caller's: with a request of {} (no ruleId) its
// refusal is the workflow's 500, fix it there, not a 400 (or 404) naming a ruleId the caller never
// sent (before: 400 field ruleId for a rule of another Page or not a UUID, 404 field ruleId for a
// rule that no longer exists).
/** The shipped workflow with Claim Due Contacts' Rule picked in the node (and its Page ID, when given). */
function withRuleInNode(rule: string, pageId?: string): WorkflowJson {
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((n) => (n.name === 'Claim Due Contacts' ? { ...n, parameters: { ...n.parameters, ...(pageId && { pageId }), ruleId: { __rl: true, mode: 'list', value: rule } } } : n)),
	};
}
const FIX_CLAIM = "The workflow's node Claim Due Contacts refuses its own setting: fix it in the workflow (the request is not at fault).";

test('Trigger Now {} with Claim Due Contacts\' Rule picked in the node, of another Page: the workflow\'s 500 saying where to claim it, not a 400 naming a ruleId the caller did not send', async () => {
	const seed = await dueContacts(2, 500, 'opt-other-page-fixed');
	const copyPage = uniquePageId();
	const credentials = pipelineCredentials(sims, copyPage);

	const { result } = await triggerNow(credentials, {}, withRuleInNode(seed.ruleId, copyPage));

	expect(result.response?.statusCode).toBe(500);
	expect(result.response?.body).toEqual({
		status: 500,
		error: `The rule ${seed.ruleId} sends as Page ${seed.owner.pageId}, not as Page ${copyPage} (this Claim's Page ID)`,
		field: null,
		hint: `${FIX_CLAIM} Claim it where the Page ID is ${seed.owner.pageId}: in the copy of the workflow whose Facebook credential is that Page's (a Claim's Page ID stays its own credential's Page). Here, claim a rule that sends as Page ${copyPage} or as every Page.`,
	});
	expect(await statesOf(seed.ruleId)).toEqual([]);
});

test.each([
	['a rule that no longer exists', () => randomUUID(), /^There is no automation rule with ID|automation rule .* does not exist/],
	['an id that is not a UUID', () => 'rule-1', /^The rule ID "rule-1" is not a UUID$/],
])('Trigger Now {} with Claim Due Contacts\' Rule picked in the node, %s: the workflow\'s 500 (fix it in the workflow), no field', async (_case, rule, error) => {
	const credentials = pipelineCredentials(sims, uniquePageId());

	const { result } = await triggerNow(credentials, {}, withRuleInNode(rule()));

	expect(result.response?.statusCode).toBe(500);
	expect(result.response?.body).toEqual({ status: 500, error: expect.stringMatching(error), field: null, hint: expect.stringContaining(FIX_CLAIM) });
	expect(await sims.gemini.control.requests()).toEqual([]);
});

test('Trigger Now {} with Claim Due Contacts\' Rule picked in the node runs that rule: a request without ruleId is fine', async () => {
	const seed = await dueContacts(2, 500, 'opt-rule-in-node');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const { result, summary } = await triggerNow(credentials, {}, withRuleInNode(seed.ruleId));

	expect(result.response?.statusCode).toBe(200);
	// The answer's ruleId is the rule that ran (before: null, the request's, as if every rule had run).
	expect(summary).toMatchObject({ ruleId: seed.ruleId, claimed: 2, sent: 2, failed: 0 });
	expect((await graphSends(sims)).length).toBe(2);
});
