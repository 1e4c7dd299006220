// Runs `n8n start` so that nothing outlives the tests or `npm run editor`: n8n is started under a
// small watchdog that leads its own process group (n8n's task runners join it), and the whole group
// is killed on stop, when this process exits, and by the watchdog itself if this process dies
// without cleaning up.
import { spawn, type ChildProcess } from 'node:child_process';
import { exitedAndRead } from '../../stack/child-exit';

// Runs n8n as its child. When n8n exits (stopped, or crashed, e.g. on EPIPE once the starting
// process is gone), or when the starting process is gone, it kills the whole group, itself included, so that
// n8n's task runners never outlive n8n.
const WATCHDOG = `
const { spawn } = require('node:child_process');
const [parentPid, ...command] = process.argv.slice(1);
const killGroup = () => { try { process.kill(-process.pid, 'SIGKILL'); } catch {} process.exit(1); };
const child = spawn(process.execPath, command, { stdio: 'inherit' });
child.on('exit', killGroup);
setInterval(() => { try { process.kill(Number(parentPid), 0); } catch { killGroup(); } }, 500);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
`;

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
	if (child.pid === undefined) return;
	try {
		process.kill(-child.pid, signal);
	} catch {
		// the group is already gone
	}
}

process.once('exit', () => {
	for (const child of running) killGroup(child, 'SIGKILL');
});

export interface N8nProcess {
	pid: number;
	/** Everything n8n printed so far. */
	output(): string;
	exited(): boolean;
	stop(timeoutMs?: number): Promise<void>;
}

export function spawnN8n(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): N8nProcess {
	const child = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), bin, ...args], {
		cwd,
		env,
		detached: true,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	if (child.pid === undefined) throw new Error('n8n could not be started');
	running.add(child);
	let output = '';
	const collect = (chunk: Buffer) => {
		// Keeps the last megabyte: enough to explain a failure, bounded for long runs.
		output = (output + chunk.toString('utf8')).slice(-1_000_000);
	};
	child.stdout?.on('data', collect);
	child.stderr?.on('data', collect);
	const exit = exitedAndRead(child);
	const pid = child.pid;

	return {
		pid,
		output: () => output,
		exited: () => child.exitCode !== null || child.signalCode !== null,
		async stop(timeoutMs = 15_000) {
			// SIGTERM lets n8n close its database; the group kill then takes every straggler.
			if (child.exitCode === null && child.signalCode === null) {
				killGroup(child, 'SIGTERM');
				const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
				await Promise.race([exit, timer]);
			}
			killGroup(child, 'SIGKILL');
			await exit;
			running.delete(child);
		},
	};
}
