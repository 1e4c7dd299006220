// The follow-up pipeline on n8n in queue mode, as businesses that outgrow one process run it: Redis,
// a main instance and two workers (test/e2e/support/queue-mode.ts), this package installed from its
// tarball, the shipped tag → monitor → send workflow once per Facebook Page (its own webhook path,
// Page credential and rate, the claim defaulting to that Page's rule, the schedule every 10 s), the
// local stack and the simulators. Each worker runs one execution at a time, so two executions run at
// once on two processes. What must hold, read from the simulators' logs and the database:
//   - 1,000 due contacts on 2 Pages, each trigger fired 5 times at once plus the schedule: every
//     contact sent at most once, each Page never faster than its rate in any second (the Graph
//     simulator's arrival times), the daily limit held;
//   - a Gemini key throttled: no worker calls it before its rest ends (the Gemini simulator's log);
//   - a worker killed with SIGKILL mid-batch: nothing sent twice, the contacts it was sending end
//     send_uncertain once their lease runs out (the reaper), any it had claimed but not begun to
//     send are claimed again and sent, the other worker's execution finishes.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IDataObject } from 'n8n-workflow';
import type { N8nWorkflow } from '../../scripts/n8n/n8n-import';
import { addContacts, addRule, createTags, type Owner } from '../../scripts/demo/seed';
import type { LoggedRequest, RunningSimulators } from '../../simulators';
import { startSimulatorsProcess } from '../helpers/simulators-process';
import { mostInAnyWindow } from '../helpers/arrivals';
import { createTestUser, testStack, withDb } from '../helpers/stack';
import type { RunSummary } from '../workflows/support/pipeline';
import { keyIdOf } from '../../nodes/shared/gemini/keyRing';
import { startQueueCluster, type QueueCluster } from './support/queue-mode';

const WEBHOOK_KEY = { name: 'X-Leadflow-Key', value: `queue-${randomUUID()}` };
const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };

interface Page {
	letter: 'a' | 'b';
	owner: Owner;
	token: string;
	/** The Page's Messages per Second in its workflow. */
	rate: number;
	/** The rule its schedule (and a trigger without a rule id) claims for. */
	ruleId: string;
}

let sims: RunningSimulators;
let cluster: QueueCluster;
const pages: Record<'a' | 'b', Page> = {} as Record<'a' | 'b', Page>;
const geminiKeys = Array.from({ length: 3 }, (_, index) => `queue-gemini-${index + 1}-${randomUUID()}`);

/** `count` contacts due now on the Page, under a new tag and rule. */
async function seedRule(page: Page | Owner, count: number, dailyLimit: number, label: string): Promise<{ ruleId: string; psids: string[] }> {
	const owner = 'owner' in page ? page.owner : page;
	return await withDb(async (db) => {
		const tags = await createTags(db, owner, [`${label} ${randomUUID().slice(0, 8)}`]);
		const tagId = Object.values(tags)[0];
		const { psids } = await addContacts(db, owner, { label, count, tagIds: [tagId], lastMessageMinutesAgo: 10, spreadMinutes: 600 });
		const ruleId = await addRule(db, owner, { name: `Follow up ${label}`, includeTagIds: [tagId], dailyLimit, minHoursBetweenFollowUps: 24 });
		return { ruleId, psids };
	});
}

/**
 * The shipped workflow, one copy per Page: its webhook path, Page credential and rate; 100 contacts
 * per claim, held 60 s (a killed run's next batch is claimable again within the test); the
 * schedule every 10 s.
 */
function workflowFor(page: Page): N8nWorkflow {
	const shipped = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'workflows', 'tag-monitor-send.json'), 'utf8')) as N8nWorkflow;
	const letter = page.letter.toUpperCase();
	return {
		...shipped,
		id: `LfQueueSend${letter}0001`,
		name: `${String(shipped.name)} (Page ${letter})`,
		nodes: shipped.nodes.map((node) => {
			const parameters = node.parameters ?? {};
			switch (node.type) {
				case 'n8n-nodes-base.scheduleTrigger':
					return { ...node, parameters: { rule: { interval: [{ field: 'seconds', secondsInterval: 10 }] } } };
				case 'n8n-nodes-base.webhook':
					return { ...node, webhookId: randomUUID(), parameters: { ...parameters, path: `leadflow/trigger-${page.letter}` } };
				case 'n8n-nodes-leadflow.tagEligibility':
					return {
						...node,
						parameters: { ...parameters, limit: 100, leaseSeconds: 60, ruleId: { __rl: true, mode: 'id', value: `={{ $json.body?.ruleId ?? '${page.ruleId}' }}` } },
					};
				case 'n8n-nodes-leadflow.facebookSend':
					return {
						...node,
						parameters: { ...parameters, messagesPerSecond: page.rate, options: { leaseSeconds: 15 } },
						credentials: { ...node.credentials, leadflowFacebookPageApi: { id: `LfFacebookPage0${letter}`, name: `Facebook Page ${letter}` } },
					};
				default:
					return node;
			}
		}),
	};
}

