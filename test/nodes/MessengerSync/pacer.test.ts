// Messenger Sync's pacer: calls start at least an interval apart, counted from when each call really
// starts. A lease renewal on the way (a database call, slow on a busy machine) delays one call; the
// next must still wait a whole interval after it, not start at its planned time. Only lower bounds
// are asserted: a slower machine spaces the calls further, never closer.
import { Pacer } from '../../../nodes/MessengerSync/helpers/syncPage';

const INTERVAL_MS = 200;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

test('a call delayed by a slow lease renewal pushes the next call a whole interval after it', async () => {
	let renewals = 0;
	// The first call's renewal takes 150 ms (the heartbeat's database call), the others none.
	const lease = {
		dueInMs: () => 0,
		keep: async (): Promise<void> => {
			if (renewals++ === 0) await sleep(150);
		},
	};
	const pacer = new Pacer(INTERVAL_MS, lease);
	const starts: number[] = [];
	for (let call = 0; call < 3; call++) {
		await pacer.wait();
		starts.push(performance.now());
	}
	// Planned at 0, 200 and 400 ms; the first really started at 150 ms, so the second waits to 350.
	expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(INTERVAL_MS - 2);
	expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(INTERVAL_MS - 2);
});

test('a pause holds the next call back, and the interval still counts from the last real start', async () => {
	const pacer = new Pacer(INTERVAL_MS);
	await pacer.wait();
	const first = performance.now();
	pacer.pause(300);
	await pacer.wait();
	expect(performance.now() - first).toBeGreaterThanOrEqual(300 - 2);
});
