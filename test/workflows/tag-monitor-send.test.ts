// workflows/tag-monitor-send.json through n8n's engine in-process, "Trigger Now" webhook, against
// the local stack and the Gemini and Graph simulators: the 15-contact run (seed001() in
// support/seeds.ts), a run with nothing due, and the webhook's Header Auth (the webhook's run takes
// its contacts as one batch and waits for it); and the schedule's path, which hands each generated
// batch of 50 to a sub-execution it does not wait for. A claim that fails answers the webhook 400 /
// 404 naming ruleId, and ends a scheduled run in error; a body the webhook cannot read (another key,
// ruleId null or empty, JSON sent as a form) or a query parameter (?ruleId=…) answers 400 naming the
// field before anything is claimed. Generate Follow-Up or the batch's execution failing as a node (a
// Gemini credential with no key, a Page token Facebook refuses) answers 500 with the node's message
// and a hint, and ends a scheduled run (or its batch's execution) in error. Generate Follow-Up gives
// its claimed contacts back first, so a Trigger Now once the key is added sends them at once; a batch
// Facebook refused for the Page token leaves them failed invalid_token, held by no claim.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { mostInAnyWindow } from '../helpers/arrivals';
import { useStackOfItsOwn, withDb } from '../helpers/stack';
import { graphSends, monitor, pipelineCredentials, triggerNow, WEBHOOK_KEY } from './support/pipeline';
import { addRule } from '../../scripts/demo/seed';
import { dueContacts, seed001, type Seed001 } from './support/seeds';

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

interface Stats {
	total_with_tags: number;
	eligible_count: number;
	recently_sent_count: number;
	sent_today_count: number;
	sent_count: number;
	failed_count: number;
	skipped_by_reason: Record<string, number>;
}

const statsOf = (body: unknown) => (body as { stats: Stats }).stats;

async function explain(seed: Seed001): Promise<Map<string, string | null>> {
	const { rows } = await withDb((db) =>
		db.query<{ sender_id: string; reason: string | null }>(`select sender_id, reason from public.automation_explain($1)`, [seed.ruleId]),
	);
	return new Map(rows.map((row) => [row.sender_id, row.reason]));
}

test('of 15 tagged contacts the 10 due are sent once each, the 5 others keep their reason, and the monitor agrees with Graph', async () => {
	const seed = await seed001();
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	const notDueReasons = { outside_window: 2, excluded_tag: 1, stopped: 1, inactive: 1 };

	const before = await monitor(credentials, seed.ruleId);
	expect(before.response?.statusCode).toBe(200);
	expect(statsOf(before.response?.body)).toMatchObject({ total_with_tags: 15, eligible_count: 10, skipped_by_reason: notDueReasons });

	const { result, summary } = await triggerNow(credentials, { ruleId: seed.ruleId });

	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	expect(summary).toMatchObject({ ruleId: seed.ruleId, claimed: 10, sent: 10, skipped: 0, failed: 0, skippedByReason: {}, failedByReason: {}, dispatched: 0 });
	// The webhook's run waits for its batch's sub-execution (one batch of 10), whose outcomes it counts.
	expect(result.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status }))).toEqual([{ waited: true, status: 'success' }]);
	// Asked for 1,000: the 10 due were all there was; the 5 others are counted by the monitor's reasons.
	expect(summary).toMatchObject({ requested: 1000, claimReason: 'no_more_due', notClaimedByReason: notDueReasons });
	expect(summary.rules).toEqual([expect.objectContaining({ ruleId: seed.ruleId, status: 'no_more_due', claimed: 10, notClaimed: notDueReasons, dailyLimit: 50, usedToday: 0 })]);
	const sends = await graphSends(sims);
	expect(sends.map((send) => send.recipient).sort()).toEqual([...seed.duePsids].sort());
	expect(sends.every((send) => send.status === 200)).toBe(true);

	const after = statsOf((await monitor(credentials, seed.ruleId)).response?.body);
	expect(after.sent_today_count).toBe(sends.length);
	expect(after.sent_count).toBe(sends.length);
	expect(after.failed_count).toBe(0);
	// The 10 sent are now "recently sent" (24 h apart); the 5 others are still not due, for the same reasons.
	expect(after).toMatchObject({ total_with_tags: 15, eligible_count: 0, recently_sent_count: 10, skipped_by_reason: { ...notDueReasons, interval_not_elapsed: 10 } });
	const reasons = await explain(seed);
	for (const [reason, psids] of Object.entries(seed.notDue)) for (const psid of psids) expect({ psid, reason: reasons.get(psid) }).toEqual({ psid, reason });
});

