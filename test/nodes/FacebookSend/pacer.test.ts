// The Page's pacer (Messages per Second) as pure logic, over this process's own schedule (the
// database's schedule is tested in test/db/limits and test/nodes/FacebookSend/shared-rate.test.ts):
// slots 1.1 / rate apart when the process keeps up, and no burst of missed slots when it stalls.
// On the test's own clock (jest's fake timers: Date.now and the timers the pacer sleeps on), so each
// start is judged to the millisecond from both sides: never faster than the rate, and never later
// than its slot. (On the machine's clock the upper bound was a chain of plain timers run alongside,
// which a loaded machine delays at other instants than the pacer's own timers: it failed under load.)
// A stall is the clock moving while no code runs: the timers that came due meanwhile fire, and what
// they wake runs only after it, as after a blocked event loop or a long GC pause.
import { pacerFor, SLOT_SPACING } from '../../../nodes/FacebookSend/helpers/pacer';

// Only the clock and the timers: promises, nextTick and setImmediate stay real, as the pacer's awaits need.
beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }));
afterEach(() => jest.useRealTimers());

let pageCounter = 0;
const freshPacer = () => pacerFor(`pacer-test|${(pageCounter += 1)}`);

const PER_SECOND = 20;
/** Slots are 10 % further apart than 1 / rate, so that one second never holds more than the rate. */
// As the pacer computes it: (1000 / 20) * 1.1 is 55.00000000000001 in floating point.
const SPACING = (SLOT_SPACING * 1000) / PER_SECOND;

/** Starts `count` calls at `perSecond` and returns when each one was let through (ms, the test's clock). */
function startCalls(pacer: ReturnType<typeof pacerFor>, count: number, perSecond: number): Promise<number[]> {
	return Promise.all(Array.from({ length: count }, async () => (await pacer.waitForSlot(perSecond), Date.now())));
}

/** `count` starts one spacing apart from `first`. */
const spaced = (first: number, count: number) => Array.from({ length: count }, (_, k) => first + k * SPACING);
const ascending = (times: number[]) => [...times].sort((a, b) => a - b);

test('calls start one spacing apart: 6 at 20 per second span 275 ms, each at its slot', async () => {
	const t0 = Date.now();
	const starts = startCalls(freshPacer(), 6, PER_SECOND);
	await jest.advanceTimersByTimeAsync(2_000);
	// Never faster (each one spacing after the one before) and never later than its slot: the first
	// at once, the sixth five spacings later.
	expect(ascending(await starts)).toEqual(spaced(t0, 6));
});

test('a stalled process does not fire the slots it missed: after the stall calls go at the rate again, never closer', async () => {
	const t0 = Date.now();
	const calls = startCalls(freshPacer(), 8, PER_SECOND);
	// The calls take their slots (at t0, t0 + 55, …); the first starts at once.
	await jest.advanceTimersByTimeAsync(0);
	// A stall of 300 ms: the slots at 55, 110, … 275 ms all pass meanwhile, their timers fire late.
	jest.advanceTimersByTime(300);
	const until = t0 + 300;
	await jest.advanceTimersByTimeAsync(2_000);
	// None of the missed slots is used: the second call starts when the stall ends and each one after
	// it a spacing later. A pacer firing the missed slots would start five calls at once at `until`.
	expect(ascending(await calls)).toEqual([t0, ...spaced(until, 7)]);
});

test('two callers of the same Page share its rate', async () => {
	const pacer = freshPacer();
	const t0 = Date.now();
	const both = Promise.all([startCalls(pacer, 3, PER_SECOND), startCalls(pacer, 3, PER_SECOND)]);
	await jest.advanceTimersByTimeAsync(2_000);
	const [first, second] = await both;
	expect(ascending([...first, ...second])).toEqual(spaced(t0, 6));
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
	const nextCall = startCalls(pacer, 1, 1);
	await jest.advanceTimersByTimeAsync(3_000);
	const [next] = await nextCall;
	// The slot kept in hand (1.1 s after the first: refused before it was handed out), not a new one after it (2.2 s).
	expect(next - first).toBe(1100);
});

// The slot above is refused before it leaves the hand; this one is handed out, then refused and given back
// (Pacer.giveBack): a stall pushes its start, one spacing after the late start before it, past its deadline.
test('a slot handed out, then refused too_late after a stall, goes back to the hand: the next caller starts in it', async () => {
	const pacer = freshPacer();
	const t0 = Date.now();
	await pacer.waitForSlot(1); // A at t0
	const b = pacer.waitForSlot(1).then(() => Date.now()); // its slot: t0 + 1100
	const c = pacer.waitForSlot(1, false, { deadline: t0 + 2400 }); // its slot: t0 + 2200, before its deadline
	await jest.advanceTimersByTimeAsync(0);
	jest.advanceTimersByTime(1500); // a stall: B starts late, at t0 + 1500, so no start before t0 + 2600
	await jest.advanceTimersByTimeAsync(1000);
	expect(await b).toBe(t0 + 1500);
	await expect(c).resolves.toBe('too_late'); // its start (t0 + 2600) is past its deadline
	const d = pacer.waitForSlot(1).then(() => Date.now());
	await jest.advanceTimersByTimeAsync(3000);
	expect((await d) - t0).toBe(2600); // C's slot given back; a new one would start at t0 + 3300
});