const trigger = (page: Page, body: IDataObject = {}) => cluster.callWebhook(`leadflow/trigger-${page.letter}`, { method: 'POST', headers, body });

const graphSends = async (): Promise<LoggedRequest[]> =>
	(await sims.graph.control.requests()).filter((request) => request.method === 'POST' && request.path.endsWith('/messages'));
const arrival = (request: LoggedRequest) => Date.parse(request.receivedAt);
const sendsTo = (sends: LoggedRequest[], psids: string[]) => {
	const wanted = new Set(psids);
	return sends.filter((send) => wanted.has(send.recipient ?? ''));
};

async function statesOf(ruleId: string) {
	const { rows } = await withDb((db) =>
		db.query<{ recipient: string; current_stage: string; error_code: string | null; execution_id: string | null; locked_until: Date | null }>(
			`select c.sender_id as recipient, s.current_stage, s.error_code, s.execution_id, s.locked_until
			   from public.ai_automation_contact_states s join public.messenger_conversations c on c.id = s.conversation_id
			  where s.rule_id = $1`,
			[ruleId],
		),
	);
	return rows;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\nmain:\n${cluster.mainOutput().slice(-2000)}`);
		// Not more often: this process also runs the simulators, whose arrival times are measured.
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
}

let firstRun: { a: { psids: string[]; dailyLimit: number }; b: { psids: string[]; dailyLimit: number } };

beforeAll(async () => {
	// In a process of their own: the arrival times they log are what this file judges (see the helper).
	sims = await startSimulatorsProcess();
	const owners = { a: { userId: await createTestUser('queue-a'), pageId: '610000000000001' }, b: { userId: await createTestUser('queue-b'), pageId: '610000000000002' } };
	// 1,000 due contacts: 600 on Page A under a daily limit of 450, 400 on Page B.
	const seededA = await seedRule(owners.a, 600, 450, 'Lead A');
	const seededB = await seedRule(owners.b, 400, 1000, 'Lead B');
	firstRun = { a: { psids: seededA.psids, dailyLimit: 450 }, b: { psids: seededB.psids, dailyLimit: 1000 } };
	pages.a = { letter: 'a', owner: owners.a, token: `page-a-${randomUUID()}`, rate: 40, ruleId: seededA.ruleId };
	pages.b = { letter: 'b', owner: owners.b, token: `page-b-${randomUUID()}`, rate: 25, ruleId: seededB.ruleId };
	await sims.graph.control.configure({ pageTokens: { [owners.a.pageId]: pages.a.token, [owners.b.pageId]: pages.b.token } });

	const stack = testStack();
	const credential = (id: string, name: string, type: string, data: Record<string, unknown>) => ({ id, name, type, data });
	cluster = await startQueueCluster({
		workflows: [workflowFor(pages.a), workflowFor(pages.b)],
		credentials: [
			credential('LfWebhookHdrKey1', 'Leadflow Webhook Key', 'httpHeaderAuth', WEBHOOK_KEY),
			credential('LfSupabaseApi001', 'Leadflow Supabase', 'leadflowSupabaseApi', { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey }),
			credential('LfGeminiApi00001', 'Leadflow Gemini', 'leadflowGeminiApi', { apiKeys: geminiKeys.join('\n'), baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' }),
			...Object.values(pages).map((page) =>
				credential(`LfFacebookPage0${page.letter.toUpperCase()}`, `Facebook Page ${page.letter.toUpperCase()}`, 'leadflowFacebookPageApi', {
					pageId: page.owner.pageId,
					accessToken: page.token,
					appSecret: '',
					graphApiVersion: 'v25.0',
					baseUrl: sims.graph.baseUrl,
				}),
			),
		],
		workers: 2,
		workerConcurrency: 1,
	});
	process.stderr.write(`queue mode up: set-up ${cluster.setupSeconds.toFixed(0)} s, main and 2 workers ready ${cluster.startSeconds.toFixed(0)} s after start\n`);
}, 600_000);

afterAll(async () => {
	await cluster?.stop();
	await sims?.stop();
}, 120_000);

test('1,000 due contacts on 2 Pages, each trigger fired 5 times at once plus the schedule: each sent at most once, each Page within its rate, the daily limit held', async () => {
	const started = Date.now();
	const answers = await Promise.all([...Array.from({ length: 5 }, () => trigger(pages.a)), ...Array.from({ length: 5 }, () => trigger(pages.b))]);
	expect(answers.map((answer) => answer.statusCode)).toEqual(Array(10).fill(200));
	// The five runs of a Page claim 100 each (Page A's last ones find its daily limit reached); the
	// schedule picks up whatever a run left.
	await waitFor(
		'every due contact sent',
		async () => {
			const [a, b] = await Promise.all([statesOf(pages.a.ruleId), statesOf(pages.b.ruleId)]);
			const sent = (states: typeof a) => states.filter((state) => ['sent', 'completed'].includes(state.current_stage)).length;
			return sent(a) === firstRun.a.dailyLimit && sent(b) === firstRun.b.psids.length ? true : undefined;
		},
		180_000,
	);
	process.stderr.write(`850 contacts sent through the queue in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

	const sends = await graphSends();
	for (const page of Object.values(pages)) {
		const psids = firstRun[page.letter].psids;
		const pageSends = sendsTo(sends, psids);
		// At most once each…
		expect(new Set(pageSends.map((send) => send.recipient)).size).toBe(pageSends.length);
		// …never faster than the Page's rate in any second, two workers sending for it…
		const busiest = mostInAnyWindow(pageSends.map(arrival));
		const inBusiest = pageSends.filter((send) => arrival(send) >= busiest.from && arrival(send) < busiest.from + 1000).map((send) => arrival(send) - busiest.from);
		expect({ page: page.letter, most: busiest.count <= page.rate ? 'within the rate' : { count: busiest.count, arrivals: inBusiest } }).toEqual({
			page: page.letter,
			most: 'within the rate',
		});
	}
	// …and Page A's daily limit held: 450 of its 600 sent, the others not claimed.
	expect(sendsTo(sends, firstRun.a.psids)).toHaveLength(450);
	expect(sendsTo(sends, firstRun.b.psids)).toHaveLength(400);
	const stagesA = await statesOf(pages.a.ruleId);
	expect(stagesA.filter((state) => state.current_stage === 'sent')).toHaveLength(450);
	expect(stagesA.filter((state) => !['sent', 'queued'].includes(state.current_stage))).toEqual([]);
	const { rows } = await withDb((db) =>
		db.query(`select rule_id, count(*)::int as guards, count(distinct conversation_id)::int as contacts from public.ai_automation_executions where rule_id = any($1) group by rule_id order by 2 desc`, [[pages.a.ruleId, pages.b.ruleId]]),
	);
	expect(rows.map((row) => [row.guards, row.contacts])).toEqual([[450, 450], [400, 400]]);
	// Both workers ran executions.
	expect(cluster.workers.map((worker) => worker.executions().length > 0)).toEqual([true, true]);
});

