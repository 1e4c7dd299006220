// The local stack behaves like a Supabase project: addressed at {url}/rest/v1, API key checked by the
// gateway, JWT roles switched by PostgREST, migrations recorded as the Supabase CLI records them.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { applyMigrations, changedMigrationsWarning, changedSinceApplied, listMigrations } from '../../stack/migrations';
import { installSupabaseCompat } from '../../stack';
import { signJwt, verifyJwt, userJwt } from '../../stack/jwt';
import { testStack, withDb } from '../helpers/stack';

describe('gateway', () => {
	it('answers 401 without an API key, as Supabase does', async () => {
		const response = await fetch(`${testStack().supabaseUrl}/rest/v1/tags`);
		expect(response.status).toBe(401);
		expect(await response.json()).toMatchObject({ message: 'No API key found in request' });
	});

	it('answers 401 for a key that is not one of the project keys, even if correctly signed', async () => {
		const stack = testStack();
		const forged = signJwt({ role: 'service_role' }, stack.jwtSecret);
		const response = await fetch(`${stack.supabaseUrl}/rest/v1/tags`, { headers: { apikey: forged } });
		expect(response.status).toBe(401);
		expect(await response.json()).toMatchObject({ message: 'Invalid API key' });
	});

	it('accepts the key as a query parameter and forwards to PostgREST with the prefix stripped', async () => {
		const stack = testStack();
		const response = await fetch(`${stack.supabaseUrl}/rest/v1/tags?select=id&apikey=${stack.serviceRoleKey}`);
		expect(response.status).toBe(200);
		expect(Array.isArray(await response.json())).toBe(true);
	});

	it('lets a user token through with the anon key, and PostgREST rejects a token signed with another secret', async () => {
		const stack = testStack();
		const foreign = userJwt('6f1c2e0a-1111-4c1e-9a1e-000000000001', 'not-the-project-secret');
		const response = await fetch(`${stack.supabaseUrl}/rest/v1/tags`, {
			headers: { apikey: stack.anonKey, Authorization: `Bearer ${foreign}` },
		});
		expect(response.status).toBe(401);
	});

	it('answers 404 outside /rest/v1', async () => {
		const response = await fetch(`${testStack().supabaseUrl}/storage/v1/bucket`, { headers: { apikey: testStack().anonKey } });
		expect(response.status).toBe(404);
	});
});

describe('project keys', () => {
	it('are JWTs signed with the stack secret carrying the anon and service_role roles', () => {
		const stack = testStack();
		expect(verifyJwt(stack.anonKey, stack.jwtSecret)).toMatchObject({ role: 'anon' });
		expect(verifyJwt(stack.serviceRoleKey, stack.jwtSecret)).toMatchObject({ role: 'service_role' });
		expect(verifyJwt(stack.serviceRoleKey, 'another secret')).toBeUndefined();
	});

	it('work with supabase-js exactly as against supabase.com', async () => {
		const stack = testStack();
		const supabase = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		const { data, error } = await supabase.from('tags').select('id').limit(1);
		expect(error).toBeNull();
		expect(Array.isArray(data)).toBe(true);
	});
});

describe('auth schema', () => {
	it('auth.uid(), auth.role() and auth.jwt() read the claims PostgREST sets for the request', async () => {
		const rows = await withDb(async (db) => {
			await db.query('begin');
			await db.query(`select set_config('request.jwt.claims', $1, true)`, [
				JSON.stringify({ sub: '6f1c2e0a-1111-4c1e-9a1e-000000000002', role: 'authenticated', email: 'a@b.c' }),
			]);
			const result = await db.query('select auth.uid() as uid, auth.role() as role, auth.jwt() ->> $1 as email', ['email']);
			await db.query('rollback');
			return result.rows;
		});
		expect(rows[0]).toEqual({ uid: '6f1c2e0a-1111-4c1e-9a1e-000000000002', role: 'authenticated', email: 'a@b.c' });
	});

	it('auth.uid() is null without claims, so owner policies match nothing', async () => {
		const rows = await withDb((db) => db.query('select auth.uid() as uid').then((r) => r.rows));
		expect(rows[0].uid).toBeNull();
	});
});

