// Several workers sending for one Page share its rate through the database: three processes (each
// its own n8n engine and Supabase client, as three queue-mode workers are) send at once for the same
// Page at 10 messages a second, and together they never start more than 10 calls in any second
// (each worker's own record of when its pacer let each call start) nor does the Graph simulator
// receive more (its own log of when each request arrived); a throttle Facebook answers one of them
// pauses all three. And when the shared rate cannot be read, nothing is sent.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoggedRequest, RunningSimulators } from '../../../simulators';
import { startSimulatorsProcess } from '../../helpers/simulators-process';
import { arrivalsBetween, mostInAnyWindow } from '../../helpers/arrivals';
import { runChildWorkers, stopChildWorkers } from '../../helpers/child-workers';
import { testStack, withDb } from '../../helpers/stack';
import { PAGE_ID, readyContacts, statesOf, type ReadyBatch } from './support/contacts';
import { SLOT_SPACING } from '../../../nodes/FacebookSend/helpers/pacer';
import { facebookCredential, FAST, PAGE_TOKEN, runSend, WARM_UP_PSID } from './support/workflow';
import { runsAlone } from '../../helpers/quiet-machine';

// Judges when requests arrive: alone on the machine (see the helper).
runsAlone();

const RATE = 10;
const WORKERS = 3;
const PER_WORKER = 20;

let sims: RunningSimulators;

beforeAll(async () => {
	// In a process of their own: the arrival times they log are what this file judges (see the helper).
	sims = await startSimulatorsProcess();
});

