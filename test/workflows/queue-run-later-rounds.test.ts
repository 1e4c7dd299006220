// workflows/queue-run.json's later rounds (Claim Again? sends a full claim back to claim the next
// 100), through n8n's engine in-process against a stack of its own (a run that widens claims every
// owner's messages, and the schedule claims every owner's) and the Graph simulator:
// - Every round of Claim Due Messages sees the run's first item (Next Round feeds it back), so an
//   Owner User ID a user edits to read $json (`{{ $json.headers['x-leadflow-owner'] }}`) names the
//   same owner in every round. Before, the second round's $json was Record Outcomes' first item: no
//   headers, an empty owner, and that round claimed (and sent) every owner's due messages.
// - A later round's claim failing (Supabase out of connections) answers Run Now 500 with the counts
//   of what the earlier rounds did, and the scheduled run's error says them too. Before, the answer
//   was {status, error, hint} alone: the caller was told the run failed while 100 messages had gone.
//   So does a later round's Claim or Send refusing its own setting, its hint naming the node that
//   failed (before, a later round's Claim was named Send on WhatsApp: Send had run in an earlier round).
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import type { INodeParameters } from 'n8n-workflow';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { testStack, useStackOfItsOwn } from '../helpers/stack';
import { failingSupabase, POOL_TIMEOUT } from './support/failing-supabase';
import { leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-run.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;

// A widened claim takes every owner's messages; the schedule's run claims every owner's.
useStackOfItsOwn();

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

const credentials = (supabase: TestCredentials = supabaseCredentials()): TestCredentials => ({ httpHeaderAuth: KEY, ...supabase, ...whatsappCredentials(sims.graph.baseUrl) });
const runNow = (owner: string, workflow: ReturnType<typeof loadWorkflow> | string = WORKFLOW, creds: TestCredentials = credentials()) =>
	runWorkflow(workflow, { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: creds });

async function dueQueue(count: number): Promise<string> {
	const owner = await queueOwner({ daily_capacity: count });
	await leadsOf(owner, count);
	expect((await prepareDue(owner)).queued).toBe(count);
	return owner;
}

/** Every message of the owners by status. */
async function statuses(owner: string): Promise<Record<string, number>> {
	const counts: Record<string, number> = {};
	for (const row of await messagesOf(owner)) counts[row.status] = (counts[row.status] ?? 0) + 1;
	return counts;
}

test("an Owner User ID edited to read $json claims the run's owner in every round, never every owner's messages from the second", async () => {
	const [mine, other] = [await dueQueue(150), await dueQueue(150)];
	const edited = loadWorkflow(WORKFLOW);
	const claim = edited.nodes.find((node) => node.name === 'Claim Due Messages')!;
	claim.parameters = { ...claim.parameters, ownerUserId: "={{ $json.headers?.['x-leadflow-owner'] ?? '' }}" };

	const run = await runNow(mine, edited);
	expect(run.error).toBeUndefined();
	expect(run.response?.statusCode).toBe(200);
	expect(run.response?.body).toMatchObject({ claimed: 150, sent: 150, released: 0 });
	const rounds = run.run!.data.resultData.runData['Claim Due Messages'].map((one) => (one.data?.main[0] ?? []).map((item) => item.json.user_id));
	expect(rounds.map((round) => round.length)).toEqual([100, 50]);
	expect(new Set(rounds.flat())).toEqual(new Set([mine]));
	expect(await statuses(mine)).toEqual({ sent: 150 });
	// The other owner's messages were not touched.
	expect(await statuses(other)).toEqual({ queued: 150 });
}, 180_000);

test("a later round's claim failing: Run Now answers 500 with the earlier rounds' counts, and the scheduled run's error says them", async () => {
	const owner = await dueQueue(250);
	// The first queue_claim reaches the database; the second is PostgREST out of connections.
	const proxy = await failingSupabase(['queue_claim'], 503, POOL_TIMEOUT, 1, 1);
	try {
		const creds = credentials({ leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } });
		const now = await runNow(owner, WORKFLOW, creds);
		expect(proxy.failed()).toBe(1);
		expect(now.response?.statusCode).toBe(500);
		expect(now.response?.body).toEqual({
			status: 500,
			error: expect.stringContaining('Timed out acquiring connection'),
			field: null,
			hint: expect.stringMatching(/Before it failed, this run's earlier rounds: claimed 100, sent 100, failed 0, dead 0, released 0, cancelled 0, refused 0\./),
			claimed: 100,
			sent: 100,
			failed: 0,
			dead: 0,
			released: 0,
			cancelled: 0,
			refused: 0,
			errors: [],
		});
		expect(JSON.stringify(now.response?.body)).not.toContain(testStack().serviceRoleKey);
		expect(await statuses(owner)).toEqual({ sent: 100, queued: 150 });

		const again = await failingSupabase(['queue_claim'], 503, POOL_TIMEOUT, 1, 1);
		try {
			const scheduled = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: credentials({ leadflowSupabaseApi: { url: again.url, serviceRoleKey: testStack().serviceRoleKey } }) });
			expect(again.failed()).toBe(1);
			expect(scheduled.status).toBe('error');
			expect(scheduled.error).toMatchObject({
				node: 'Fail The Scheduled Run',
				message: expect.stringContaining('Timed out acquiring connection'),
				description: expect.stringMatching(/Before it failed, this run's earlier rounds: claimed 100, sent 100, failed 0, dead 0, released 0, cancelled 0, refused 0\./),
			});
		} finally {
			await again.stop();
		}
	} finally {
		await proxy.stop();
	}
}, 240_000);

test.each([
	['Claim Due Messages', { leaseSeconds: '={{ $runIndex === 0 ? 300 : 3 }}' }, 'Lease (Seconds) must be a whole number from 10 to 86400 (got 3)'],
	['Send on WhatsApp', { concurrency: '={{ $runIndex === 0 ? 10 : 51 }}' }, 'Parallel Sends must be a whole number from 1 to 50 (got 51)'],
])("%s refusing its own option %j in the second round: Run Now answers 500 naming that node, with the first round's counts", async (node, options, message) => {
	const owner = await dueQueue(150);
	const edited = loadWorkflow(WORKFLOW);
	const target = edited.nodes.find((one) => one.name === node)!;
	target.parameters = { ...target.parameters, options: { ...(target.parameters.options as INodeParameters), ...options } };

	const run = await runNow(owner, edited);
	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({
		status: 500,
		error: message,
		field: null,
		hint: expect.stringMatching(new RegExp(`^The workflow's node ${node} refuses its own setting: fix it in the workflow .*Before it failed, this run's earlier rounds: claimed 100, sent 100, failed 0, dead 0, released 0, cancelled 0, refused 0\\.`)),
		claimed: 100,
		sent: 100,
		failed: 0,
		dead: 0,
		released: 0,
		cancelled: 0,
		refused: 0,
		errors: [],
	});
	// The second round's messages wait in the queue: never claimed, or given back by Send unsent.
	expect(await statuses(owner)).toEqual({ sent: 100, queued: 50 });
}, 180_000);
