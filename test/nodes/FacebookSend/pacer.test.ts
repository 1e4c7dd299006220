// The Page's pacer (Messages per Second) as pure logic: exact spacing when the process keeps up,
// and no burst of missed slots when it stalls. Bounded from both sides: never faster than the rate,
// and never slower than a plain timer schedule run alongside in the same event loop, which is late
// exactly when the machine is (a loaded CPU, a GC pause), so the upper bound does not depend on how
// busy the machine is. Allowed beyond that reference: the half-interval catch-up the pacer is
// designed to do after a late start (25 ms per call at 20 per second), plus timer jitter.
// Measured on a 2-core machine at load average 5 to 7 with four more CPU-bound processes, 200 runs:
// the pacer ended at most 48 ms after the reference schedule (one call started late, the rest
// caught up), 9 ms after the reference catch-up chain, 9 ms with two callers. The bounds below
// hold any stall by construction; a pacer twice as slow as its rate fails every one of them.
import { sleep } from 'n8n-workflow';
import { pacerFor } from '../../../nodes/FacebookSend/helpers/pacer';

let pageCounter = 0;
const freshPacer = () => pacerFor(`pacer-test|${(pageCounter += 1)}`);

const PER_SECOND = 20;
const INTERVAL = 1000 / PER_SECOND;
/** Timer jitter between two timer chains of one event loop (ms): five times the largest measured (9 ms). */
const JITTER = 50;

/** Starts `count` calls at `perSecond` and returns when each one was let through (ms). */
function startCalls(pacer: ReturnType<typeof pacerFor>, count: number, perSecond: number): Promise<number[]> {
	return Promise.all(Array.from({ length: count }, async () => (await pacer.waitForSlot(perSecond), Date.now())));
}

/** The reference: plain timers due at `from`, `from + interval`, …, each fired when the event loop can. */
async function timerSchedule(from: number, count: number, interval: number): Promise<number[]> {
	const fired: number[] = [];
	for (let k = 0; k < count; k++) {
		await sleep(Math.max(0, from + k * interval - Date.now()));
		fired.push(Date.now());
	}
	return fired;
}

/** The reference for catching up: `count` timers one after another, each `step` after the last fired. */
async function timerChain(count: number, step: number): Promise<number[]> {
	const fired = [Date.now()];
	for (let k = 0; k < count; k++) {
		await sleep(step);
		fired.push(Date.now());
	}
	return fired;
}

const spanOf = (times: number[]) => Math.max(...times) - Math.min(...times);
const gapsOf = (times: number[]) => {
	const sorted = [...times].sort((a, b) => a - b);
	return sorted.slice(1).map((time, index) => time - sorted[index]);
};

test('calls start one interval apart: 6 at 20 per second span 250 ms, and no more than a timer schedule allows', async () => {
	const from = Date.now();
	const [starts, reference] = await Promise.all([startCalls(freshPacer(), 6, PER_SECOND), timerSchedule(from, 6, INTERVAL)]);
	const span = spanOf(starts);
	expect(span).toBeGreaterThanOrEqual(5 * INTERVAL - 5);
	for (const gap of gapsOf(starts)) expect(gap).toBeGreaterThanOrEqual(INTERVAL / 2);
	// The last call starts no later than the reference schedule's last timer, plus the catch-up the
	// pacer may use after a late start (half an interval per call) and jitter. Compared as end times:
	// when the event loop starts late, the reference's timers fire in a burst (a short span) while the
	// pacer still spaces its calls, so spans alone are not comparable.
	expect(Math.max(...starts)).toBeLessThanOrEqual(Math.max(...reference) + 5 * (INTERVAL / 2) + JITTER);
});

test('a stalled process does not fire the slots it missed all at once: late calls catch up twice as fast, no faster and no slower', async () => {
	const calls = startCalls(freshPacer(), 8, PER_SECOND);
	// Block the event loop for 300 ms: the slots at 50, 100, … 300 ms all pass meanwhile.
	const until = Date.now() + 300;
	while (Date.now() < until) {
		// busy: a stall
	}
	const [starts, reference] = await Promise.all([calls, timerChain(6, INTERVAL / 2)]);
	// The first call went before the stall (its time is read after it); every later one is spaced
	// at least half an interval (25 ms, less a ms or two of timer granularity) from the one before.
	for (const gap of gapsOf(starts).slice(1)) expect(gap).toBeGreaterThanOrEqual(22);
	// And the six after the stall start half an interval apart, as a chain of 25 ms timers does
	// (150 ms): a pacer that did not catch up would take 300 ms.
	const sorted = [...starts].sort((a, b) => a - b);
	expect(sorted[7] - sorted[1]).toBeLessThanOrEqual(spanOf(reference) + JITTER);
});

test('two callers of the same Page share its rate', async () => {
	const pacer = freshPacer();
	const from = Date.now();
	const [[first, second], reference] = await Promise.all([
		Promise.all([startCalls(pacer, 3, PER_SECOND), startCalls(pacer, 3, PER_SECOND)]),
		timerSchedule(from, 6, INTERVAL),
	]);
	const span = spanOf([...first, ...second]);
	expect(span).toBeGreaterThanOrEqual(5 * INTERVAL - 5);
	expect(span).toBeLessThanOrEqual(spanOf(reference) + 5 * (INTERVAL / 2) + JITTER);
});
