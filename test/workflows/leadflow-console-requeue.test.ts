// The Follow-ups tab's Requeue: POST /webhook/leadflow/console/api/requeue of
// workflows/leadflow-console.json through n8n's engine in-process, against the local stack and the
// Graph and Gemini simulators. Contacts fail for real (tag-monitor-send.json's Trigger Now, Graph
// refusing one send for good and answering another without a message id: send_uncertain); the
// endpoint requeues the refused one (the next run sends it), leaves the uncertain one unless told it
// was checked, answers one result per contact with the counts; bad input is a 400 naming the field
// and an unknown rule a 404, nothing requeued; 403 without the key.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { withDb } from '../helpers/stack';
import { graphSends, pipelineCredentials, triggerNow, WEBHOOK_KEY } from './support/pipeline';
import { dueContacts } from './support/seeds';

const WORKFLOW = 'workflows/leadflow-console.json';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.gemini.control.reset();
});

const withKey = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };
const requeue = (credentials: TestCredentials, body: unknown, headers: Record<string, string> = withKey, query?: Record<string, string>) =>
	runWorkflow(WORKFLOW, {
		startNode: 'Requeue Request',
		webhook: { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: body as IDataObject, ...(query && { query }) },
		credentials,
	});

interface Answer {
	ruleId: string;
	uncertain: string;
	results: Array<{ conversation_id: string; outcome: string; stage: string | null; error_code: string | null; released_guard: boolean }>;
	counts: Record<string, number>;
}

/** The rule's contact states: stage, error and retry time, by conversation. */
const states = (ruleId: string) =>
	withDb(async (db) => (await db.query<{ conversation_id: string; current_stage: string; error_code: string | null; retry_at: Date | null }>(
		'select conversation_id, current_stage, error_code, retry_at from public.ai_automation_contact_states where rule_id = $1 order by conversation_id',
		[ruleId],
	)).rows);

const conversationOf = (userId: string, psid: string) =>
	withDb(async (db) => (await db.query<{ id: string }>('select id from public.messenger_conversations where user_id = $1 and sender_id = $2', [userId, psid])).rows[0].id);

/** Three due contacts run once: Graph refuses the first for good, answers the second without a message id, sends the third. */
async function failedRun() {
	const seed = await dueContacts(3, 20, 'console-requeue');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	const [refusedPsid, uncertainPsid, sentPsid] = seed.psids;
	await sims.graph.control.addFault({ match: { recipient: refusedPsid }, effect: { kind: 'graphError', code: 100, subcode: 2018001 } });
	await sims.graph.control.addFault({ match: { recipient: uncertainPsid }, effect: { kind: 'answer', status: 200, body: { recipient_id: uncertainPsid } } });
	const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });
	expect(summary).toMatchObject({ claimed: 3, sent: 1, failed: 2 });
	await sims.graph.control.clearFaults();
	return {
		...seed,
		credentials,
		refused: await conversationOf(seed.owner.userId, refusedPsid),
		uncertain: await conversationOf(seed.owner.userId, uncertainPsid),
		sent: await conversationOf(seed.owner.userId, sentPsid),
		refusedPsid,
		uncertainPsid,
	};
}

test('Requeue: the refused contact due again and sent by the next run; the uncertain one left until checked, then requeued', async () => {
	const run = await failedRun();
	const before = await states(run.ruleId);
	expect(before.filter((state) => state.current_stage === 'failed').map((state) => state.conversation_id).sort()).toEqual([run.refused, run.uncertain].sort());

	// Every failed contact of the rule, Uncertain Sends left as the default.
	const all = await requeue(run.credentials, { ruleId: run.ruleId });
	expect(all.error).toBeUndefined();
	expect(all.response?.statusCode).toBe(200);
	const answer = all.response?.body as Answer;
	expect(answer.ruleId).toBe(run.ruleId);
	expect(answer.uncertain).toBe('leave');
	expect(answer.counts).toEqual({ requeued: 1, uncertain_left: 1, not_failed: 0, not_found: 0 });
	expect(answer.results.map(({ conversation_id, outcome, error_code, released_guard }) => ({ conversation_id, outcome, error_code, released_guard }))).toEqual(
		[
			{ conversation_id: run.refused, outcome: 'requeued', error_code: 'no_matching_user', released_guard: true },
			{ conversation_id: run.uncertain, outcome: 'uncertain_left', error_code: 'send_uncertain', released_guard: false },
		].sort((a, b) => a.conversation_id.localeCompare(b.conversation_id)),
	);

	// Due: the next run claims the refused contact (only it) and Graph receives its follow-up.
	const sendsBefore = (await graphSends(sims)).length;
	const { summary } = await triggerNow(run.credentials, { ruleId: run.ruleId });
	expect(summary).toMatchObject({ claimed: 1, sent: 1, failed: 0 });
	const sends = (await graphSends(sims)).slice(sendsBefore);
	expect(sends.map((request) => (request.body as { recipient?: { id?: string } }).recipient?.id)).toEqual([run.refusedPsid]);

	// The owner checked the Page inbox: the uncertain contact, asked for with one that was sent.
	const checked = await requeue(run.credentials, { ruleId: run.ruleId, conversationIds: [run.uncertain, run.sent.toUpperCase()], uncertain: 'requeue' });
	expect(checked.response?.statusCode).toBe(200);
	const checkedAnswer = checked.response?.body as Answer;
	expect(checkedAnswer.counts).toEqual({ requeued: 1, uncertain_left: 0, not_failed: 1, not_found: 0 });
	expect(checkedAnswer.results.find((row) => row.conversation_id === run.uncertain)).toMatchObject({ outcome: 'requeued', released_guard: true });
	expect(checkedAnswer.results.find((row) => row.conversation_id === run.sent)).toMatchObject({ outcome: 'not_failed', stage: expect.any(String) });
	const again = await triggerNow(run.credentials, { ruleId: run.ruleId });
	expect(again.summary).toMatchObject({ claimed: 1, sent: 1 });
	expect((await states(run.ruleId)).filter((state) => state.current_stage === 'failed')).toEqual([]);

	// Nothing failed now: an empty answer, still one (the page shows "nothing to requeue").
	const none = await requeue(run.credentials, { ruleId: run.ruleId });
	expect(none.response?.statusCode).toBe(200);
	expect(none.response?.body).toMatchObject({ results: [], counts: { requeued: 0, uncertain_left: 0, not_failed: 0, not_found: 0 } });
});