test('a run with nothing due still answers, with zeros, and calls neither Gemini nor Graph', async () => {
	const seed = await seed001();
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	await triggerNow(credentials, { ruleId: seed.ruleId });
	await sims.graph.control.clearRequests();
	await sims.gemini.control.clearRequests();

	const { result, summary } = await triggerNow(credentials, { ruleId: seed.ruleId });

	expect(result.response?.statusCode).toBe(200);
	// Nothing claimed, and why: the 10 were just sent (interval_not_elapsed), the 5 others as before.
	expect(summary).toEqual({
		ruleId: seed.ruleId,
		requested: 1000,
		claimed: 0,
		claimReason: 'no_more_due',
		notClaimedByReason: { outside_window: 2, excluded_tag: 1, stopped: 1, inactive: 1, interval_not_elapsed: 10 },
		rules: [expect.objectContaining({ ruleId: seed.ruleId, status: 'no_more_due', claimed: 0, usedToday: 10 })],
		sent: 0,
		skipped: 0,
		failed: 0,
		skippedByReason: {},
		failedByReason: {},
		dispatched: 0,
		executionId: expect.any(String),
	});
	expect(result.executedNodes).not.toContain('Generate Follow-Up');
	expect(result.subExecutions).toEqual([]);
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await graphSends(sims)).toEqual([]);
});

test('outside the rule\'s active hours nothing is claimed, and the answer says so, with when they begin', async () => {
	const seed = await seed001();
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	// An hour of the day six hours from the database's now (UTC has no DST): never now.
	await withDb((db) =>
		db.query(
			`update public.ai_automation_rules
			    set time_zone = 'UTC',
			        active_hours_start = make_time(((extract(hour from now() at time zone 'UTC')::int + 6) % 24), 0, 0),
			        active_hours_end = make_time(((extract(hour from now() at time zone 'UTC')::int + 7) % 24), 0, 0)
			  where id = $1`,
			[seed.ruleId],
		),
	);

	const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });

	expect(summary).toMatchObject({
		claimed: 0,
		claimReason: 'outside_active_hours',
		notClaimedByReason: { outside_active_hours: 10, outside_window: 2, excluded_tag: 1, stopped: 1, inactive: 1 },
		sent: 0,
	});
	expect(summary.rules[0]).toMatchObject({ status: 'outside_active_hours', inActiveHours: false, nextActiveAt: expect.any(String) });
	expect(await graphSends(sims)).toEqual([]);
});

test('a rule nobody is tagged for answers no_tagged_contacts', async () => {
	const seed = await dueContacts(0, 10, 'untagged');
	const { summary } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: seed.ruleId });
	expect(summary).toMatchObject({ requested: 1000, claimed: 0, claimReason: 'no_tagged_contacts', notClaimedByReason: {}, sent: 0 });
});

test('skips and failures are counted by reason: what Graph refused is reported, not lost', async () => {
	const seed = await seed001();
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	const [gone, alsoGone, unknown] = seed.duePsids;
	// 551: the person is not available (skipped, and stopped); 100/2018001: no such user (failed for good).
	for (const recipient of [gone, alsoGone]) await sims.graph.control.addFault({ match: { recipient }, effect: { kind: 'graphError', code: 551, subcode: 1545041 } });
	await sims.graph.control.addFault({ match: { recipient: unknown }, effect: { kind: 'graphError', code: 100, subcode: 2018001 } });

	const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });

	expect(summary).toMatchObject({ claimed: 10, sent: 7, skipped: 2, failed: 1, skippedByReason: { unavailable: 2 }, failedByReason: { no_matching_user: 1 } });
	const delivered = await sims.graph.control.messages();
	expect(delivered).toHaveLength(7);
});

