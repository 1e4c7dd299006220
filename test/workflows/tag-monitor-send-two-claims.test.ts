// workflows/tag-monitor-send.json on its schedule claims twice, through n8n's engine in-process
// against the local stack and the simulators, each run pinned to the test's own rule (the unpinned
// run, every enabled rule, is tag-monitor-send-as-shipped.test.ts): Claim Due Contacts takes the
// first 50 (its First Call Limit), so the first batch is generated and handed to its send at once,
// and Claim The Rest takes the rest of Claim Due Contacts' Limit (less what the first took) in one
// call while that batch is sent, asked for the rule, Page ID and Lease the first claim's Summary item
// reports. The database never gives the second claim a contact the first took (the same execution,
// so the same holder: migration …2900), whatever the rule's interval and the timing. Each test here
// failed on the first version of the two claims (b305d43, reverted by a789529: review RB's four
// findings), checked with that workflow loaded in a scratch copy of this file.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { testStack, withDb } from '../helpers/stack';
import { failingSupabase, POOL_TIMEOUT } from './support/failing-supabase';
import { graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

const WORKFLOW = 'workflows/tag-monitor-send.json';

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

/**
 * The shipped workflow with Claim Due Contacts pinned to the test's rule (Claim The Rest takes it
 * from the first claim's Summary item), and what a user may set: Claim Due Contacts' Limit, Facebook
 * Send's Messages per Second.
 */
function scheduledFor(ruleId: string, settings: { limit?: number; messagesPerSecond?: number } = {}): WorkflowJson {
	const shipped = loadWorkflow(WORKFLOW);
	return {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Claim Due Contacts'
				? { ...node, parameters: { ...node.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId }, ...(settings.limit !== undefined && { limit: settings.limit }) } }
				: node.name === 'Facebook Send' && settings.messagesPerSecond !== undefined
					? { ...node, parameters: { ...node.parameters, messagesPerSecond: settings.messagesPerSecond } }
					: node,
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

/** Every due contact sent once, no other. */
async function expectEachSentOnce(psids: string[]) {
	const sends = await sendsPerRecipient();
	expect([...sends.keys()].sort()).toEqual([...psids].sort());
	expect([...sends.entries()].filter(([, count]) => count !== 1)).toEqual([]);
}

/**
 * The stack's Supabase through a pass-through that holds the run's second automation_claim_explained
 * call until `ready()` says so (the first batch sent), then forwards it; everything else forwarded.
 */
async function secondClaimHeldUntil(ready: () => Promise<boolean>) {
	const upstream = new URL(testStack().supabaseUrl);
	let claims = 0;
	const server = createServer((incoming, outgoing) => {
		const isClaim = (incoming.url ?? '').split('?')[0] === '/rest/v1/rpc/automation_claim_explained';
		const forward = () => {
			const forwarded = request(
				{ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
				(answer) => {
					outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
					answer.pipe(outgoing);
				},
			);
			forwarded.on('error', (error) => {
				outgoing.writeHead(502);
				outgoing.end(String(error));
			});
			incoming.pipe(forwarded);
		};
		if (!isClaim || ++claims !== 2) return forward();
		incoming.pause();
		const deadline = Date.now() + 20_000;
		const poll = async () => {
			if ((await ready()) || Date.now() > deadline) forward();
			else setTimeout(() => void poll(), 50);
		};
		void poll();
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		claims: () => claims,
		stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

test('a rule whose interval is 0, the second claim held until the first batch is sent: each of the 60 sent once, and the summary counts none of the run\'s own contacts as not claimed (review RB 3, 4)', async () => {
	const seed = await dueContacts(60, 500, 'two-claims-interval-0');
	await withDb((db) => db.query('update public.ai_automation_rules set min_hours_between_follow_ups = 0, max_follow_ups = 5 where id = $1', [seed.ruleId]));
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	const sentCount = async () =>
		(await withDb((db) => db.query<{ n: number }>(`select count(*)::int as n from public.ai_automation_contact_states where rule_id = $1 and current_stage = 'sent'`, [seed.ruleId]))).rows[0].n;
	const proxy = await secondClaimHeldUntil(async () => (await sentCount()) >= 50);
	try {
		const result = await runWorkflow(scheduledFor(seed.ruleId), {
			trigger: 'schedule',
			credentials: { ...credentials, leadflowSupabaseApi: { ...credentials.leadflowSupabaseApi, url: proxy.url } },
		});

		expect(result.error).toBeUndefined();
		expect(proxy.claims()).toBe(2);
		const [first] = result.nodeBranches['Claim Due Contacts'][1];
		const [rest] = result.nodeBranches['Claim The Rest'][1];
		expect(first).toMatchObject({ requested: 50, claimed: 50, reason: null, limit: 1000, ruleId: seed.ruleId, pageId: null, leaseSeconds: 600 });
		// The first 50 were sent (and due again under interval 0) when the rest was claimed: not taken again.
		expect(rest).toMatchObject({ requested: 950, claimed: 10, reason: 'no_more_due', notClaimed: {}, ruleId: seed.ruleId });
		const [summary] = result.nodeOutputs['Summarise Run'];
		expect(summary).toMatchObject({ requested: 1000, claimed: 60, claimReason: 'no_more_due', dispatched: 60, failed: 0 });
		expect(summary.notClaimedByReason).toEqual({});
		expect(summary.rules).toEqual([expect.objectContaining({ ruleId: seed.ruleId, status: 'no_more_due', claimed: 60 })]);
		expect(result.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status }))).toEqual([
			{ waited: false, status: 'success' },
			{ waited: false, status: 'success' },
		]);
	} finally {
		await proxy.stop();
	}
	await expectEachSentOnce(seed.psids);
	expect(await statesOf(seed.ruleId)).toEqual([{ stage: 'sent', held: false, reason: null, n: 60 }]);
});

test('Limit 100 with 130 due: the first claim 50, Claim The Rest 50 (the Limit less the first), 30 left unclaimed; each of the 100 sent once (review RB 2)', async () => {
	const seed = await dueContacts(130, 500, 'two-claims-limit-100');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId, { limit: 100 }), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.nodeBranches['Claim Due Contacts'][1]).toEqual([expect.objectContaining({ requested: 50, claimed: 50, limit: 100 })]);
	expect(result.nodeBranches['Claim The Rest'][1]).toEqual([expect.objectContaining({ requested: 50, claimed: 50, reason: null })]);
	expect(result.nodeOutputs['Summarise Run']).toEqual([expect.objectContaining({ requested: 100, claimed: 100, claimReason: null, dispatched: 100, failed: 0 })]);
	const sends = await sendsPerRecipient();
	expect(sends.size).toBe(100);
	expect([...sends.values()].every((count) => count === 1)).toBe(true);
	expect([...sends.keys()].every((psid) => seed.psids.includes(psid))).toBe(true);
	// The 30 others never claimed: no state.
	expect(await statesOf(seed.ruleId)).toEqual([{ stage: 'sent', held: false, reason: null, n: 100 }]);
});

test('Limit 1,000 typed over the shipped one, 1,005 due: 50, then the other 950 in one call, the run ends well, each of the 1,000 sent once (review RB 2: a rest limit of 0 failed the run)', async () => {
	const seed = await dueContacts(1005, 5000, 'two-claims-limit-1000');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId, { limit: 1000 }), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.status).toBe('success');
	expect(result.nodeBranches['Claim The Rest'][1]).toEqual([expect.objectContaining({ requested: 950, claimed: 950, reason: null })]);
	expect(result.nodeOutputs['Summarise Run']).toEqual([expect.objectContaining({ requested: 1000, claimed: 1000, claimReason: null, dispatched: 1000, failed: 0 })]);
	// 20 batches of 50, each its own sub-execution.
	expect(result.subExecutions).toHaveLength(20);
	expect(result.subExecutions.every((sub) => sub.run?.status === 'success')).toBe(true);
	const sends = await sendsPerRecipient();
	expect(sends.size).toBe(1000);
	expect([...sends.values()].every((count) => count === 1)).toBe(true);
}, 120_000);

