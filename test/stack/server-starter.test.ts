// Whose server is it? A kept data folder's PostgreSQL is refused to a second start only while the
// process that started it runs (the one its `pgdata.starter` file names, by pid and start time). A
// server whose starter died was adopted by a live process that did not start it (a subreaper:
// systemd --user, tini -s): stale, stopped by the next start, not refused for as long as that
// process lives. And a pid file naming a process outside the data folder names no server at all.
// The "server" here is a `sleep` named like a PostgreSQL process and run in the folder, the test
// process its parent: no PostgreSQL needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { refuseDataInUse } from '../../stack/postgres';
import { StackSetupError } from '../../stack/placement';

let folder: string;
let dataDir: string;
const sleepers: ChildProcess[] = [];

function startTime(pid: number): string {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** A process in `cwd`, named in the data folder's postmaster.pid, as a running server would be. */
function serverIn(cwd: string): number {
	const sleeper = spawn('bash', ['-c', 'exec -a postgres-like sleep 60'], { cwd, stdio: 'ignore' });
	sleepers.push(sleeper);
	writeFileSync(path.join(dataDir, 'postmaster.pid'), `${sleeper.pid}\n${dataDir}\n`);
	return sleeper.pid!;
}

beforeEach(() => {
	folder = mkdtempSync(path.join(tmpdir(), 'leadflow-starter-'));
	dataDir = path.join(folder, 'pgdata');
	mkdirSync(dataDir);
});

afterEach(() => {
	for (const sleeper of sleepers.splice(0)) sleeper.kill('SIGKILL');
	rmSync(folder, { recursive: true, force: true });
});

it('refuses while the recorded starter (this process, same start time) runs, naming the server to stop', () => {
	const server = serverIn(dataDir);
	writeFileSync(path.join(folder, 'pgdata.starter'), `${process.pid} ${startTime(process.pid)}\n`);
	expect(() => refuseDataInUse(dataDir)).toThrow(StackSetupError);
	expect(() => refuseDataInUse(dataDir)).toThrow(new RegExp(`process ${process.pid}; its PostgreSQL is process ${server}.*kill ${server}`, 's'));
});

it('lets a start go on when the server\'s live parent is not its recorded starter (an adopting subreaper)', () => {
	serverIn(dataDir);
	// The starter was another process (here: the machine's first one), since gone from the server's parentage.
	writeFileSync(path.join(folder, 'pgdata.starter'), `1 ${startTime(1)}\n`);
	expect(() => refuseDataInUse(dataDir)).not.toThrow();
});

it('lets a start go on when the recorded starter\'s pid was reused by another process (another start time)', () => {
	serverIn(dataDir);
	writeFileSync(path.join(folder, 'pgdata.starter'), `${process.pid} 1\n`);
	expect(() => refuseDataInUse(dataDir)).not.toThrow();
});

it('takes a pid file naming a process outside the data folder for no server (a pid reused after a restart)', () => {
	serverIn(folder);
	writeFileSync(path.join(folder, 'pgdata.starter'), `${process.pid} ${startTime(process.pid)}\n`);
	expect(() => refuseDataInUse(dataDir)).not.toThrow();
});