afterAll(async () => {
	stopChildWorkers();
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configure({ pageTokens: { [PAGE_ID]: PAGE_TOKEN } });
	await sims.graph.control.setLatency(30);
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

interface SendResult {
	status: string;
	sent: number;
	failed: unknown[];
	/** When each of the worker's Send API calls left it, epoch ms (support/child-send.ts). */
	starts: number[];
	/** When the worker's pacer let each call start, epoch ms (support/child-send.ts). */
	releases: number[];
}

/**
 * Slots 110 ms apart leave 100 ms in each second for a call to start late (placed at most 60 ms
 * after its instant, MAX_CLOCK_LATE_MS, and started within LATE_MS, 20 ms, of that) and for the way
 * to Facebook to vary. On this 2-core machine, three n8n workers, Postgres, PostgREST and the
 * simulator share the cores, and the way from a worker to the simulator has varied by more than
 * what is left for it: one CI run in about ten counted 11 arrivals in a second whose starts were
 * spaced right, and under load the way from the pacer's release to the socket alone took up to
 * 90 ms now and then (the process waiting for a core). So the rate is judged strictly on the
 * releases, the moment the node lets a call start, which is what it controls, and on the starts at
 * the socket and the arrivals, as Facebook counts them, in windows this much shorter than a second.
 */
const WAY_VARIES_MS = 100;

/** Every release and every start the workers recorded, and the check that each of the simulator's sends has one of each. */
function pacesOf(results: SendResult[], sends: LoggedRequest[]): { releases: number[]; starts: number[] } {
	const starts = results.flatMap((result) => result.starts);
	const releases = results.flatMap((result) => result.releases);
	expect(starts).toHaveLength(sends.length);
	expect(releases).toHaveLength(sends.length);
	return { releases, starts };
}

const runWorkers = (batches: ReadyBatch[], parameters: Record<string, unknown>) =>
	runChildWorkers<SendResult>(
		'test/nodes/FacebookSend/support/child-send.ts',
		batches.map((batch) => ({ items: batch.items, parameters, credentials: credentials(), waitForGo: true })),
	);

/** The workers' sends, without their warm-ups. */
const sendsOf = (requests: LoggedRequest[]) =>
	requests.filter((request) => request.method === 'POST' && request.path.endsWith('/messages') && request.recipient !== WARM_UP_PSID);
const arrivalOf = (request: LoggedRequest) => Date.parse(request.receivedAt);

test('three workers sending for one Page at once never exceed its 10 messages a second together, and each contact is sent once', async () => {
	const batches = await Promise.all(Array.from({ length: WORKERS }, () => readyContacts({ count: PER_WORKER })));
	const parameters = { ...FAST, messagesPerSecond: RATE, options: { ...FAST.options, concurrency: 10 } };

	const results = await runWorkers(batches, parameters);

	expect(results.map((result) => result.sent)).toEqual([PER_WORKER, PER_WORKER, PER_WORKER]);
	const sends = sendsOf(await sims.graph.control.requests());
	expect(sends).toHaveLength(WORKERS * PER_WORKER);
	expect(new Set(sends.map((send) => send.recipient)).size).toBe(WORKERS * PER_WORKER);
	const arrivals = sends.map(arrivalOf);
	// Alone, each would send 10 a second: together they would send 30. Shared, never more than 10.
	const { releases, starts } = pacesOf(results, sends);
	expect(mostInAnyWindow(releases).count).toBeLessThanOrEqual(RATE);
	expect(mostInAnyWindow(starts, 1000 - WAY_VARIES_MS).count).toBeLessThanOrEqual(RATE);
	expect(mostInAnyWindow(arrivals, 1000 - WAY_VARIES_MS).count).toBeLessThanOrEqual(RATE);
	// They really ran at the same time: every worker was still sending when the last one began.
	const spans = batches.map((batch) => {
		const times = sends.filter((send) => batch.psids.includes(send.recipient ?? '')).map(arrivalOf);
		return { first: Math.min(...times), last: Math.max(...times) };
	});
	expect(Math.max(...spans.map((span) => span.first))).toBeLessThan(Math.min(...spans.map((span) => span.last)));
	// And the rate is shared, not divided: 60 sends 1.1 / 10 s apart take 6.5 s. A busy machine gives
	// up slots it could not start in time, so allow up to twice that; three workers each held to a
	// third of the rate would take three times as long.
	expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeLessThan((2 * (WORKERS * PER_WORKER - 1) * SLOT_SPACING * 1000) / RATE);
	expect((await statesOf(batches.flatMap((batch) => batch.stateIds))).every((state) => state.current_stage === 'sent')).toBe(true);
});

test('a throttle Facebook answers one worker pauses all three; afterwards every contact is still sent once', async () => {
	const batches = await Promise.all(Array.from({ length: WORKERS }, () => readyContacts({ count: PER_WORKER })));
	// The second worker's tenth contact is throttled once (Graph 613): the worker backs off 2 s (±20 %).
	const throttled = batches[1].psids[9];
	await sims.graph.control.addFault({ match: { recipient: throttled }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 613 } });
	const parameters = { ...FAST, messagesPerSecond: RATE, options: { ...FAST.options, concurrency: 10, backoffMs: 2000, retries: 2 } };

	const results = await runWorkers(batches, parameters);

	expect(results.map((result) => result.sent)).toEqual([PER_WORKER, PER_WORKER, PER_WORKER]);
	const sends = sendsOf(await sims.graph.control.requests());
	const refusal = sends.find((send) => send.recipient === throttled && send.outcome === 'fault');
	expect(refusal).toBeDefined();
	const answeredAt = arrivalOf(refusal!) + (refusal!.durationMs ?? 0);
	const arrivals = sends.map(arrivalOf);
	// The pause lasts at least 1.6 s. Slots handed out before it was recorded may still be used (a
	// worker holds at most a quarter of a second of them); after that, no worker sends until it ends.
	expect(arrivalsBetween(arrivals, answeredAt + 400, answeredAt + 1500)).toEqual([]);
	// Then the three resume, the throttled contact included, each delivered once, still within the rate.
	const delivered = sends.filter((send) => send.outcome === 'answered' && send.status === 200);
	expect(delivered).toHaveLength(WORKERS * PER_WORKER);
	expect(new Set(delivered.map((send) => send.recipient)).size).toBe(WORKERS * PER_WORKER);
	const { releases, starts } = pacesOf(results, sends);
	expect(mostInAnyWindow(releases).count).toBeLessThanOrEqual(RATE);
	expect(mostInAnyWindow(starts, 1000 - WAY_VARIES_MS).count).toBeLessThanOrEqual(RATE);
	expect(mostInAnyWindow(arrivals, 1000 - WAY_VARIES_MS).count).toBeLessThanOrEqual(RATE);
	const { rows } = await withDb((db) =>
		db.query(`select pause_reason from leadflow_private.limit_send_rates where graph_url = $1 and page_id = $2`, [sims.graph.baseUrl, PAGE_ID]),
	);
	expect(rows[0].pause_reason).toMatch(/^Graph 613: /);
});

/** The Page's pause as the database holds it. */
async function pauseOfPage(): Promise<{ paused_until: Date | null; pause_reason: string | null }> {
	const { rows } = await withDb((db) =>
		db.query(`select paused_until, pause_reason from leadflow_private.limit_send_rates where graph_url = $1 and page_id = $2`, [sims.graph.baseUrl, PAGE_ID]),
	);
	return rows[0];
}

test('with Retries 0, a throttle on the only try still pauses the Page for every worker (the pause the next backoff would have been)', async () => {
	const batches = await Promise.all(Array.from({ length: WORKERS }, () => readyContacts({ count: PER_WORKER })));
	// The second worker's tenth contact is throttled (Graph 613) on its only try: no retry follows,
	// so nothing waits for a backoff, yet the Page is Facebook's to rest for 2 s (±20 %).
	const throttled = batches[1].psids[9];
	await sims.graph.control.addFault({ match: { recipient: throttled }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 613 } });
	const parameters = { ...FAST, messagesPerSecond: RATE, options: { ...FAST.options, concurrency: 10, backoffMs: 2000, retries: 0 } };

	const results = await runWorkers(batches, parameters);

	const sends = sendsOf(await sims.graph.control.requests());
	const refusal = sends.find((send) => send.recipient === throttled && send.outcome === 'fault');
	expect(refusal).toBeDefined();
	const answeredAt = arrivalOf(refusal!) + (refusal!.durationMs ?? 0);
	// Recorded in the database for every worker: at least 1.6 s from the refusal.
	const pause = await pauseOfPage();
	expect(pause.pause_reason).toMatch(/^Graph 613: /);
	expect(pause.paused_until!.getTime()).toBeGreaterThanOrEqual(answeredAt + 1500);
	// The other two workers: nothing arrives while the Page rests (slots handed out before the pause
	// was recorded start within a quarter of a second), and afterwards every one of their contacts is sent.
	const others = new Set([...batches[0].psids, ...batches[2].psids]);
	const othersArrivals = sends.filter((send) => others.has(send.recipient ?? '')).map(arrivalOf);
	expect(arrivalsBetween(othersArrivals, answeredAt + 400, answeredAt + 1500)).toEqual([]);
	expect([results[0].sent, results[2].sent]).toEqual([PER_WORKER, PER_WORKER]);
	// The throttled worker ends its batch: the throttled contact and those it had not tried fail
	// throttled, claimable again later.
	expect(results[1].sent + results[1].failed.length).toBe(PER_WORKER);
	expect(results[1].failed).toContainEqual(expect.objectContaining({ reason: 'throttled', retryLater: true, attempts: 1 }));
	const [state] = await statesOf([batches[1].stateIds[batches[1].psids.indexOf(throttled)]]);
	expect([state.current_stage, state.error_code, state.retry_at !== null]).toEqual(['failed', 'throttled', true]);
});

