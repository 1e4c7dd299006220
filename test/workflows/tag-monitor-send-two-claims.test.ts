// workflows/tag-monitor-send.json on its schedule claims twice, through n8n's engine in-process
// against the local stack and the simulators, each run pinned to the test's own rule: Claim Due
// Contacts takes the first 50, so the first batch is generated and handed to its send at once, and
// Claim The Rest takes the rest of the run's 1,000 (950 less what the first left) in one call while
// that batch is sent. Each contact of both claims is sent once, the summary adds the two claims up;
// a first claim that got everything due (fewer than 50) is the only one; a run that fails after
// the second claim gives back the contacts of both.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { withDb } from '../helpers/stack';
import { failingSupabase, POOL_TIMEOUT } from './support/failing-supabase';
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
	await sims.graph.control.reset();
	await sims.gemini.control.reset();
});

/** The shipped workflow with Claim Due Contacts pinned to the test's rule (Claim The Rest reads it from there). */
function scheduledFor(ruleId: string): WorkflowJson {
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Claim Due Contacts' ? { ...node, parameters: { ...node.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId } } } : node,
		),
	};
}

/** The rule's contacts by stage, whether held, and the reason their stage was entered. */
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

/** Each recipient Graph was asked to send to, and how many times. */
async function sendsPerRecipient(): Promise<Map<string, number>> {
	const counts = new Map<string, number>();
	for (const send of await graphSends(sims)) counts.set(String(send.recipient), (counts.get(String(send.recipient)) ?? 0) + 1);
	return counts;
}

test('60 due: the first claim takes 50, Claim The Rest the other 10 (asked for 950); each of the 60 sent once, the summary adds both claims', async () => {
	const seed = await dueContacts(60, 500, 'two-claims');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	// Each claim's Summary output (its second): one call each.
	const [first] = result.nodeBranches['Claim Due Contacts'][1];
	const [rest] = result.nodeBranches['Claim The Rest'][1];
	expect(first).toMatchObject({ requested: 50, claimed: 50, reason: null });
	expect(rest).toMatchObject({ requested: 950, claimed: 10, reason: 'no_more_due' });
	// The second claim judged the rule after the first batch went to its send: those 50 are what it
	// did not take, as the monitor showed them then (held by the batch's send, or sent already).
	const [summary] = result.nodeOutputs['Summarise Run'];
	expect(summary).toMatchObject({ requested: 1000, claimed: 60, claimReason: 'no_more_due', dispatched: 60, failed: 0, notClaimedByReason: rest.notClaimed });
	const { in_progress = 0, interval_not_elapsed = 0, ...others } = summary.notClaimedByReason as Record<string, number>;
	expect({ firstBatch: in_progress + interval_not_elapsed, others }).toEqual({ firstBatch: 50, others: {} });
	expect(summary.rules).toEqual([expect.objectContaining({ ruleId: seed.ruleId, status: 'no_more_due', claimed: 60 })]);
	// Two batches, each sent by its own sub-execution: the first claim's 50, then the rest's 10.
	expect(result.run?.data.resultData.runData['Generate Follow-Up']).toHaveLength(2);
	expect(result.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status }))).toEqual([
		{ waited: false, status: 'success' },
		{ waited: false, status: 'success' },
	]);

	const sends = await sendsPerRecipient();
	expect([...sends.keys()].sort()).toEqual([...seed.psids].sort());
	expect([...sends.values()].every((count) => count === 1)).toBe(true);
	expect(await statesOf(seed.ruleId)).toEqual([{ stage: 'sent', held: false, reason: null, n: 60 }]);
});

test('the first claim gets everything due (30 of the 50 it asked for): no second claim, the 30 sent once', async () => {
	const seed = await dueContacts(30, 500, 'first-claim-all');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.executedNodes).toContain('Claim The Rest?');
	expect(result.executedNodes).not.toContain('Claim The Rest');
	expect(result.nodeOutputs['Summarise Run']).toEqual([
		expect.objectContaining({ requested: 50, claimed: 30, claimReason: 'no_more_due', notClaimedByReason: {}, dispatched: 30, failed: 0 }),
	]);
	expect(result.subExecutions.map((sub) => sub.run?.status)).toEqual(['success']);
	const sends = await sendsPerRecipient();
	expect(sends.size).toBe(30);
	expect([...sends.values()].every((count) => count === 1)).toBe(true);
});

test('a later batch\'s Generate Follow-Up failing as a node, after Claim The Rest: both claims\' contacts not yet begun are given back, none stays held; a Trigger Now then sends the rest, each of the 120 once', async () => {
	const seed = await dueContacts(120, 500, 'two-claims-give-back');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	// The first batch's mark_generating goes through; the second batch's (the rest's first 50) fails.
	const failing = await failingSupabase(['automation_mark_generating'], 503, POOL_TIMEOUT, Infinity, 1);
	try {
		const result = await runWorkflow(scheduledFor(seed.ruleId), {
			trigger: 'schedule',
			credentials: { ...credentials, leadflowSupabaseApi: { ...credentials.leadflowSupabaseApi, url: failing.url } },
		});

		expect(result.status).toBe('error');
		expect(result.error).toMatchObject({ node: 'Fail The Scheduled Run' });
		expect(result.executedNodes).toContain('Claim The Rest');
		// Give Back went over both claims: the first's 50 and the rest's 70.
		const givenBack = result.nodeOutputs['Give Back Claimed Contacts'] as Array<{ state_id: string; execution_id: string; outcome: string }>;
		expect(givenBack).toHaveLength(120);
		expect(new Set(givenBack.map((row) => row.execution_id)).size).toBe(2);
	} finally {
		await failing.stop();
	}

	// The rest's 70: the failed batch's 50 given back by Generate Follow-Up, its other 20 by the run's
	// failure path. The first batch's 50 were handed to their send before: sent, or given back by the
	// failure path when their send had not begun (their execution then skips them, lease_lost).
	const states = await statesOf(seed.ruleId);
	expect(states.filter((row) => row.held)).toEqual([]);
	const count = (stage: string, reason: string | null) => states.find((row) => row.stage === stage && row.reason === reason)?.n ?? 0;
	expect(count('queued', 'generation_setup_failed')).toBe(50);
	expect(count('sent', null) + count('queued', 'run_failed')).toBe(120 - 50);
	expect(count('queued', 'run_failed')).toBeGreaterThanOrEqual(20);
	const sentFirst = count('sent', null);
	expect((await graphSends(sims)).length).toBe(sentFirst);

	// Nothing waits for a lease: a Trigger Now at once claims and sends every contact not sent.
	const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });
	expect(summary).toMatchObject({ claimed: 120 - sentFirst, sent: 120 - sentFirst, failed: 0 });
	expect(summary.notClaimedByReason).not.toHaveProperty('in_progress');
	const sends = await sendsPerRecipient();
	expect([...sends.keys()].sort()).toEqual([...seed.psids].sort());
	expect([...sends.values()].every((n) => n === 1)).toBe(true);
});
