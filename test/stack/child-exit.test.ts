// exitedAndRead (stack/child-exit.ts): output still arriving on a child's pipes after it exits is
// read before its exit is reported, and a grandchild that keeps the pipes open delays it by the
// grace period only.
import { spawn } from 'node:child_process';
import { exitedAndRead } from '../../stack/child-exit';

test('what is written to its pipes after it exits, before they close, is read when it resolves', async () => {
	// The child exits at once; a grandchild sharing its stderr writes 200 ms later, then exits: the
	// pipe closes only then. Resolving at the exit would miss what it wrote.
	const child = spawn(
		process.execPath,
		['-e', "require('node:child_process').spawn(process.execPath, ['-e', \"setTimeout(() => process.stderr.write('the reason'), 200)\"], { stdio: 'inherit' }).unref(); process.exitCode = 1"],
		{ stdio: ['ignore', 'pipe', 'pipe'] },
	);
	let output = '';
	child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
	await exitedAndRead(child);
	expect(child.exitCode).toBe(1);
	expect(output).toBe('the reason');
});

test('a grandchild holding the pipes open delays it by the grace period, not longer', async () => {
	const child = spawn(
		process.execPath,
		['-e', "const g = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'inherit' }); g.unref(); process.stdout.write(String(g.pid))"],
		{ stdio: ['ignore', 'pipe', 'pipe'] },
	);
	let grandchild = '';
	child.stdout.on('data', (chunk: Buffer) => (grandchild += chunk.toString()));
	const started = Date.now();
	try {
		await exitedAndRead(child, 300);
		expect(child.exitCode).toBe(0);
		expect(Date.now() - started).toBeLessThan(3_000);
		expect(Number(grandchild)).toBeGreaterThan(0);
	} finally {
		if (grandchild) process.kill(Number(grandchild), 'SIGKILL');
		child.stdout.destroy();
		child.stderr.destroy();
	}
});