test('without the webhook key n8n refuses (403) and claims nothing', async () => {
	const seed = await seed001();
	const result = await runWorkflow('workflows/tag-monitor-send.json', {
		startNode: 'Trigger Now',
		webhook: { method: 'POST', headers: { [WEBHOOK_KEY.name]: 'wrong' }, body: { ruleId: seed.ruleId } },
		credentials: pipelineCredentials(sims, seed.owner.pageId),
	});
	expect(result.response?.statusCode).toBe(403);
	expect(result.executedNodes).toEqual([]);
	const { rows } = await withDb((db) => db.query(`select 1 from public.ai_automation_contact_states where rule_id = $1`, [seed.ruleId]));
	expect(rows).toHaveLength(0);
});

/** The shipped workflow with its claim for one rule (the schedule claims for every enabled rule, other files' too) and Facebook Send at `rate`. */
function scheduledFor(ruleId: string, rate: number): WorkflowJson {
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((node) => {
			if (node.type === 'n8n-nodes-leadflow.tagEligibility') return { ...node, parameters: { ...node.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId } } };
			if (node.type === 'n8n-nodes-leadflow.facebookSend') return { ...node, parameters: { ...node.parameters, messagesPerSecond: rate } };
			return node;
		}),
	};
}

test('the schedule hands each batch of 50 to a sub-execution it does not wait for: each contact sent once, the Page within its rate, the daily limit held', async () => {
	const rate = 40;
	const seed = await dueContacts(130, 110, 'scheduled');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId, rate), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.mode).toBe('trigger');
	// 110 claimed (the daily limit), generated 50 at a time, each batch sent by a sub-execution of
	// the same workflow while the next is generated; the run counts them as dispatched.
	expect(result.nodeOutputs['Summarise Run']).toEqual([
		expect.objectContaining({ claimed: 110, claimReason: 'daily_limit_reached', dispatched: 110, sent: 0, skipped: 0, failed: 0 }),
	]);
	expect(result.run?.data.resultData.runData['Generate Follow-Up']).toHaveLength(3);
	expect(result.subExecutions.map((sub) => ({ waited: sub.waited, workflowId: sub.workflowId, status: sub.run?.status, error: sub.error }))).toEqual(
		Array.from({ length: 3 }, () => ({ waited: false, workflowId: 'LfTagMonitorSnd', status: 'success', error: undefined })),
	);
	// Each sub-execution started before the run had generated the next batch, and ended after it.
	expect(result.subExecutions[0].startedAt).toBeLessThan(result.durationMs ?? 0);
	const outcomes = result.subExecutions.flatMap((sub) => sub.run?.data.resultData.runData['Batch Outcomes'][0].data?.main[0] ?? []);
	expect(outcomes.map((item) => (item.json.send as { outcome?: string } | undefined)?.outcome)).toEqual(Array.from({ length: 110 }, () => 'sent'));

	const sends = await graphSends(sims);
	const recipients = sends.map((send) => String(send.recipient));
	expect(new Set(recipients).size).toBe(110);
	expect(recipients.every((psid) => seed.psids.includes(psid))).toBe(true);
	// The sub-executions take their send slots from the Page's row: together never more than the rate in a second.
	expect(mostInAnyWindow(sends.map((send) => Date.parse(send.receivedAt))).count).toBeLessThanOrEqual(rate);
	const after = statsOf((await monitor(credentials, seed.ruleId)).response?.body);
	expect(after).toMatchObject({ sent_today_count: 110, sent_count: 110, failed_count: 0 });
});

test('on the schedule, a batch whose every generation failed still moves the loop on: the next batch is sent, the failures counted by reason', async () => {
	const seed = await dueContacts(70, 100, 'blocked-batch');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	// Gemini blocks the first 50 prompts: the whole first batch; the 20 of the second are written.
	await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 50 }, effect: { kind: 'blocked', blockReason: 'SAFETY' } });

	const result = await runWorkflow(scheduledFor(seed.ruleId, 300), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	const [summary] = result.nodeOutputs['Summarise Run'];
	expect(summary).toMatchObject({ claimed: 70, dispatched: 20, sent: 0, skipped: 0, failed: 50 });
	expect(Object.values(summary.failedByReason as Record<string, number>)).toEqual([50]);
	// One sub-execution: the first batch had nothing to send.
	expect(result.subExecutions.map((sub) => sub.run?.status)).toEqual(['success']);
	expect(await graphSends(sims)).toHaveLength(20);
});

