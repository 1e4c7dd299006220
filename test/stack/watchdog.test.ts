// The stack's watchdog (stack/watchdog.ts): a process that starts a stack and dies without stopping
// it (SIGKILL: nothing can catch it) leaves no PostgreSQL, no PostgREST, no watchdog and no data
// folder behind; a stack stopped as usual leaves no watchdog waiting either. Linux: the processes
// are read from /proc, as the machines that run the tests have it.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startStack } from '../../stack';
import { isRunning as running } from '../helpers/process-alive';
import { until } from '../helpers/until';

const root = path.resolve(__dirname, '..', '..');

/** The running processes whose parent is `parent`, with their command lines. */
function childrenOf(parent: number): Array<{ pid: number; command: string }> {
	const children: Array<{ pid: number; command: string }> = [];
	for (const entry of readdirSync('/proc')) {
		if (!/^[0-9]+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			if (Number(fields[1]) !== parent || fields[0] === 'Z') continue;
			children.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
		} catch {
			// ended while being read
		}
	}
	return children;
}

/** What the stack runs: PostgreSQL, PostgREST and the watchdog (tsx's esbuild service, also a child of the fixture, is not the stack's). */
function kindOf(command: string): string | null {
	if (/[/ ]postgres -D /.test(command)) return 'postgres';
	if (/[/]postgrest$/.test(command)) return 'postgrest';
	if (command.includes(' -e ') && command.includes('servers.reverse()')) return 'watchdog';
	return null;
}
const stackProcesses = (children: Array<{ pid: number; command: string }>) => children.filter(({ command }) => kindOf(command) !== null);
const kinds = (children: Array<{ command: string }>) => children.map(({ command }) => kindOf(command)).sort();

test('the process that started the stack is killed (SIGKILL): its servers, their watchdog and the data folder go too', async () => {
	const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'fixtures', 'signals', 'stack-until-signal.ts')], {
		cwd: root,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
	const started = await new Promise<{ dataDir: string; postgresPid: number }>((resolve, reject) => {
		createInterface({ input: child.stdout! }).on('line', (line) => { if (line.startsWith('{')) resolve(JSON.parse(line) as { dataDir: string; postgresPid: number }); });
		child.on('exit', (exitCode) => reject(new Error(`the fixture ended (${exitCode}) before its stack started`)));
	});
	const left = stackProcesses(childrenOf(child.pid!));
	try {
		expect(kinds(left)).toEqual(['postgres', 'postgrest', 'watchdog']);
		expect(left.map(({ pid }) => pid)).toContain(started.postgresPid);
		expect(existsSync(started.dataDir)).toBe(true);

		child.kill('SIGKILL');
		await exited;
		// Fast shutdown of the database after PostgREST's: well within 30 s on a busy machine.
		expect(await until(() => left.every(({ pid }) => !running(pid)), 30_000)).toBe(true);
		expect(await until(() => !existsSync(started.dataDir), 5_000)).toBe(true);
	} finally {
		// Should this fail, what the fixture left is not left to the machine.
		for (const { pid } of left) if (running(pid)) process.kill(pid, 'SIGKILL');
		rmSync(started.dataDir, { recursive: true, force: true });
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	}
}, 120_000);

test('a stack stopped as usual leaves no watchdog waiting', async () => {
	const before = new Set(childrenOf(process.pid).map(({ pid }) => pid));
	const stack = await startStack({ fast: true });
	const mine = stackProcesses(childrenOf(process.pid).filter(({ pid }) => !before.has(pid)));
	try {
		expect(kinds(mine)).toEqual(['postgres', 'postgrest', 'watchdog']);
	} finally {
		await stack.stop();
	}
	expect(await until(() => mine.every(({ pid }) => !running(pid)), 10_000)).toBe(true);
	expect(existsSync(stack.dataDir)).toBe(false);
}, 120_000);
