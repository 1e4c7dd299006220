// A benchmark ended by Ctrl-C or SIGTERM stops its local stack (bench/stop-on-signal.ts, which
// bench/run.ts loads before each benchmark): no PostgreSQL left running, no data folder left behind.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { isAlive as alive } from '../helpers/process-alive';

const root = path.resolve(__dirname, '..', '..');

test.each([['SIGTERM', 143], ['SIGINT', 130]] as const)('%s: the stack is stopped and its folder removed before the process ends (exit %i)', async (signal, code) => {
	const child = spawn(process.execPath, ['--import', 'tsx', '--import', path.join(root, 'bench', 'stop-on-signal.ts'), path.join(root, 'test', 'fixtures', 'signals', 'stack-until-signal.ts')], {
		cwd: root,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const exited = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
	const started = await new Promise<{ dataDir: string; postgresPid: number }>((resolve, reject) => {
		createInterface({ input: child.stdout! }).on('line', (line) => { if (line.startsWith('{')) resolve(JSON.parse(line) as { dataDir: string; postgresPid: number }); });
		child.on('exit', (exitCode) => reject(new Error(`the fixture ended (${exitCode}) before its stack started`)));
	});
	expect(alive(started.postgresPid)).toBe(true);
	expect(existsSync(started.dataDir)).toBe(true);

	child.kill(signal);
	expect(await exited).toBe(code);
	expect(alive(started.postgresPid)).toBe(false);
	expect(existsSync(started.dataDir)).toBe(false);
}, 120_000);

test('the output closed (a benchmark piped into head): the stack is stopped and its folder removed before the process ends (exit 141)', async () => {
	const child = spawn(process.execPath, ['--import', 'tsx', '--import', path.join(root, 'bench', 'stop-on-signal.ts'), path.join(root, 'test', 'fixtures', 'signals', 'stack-until-signal.ts'), '--print'], {
		cwd: root,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const exited = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
	const started = await new Promise<{ dataDir: string; postgresPid: number }>((resolve, reject) => {
		const lines = createInterface({ input: child.stdout! });
		lines.on('line', (line) => {
			if (!line.startsWith('{')) return;
			lines.close();
			resolve(JSON.parse(line) as { dataDir: string; postgresPid: number });
		});
		child.on('exit', (exitCode) => reject(new Error(`the fixture ended (${exitCode}) before its stack started`)));
	});
	expect(alive(started.postgresPid)).toBe(true);

	try {
		// The reader goes: the fixture's next progress line meets a closed pipe.
		child.stdout!.destroy();
		expect(await exited).toBe(141);
		expect(alive(started.postgresPid)).toBe(false);
		expect(existsSync(started.dataDir)).toBe(false);
	} finally {
		// Should this fail, what the fixture left is not left to the machine.
		if (alive(started.postgresPid)) process.kill(started.postgresPid, 'SIGQUIT');
		if (child.exitCode === null) child.kill('SIGKILL');
	}
}, 120_000);
