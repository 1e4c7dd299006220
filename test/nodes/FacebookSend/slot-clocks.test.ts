// The send slots of a worker whose clock is not the database's (transport/sendSlots.ts): a slot is
// never placed before its instant, whatever the worker's clock and its distance from the database.
// The worker's wall clock is made wrong here (Date.now moved by skewMs, 0 at each test's start, put
// back after the file); its monotonic clock (performance.now) is left alone, as a clock step leaves
// it. The database runs on this machine, so the true instant of each slot is the database's own
// (read from its answer as it passes a proxy), and each assertion holds however slow the machine: a
// longer round trip only makes a slot later, never earlier.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep, type IExecuteFunctions } from 'n8n-workflow';
import { databaseSlots, MAX_CLOCK_LATE_MS } from '../../../nodes/FacebookSend/transport/sendSlots';
import { LATE_MS } from '../../../nodes/FacebookSend/helpers/pacer';
import type { GraphTarget } from '../../../nodes/FacebookSend/transport/graphSend';
import { testStack, uniquePageId } from '../../helpers/stack';

const realNow = Date.now.bind(Date);
/** The wall clock's error: Date.now answers the real time plus this. */
let skewMs = 0;

let proxy: Server;
let proxyUrl: string;
/** Each way, added by the proxy (a hosted project in another region). */
let oneWayMs = 0;
/** Added to the way back only (a loaded machine: the answer waits for the worker's event loop or a core). */
let backMs = 0;
/** The database's answers to limit_take_send_slots, as they passed. */
let answers: Array<{ database_now: string; starts_in_ms: number[] }> = [];
/** The arguments of each limit_take_send_slots call, as they passed. */
let asked: Array<Record<string, unknown>> = [];
/**
 * How long each limit_take_send_slots call took at the proxy, ms (from its request read to its answer
 * sent): less than the worker's round trip of it, whatever the machine's load.
 */
let atProxyMs: number[] = [];

beforeAll(async () => {
	const target = new URL(testStack().supabaseUrl);
	proxy = createServer((incoming, outgoing) => {
		const body: Buffer[] = [];
		incoming.on('data', (chunk: Buffer) => body.push(chunk));
		incoming.on('end', async () => {
			const received = performance.now();
			if ((incoming.url ?? '').includes('/rpc/limit_take_send_slots')) asked.push(JSON.parse(Buffer.concat(body).toString()));
			await sleep(oneWayMs);
			const forwarded = request({ host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: { ...incoming.headers, host: target.host } }, (answer) => {
				const back: Buffer[] = [];
				answer.on('data', (chunk: Buffer) => back.push(chunk));
				answer.on('end', async () => {
					const text = Buffer.concat(back);
					if ((incoming.url ?? '').includes('/rpc/limit_take_send_slots') && answer.statusCode === 200) answers.push(...JSON.parse(text.toString()));
					await sleep(oneWayMs + backMs);
					if ((incoming.url ?? '').includes('/rpc/limit_take_send_slots')) atProxyMs.push(performance.now() - received);
					outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
					outgoing.end(text);
				});
			});
			forwarded.end(Buffer.concat(body));
		});
	});
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
	Date.now = () => realNow() + skewMs;
});

afterAll(async () => {
	Date.now = realNow;
	proxy.closeAllConnections();
	await new Promise((resolve) => proxy.close(resolve));
});

beforeEach(() => {
	skewMs = 0;
	oneWayMs = 0;
	backMs = 0;
	answers = [];
	asked = [];
	atProxyMs = [];
});

/** A worker's way to one Page's slots, through the proxy (each test its own database URL: the process keeps one clock measure per URL). */
function worker(): ReturnType<typeof databaseSlots> {
	const context = {
		getCredentials: async () => ({ url: proxyUrl, serviceRoleKey: testStack().serviceRoleKey }),
		getNode: () => ({ id: 'slots', name: 'Facebook Send', type: 'n8n-nodes-leadflow.facebookSend', typeVersion: 1, parameters: {}, position: [0, 0] }),
		logger: { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined },
	} as unknown as IExecuteFunctions;
	const target = { baseUrl: `http://graph.slot-clocks.invalid/${uniquePageId()}`, pageId: uniquePageId() } as GraphTarget;
	return databaseSlots(context, target, `${proxyUrl}/${uniquePageId()}`);
}

/** One take; each slot's place against its true instant on the worker's clock (ms; negative: early), and the take's round trip. */
async function take(source: ReturnType<typeof databaseSlots>): Promise<{ lateBy: number[]; roundTripMs: number; allowances: number[] }> {
	answers = [];
	const started = performance.now();
	const { slots } = await source.take(2, 10);
	const roundTripMs = performance.now() - started;
	expect(answers).toHaveLength(1);
	const [answer] = answers;
	expect(slots).toHaveLength(answer.starts_in_ms.length);
	// The instant on the worker's clock: the database's plus the worker's error. Less a ms: the
	// database's now has microseconds, Date.parse keeps the ms.
	const lateBy = slots.map((slot, index) => slot.at - (Date.parse(answer.database_now) + answer.starts_in_ms[index] + skewMs) + 1);
	return { lateBy, roundTripMs, allowances: slots.map((slot) => slot.latest - slot.at) };
}