test('the webhook takes every claimed contact as one batch and waits for its sub-execution', async () => {
	const seed = await dueContacts(120, 200, 'webhook-one-batch');
	const { result, summary } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: seed.ruleId });

	expect(summary).toMatchObject({ claimed: 120, sent: 120, skipped: 0, failed: 0, dispatched: 0 });
	expect(result.run?.data.resultData.runData['Generate Follow-Up']).toHaveLength(1);
	expect(result.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status }))).toEqual([{ waited: true, status: 'success' }]);
	expect(new Set((await graphSends(sims)).map((send) => send.recipient)).size).toBe(120);
});

test('"Trigger now" with a ruleId that is not a UUID answers 400 naming ruleId, with the message only; nothing is claimed or summarised', async () => {
	const seed = await seed001();
	const { result } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: 'abc' });

	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual({
		status: 400,
		error: 'The rule ID "abc" is not a UUID',
		field: 'ruleId',
		hint: 'Send ruleId as the id of one of your follow-up rules (the id column of ai_automation_rules), or send {} to run every enabled rule.',
	});
	expect(result.error).toBeUndefined();
	expect(result.executedNodes).not.toContain('Respond With Summary');
	const { rows } = await withDb((db) => db.query(`select 1 from public.ai_automation_contact_states where rule_id = $1`, [seed.ruleId]));
	expect(rows).toHaveLength(0);
});

test('"Trigger now" with the id of no rule answers 404 naming ruleId', async () => {
	const seed = await seed001();
	const unknown = randomUUID();
	const { result } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: unknown });

	expect(result.response?.statusCode).toBe(404);
	expect(result.response?.body).toEqual({
		status: 404,
		error: expect.stringContaining(`automation rule ${unknown} does not exist`),
		field: 'ruleId',
		hint: expect.stringMatching(/ruleId/),
	});
	expect(result.executedNodes).not.toContain('Respond With Summary');
	expect(await graphSends(sims)).toEqual([]);
});

test('a scheduled run whose claim fails ends in error with the claim\'s message (so n8n records it and calls the Error Workflow)', async () => {
	const seed = await seed001();
	const unknown = randomUUID();

	const result = await runWorkflow(scheduledFor(unknown, 300), { trigger: 'schedule', credentials: pipelineCredentials(sims, seed.owner.pageId) });

	expect(result.mode).toBe('trigger');
	expect(result.status).toBe('error');
	expect(result.error).toMatchObject({ message: expect.stringContaining(`automation rule ${unknown} does not exist`), node: 'Fail The Scheduled Run' });
	expect(result.executedNodes).not.toContain('Summarise Run');
	expect(await graphSends(sims)).toEqual([]);
});

