// Schedules and webhooks fire twice (n8n issues #7045, #28322 …): three executions of
// workflows/tag-monitor-send.json started at once over the same 500 due contacts, through n8n's
// engine in-process (runWorkflow). Each contact is sent at most once and the rule's daily limit
// holds, because claiming and the duplicate guard live in the database.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { withDb } from '../helpers/stack';
import { graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

let sims: RunningSimulators;

beforeAll(async () => {
	// A little latency, so that the three executions' Gemini and Graph calls interleave.
	sims = await startSimulators({ latencyMs: 2 });
});

afterAll(async () => {
	await sims.stop();
});

test('three overlapping runs over 500 due contacts: each contact sent at most once, never more than the daily limit', async () => {
	const dailyLimit = 300;
	const seed = await dueContacts(500, dailyLimit, 'overlap');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const runs = await Promise.all([1, 2, 3].map(() => triggerNow(credentials, { ruleId: seed.ruleId })));

	for (const { result } of runs) expect(result.error).toBeUndefined();
	const summaries = runs.map((run) => run.summary);
	const total = (field: 'claimed' | 'sent' | 'failed') => summaries.reduce((sum, summary) => sum + summary[field], 0);
	expect(total('claimed')).toBe(dailyLimit);
	expect(total('sent')).toBe(dailyLimit);
	expect(total('failed')).toBe(0);

	// Each answer says why it claimed fewer than the 1,000 asked. The claims run side by side and
	// share the limit's 300 (one may take all of it, or they split it); each answer accounts for
	// every one of the 500: those it claimed, those another run held or had sent when it walked
	// (in_progress, interval_not_elapsed), and those past the limit (daily_limit_reached).
	for (const summary of summaries) {
		expect(summary.requested).toBe(1000);
		expect(['daily_limit_reached', 'no_more_due']).toContain(summary.claimReason);
		const { in_progress = 0, interval_not_elapsed = 0, daily_limit_reached = 0, ...rest } = summary.notClaimedByReason;
		expect({ accounted: summary.claimed + in_progress + interval_not_elapsed + daily_limit_reached, rest }).toEqual({ accounted: 500, rest: {} });
	}

	const sends = await graphSends(sims);
	const recipients = sends.map((send) => String(send.recipient));
	expect(new Set(recipients).size).toBe(recipients.length);
	expect(sends.length).toBe(dailyLimit);
	expect(recipients.every((psid) => seed.psids.includes(psid))).toBe(true);

	const { rows } = await withDb((db) =>
		db.query<{ conversations: number; attempts: number; max_per_contact: number }>(
			`select count(distinct conversation_id)::int conversations, count(*)::int attempts,
			        coalesce(max(n), 0)::int max_per_contact
			   from (select conversation_id, count(*) over (partition by conversation_id) n from public.ai_automation_executions where rule_id = $1) x`,
			[seed.ruleId],
		),
	);
	expect(rows[0]).toEqual({ conversations: dailyLimit, attempts: dailyLimit, max_per_contact: 1 });
});