test('a worker 30 ms ahead of the database and 60 ms from it never places a slot early', async () => {
	skewMs = 30;
	oneWayMs = 30;
	const source = worker();
	for (let round = 0; round < 3; round++) {
		const { lateBy, roundTripMs } = await take(source);
		expect(lateBy.length).toBeGreaterThan(0);
		for (const late of lateBy) {
			// Judged in step (30 ms within half the round trip and 5 ms), the slots were used as the
			// database's instants: 30 ms early on this worker's clock.
			expect(late).toBeGreaterThanOrEqual(0);
			// Late by at most what the round trip leaves unsure.
			expect(late).toBeLessThanOrEqual(roundTripMs + 1);
		}
		await sleep(300);
	}
});

test('a worker whose clock is right but 60 ms from the database gives each slot the full 20 ms to start, never early', async () => {
	// Its clock is the database's: the measured offset is within half the round trip (the database's
	// now falls inside it), so the measure is consistent with clocks in step, never proof of it.
	oneWayMs = 30;
	const source = worker();
	for (let round = 0; round < 3; round++) {
		const { lateBy, roundTripMs, allowances } = await take(source);
		expect(lateBy.length).toBeGreaterThan(0);
		for (const late of lateBy) {
			expect(late).toBeGreaterThanOrEqual(0);
			expect(late).toBeLessThanOrEqual(roundTripMs + 1);
		}
		// With the round trip taken from the 20 ms, each slot had 5 ms to start (MIN_LATE_MS), and
		// the pacer gave up every slot it could not start that soon: a hosted project lost most slots.
		for (const allowance of allowances) expect(allowance).toBe(LATE_MS);
		await sleep(300);
	}
});

test('a worker whose clock is stepped back drops its old measure: its slots are placed at their instants on the new clock, not as long as the step later', async () => {
	const source = worker();
	// Close to the database: the measure it keeps (the fastest round trip).
	for (let round = 0; round < 3; round++) {
		for (const late of (await take(source)).lateBy) expect(late).toBeGreaterThanOrEqual(0);
		await sleep(300);
	}
	// NTP steps the clock back 3 s; the database is now further away (slower answers), so the old
	// measure is the fastest: kept by its round trip alone, with its age (taken on the wall clock)
	// negative, the old offset placed every slot 3 s late on the new clock.
	skewMs = -3000;
	oneWayMs = 100;
	for (let round = 0; round < 2; round++) {
		const { lateBy, roundTripMs } = await take(source);
		expect(lateBy.length).toBeGreaterThan(0);
		for (const late of lateBy) {
			expect(late).toBeGreaterThanOrEqual(0);
			expect(late).toBeLessThanOrEqual(roundTripMs + 1);
		}
		await sleep(300);
	}
});

test('a worker whose clock is right but whose answers come back 150 ms late starts no call more than 80 ms after its slot\'s instant; a fast answer places its slots at their instants again', async () => {
	// The database's now falls early in the round trip: the offset measured is about -75 ms, unsure by
	// 150, consistent with clocks in step. Placed at their latest local time, the slots came about
	// 150 ms late, each with the full 20 ms to start, while a worker with fast answers started on
	// time: in shared-rate.test.ts under load (a fresh worker's first answers came 100-800 ms late),
	// 11 starts in one second at 10 a second.
	backMs = 150;
	const source = worker();
	for (let round = 0; round < 2; round++) {
		const { lateBy, allowances } = await take(source);
		expect(lateBy.length).toBeGreaterThan(0);
		for (const [index, late] of lateBy.entries()) {
			expect(late).toBeGreaterThanOrEqual(0);
			// The last moment the pacer starts it, after its instant on this clock (the database's).
			expect(late + allowances[index]).toBeLessThanOrEqual(LATE_MS + MAX_CLOCK_LATE_MS + 1);
		}
		await sleep(300);
	}
	// The answers come back at once again: the fast measure replaces the slow one, and each slot is
	// placed late by at most its round trip, with the full 20 ms.
	backMs = 0;
	const { lateBy, roundTripMs, allowances } = await take(source);
	expect(lateBy.length).toBeGreaterThan(0);
	for (const late of lateBy) {
		expect(late).toBeGreaterThanOrEqual(0);
		expect(late).toBeLessThanOrEqual(roundTripMs + 1);
	}
	for (const allowance of allowances) expect(allowance).toBe(LATE_MS);
});

