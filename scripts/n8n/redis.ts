// Redis for n8n's queue mode in the end-to-end tests: Debian's `redis-server`, installed with
// apt-get when the machine has none (as root, or through sudo), run on a free port bound to
// 127.0.0.1 with nothing saved to disk, under a small watchdog so that it never outlives the tests,
// and stopped after them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exitedAndRead } from '../../stack/child-exit';
import { onFreePort } from '../../stack/ports';

const CANDIDATES = ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'];

function findRedisServer(): string | undefined {
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		const candidate = path.join(dir, 'redis-server');
		if (dir && existsSync(candidate)) return candidate;
	}
	return CANDIDATES.find((candidate) => existsSync(candidate));
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; output: string } {
	const result = spawnSync(command, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/**
 * The `redis-server` to run: the machine's, else Debian's package installed now. The package's own
 * service is not started by the install (RUNLEVEL=1 tells invoke-rc.d not to), so nothing keeps
 * running on Redis's default port after the tests.
 */
export function ensureRedisServer(log: (line: string) => void = () => undefined): string {
	const found = findRedisServer();
	if (found) return found;
	const asRoot = process.getuid?.() === 0;
	const sudo = !asRoot && run('sudo', ['-n', 'true'], process.env).ok;
	if (!asRoot && !sudo) {
		throw new Error('redis-server is not installed and apt-get needs root: run `sudo apt-get install redis-server` (Debian/Ubuntu) once, then the tests again.');
	}
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
	const apt = (args: string[]) => (sudo ? run('sudo', ['-n', '--preserve-env=DEBIAN_FRONTEND,RUNLEVEL', 'apt-get', ...args], env) : run('apt-get', args, env));
	log('redis-server is missing: installing Debian\'s package (apt-get install redis-server)…');
	let installed = apt(['install', '-y', '--no-install-recommends', 'redis-server']);
	if (!installed.ok) {
		// A fresh machine may have no package lists yet.
		apt(['update', '-qq']);
		installed = apt(['install', '-y', '--no-install-recommends', 'redis-server']);
	}
	const server = findRedisServer();
	if (!installed.ok || !server) throw new Error(`apt-get could not install redis-server:\n${installed.output.slice(-2000)}`);
	return server;
}

// Runs the server as its child; kills it when it exits or when the starting process is gone.
const WATCHDOG = `
const { spawn } = require('node:child_process');
const [parentPid, command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { stdio: 'inherit' });
const stop = () => { try { child.kill('SIGKILL'); } catch {} process.exit(1); };
child.on('exit', (code) => process.exit(code ?? 1));
setInterval(() => { try { process.kill(Number(parentPid), 0); } catch { stop(); } }, 500);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
`;

export interface RunningRedis {
	host: string;
	port: number;
	stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = connect({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
		socket.setTimeout(1000);
		socket.once('data', (data) => {
			socket.destroy();
			resolve(data.toString().startsWith('+PONG'));
		});
		socket.once('error', () => resolve(false));
		socket.once('timeout', () => {
			socket.destroy();
			resolve(false);
		});
	});
}

export async function startRedis(options: { log?: (line: string) => void } = {}): Promise<RunningRedis> {
	const server = ensureRedisServer(options.log);
	// A free port can be taken before redis-server binds it: then it starts again on another.
	return onFreePort(undefined, (port) => startRedisOn(server, port));
}

async function startRedisOn(server: string, port: number): Promise<RunningRedis> {
	const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-redis-'));
	const args = ['--bind', '127.0.0.1', '--port', String(port), '--protected-mode', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
	const child: ChildProcess = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), server, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	const exited = exitedAndRead(child);
	const killOnExit = () => child.kill('SIGKILL');
	process.once('exit', killOnExit);
	const stop = async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			const timer = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
			await Promise.race([exited, timer]);
			if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
			await exited;
		}
		process.removeListener('exit', killOnExit);
		rmSync(dir, { recursive: true, force: true });
	};
	const deadline = Date.now() + 15_000;
	while (!(await ping(port))) {
		if (child.exitCode !== null || Date.now() > deadline) {
			await stop();
			throw new Error(`redis-server did not start on 127.0.0.1:${port}:\n${output.slice(-2000)}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	return { host: '127.0.0.1', port, stop };
}