// {} claims for every enabled rule of every Page: it reaches every rule in the database and, first,
// reaps every expired lease at the real clock (automation_claim_explained with no rule), which on the
// run's shared stack resets other test files' claimed contacts (they judge at fixed instants, long
// past), and takes their due ones. So this test has a stack of its own, started and stopped here.
describe('"Trigger now" with {} on a stack of its own', () => {
	useStackOfItsOwn();

	test('"Trigger now" with a body it cannot read (a misspelt or unknown key, ruleId null or empty, JSON sent as a form) answers 400 naming the field; nothing is claimed or sent. Only {} runs every enabled rule', async () => {
		const first = await seed001();
		// A second rule of the same owner and Page, on the same tag: {} claims for both.
		const second = {
			ruleId: await withDb(async (db) => {
				const { rows } = await db.query<{ id: string }>(`select id from public.tags where user_id = $1 and name = 'AI follow-up'`, [first.owner.userId]);
				return addRule(db, first.owner, { name: 'Second rule', includeTagIds: [rows[0].id], dailyLimit: 50 });
			}),
		};
		const credentials = pipelineCredentials(sims, first.owner.pageId);
		const claimedRows = async () =>
			(await withDb((db) => db.query(`select rule_id from public.ai_automation_contact_states where rule_id = any($1::uuid[])`, [[first.ruleId, second.ruleId]]))).rows;
		const asJson = [
			{ body: { ruleID: first.ruleId }, field: 'ruleID' },
			{ body: { rule_id: first.ruleId }, field: 'rule_id' },
			{ body: { ruleId: first.ruleId, dryRun: true }, field: 'dryRun' },
			{ body: { ruleId: null }, field: 'ruleId' },
			{ body: { ruleId: '' }, field: 'ruleId' },
			{ body: { ruleId: '   ' }, field: 'ruleId' },
			{ body: { ruleId: 42 }, field: 'ruleId' },
		];
		for (const { body, field } of asJson) {
			const { result } = await triggerNow(credentials, body);
			expect({ body, status: result.response?.statusCode }).toEqual({ body, status: 400 });
			expect(result.response?.body).toEqual({ status: 400, error: expect.stringContaining(field), field, hint: expect.stringMatching(/ruleId.*Content-Type: application\/json.*\{\}/) });
			expect(result.executedNodes).not.toContain('Claim Due Contacts');
		}
		// curl -d '{"ruleId":"…"}' without Content-Type: application/json is a form: n8n reads one key, the whole text.
		const formKey = JSON.stringify({ ruleId: first.ruleId });
		const form = await runWorkflow('workflows/tag-monitor-send.json', {
			startNode: 'Trigger Now',
			webhook: { method: 'POST', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value, 'content-type': 'application/x-www-form-urlencoded' }, body: { [formKey]: '' } },
			credentials,
		});
		expect(form.response?.statusCode).toBe(400);
		expect(form.response?.body).toEqual({ status: 400, error: expect.stringMatching(/^Unknown field "\{\\"ruleId\\":/), field: formKey, hint: expect.stringMatching(/Content-Type: application\/json/) });
		expect(form.executedNodes).not.toContain('Claim Due Contacts');

		expect(await claimedRows()).toEqual([]);
		expect(await graphSends(sims)).toEqual([]);

		// {} is every enabled rule: both rules' due contacts are claimed, by the shipped workflow as it is.
		const { result, summary } = await triggerNow(credentials, {});
		expect(result.response?.statusCode).toBe(200);
		expect(summary.ruleId).toBeNull();
		expect(new Set((await claimedRows()).map((row) => row.rule_id))).toEqual(new Set([first.ruleId, second.ruleId]));
	});
});

// POST /webhook/leadflow/trigger?ruleId=… read nothing from the query: with no body it ran every
// enabled rule. A query parameter is refused, naming it, before anything is claimed.
test('"Trigger now" with a query parameter (?ruleId=…, with or without a body) answers 400 naming it and saying to send it in the JSON body; nothing is claimed or sent', async () => {
	const seed = await seed001();
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	// Kept to this Page (the Claim's Page ID): were the query ignored, {} would claim every enabled
	// rule's contacts, other test files' among them.
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	const onePage: WorkflowJson = {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.type === 'n8n-nodes-leadflow.tagEligibility' ? { ...node, parameters: { ...node.parameters, pageId: seed.owner.pageId } } : node),
	};
	const requests: Array<{ query: Record<string, string>; body?: IDataObject; field: string }> = [
		{ query: { ruleId: seed.ruleId }, field: 'ruleId' },
		{ query: { ruleId: seed.ruleId }, body: { ruleId: seed.ruleId }, field: 'ruleId' },
		{ query: { dryRun: 'true' }, body: {}, field: 'dryRun' },
	];
	for (const { query, body, field } of requests) {
		const result = await runWorkflow(onePage, {
			startNode: 'Trigger Now',
			webhook: { method: 'POST', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value }, query, ...(body !== undefined && { body }) },
			credentials,
		});
		expect({ query, status: result.response?.statusCode }).toEqual({ query, status: 400 });
		expect(result.response?.body).toEqual({
			status: 400,
			error: `Query parameter "${field}": this webhook reads only the JSON body; send it there`,
			field,
			hint: expect.stringMatching(/ruleId.*Content-Type: application\/json/),
		});
		expect(result.executedNodes).not.toContain('Claim Due Contacts');
	}
	const claimed = await withDb((db) => db.query('select count(*)::int as claimed from public.ai_automation_contact_states where rule_id = $1', [seed.ruleId]));
	expect(claimed.rows[0]).toEqual({ claimed: 0 });
	expect(await graphSends(sims)).toEqual([]);
});