test('a Gemini key throttled in one execution is called by no worker before its rest ends', async () => {
	const { ruleId, psids } = await seedRule(pages.b, 200, 1000, 'Lead B2');
	// Gemini answers after 1.5 s: each execution's 100 calls, 32 at a time, go in four rounds (0, 1.5,
	// 3 and 4.5 s). The second key's first call is answered 429 with a RetryInfo of 2 s: it rests
	// through the third round and takes its turns again in the fourth.
	await sims.gemini.control.setLatency(1500);
	await sims.gemini.control.addFault({ match: { key: geminiKeys[1] }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'http', status: 429, retryDelaySeconds: 2 } });
	const before = (await sims.gemini.control.requests()).length;

	const answers = await Promise.all([trigger(pages.b, { ruleId }), trigger(pages.b, { ruleId })]);
	await sims.gemini.control.setLatency(0);

	expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
	expect(answers.map((answer) => (answer.body as RunSummary).claimed)).toEqual([100, 100]);
	const calls = (await sims.gemini.control.requests()).slice(before).filter((request) => request.path.includes(':generateContent'));
	const refusal = calls.find((call) => call.key === geminiKeys[1] && call.status === 429);
	expect(refusal).toBeDefined();
	// From the moment the worker that got the 429 recorded the rest (the database's clock, this
	// machine's), no call with the key arrives from either worker until the rest ends, but those
	// that had taken their turn before: a turn is used within 50 ms of being taken (TURN_TTL_MS),
	// and a request takes a few ms more to arrive.
	const { rows } = await withDb((db) => db.query<{ rested_at: Date; rested_until: Date }>('select rested_at, rested_until from leadflow_private.limit_gemini_keys where key_id = $1', [keyIdOf(geminiKeys[1])]));
	const [restedAt, restedUntil] = [rows[0].rested_at.getTime(), rows[0].rested_until.getTime()];
	expect(restedUntil - restedAt).toBe(2000);
	expect(restedAt).toBeGreaterThanOrEqual(arrival(refusal!));
	const keyCalls = calls.filter((call) => call.key === geminiKeys[1]);
	expect(keyCalls.filter((call) => arrival(call) > restedAt + 100 && arrival(call) < restedUntil).map((call) => arrival(call) - restedAt)).toEqual([]);
	// It takes its turns again once the rest is over.
	expect(keyCalls.filter((call) => arrival(call) >= restedUntil).length).toBeGreaterThan(0);
	expect(sendsTo(await graphSends(), psids)).toHaveLength(200);
});

