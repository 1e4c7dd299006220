// The child workers of the tests that judge a shared rate (test/helpers/child-workers.ts): each is
// the process that runs the script, at the priority the helper says it gave, raised where the
// system allows it (as root, as CI runs), and none is left once it is done.
import { getPriority } from 'node:os';
import { isAlive } from './process-alive';
import { runChildWorkers, startChildWorker, stopChildWorkers } from './child-workers';
import { WORKER_PRIORITY } from './priority';

afterAll(() => stopChildWorkers());

test('a child worker runs the script itself at the priority it was given, and is gone when done', async () => {
	const worker = startChildWorker<{ pid: number; priority: number }>('test/helpers/support/child-priority.ts', {});
	await worker.ready;
	expect(getPriority(worker.child.pid!)).toBe(worker.priority);
	if (process.getuid?.() === 0) expect(worker.priority).toBe(WORKER_PRIORITY);
	worker.child.stdin?.write('go\n');
	const seen = await worker.done;
	// The script's own process reports it, so the priority reached the script and not a launcher.
	expect(seen).toEqual({ pid: worker.child.pid, priority: worker.priority });
	expect(isAlive(worker.child.pid!)).toBe(false);
});

test('several workers are told to go together and each answers', async () => {
	const results = await runChildWorkers<{ pid: number; priority: number }>('test/helpers/support/child-priority.ts', [{}, {}]);
	expect(results).toHaveLength(2);
	expect(new Set(results.map((result) => result.pid)).size).toBe(2);
});