// Generate Follow-Up and Send Batch failing as a node (not an item): their error outputs take the
// claim's path, so the webhook answers 500 with the node's message and what to do, never n8n's
// "Error in workflow", and a scheduled run still ends in error.
describe('a node that fails answers the webhook with its message, and fails a scheduled run', () => {
	const noKey = (credentials: ReturnType<typeof pipelineCredentials>) => ({ ...credentials, leadflowGeminiApi: { ...credentials.leadflowGeminiApi, apiKeys: '' } });
	const NO_KEY = 'The Leadflow Gemini API credential has no API key';
	const TOKEN = 'The Page token is invalid or expired: reconnect the credential';

	test('"Trigger now" whose every send Facebook refuses with 190 (the Page token) answers 500 with Facebook Send\'s message and where to see what was sent, no stack', async () => {
		const seed = await seed001();
		await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });

		const { result } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: seed.ruleId });

		expect(result.response?.statusCode).toBe(500);
		expect(result.response?.body).toEqual({ status: 500, error: TOKEN, field: null, hint: expect.stringMatching(/sent before it are recorded: the monitor \(GET \/webhook\/leadflow\/monitor/) });
		expect(JSON.stringify(result.response?.body)).not.toMatch(/stack|\bat \S+ \(|\.[jt]s:\d+/);
		// The batch's execution is the one that failed, on Facebook Send; the run answered from Batch Failed?.
		expect(result.subExecutions.map((sub) => ({ waited: sub.waited, error: sub.error }))).toEqual([{ waited: true, error: TOKEN }]);
		expect(result.executedNodes).toContain('Respond With Problem');
		expect((await graphSends(sims)).length).toBeGreaterThan(0);
		// Not held by the claim: Facebook Send recorded every contact it had moved to sending before
		// failing, failed invalid_token, its duplicate guard released (nothing was delivered), claimable
		// again after Retry Later After (15 minutes), counted in no day's use (docs/follow-up.md).
		const { rows } = await withDb((db) =>
			db.query<{ stage: string; error: string; locked_by: string | null; retry_in: number; guards: string[] }>(
				`select s.current_stage as stage, s.error_code as error, s.locked_by,
				        round(extract(epoch from s.retry_at - s.stage_entered_at))::int as retry_in,
				        array(select e.status from public.ai_automation_executions e where e.rule_id = s.rule_id and e.conversation_id = s.conversation_id) as guards
				   from public.ai_automation_contact_states s where s.rule_id = $1`,
				[seed.ruleId],
			),
		);
		expect(rows).toEqual(Array.from({ length: 10 }, () => ({ stage: 'failed', error: 'invalid_token', locked_by: null, retry_in: 900, guards: ['released'] })));
		const after = (await monitor(pipelineCredentials(sims, seed.owner.pageId), seed.ruleId)).response?.body as { stats: { used_today: number } };
		expect(after.stats.used_today).toBe(0);
	});

	test('"Trigger now" whose batch fails at Facebook Send before any send (a Page credential without a Page ID) answers 500 with its message; the batch\'s contacts are given back, and a second Trigger Now with the Page ID sends them at once', async () => {
		const seed = await seed001();
		const credentials = pipelineCredentials(sims, seed.owner.pageId);
		const noPage = { ...credentials, leadflowFacebookPageApi: { ...credentials.leadflowFacebookPageApi, pageId: '' } };

		const { result } = await triggerNow(noPage, { ruleId: seed.ruleId });

		expect(result.response?.statusCode).toBe(500);
		expect(result.response?.body).toMatchObject({ status: 500, error: 'The Facebook Page credential has no valid Page ID', field: null });
		expect(result.subExecutions.map((sub) => ({ waited: sub.waited, error: sub.error }))).toEqual([{ waited: true, error: 'The Facebook Page credential has no valid Page ID' }]);
		expect(await graphSends(sims)).toEqual([]);
		// Facebook Send gave the 10 back (generated, never begun): queued, no claim holds them.
		const { rows } = await withDb((db) =>
			db.query<{ stage: string; locked_by: string | null; reason: string }>(
				`select s.current_stage as stage, s.locked_by, s.stage_detail ->> 'reason' as reason
				   from public.ai_automation_contact_states s where s.rule_id = $1`,
				[seed.ruleId],
			),
		);
		expect(rows).toEqual(Array.from({ length: 10 }, () => ({ stage: 'queued', locked_by: null, reason: 'send_setup_failed' })));
		const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });
		expect(summary).toMatchObject({ claimed: 10, sent: 10, failed: 0 });
		expect((await graphSends(sims)).length).toBe(10);
	});

	test('"Trigger now" with a Gemini credential without a key answers 500 with Generate Follow-Up\'s message and what to do; nothing is sent, its contacts are given back, and a second Trigger Now once the key is there sends them at once', async () => {
		const seed = await seed001();
		const credentials = pipelineCredentials(sims, seed.owner.pageId);

		const { result } = await triggerNow(noKey(credentials), { ruleId: seed.ruleId });

		expect(result.response?.statusCode).toBe(500);
		expect(result.response?.body).toEqual({ status: 500, error: NO_KEY, field: null, hint: 'Add at least one Gemini API key to the credential, one per line.' });
		expect(result.executedNodes).not.toContain('Send Batch');
		expect(result.subExecutions).toEqual([]);
		expect(await sims.gemini.control.requests()).toEqual([]);
		expect(await graphSends(sims)).toEqual([]);
		// Generate Follow-Up gave the 10 back before failing: queued, their lease ended, the reason in
		// their history (docs/follow-up.md).
		const { rows } = await withDb((db) =>
			db.query<{ stage: string; locked_by: string | null; reason: string }>(
				`select s.current_stage as stage, s.locked_by, s.stage_detail ->> 'reason' as reason
				   from public.ai_automation_contact_states s where s.rule_id = $1`,
				[seed.ruleId],
			),
		);
		expect(rows).toEqual(Array.from({ length: 10 }, () => ({ stage: 'queued', locked_by: null, reason: 'generation_setup_failed' })));
		// The monitor holds none of them, and none counts in today's use of the daily limit.
		const freed = (await monitor(credentials, seed.ruleId)).response?.body as { stats: Stats & { active_count: number; used_today: number; eligible_count: number } };
		expect(freed.stats).toMatchObject({ used_today: 0, eligible_count: 10, sent_count: 0, failed_count: 0 });
		// The key added, Trigger Now at once claims and sends the same 10.
		const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });
		expect(summary).toMatchObject({ claimed: 10, sent: 10, failed: 0 });
		expect(summary.notClaimedByReason).not.toHaveProperty('in_progress');
		expect((await graphSends(sims)).length).toBe(10);
	});

	test('a scheduled run whose Generate Follow-Up fails as a node ends in error with its message and description (so n8n calls the Error Workflow)', async () => {
		const seed = await seed001();

		const result = await runWorkflow(scheduledFor(seed.ruleId, 300), { trigger: 'schedule', credentials: noKey(pipelineCredentials(sims, seed.owner.pageId)) });

		expect(result.status).toBe('error');
		expect(result.error).toEqual({ message: NO_KEY, description: 'Add at least one Gemini API key to the credential, one per line.', node: 'Fail The Scheduled Run' });
		expect(result.executedNodes).not.toContain('Send Batch');
		expect(result.executedNodes).not.toContain('Summarise Run');
	});

	test('on the schedule a batch whose sends Facebook refuses with 190 fails its own execution with Facebook Send\'s message', async () => {
		const seed = await seed001();
		await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });

		const result = await runWorkflow(scheduledFor(seed.ruleId, 300), { trigger: 'schedule', credentials: pipelineCredentials(sims, seed.owner.pageId) });

		// The run hands the batch over without waiting; the batch's execution ends in error, which n8n records.
		expect(result.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status, error: sub.error }))).toEqual([{ waited: false, status: 'error', error: TOKEN }]);
		expect(result.nodeOutputs['Summarise Run']).toEqual([expect.objectContaining({ claimed: 10, dispatched: 10 })]);
	});
});