test('a worker killed with SIGKILL mid-batch: nothing sent twice, what it was sending ends send_uncertain, what it had not begun is sent by the next run, the other worker finishes its run', async () => {
	const { ruleId, psids } = await seedRule(pages.a, 200, 1000, 'Lead A3');
	const runs = [trigger(pages.a, { ruleId }), trigger(pages.a, { ruleId })];
	// The killed run's webhook call never gets an answer from its worker: not waited for.
	const settled = runs.map((run) => run.then((answer) => ({ answer }), (error: unknown) => ({ error })));

	// Both executions are sending (one per worker), and Facebook has received some of each, when the
	// first worker is killed.
	const holders = await waitFor(
		'both executions sending',
		async () => {
			const states = await statesOf(ruleId);
			const holderOf = new Map(states.map((state) => [state.recipient, state.execution_id]));
			const sending = [...new Set(states.filter((state) => state.current_stage === 'sending').map((state) => state.execution_id))];
			const delivered = sendsTo(await graphSends(), psids).map((send) => holderOf.get(send.recipient ?? ''));
			return sending.length === 2 && sending.every((holder) => delivered.filter((sentBy) => sentBy === holder).length >= 3) ? sending : undefined;
		},
		60_000,
	);
	const victim = cluster.workers[0];
	const [victimExecution] = victim.running();
	expect(victimExecution).toBeDefined();
	const victimHolder = holders.find((holder) => holder?.startsWith(`n8n-${victimExecution}-`));
	expect(victimHolder).toBeDefined();
	victim.killHard();
	await waitFor('the worker gone', async () => (victim.exited() ? true : undefined), 15_000);

	// The other worker carries on: its run answers with its 100 contacts sent.
	const survivor = await Promise.race(settled.map((run) => run.then((result) => ('answer' in result && result.answer.statusCode === 200 ? result.answer : new Promise<never>(() => undefined)))));
	expect(survivor.body).toMatchObject({ claimed: 100, sent: 100 });

	// Once the killed run's leases have run out, the next claim's reaper settles its contacts: the
	// batch it was sending (maybe delivered) fails send_uncertain, never sent again; anything it had
	// claimed but not begun to send would be claimable again, and that claim would take it (the
	// webhook's run sends its claim as one batch, so there is usually nothing such).
	const leaseEnd = Math.max(...(await statesOf(ruleId)).filter((state) => state.execution_id === victimHolder).map((state) => state.locked_until?.getTime() ?? 0));
	await new Promise((resolve) => setTimeout(resolve, Math.max(0, leaseEnd - Date.now() + 500)));
	const after = await trigger(pages.a, { ruleId });
	expect(after.statusCode).toBe(200);

	const states = await statesOf(ruleId);
	const killed = states.filter((state) => state.execution_id === victimHolder);
	const uncertain = killed.filter((state) => state.current_stage === 'failed' && state.error_code === 'send_uncertain');
	// At least the batch it was sending; an earlier batch of its run would have been sent in full.
	expect(uncertain.length).toBeGreaterThan(0);
	expect(killed.filter((state) => !uncertain.includes(state)).map((state) => state.current_stage)).toEqual(Array(killed.length - uncertain.length).fill('sent'));
	const reclaimed = 100 - killed.length;
	expect(after.body).toMatchObject({ claimed: reclaimed, sent: reclaimed });
	expect(states.filter((state) => state.execution_id !== victimHolder).map((state) => state.current_stage)).toEqual(Array(200 - killed.length).fill('sent'));
	const sends = sendsTo(await graphSends(), psids);
	expect(new Set(sends.map((send) => send.recipient)).size).toBe(sends.length);
	expect(mostInAnyWindow(sends.map(arrival)).count).toBeLessThanOrEqual(pages.a.rate);
	// Every contact sent, and of those left uncertain, what the killed worker delivered before it died.
	const sent = states.filter((state) => state.current_stage === 'sent').length;
	expect(sends.length).toBeGreaterThanOrEqual(sent);
	expect(sends.length).toBeLessThanOrEqual(sent + uncertain.length);
	expect(sent + uncertain.length).toBe(200);
});