test('a throttle whose backoff would be longer than a day pauses the Page a day (the longest pause the database records), not not at all', async () => {
	const batch = await readyContacts({ count: 1 });
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 613 } });
	// Backoff 200,000,000 ms (±20 %): 1.6 to 2.4 × 10^8 ms, above limit_pause_sends' 86,400,000.
	const parameters = { ...FAST, messagesPerSecond: RATE, options: { ...FAST.options, backoffMs: 200_000_000, retries: 0 } };
	try {
		const before = Date.now();
		const run = await runSend(batch.items, parameters, credentials());
		const after = Date.now();

		expect(run.failed.map((item) => item.send)).toEqual([expect.objectContaining({ reason: 'throttled', attempts: 1 })]);
		const pause = await pauseOfPage();
		expect(pause.pause_reason).toMatch(/^Graph 613: /);
		expect(pause.paused_until!.getTime()).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
		expect(pause.paused_until!.getTime()).toBeLessThanOrEqual(after + 86_400_000 + 1000);
	} finally {
		// The Page must send again in the tests after this one.
		await withDb((db) => db.query(`update leadflow_private.limit_send_rates set paused_until = null where graph_url = $1 and page_id = $2`, [sims.graph.baseUrl, PAGE_ID]));
	}
});

test('when the Page\'s shared rate cannot be read, nothing is sent: each item fails rate_limit_unavailable and is claimable again later', async () => {
	const batch = await readyContacts({ count: 3 });
	// Supabase answers everything but the slots: a pass-through that refuses limit_take_send_slots.
	const upstream = new URL(testStack().supabaseUrl);
	const proxy = createServer((incoming, outgoing) => {
		if ((incoming.url ?? '').includes('/rpc/limit_take_send_slots')) {
			outgoing.writeHead(503, { 'content-type': 'application/json' });
			outgoing.end(JSON.stringify({ message: 'the database is restarting' }));
			return;
		}
		const forwarded = request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } }, (answer) => {
			outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
			answer.pipe(outgoing);
		});
		incoming.pipe(forwarded);
	});
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	try {
		const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
		const run = await runSend(batch.items, FAST, { ...credentials(), leadflowSupabaseApi: { url, serviceRoleKey: testStack().serviceRoleKey } });
		expect(run.sent).toEqual([]);
		expect(run.failed.map((item) => item.send)).toEqual(
			batch.items.map(() => expect.objectContaining({ outcome: 'failed', reason: 'rate_limit_unavailable', retryLater: true, attempts: 0 })),
		);
		expect(sendsOf(await sims.graph.control.requests())).toEqual([]);
		const states = await statesOf(batch.stateIds);
		expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual(batch.items.map(() => ['failed', 'rate_limit_unavailable', true]));
	} finally {
		proxy.closeAllConnections();
		await new Promise<void>((resolve) => proxy.close(() => resolve()));
	}
});