describe('migrations', () => {
	const scratchDb = `leadflow_migrate_${process.pid}`;

	afterAll(async () => {
		await withDb((db) => db.query(`drop database if exists ${scratchDb} with (force)`));
	});

	it('are recorded where the Supabase CLI records them', async () => {
		const versions = await withDb((db) =>
			db.query<{ version: string }>('select version from supabase_migrations.schema_migrations order by version').then((r) => r.rows.map((row) => row.version)),
		);
		expect(versions).toEqual(listMigrations().map((migration) => migration.version));
	});

	it('apply on an empty database, and applying again is a no-op', async () => {
		await withDb((db) => db.query(`create database ${scratchDb} template template0`));
		const url = new URL(testStack().dbUrl);
		url.pathname = `/${scratchDb}`;
		// A fresh database of the cluster: give it the auth schema every Supabase project has.
		await installSupabaseCompat(url.toString());

		const first = await applyMigrations(url.toString());
		expect(first.applied.map((m) => m.version)).toEqual(listMigrations().map((m) => m.version));
		expect(first.alreadyApplied).toEqual([]);

		const tablesBefore = await countTables(url.toString());
		const second = await applyMigrations(url.toString());
		expect(second.applied).toEqual([]);
		expect(second.alreadyApplied).toHaveLength(listMigrations().length);
		expect(second.changed).toEqual([]);
		expect(await countTables(url.toString())).toBe(tablesBefore);
	});

	it('two runs at once apply every file exactly once', async () => {
		const url = new URL(testStack().dbUrl);
		url.pathname = `/${scratchDb}_race`;
		await withDb((db) => db.query(`create database ${scratchDb}_race template template0`));
		try {
			await installSupabaseCompat(url.toString());
			const [a, b] = await Promise.all([applyMigrations(url.toString()), applyMigrations(url.toString())]);
			expect(a.applied.length + b.applied.length).toBe(listMigrations().length);
		} finally {
			await withDb((db) => db.query(`drop database if exists ${scratchDb}_race with (force)`));
		}
	});

	it('report a file edited after the database applied it, and do not run it again', async () => {
		const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-migrations-'));
		const url = new URL(testStack().dbUrl);
		url.pathname = `/${scratchDb}_changed`;
		await withDb((db) => db.query(`create database ${scratchDb}_changed template template0`));
		const write = (file: string, sql: string) => writeFileSync(path.join(dir, file), sql);
		try {
			write('20260101000000_probe_table.sql', '-- A table.\ncreate table public.probe (id integer);\n');
			write('20260101000100_probe_answer.sql', 'create function public.probe_answer() returns integer language sql as $$ select 1 $$;\n');
			const first = await applyMigrations(url.toString(), { dir });
			expect(first.applied.map((m) => m.name)).toEqual(['probe_table', 'probe_answer']);
			expect(first.changed).toEqual([]);
			expect((await applyMigrations(url.toString(), { dir })).changed).toEqual([]);

			// Someone edits an applied migration instead of writing a new one.
			write('20260101000100_probe_answer.sql', 'create or replace function public.probe_answer() returns integer language sql as $$ select 2 $$;\n');
			const second = await applyMigrations(url.toString(), { dir });
			expect(second.applied).toEqual([]);
			expect(second.alreadyApplied.map((m) => m.name)).toEqual(['probe_table', 'probe_answer']);
			expect(second.changed.map((m) => path.basename(m.file))).toEqual(['20260101000100_probe_answer.sql']);
			// Still the old function: an applied migration is never run again.
			expect(await rowsOf(url.toString(), 'select public.probe_answer() as answer')).toEqual([{ answer: 1 }]);

			// The warning names the file and the fix: for the local stack, and for a real project.
			const local = changedMigrationsWarning(second.changed, 'stack');
			expect(local).toContain('20260101000100_probe_answer.sql');
			expect(local).toContain('npm run stack -- --fresh');
			expect(local).toContain('never edit an applied migration');
			expect(changedMigrationsWarning(second.changed, 'demo')).toContain('npm run demo -- --fresh');
			const project = changedMigrationsWarning(second.changed, 'project');
			expect(project).toContain('20260101000100_probe_answer.sql');
			expect(project).toMatch(/Never edit a migration a Supabase project has applied: .*new migration file/);
			expect(changedMigrationsWarning([], 'stack')).toBeUndefined();
		} finally {
			await withDb((db) => db.query(`drop database if exists ${scratchDb}_changed with (force)`));
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it('compare what the Supabase CLI recorded (one trimmed entry per statement) by its SQL, not its layout', () => {
		const file = '-- Probe.\ncreate table public.a (id integer);\n\ncreate function public.f() returns integer language sql as $$ select 1; $$;\n';
		const recordedByCli = ['-- Probe.\ncreate table public.a (id integer)', 'create function public.f() returns integer language sql as $$ select 1; $$'];
		expect(changedSinceApplied(recordedByCli, file)).toBe(false);
		expect(changedSinceApplied(recordedByCli, file.replace('select 1', 'select 2'))).toBe(true);
		expect(changedSinceApplied([file], file)).toBe(false);
		expect(changedSinceApplied([file], file.replace('id integer', 'id bigint'))).toBe(true);
		// Nothing recorded to compare with (e.g. `supabase migration repair`): never reported.
		expect(changedSinceApplied(null, file)).toBe(false);
		expect(changedSinceApplied([], file)).toBe(false);
	});

	it('refuse a database that has Leadflow but nothing recorded (files pasted), until told which files it has', async () => {
		const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-migrations-'));
		const url = new URL(testStack().dbUrl);
		url.pathname = `/${scratchDb}_pasted`;
		await withDb((db) => db.query(`create database ${scratchDb}_pasted template template0`));
		const write = (file: string, sql: string) => writeFileSync(path.join(dir, file), sql);
		try {
			write('20260101000000_probe_schema.sql', 'create schema leadflow_private;\ncreate function leadflow_private.answer() returns integer language sql as $$ select 1 $$;\n');
			write('20260101000100_probe_answer.sql', 'create or replace function leadflow_private.answer() returns integer language sql as $$ select 2 $$;\n');
			// Both pasted into the SQL editor: run, nothing recorded.
			for (const file of ['20260101000000_probe_schema.sql', '20260101000100_probe_answer.sql']) await rowsOf(url.toString(), readFileSync(path.join(dir, file), 'utf8'));

			await expect(applyMigrations(url.toString(), { dir })).rejects.toThrow(
				/none of its migrations is recorded in supabase_migrations\.schema_migrations.*nothing was run.*--mark-applied-through <version>.*the latest is 20260101000100/,
			);
			// Nothing ran again: the first file would have put the older function back (or failed).
			expect(await rowsOf(url.toString(), 'select leadflow_private.answer() as answer')).toEqual([{ answer: 2 }]);
			await expect(applyMigrations(url.toString(), { dir, markAppliedThrough: '20260101000099' })).rejects.toThrow(/--mark-applied-through 20260101000099: no migration has that version/);

			// A newer file arrives; the database says it has the first two.
			write('20260101000200_probe_table.sql', 'create table public.probe_pasted (id integer);\n');
			const marked = await applyMigrations(url.toString(), { dir, markAppliedThrough: '20260101000100' });
			expect(marked.marked.map((m) => m.name)).toEqual(['probe_schema', 'probe_answer']);
			expect(marked.applied.map((m) => m.name)).toEqual(['probe_table']);
			expect(marked.alreadyApplied).toEqual([]);
			expect(await rowsOf(url.toString(), 'select leadflow_private.answer() as answer')).toEqual([{ answer: 2 }]);
			expect(await rowsOf(url.toString(), 'select version, statements is null as unrun from supabase_migrations.schema_migrations order by version')).toEqual([
				{ version: '20260101000000', unrun: true },
				{ version: '20260101000100', unrun: true },
				{ version: '20260101000200', unrun: false },
			]);
			// From then on, a plain run.
			const again = await applyMigrations(url.toString(), { dir });
			expect(again.applied).toEqual([]);
			expect(again.alreadyApplied).toHaveLength(3);

			// `npm run migrate` on such a database (here: the schema alone, pasted) says so and exits 1, running nothing.
			await rowsOf(url.toString(), 'drop schema supabase_migrations cascade');
			const root = path.resolve(__dirname, '..', '..');
			const cli = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/migrate.ts', '--db-url', url.toString()], { cwd: root, timeout: 30_000 }).then(
				() => ({ code: 0, stderr: '' }),
				(error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
			);
			expect(cli.code).toBe(1);
			expect(cli.stderr).toMatch(/^migrate: This database already has Leadflow's tables and functions .*--mark-applied-through <version>/);
			expect(await rowsOf(url.toString(), "select to_regclass('supabase_migrations.schema_migrations') is null as untouched")).toEqual([{ untouched: true }]);
		} finally {
			await withDb((db) => db.query(`drop database if exists ${scratchDb}_pasted with (force)`));
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it('`npm run migrate` prints the warning and still succeeds', async () => {
		const url = new URL(testStack().dbUrl);
		url.pathname = `/${scratchDb}_cli`;
		await withDb((db) => db.query(`create database ${scratchDb}_cli template template0`));
		try {
			// A database that applied every migration, one of them in an older version.
			const migrations = listMigrations();
			const edited = migrations[migrations.length - 1];
			await rowsOf(
				url.toString(),
				`create schema supabase_migrations;
				 create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text)`,
			);
			for (const migration of migrations) {
				const sql = readFileSync(migration.file, 'utf8');
				await rowsOf(url.toString(), 'insert into supabase_migrations.schema_migrations values ($1, $2, $3)', [
					migration.version,
					[migration === edited ? `-- an older version\n${sql}` : sql],
					migration.name,
				]);
			}
			const root = path.resolve(__dirname, '..', '..');
			const { stdout, stderr } = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/migrate.ts', '--db-url', url.toString()], {
				cwd: root,
				timeout: 30_000,
			});
			expect(stdout).toContain(`Done: 0 applied, ${migrations.length} already applied.`);
			expect(stderr).toContain('WARNING: 1 migration has changed since this database applied it');
			expect(stderr).toContain(`supabase/migrations/${edited.version}_${edited.name}.sql`);
			expect(stderr).toContain('new migration file');
		} finally {
			await withDb((db) => db.query(`drop database if exists ${scratchDb}_cli with (force)`));
		}
	});
});

async function rowsOf(dbUrl: string, sql: string, values: unknown[] = []): Promise<unknown[]> {
	const client = new Client({ connectionString: dbUrl });
	await client.connect();
	try {
		return (await client.query(sql, values)).rows;
	} finally {
		await client.end();
	}
}

async function countTables(dbUrl: string): Promise<number> {
	const client = new Client({ connectionString: dbUrl });
	await client.connect();
	try {
		const { rows } = await client.query(`select count(*)::int as n from information_schema.tables where table_schema = 'public'`);
		return rows[0].n;
	} finally {
		await client.end();
	}
}
