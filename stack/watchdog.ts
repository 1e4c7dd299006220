// The stack's watchdog: a small process that outlives the one that started the stack, and stops
// the stack's servers when that process dies without stopping them (killed with SIGKILL, a crash,
// a test run that ended in the middle): PostgreSQL and PostgREST are its children but run on
// after it, reparented, holding their ports and the temporary data folder. A signal the process
// can catch stops the stack by itself (stopEveryStack, bench/stop-on-signal.ts); the watchdog is
// for the deaths nothing can catch.
//
// It learns what to stop from lines on its standard input, which only the starting process holds:
//   watch <pid> <signal>   a server started: stop it with <signal> if the starter dies
//   forget <pid>           that server has ended (stopped, or failed to start): its id may be reused
//   remove <folder>        the stack's temporary data folder: remove it once the servers are gone
//   done                   the starter stopped the stack itself: nothing left to do, exit
// The end of its input without `done` means the starter is gone (the system closes a dead
// process's end of the pipe): it stops the servers, the last started first (PostgREST before the
// database it uses), waits for each (SIGKILL after 10 s), removes the folder and exits. It runs in
// a process group of its own, so a Ctrl-C in the terminal, which reaches the starter and the
// servers, does not end it before it is needed.
import { spawn, type ChildProcess } from 'node:child_process';

const WATCHDOG = `
const { readFileSync, rmSync } = require('node:fs');
const servers = [];
const folders = [];
let input = '';
let done = false;
// Running: signal 0 reaches it, and (where /proc tells) it is not a zombie, an ended process its
// new parent has not collected yet.
const alive = (pid) => {
  try { process.kill(pid, 0); } catch { return false; }
  try { const stat = readFileSync('/proc/' + pid + '/stat', 'utf8'); return stat[stat.lastIndexOf(')') + 2] !== 'Z'; } catch { return true; }
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function stopAll() {
  for (const { pid, signal } of servers.reverse()) {
    try { process.kill(pid, signal); } catch { continue; }
    const deadline = Date.now() + 10000;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch {}
    const last = Date.now() + 5000;
    while (alive(pid) && Date.now() < last) await sleep(50);
  }
  for (const folder of folders) try { rmSync(folder, { recursive: true, force: true }); } catch {}
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
  let end;
  while ((end = input.indexOf('\\n')) >= 0) {
    const line = input.slice(0, end);
    input = input.slice(end + 1);
    const [word, ...rest] = line.split(' ');
    if (word === 'watch') servers.push({ pid: Number(rest[0]), signal: rest[1] });
    else if (word === 'forget') servers.splice(0, servers.length, ...servers.filter((s) => s.pid !== Number(rest[0])));
    else if (word === 'remove') folders.push(rest.join(' '));
    else if (word === 'done') { done = true; process.exit(0); }
  }
});
process.stdin.on('end', () => { if (!done) stopAll().finally(() => process.exit(0)); });
`;

export interface StackWatchdog {
	/** Stop this server with `signal` should the starting process die first (forgotten once it ends). */
	watch(server: ChildProcess, signal: NodeJS.Signals): void;
	/** Remove this folder once the servers are stopped (the stack's temporary data). */
	remove(folder: string): void;
	/** The stack was stopped by its starter: the watchdog exits. */
	done(): void;
}

/** Starts a watchdog for one stack (see the header). It never keeps the starting process alive. */
export function startWatchdog(): StackWatchdog {
	const child: ChildProcess = spawn(process.execPath, ['-e', WATCHDOG], {
		detached: true,
		stdio: ['pipe', 'ignore', 'ignore'],
	});
	const input = child.stdin!;
	// A watchdog that could not start, or has gone, must not break the stack it watches.
	input.on('error', () => undefined);
	child.on('error', () => undefined);
	child.unref();
	(input as unknown as { unref(): void }).unref();
	const send = (line: string) => {
		if (!input.writableEnded && !input.destroyed) input.write(`${line}\n`);
	};
	return {
		watch: (server, signal) => {
			const pid = server.pid;
			if (pid === undefined) return;
			send(`watch ${pid} ${signal}`);
			server.once('exit', () => send(`forget ${pid}`));
		},
		remove: (folder) => send(`remove ${folder}`),
		done: () => {
			if (!input.writableEnded && !input.destroyed) input.end('done\n');
		},
	};
}
