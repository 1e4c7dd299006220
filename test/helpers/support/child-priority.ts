// A child worker for test/helpers/child-workers.test.ts: ready at once; on `go`, prints the
// priority it runs at, as seen from inside.
import { getPriority } from 'node:os';
import { createInterface } from 'node:readline';

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
lines.once('line', () => {
	lines.close();
	// Nothing more to read: the test keeps its end of stdin open.
	process.stdin.destroy();
	process.stdout.write(`${JSON.stringify({ pid: process.pid, priority: getPriority() })}\n`);
});