test.each([
	['another key', 'conversationID', (ruleId: string) => ({ ruleId, conversationID: [] }), /Unknown field "conversationID": the body takes ruleId, conversationIds and uncertain/],
	['no ruleId', 'ruleId', () => ({ uncertain: 'leave' }), /ruleId must be the id of a rule \(a UUID\), not missing/],
	['uncertain misspelt', 'uncertain', (ruleId: string) => ({ ruleId, uncertain: 'yes' }), /uncertain must be leave or requeue, not "yes"/],
	['conversationIds not a list', 'conversationIds', (ruleId: string) => ({ ruleId, conversationIds: 'all' }), /conversationIds must be a list of conversation IDs/],
	['not an object', 'body', () => ['x'], /The body is not a JSON object/],
])('%s: 400 naming %s, nothing requeued', async (_case, field, body, message) => {
	const run = await failedRun();
	const before = await states(run.ruleId);
	const result = await requeue(run.credentials, body(run.ruleId));
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual({ status: 400, error: expect.stringMatching(message), field, hint: expect.stringMatching(/^Send JSON/) });
	expect(result.executedNodes).not.toContain('Requeue Failed Contacts');
	expect(await states(run.ruleId)).toEqual(before);
});

test('values the node checks (a rule ID or a conversation ID that is not a UUID) are a 400 naming them; an unknown rule a 404; a query parameter a 400; nothing requeued', async () => {
	const run = await failedRun();
	const before = await states(run.ruleId);

	const badRule = await requeue(run.credentials, { ruleId: 'rule-1' });
	expect(badRule.response?.statusCode).toBe(400);
	expect(badRule.response?.body).toEqual({ status: 400, error: 'The rule ID "rule-1" is not a UUID', field: 'ruleId', hint: 'Use the id of a rule from the monitor\'s rules list.' });

	const badContact = await requeue(run.credentials, { ruleId: run.ruleId, conversationIds: [run.refused, 'nope'] });
	expect(badContact.response?.statusCode).toBe(400);
	// Named by its field, as ruleId's is (review RM1 F2: before, these two 400s had no field).
	expect(badContact.response?.body).toEqual({ status: 400, error: 'conversationIds[1] "nope" is not a conversation ID (a UUID)', field: 'conversationIds', hint: expect.stringMatching(/list of the contacts' conversation_id/) });

	const empty = await requeue(run.credentials, { ruleId: run.ruleId, conversationIds: [] });
	expect(empty.response?.statusCode).toBe(400);
	expect(empty.response?.body).toEqual({ status: 400, error: 'conversationIds must hold 1 to 1000 conversation IDs (got 0)', field: 'conversationIds', hint: expect.stringMatching(/list of the contacts' conversation_id/) });

	const gone = await requeue(run.credentials, { ruleId: '00000000-0000-4000-8000-000000000000' });
	expect(gone.response?.statusCode).toBe(404);
	expect(gone.response?.body).toEqual({ status: 404, error: expect.stringMatching(/automation rule 00000000-0000-4000-8000-000000000000 does not exist/), hint: expect.any(String) });

	const inQuery = await requeue(run.credentials, {}, withKey, { ruleId: run.ruleId });
	expect(inQuery.response?.statusCode).toBe(400);
	expect(inQuery.response?.body).toMatchObject({ status: 400, field: 'ruleId', error: expect.stringMatching(/^Query parameter "ruleId": this endpoint reads only the JSON body/) });

	expect(await states(run.ruleId)).toEqual(before);
});

test('without the key, or with a wrong one, n8n refuses (403) and nothing runs', async () => {
	const run = await failedRun();
	const before = await states(run.ruleId);
	for (const headers of [{}, { [WEBHOOK_KEY.name]: 'guess' }]) {
		const result = await requeue(run.credentials, { ruleId: run.ruleId }, headers);
		expect(result.response?.statusCode).toBe(403);
		expect(result.executedNodes).toEqual([]);
	}
	expect(await states(run.ruleId)).toEqual(before);
});