test('when the database has no limit_take_send_slots (migrations not applied), each item says so and what to do: apply the migrations', async () => {
	const batch = await readyContacts({ count: 2 });
	// A real PostgREST answer for a missing function: the pass-through asks for a name no migration made.
	const upstream = new URL(testStack().supabaseUrl);
	const proxy = createServer((incoming, outgoing) => {
		const path = (incoming.url ?? '').replace('/rpc/limit_take_send_slots', '/rpc/limit_take_send_slots_not_migrated');
		const forwarded = request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path, headers: { ...incoming.headers, host: upstream.host } }, (answer) => {
			outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
			answer.pipe(outgoing);
		});
		incoming.pipe(forwarded);
	});
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	try {
		const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
		const run = await runSend(batch.items, FAST, { ...credentials(), leadflowSupabaseApi: { url, serviceRoleKey: testStack().serviceRoleKey } });
		expect(run.sent).toEqual([]);
		// The message alone ("Could not find the function…") left the user without the advice.
		expect(run.failed.map((item) => item.send)).toEqual(
			batch.items.map(() => expect.objectContaining({ reason: 'rate_limit_unavailable', detail: expect.stringContaining('apply the migrations') })),
		);
		expect(sendsOf(await sims.graph.control.requests())).toEqual([]);
	} finally {
		proxy.closeAllConnections();
		await new Promise<void>((resolve) => proxy.close(() => resolve()));
	}
});
