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
// - A later round's claim refused because the run's owner, or their queue settings, went away during
//   the run is the workflow's 500 with the earlier rounds' counts, saying what changed, never the
//   caller's 404 about X-Leadflow-Owner: the header was valid when the run began.
import { randomUUID } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulators, type RunningSimulators } from '../../simulators';
import type { INodeParameters } from 'n8n-workflow';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { testStack, useStackOfItsOwn, withDb } from '../helpers/stack';
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

/** The stack's Supabase URL through a pass-through that deletes `owner`'s queue settings just before the second queue_claim reaches the database. */
async function settingsGoneBeforeSecondClaim(owner: string) {
	const upstream = new URL(testStack().supabaseUrl);
	let claims = 0;
	const server = createServer((incoming, outgoing) => {
		const forward = () => {
			const forwarded = request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } }, (answer) => {
				outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(outgoing);
			});
			forwarded.on('error', (error) => {
				outgoing.writeHead(502);
				outgoing.end(String(error));
			});
			incoming.pipe(forwarded);
		};
		if ((incoming.url ?? '').split('?')[0] !== '/rest/v1/rpc/queue_claim') return forward();
		claims += 1;
		if (claims !== 2) return forward();
		incoming.pause();
		withDb((db) => db.query('delete from public.user_queue_settings where user_id = $1', [owner])).then(forward, (error) => {
			outgoing.writeHead(502);
			outgoing.end(String(error));
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		claims: () => claims,
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

// Before: 404 {field: null, hint: "Send X-Leadflow-Owner as … or leave the header out to claim every
// owner's messages.", claimed: 100, sent: 100, …}: the caller told to change a header that was valid,
// while 100 messages had gone (review S1).
test("the run's owner's queue settings deleted during the run: the later round's refused claim is the workflow's 500 with the earlier rounds' counts, not the caller's 404", async () => {
	const owner = await dueQueue(150);
	const proxy = await settingsGoneBeforeSecondClaim(owner);
	try {
		const run = await runNow(owner, WORKFLOW, credentials({ leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } }));
		expect(proxy.claims()).toBe(2);
		expect(run.response?.statusCode).toBe(500);
		expect(run.response?.body).toEqual({
			status: 500,
			error: `Owner User ID: user ${owner} has no queue settings`,
			field: null,
			hint: "The owner's queue settings went away during the run: an earlier round of this run claimed for this owner, and this round's claim was refused because the owner, or their queue settings (their row in user_queue_settings), no longer exist (deleted while the run went). The request is not at fault: it was valid when the run began. Before it failed, this run's earlier rounds: claimed 100, sent 100, failed 0, dead 0, released 0, cancelled 0, refused 0. Those are recorded; what is still due is sent by the next run.",
			claimed: 100,
			sent: 100,
			failed: 0,
			dead: 0,
			released: 0,
			cancelled: 0,
			refused: 0,
			errors: [],
		});
		expect(await statuses(owner)).toEqual({ sent: 100, queued: 50 });
	} finally {
		await proxy.stop();
	}

	// A scheduled run whose Owner User ID is set in the node: its error says the same.
	const scheduledOwner = await dueQueue(150);
	const edited = loadWorkflow(WORKFLOW);
	const claim = edited.nodes.find((node) => node.name === 'Claim Due Messages')!;
	claim.parameters = { ...claim.parameters, ownerUserId: scheduledOwner };
	const again = await settingsGoneBeforeSecondClaim(scheduledOwner);
	try {
		const scheduled = await runWorkflow(edited, { trigger: 'schedule', credentials: credentials({ leadflowSupabaseApi: { url: again.url, serviceRoleKey: testStack().serviceRoleKey } }) });
		expect(again.claims()).toBe(2);
		expect(scheduled.status).toBe('error');
		expect(scheduled.error).toMatchObject({
			node: 'Fail The Scheduled Run',
			message: `Owner User ID: user ${scheduledOwner} has no queue settings`,
			description: expect.stringMatching(/^The owner's queue settings went away during the run: .* Before it failed, this run's earlier rounds: claimed 100, sent 100, /),
		});
		expect(await statuses(scheduledOwner)).toEqual({ sent: 100, queued: 50 });
	} finally {
		await again.stop();
	}
}, 240_000);
