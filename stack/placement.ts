// Where Postgres's files live. Postgres refuses to run as root, so when the stack is started by root
// it runs as the `postgres` user, which must be able to reach both its binaries (inside this
// project's node_modules) and its data folder. A project cloned into a private folder (every
// container's /root is mode 700) is out of that user's reach: then the binaries are copied once into
// a per-version cache folder it can reach, and the data is kept in a state folder it can reach, with
// a note saying where and why. Nothing outside those folders is touched (never a chmod of the
// user's own folders).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

/** The user Postgres runs as: undefined when the stack is not root (Postgres runs as us). */
export interface ServerUser {
	uid: number;
	gid: number;
}

/** A problem outside the project that stops the stack, said with the one thing to do about it. */
export class StackSetupError extends Error {}

/** Root runs Postgres as `postgres`, creating that system user when the machine has none. */
export function serverUser(): ServerUser | undefined {
	if (userInfo().uid !== 0) return undefined;
	const lookup = () => ({
		uid: Number(execFileSync('id', ['-u', 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()),
		gid: Number(execFileSync('id', ['-g', 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()),
	});
	try {
		return lookup();
	} catch {
		// no such user yet
	}
	const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
		encoding: 'utf8',
	});
	if (created.status !== 0) {
		const why = (created.error?.message ?? created.stderr ?? '').trim() || `exit code ${created.status}`;
		throw new StackSetupError(
			`PostgreSQL refuses to run as root, so the stack runs it as the user "postgres", which this machine does not have and which could not be created (useradd: ${why}).\n` +
				'Fix: create it (`useradd --system --user-group postgres`), or run the stack as a user other than root.',
		);
	}
	return lookup();
}

/** Whether `user` can do `test <flag> target` (-x: enter a folder or run a file; -w: write). */
export function userCan(user: ServerUser, flag: '-x' | '-w' | '-r', target: string): boolean {
	const result = spawnSync('test', [flag, target], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
	return result.status === 0;
}

/** The deepest folder of `dir` (itself or a parent) that exists. */
function existingAncestor(dir: string): string {
	let current = path.resolve(dir);
	while (!existsSync(current)) current = path.dirname(current);
	return current;
}

/** The first folder of `dir`'s path that `user` cannot enter, or undefined when it can reach `dir`. */
export function blockingFolder(user: ServerUser, dir: string): string | undefined {
	const chain: string[] = [];
	for (let current = existingAncestor(dir); ; current = path.dirname(current)) {
		chain.unshift(current);
		if (path.dirname(current) === current) break;
	}
	return chain.find((folder) => !userCan(user, '-x', folder));
}

const describeFolder = (folder: string) => {
	const stat = statSync(folder);
	return `${folder} (mode ${(stat.mode & 0o777).toString(8)}, owner uid ${stat.uid})`;
};

/**
 * Root folders for what the stack keeps outside the project, in order of preference: system
 * folders first (they outlive a reboot, and only root can write them), the temp folder last.
 */
function candidateRoots(kind: 'cache' | 'state' | 'temp'): string[] {
	const temp = [path.join(tmpdir(), `leadflow-${kind}`), `/tmp/leadflow-${kind}`];
	if (kind === 'temp') return temp;
	return [kind === 'cache' ? '/var/cache/leadflow' : '/var/lib/leadflow', ...temp];
}

/** A folder root owns, others cannot write, and `user` can enter; created when missing. */
function reachableRoot(user: ServerUser, kind: 'cache' | 'state' | 'temp'): string {
	const tried: string[] = [];
	for (const root of [...new Set(candidateRoots(kind))]) {
		try {
			mkdirSync(root, { recursive: true });
			const stat = lstatSync(root);
			// Never trust a folder someone else made (a shared temp folder): it must be root's.
			if (!stat.isDirectory() || stat.uid !== 0) {
				tried.push(`${root}: not a folder owned by root`);
				continue;
			}
			chmodSync(root, 0o755); // whatever the umask made it: others may enter, not write
			const blocked = blockingFolder(user, root);
			if (blocked) {
				tried.push(`${root}: the postgres user cannot enter ${describeFolder(blocked)}`);
				continue;
			}
			return root;
		} catch (error) {
			tried.push(`${root}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
		}
	}
	throw new StackSetupError(
		`The stack runs PostgreSQL as the user "postgres" (started by root) and found no folder for its ${kind === 'cache' ? 'binaries' : 'data'} that this user can reach:\n  ` +
			tried.join('\n  ') +
			`\nFix: make ${candidateRoots(kind)[0]} creatable by root (a writable /var), or set TMPDIR to a writable folder every user can enter (mode 755 or 1777).`,
	);
}

/** Copies a tree, then gives everyone read access (and execute where the owner has it), whatever the umask was. */
function copyReadable(source: string, target: string) {
	cpSync(source, target, { recursive: true, verbatimSymlinks: true });
	const open = (entry: string) => {
		const stat = lstatSync(entry);
		if (stat.isSymbolicLink()) return;
		if (stat.isDirectory()) {
			chmodSync(entry, 0o755);
			for (const child of readdirSync(entry)) open(path.join(entry, child));
		} else {
			chmodSync(entry, (stat.mode & 0o100 ? 0o755 : 0o644));
		}
	};
	open(target);
}

/**
 * The folder Postgres's binaries are run from: the package's own `native` folder when the server
 * user can run them there, else a copy in a per-version cache folder (made once, reused after).
 */
export function postgresNativeDir(packageNativeDir: string, version: string, user: ServerUser | undefined): { dir: string; note?: string } {
	if (!user || userCan(user, '-x', path.join(packageNativeDir, 'bin', 'initdb'))) return { dir: packageNativeDir };
	const blocked = blockingFolder(user, packageNativeDir);
	const root = reachableRoot(user, 'cache');
	const target = path.join(root, `postgres-${version}-${process.platform}-${process.arch}`);
	const stamp = path.join(target, '.complete');
	if (!existsSync(stamp)) {
		const staging = `${target}.partial-${process.pid}`;
		rmSync(staging, { recursive: true, force: true });
		copyReadable(packageNativeDir, staging);
		writeFileSync(path.join(staging, '.complete'), `${version}\n`, { mode: 0o644 });
		rmSync(target, { recursive: true, force: true });
		try {
			renameSync(staging, target);
		} catch (error) {
			// Another stack made the same copy at the same moment: keep theirs.
			rmSync(staging, { recursive: true, force: true });
			if (!existsSync(stamp)) throw error;
		}
	}
	return {
		dir: target,
		note: `PostgreSQL runs from ${target}: the postgres user cannot enter ${blocked ? describeFolder(blocked) : packageNativeDir}, so its binaries were copied there once (a cache; safe to delete).`,
	};
}

export interface DataPlacement {
	/** Where the stack keeps its data (Postgres's pgdata and the stack's secrets). */
	dir: string;
	/** Set when the data is not where it was asked for: where it is and why. */
	note?: string;
}

/**
 * Where the data asked for at `requested` is kept. When the server user cannot reach it (a private
 * parent folder), the data lives in a state folder it can reach, under a name derived from
 * `requested`, so the same project finds the same data next time.
 */
export function placeData(requested: string, user: ServerUser | undefined): DataPlacement {
	const dir = path.resolve(requested);
	if (!user) return { dir };
	const blocked = blockingFolder(user, dir);
	if (!blocked) return { dir };
	const root = reachableRoot(user, 'state');
	const moved = path.join(root, `stack-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`);
	return {
		dir: moved,
		note:
			`The data is kept in ${moved}, not ${dir}: PostgreSQL runs as the user "postgres" when started by root, and that user cannot enter ${describeFolder(blocked)}. ` +
			'It is kept between runs like the folder it stands for; --fresh starts it over.',
	};
}

/** A fresh folder for a stack that lives only as long as its process (tests, benchmarks). */
export function temporaryDataDir(user: ServerUser | undefined): string {
	if (!user) return mkdtempSync(path.join(tmpdir(), 'leadflow-stack-'));
	const dir = mkdtempSync(path.join(reachableRoot(user, 'temp'), 'stack-'));
	chmodSync(dir, 0o755);
	return dir;
}

/** The version of the installed PostgreSQL binaries package. */
export function packageVersion(packageDir: string): string {
	return (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
}
