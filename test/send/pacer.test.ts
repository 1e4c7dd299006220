// The Page's pacer (Messages per Second) as pure logic: exact spacing when the process keeps up,
// and no burst of missed slots when it stalls.
import { pacerFor } from '../../nodes/FacebookSend/helpers/pacer';

let pageCounter = 0;
const freshPacer = () => pacerFor(`pacer-test|${(pageCounter += 1)}`);

/** Starts `count` calls at `perSecond` and returns when each one was let through (ms). */
function startCalls(pacer: ReturnType<typeof pacerFor>, count: number, perSecond: number): Promise<number[]> {
	return Promise.all(Array.from({ length: count }, async () => (await pacer.waitForSlot(perSecond), Date.now())));
}

const gapsOf = (times: number[]) => {
	const sorted = [...times].sort((a, b) => a - b);
	return sorted.slice(1).map((time, index) => time - sorted[index]);
};

test('calls start one interval apart: 6 at 20 per second span 250 ms', async () => {
	const starts = await startCalls(freshPacer(), 6, 20);
	const span = Math.max(...starts) - Math.min(...starts);
	expect(span).toBeGreaterThanOrEqual(5 * 50 - 5);
	for (const gap of gapsOf(starts)) expect(gap).toBeGreaterThanOrEqual(25);
});

test('a stalled process does not fire the slots it missed all at once: late calls catch up at most twice as fast', async () => {
	const calls = startCalls(freshPacer(), 8, 20);
	// Block the event loop for 300 ms: the slots at 50, 100, … 300 ms all pass meanwhile.
	const until = Date.now() + 300;
	while (Date.now() < until) {
		// busy: a stall
	}
	const starts = await calls;
	// The first call went before the stall (its time is read after it); every later one is spaced
	// at least half an interval (25 ms, less a ms or two of timer granularity) from the one before.
	for (const gap of gapsOf(starts).slice(1)) expect(gap).toBeGreaterThanOrEqual(22);
});

test('two callers of the same Page share its rate', async () => {
	const pacer = freshPacer();
	const [first, second] = await Promise.all([startCalls(pacer, 3, 20), startCalls(pacer, 3, 20)]);
	const all = [...first, ...second];
	expect(Math.max(...all) - Math.min(...all)).toBeGreaterThanOrEqual(5 * 50 - 5);
});