test('a Page at 10 messages/s, 60 due: 50 then 10, each sent once, the run ends well (review RB 1: none was sent)', async () => {
	const seed = await dueContacts(60, 500, 'two-claims-10-per-s');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId, { messagesPerSecond: 10 }), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.nodeBranches['Claim The Rest'][1]).toEqual([expect.objectContaining({ requested: 950, claimed: 10 })]);
	expect(result.nodeOutputs['Summarise Run']).toEqual([expect.objectContaining({ requested: 1000, claimed: 60, dispatched: 60, failed: 0, notClaimedByReason: {} })]);
	expect(result.subExecutions.map((sub) => sub.run?.status)).toEqual(['success', 'success']);
	await expectEachSentOnce(seed.psids);
}, 60_000);

test('the first claim gets everything due (30 of the 50 it asked for): no second claim, the 30 sent once', async () => {
	const seed = await dueContacts(30, 500, 'first-claim-all');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.executedNodes).toContain('Claim The Rest?');
	expect(result.executedNodes).not.toContain('Claim The Rest');
	expect(result.nodeOutputs['Summarise Run']).toEqual([
		expect.objectContaining({ requested: 1000, claimed: 30, claimReason: 'no_more_due', notClaimedByReason: {}, dispatched: 30, failed: 0 }),
	]);
	expect(result.subExecutions.map((sub) => sub.run?.status)).toEqual(['success']);
	await expectEachSentOnce(seed.psids);
});

test('a Limit of 50 or less: the first claim is the whole run, no second claim', async () => {
	const seed = await dueContacts(60, 500, 'two-claims-limit-40');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);

	const result = await runWorkflow(scheduledFor(seed.ruleId, { limit: 40 }), { trigger: 'schedule', credentials });

	expect(result.error).toBeUndefined();
	expect(result.executedNodes).not.toContain('Claim The Rest');
	expect(result.nodeOutputs['Summarise Run']).toEqual([expect.objectContaining({ requested: 40, claimed: 40, claimReason: null, dispatched: 40, failed: 0 })]);
	expect((await sendsPerRecipient()).size).toBe(40);
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
		// Give Back went over both claims: the first's 50 and the rest's 70, one holder (the execution's).
		const givenBack = result.nodeOutputs['Give Back Claimed Contacts'] as Array<{ state_id: string; execution_id: string; outcome: string }>;
		expect(givenBack).toHaveLength(120);
		expect(new Set(givenBack.map((row) => row.state_id)).size).toBe(120);
		expect(new Set(givenBack.map((row) => row.execution_id)).size).toBe(1);
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
	await expectEachSentOnce(seed.psids);
});
