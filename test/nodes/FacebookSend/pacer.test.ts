// The Page's pacer (Messages per Second) as pure logic, over this process's own schedule (the
// database's schedule is tested in test/db/limits and test/nodes/FacebookSend/shared-rate.test.ts):
// slots 1.1 / rate apart when the process keeps up, and no burst of missed slots when it stalls.
// Bounded from both sides: never faster than the rate, and never slower than a chain of plain timers
// run alongside in the same event loop, which is late exactly when the machine is (a loaded CPU, a
// GC pause), so the upper bound does not depend on how busy the machine is. Allowed beyond that
// reference: timer jitter.
import { sleep } from 'n8n-workflow';
import { pacerFor, SLOT_SPACING } from '../../../nodes/FacebookSend/helpers/pacer';
import { runsAlone } from '../../helpers/quiet-machine';

// Judges when requests arrive: alone on the machine (see the helper).
runsAlone();

let pageCounter = 0;
const freshPacer = () => pacerFor(`pacer-test|${(pageCounter += 1)}`);

const PER_SECOND = 20;
/** Slots are 10 % further apart than 1 / rate, so that one second never holds more than the rate. */
// As the pacer computes it: (1000 / 20) * 1.1 is 55.00000000000001 in floating point, which made a
// gap of 54 ms fail "at least one spacing less a ms".
const SPACING = (SLOT_SPACING * 1000) / PER_SECOND;
/** Timer jitter between two timer chains of one event loop (ms): five times the largest measured (9 ms). */
const JITTER = 50;

/** Starts `count` calls at `perSecond` and returns when each one was let through (ms). */
function startCalls(pacer: ReturnType<typeof pacerFor>, count: number, perSecond: number): Promise<number[]> {
	return Promise.all(Array.from({ length: count }, async () => (await pacer.waitForSlot(perSecond), Date.now())));
}

/** The reference: `count` timers one after another, each `step` after the last fired. */
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

test('calls start one spacing apart: 6 at 20 per second span 262.5 ms, and no more than a chain of timers takes', async () => {
	const [starts, reference] = await Promise.all([startCalls(freshPacer(), 6, PER_SECOND), timerChain(5, SPACING)]);
	const sorted = [...starts].sort((a, b) => a - b);
	// Never faster: each call at least one spacing after the one before (less a ms: slots fall
	// between milliseconds).
	for (const gap of gapsOf(sorted)) expect(gap).toBeGreaterThanOrEqual(SPACING - 1);
	// Never slower than five timers one spacing apart, each set when the one before fired: late
	// exactly when the event loop is, as the pacer is (it never catches up: that would break the rate).
	expect(spanOf(sorted)).toBeLessThanOrEqual(spanOf(reference) + JITTER);
});

test('a stalled process does not fire the slots it missed: after the stall calls go at the rate again, never closer', async () => {
	const calls = startCalls(freshPacer(), 8, PER_SECOND);
	// Block the event loop for 300 ms: the slots at 55, 110, … 275 ms all pass meanwhile.
	const until = Date.now() + 300;
	while (Date.now() < until) {
		// busy: a stall
	}
	const [starts, reference] = await Promise.all([calls, timerChain(7, SPACING)]);
	const sorted = [...starts].sort((a, b) => a - b);
	// None of the missed slots is used: the k-th call starts no earlier than k spacings after the
	// stall ended (less a ms). A pacer firing the missed slots would start six calls at once.
	sorted.forEach((start, k) => expect(start).toBeGreaterThanOrEqual(until + k * SPACING - 1));
	// No slower than a chain of timers one spacing apart run in the same event loop.
	expect(sorted[7] - sorted[0]).toBeLessThanOrEqual(spanOf(reference) + JITTER);
});

test('two callers of the same Page share its rate', async () => {
	const pacer = freshPacer();
	const [[first, second], reference] = await Promise.all([Promise.all([startCalls(pacer, 3, PER_SECOND), startCalls(pacer, 3, PER_SECOND)]), timerChain(5, SPACING)]);
	const sorted = [...first, ...second].sort((a, b) => a - b);
	for (const gap of gapsOf(sorted)) expect(gap).toBeGreaterThanOrEqual(SPACING - 1);
	expect(spanOf(sorted)).toBeLessThanOrEqual(spanOf(reference) + JITTER);
});

// A caller's deadline (a recorded send's last start within its lease) and its execution's Stop end
// its wait: a pause or a slot at or after the deadline is not slept out. The pause here is an hour:
// a pacer that waited it out would time the test out.
test('a pause that ends at or after the caller\'s deadline: too_late at once', async () => {
	const pacer = freshPacer();
	// The pause ends an hour after this instant or later: a deadline exactly then is "at" its end
	// (a deadline taken from the clock after the pause could fall a millisecond after its end, when a
	// slot right after it would come in time and the caller must wait).
	const pausedAt = Date.now();
	await pacer.pause(3_600_000, 'Graph 613: a test');
	await expect(pacer.waitForSlot(PER_SECOND, false, { deadline: Date.now() + 60_000 })).resolves.toBe('too_late');
	await expect(pacer.waitForSlot(PER_SECOND, false, { deadline: pausedAt + 3_600_000 })).resolves.toBe('too_late');
});

test('a Stop ends the wait for a pause: cancelled', async () => {
	const pacer = freshPacer();
	await pacer.pause(3_600_000, 'Graph 613: a test');
	const stop = new AbortController();
	const waiting = pacer.waitForSlot(PER_SECOND, false, { deadline: Date.now() + 7_200_000, signal: stop.signal });
	stop.abort();
	await expect(waiting).resolves.toBe('cancelled');
});

test('a slot that comes after one caller\'s deadline goes to the next caller, not lost', async () => {
	const pacer = freshPacer();
	// One a second: the second slot comes 1.1 s after the first start.
	const [first] = await startCalls(pacer, 1, 1);
	await expect(pacer.waitForSlot(1, false, { deadline: first + 500 })).resolves.toBe('too_late');
	const [next] = await startCalls(pacer, 1, 1);
	// The slot given back (1.1 s after the first), not a new one after it (2.2 s).
	expect(next - first).toBeGreaterThanOrEqual(1100 - 1);
	expect(next - first).toBeLessThan(2200 - 1);
});