test('a worker whose answers come back 250 ms late asks for slots a lead after now (the fastest of its last three round trips less 60 ms): every slot is still ahead of an answer that came no more than 20 ms slower than that', async () => {
	// Placed at most 60 ms late, a slot whose answer arrives more than 80 ms after the database's now
	// has passed by then and is given up: without a lead, a worker this slow sent nothing. Judged by the
	// round trips this run had, not by the machine's speed: each take's round trip is at least what the
	// proxy saw of it (250 ms and more) and at most what the test timed around it.
	backMs = 250;
	const source = worker();
	const timed: number[] = [];
	const lastThree = (times: number[]) => Math.min(...times.slice(-3));
	// The first take has no round trip to go by: its slots may have passed on arrival.
	const started = performance.now();
	await source.take(2, 10);
	timed.push(performance.now() - started);
	expect(asked[0].p_lead_ms ?? 0).toBe(0);
	await sleep(100);
	for (let round = 1; round <= 3; round++) {
		answers = [];
		const before = performance.now();
		const { slots } = await source.take(2, 10);
		timed.push(performance.now() - before);
		const arrived = Date.now();
		expect(asked).toHaveLength(round + 1);
		const lead = asked[round].p_lead_ms as number;
		// The lead: the fastest of the last three round trips less 60 ms, a worker this slow always has one.
		expect(lead).toBeGreaterThanOrEqual(Math.floor(lastThree(atProxyMs.slice(0, round))) - MAX_CLOCK_LATE_MS);
		expect(lead).toBeLessThanOrEqual(Math.ceil(lastThree(timed.slice(0, round))) - MAX_CLOCK_LATE_MS);
		expect(lead).toBeGreaterThanOrEqual(backMs - MAX_CLOCK_LATE_MS);
		expect(slots.length).toBeGreaterThan(0);
		const databaseNow = Date.parse(answers[0].database_now);
		for (const [index, slot] of slots.entries()) {
			// No slot before now + the lead on the database's clock…
			expect(answers[0].starts_in_ms[index]).toBeGreaterThanOrEqual(lead - 0.001);
			// …still never early, and at most 60 ms late on the database's clock…
			const instant = databaseNow + answers[0].starts_in_ms[index];
			expect(slot.at - instant + 1).toBeGreaterThanOrEqual(0);
			expect(slot.at - instant).toBeLessThanOrEqual(MAX_CLOCK_LATE_MS + 1);
			// …so each may start until the lead and 80 ms after the database's now: an answer that came
			// back within that (a round trip at most 20 ms slower than the fastest) finds every slot ahead.
			expect(slot.latest - databaseNow + 1).toBeGreaterThanOrEqual(lead + MAX_CLOCK_LATE_MS + LATE_MS);
			if (arrived - databaseNow < lead + MAX_CLOCK_LATE_MS + LATE_MS) expect(slot.latest).toBeGreaterThan(arrived);
		}
		await sleep(400);
	}
});

test('one slow answer now and then gives no lead: the next take still gets the slots from now on', async () => {
	// Judged by the round trips this run had: the lead goes by the fastest of the last three (at most
	// as the test timed them), not by the slow one (at least 500 ms at the proxy), however slow the
	// machine makes the fast ones.
	const source = worker();
	const timed: number[] = [];
	const timedTake = async () => {
		const started = performance.now();
		await take(source);
		timed.push(performance.now() - started);
	};
	for (let round = 0; round < 2; round++) {
		await timedTake();
		await sleep(300);
	}
	const slowMs = 500;
	backMs = slowMs;
	await timedTake();
	await sleep(300);
	backMs = 0;
	answers = [];
	await source.take(2, 10);
	expect(asked).toHaveLength(4);
	const lead = asked[3].p_lead_ms as number;
	// With the last round trip as the lead, this take skipped its first 440 ms and more of slots (nobody's).
	expect(lead).toBeLessThanOrEqual(Math.max(0, Math.ceil(Math.min(...timed)) - MAX_CLOCK_LATE_MS));
	// (The slow one was that slow: any lead from it is above the fast ones'.)
	expect(atProxyMs[2]).toBeGreaterThanOrEqual(slowMs - 1);
	// The slots from now + that lead on: the slow take's are long past.
	expect(answers[0].starts_in_ms[0]).toBeLessThanOrEqual(lead + 1);
});

test('a take with no lead still sends p_lead_ms (0): a database without migration …2760 refuses the first take, saying to apply the migrations', async () => {
	// Left out at 0, a newer node ran on a database without the function's lead until a worker's
	// answers came back slow, and only then had every take refused.
	const source = worker();
	await source.take(2, 10);
	expect(asked).toHaveLength(1);
	expect(asked[0]).toMatchObject({ p_lead_ms: 0 });
});
