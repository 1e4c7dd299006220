// Applies `supabase/migrations/*.sql` in file-name order and records each one where the Supabase
// CLI does (`supabase_migrations.schema_migrations`), so a project migrated here and one migrated
// with `supabase db push` agree on what has been applied. Each file runs in its own transaction
// under a transaction-scoped advisory lock: two runs at once apply every file exactly once, and it
// works through Supabase's transaction pooler too (no session locks).
// A file is applied once, never again: one edited after a database applied it is reported as
// changed (the database keeps the old version), never silently re-run. See changedMigrationsWarning.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

export const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'supabase', 'migrations');
const FILE_NAME = /^(\d{14})_([a-z0-9_]+)\.sql$/;
const LOCK_KEY = 7_311_402_118; // any constant: serialises concurrent migration runs

export interface Migration {
	version: string;
	name: string;
	file: string;
}

export interface MigrationResult {
	applied: Migration[];
	/** Recorded as applied without being run (`markAppliedThrough`): the database had them already. */
	marked: Migration[];
	alreadyApplied: Migration[];
	/**
	 * Already applied, but the file has changed since (its text differs from what was recorded when
	 * it was applied): the database still has the old version. A subset of alreadyApplied.
	 */
	changed: Migration[];
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
	return readdirSync(dir)
		.filter((file) => file.endsWith('.sql'))
		.sort()
		.map((file) => {
			const match = FILE_NAME.exec(file);
			if (!match) {
				throw new Error(
					`Migration file name "${file}" is not of the form YYYYMMDDHHMMSS_name.sql (lowercase name, underscores): rename it.`,
				);
			}
			return { version: match[1], name: match[2], file: path.join(dir, file) };
		});
}

export interface ApplyOptions {
	dir?: string;
	log?: (line: string) => void;
	/**
	 * The version (its 14 digits) of the last file the database already has although nothing recorded
	 * it (files pasted into Supabase's SQL editor): that file and every earlier one not recorded are
	 * recorded as applied without being run, as `supabase migration repair --status applied` does.
	 */
	markAppliedThrough?: string;
}

/**
 * What a database that has Leadflow's objects (its first migration's schema) but none of its
 * migrations recorded is told: running every file again would put older versions of functions back
 * over newer ones, or stop half-way on one whose result type has changed since.
 */
export function unrecordedInstallError(latest: string): string {
	return (
		"This database already has Leadflow's tables and functions (the schema leadflow_private), but none of its migrations " +
		'is recorded in supabase_migrations.schema_migrations: they were applied another way, such as pasting the files into ' +
		"Supabase's SQL editor. Running every file again would put older versions of the functions back, so nothing was run. " +
		'Say which files it has: run again with `--mark-applied-through <version>`, the 14 digits that start the name of the ' +
		`last file applied (the latest is ${latest}); those files are recorded without being run, and the ones after it are applied.`
	);
}

export async function applyMigrations(dbUrl: string, options: ApplyOptions = {}): Promise<MigrationResult> {
	const migrations = listMigrations(options.dir);
	const through = options.markAppliedThrough;
	if (through !== undefined && !migrations.some((migration) => migration.version === through)) {
		throw new Error(
			`--mark-applied-through ${through}: no migration has that version. Give the 14 digits that start a file name in supabase/migrations (the latest is ${migrations[migrations.length - 1]?.version}).`,
		);
	}
	const client = new Client({ connectionString: dbUrl, application_name: 'leadflow-migrate' });
	await client.connect();
	const result: MigrationResult = { applied: [], marked: [], alreadyApplied: [], changed: [] };
	try {
		// `if not exists` is not safe against a concurrent run: take the lock first.
		await client.query('begin');
		await client.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
		await client.query(`
			create schema if not exists supabase_migrations;
			create table if not exists supabase_migrations.schema_migrations (
				version text primary key,
				statements text[],
				name text
			);`);
		const state = await client.query<{ installed: boolean; recorded: boolean }>(
			`select to_regnamespace('leadflow_private') is not null as installed,
			        exists (select from supabase_migrations.schema_migrations where version = any($1::text[])) as recorded`,
			[migrations.map((migration) => migration.version)],
		);
		if (state.rows[0].installed && !state.rows[0].recorded && through === undefined) {
			throw new Error(unrecordedInstallError(migrations[migrations.length - 1]?.version ?? ''));
		}
		if (through !== undefined) {
			for (const migration of migrations.filter((one) => one.version <= through)) {
				const marked = await client.query(
					'insert into supabase_migrations.schema_migrations (version, statements, name) values ($1, null, $2) on conflict (version) do nothing',
					[migration.version, migration.name],
				);
				if (marked.rowCount) {
					result.marked.push(migration);
					options.log?.(`recorded as applied, not run: ${path.basename(migration.file)}`);
				}
			}
		}
		await client.query('commit');
		for (const migration of migrations) {
			await client.query('begin');
			try {
				await client.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
				const sql = readFileSync(migration.file, 'utf8');
				const seen = await client.query<{ statements: string[] | null }>(
					'select statements from supabase_migrations.schema_migrations where version = $1',
					[migration.version],
				);
				if (seen.rowCount) {
					await client.query('commit');
					if (result.marked.includes(migration)) continue;
					result.alreadyApplied.push(migration);
					if (changedSinceApplied(seen.rows[0].statements, sql)) result.changed.push(migration);
					continue;
				}
				await client.query(sql);
				await client.query(
					'insert into supabase_migrations.schema_migrations (version, statements, name) values ($1, $2, $3)',
					[migration.version, [sql], migration.name],
				);
				await client.query('commit');
				result.applied.push(migration);
				options.log?.(`applied ${path.basename(migration.file)}`);
			} catch (error) {
				await client.query('rollback');
				const message = error instanceof Error ? error.message : String(error);
				throw new Error(`Migration ${path.basename(migration.file)} failed and was rolled back: ${message}`);
			}
		}
		// PostgREST caches the schema; tell it to look again (harmless where nothing listens).
		if (result.applied.length) await client.query(`notify pgrst, 'reload schema'`);
	} finally {
		await client.end();
	}
	return result;
}

/**
 * Whether a migration's file differs from what was recorded when it was applied. This runner
 * records the whole file as one statement; the Supabase CLI records it split at each `;`, every
 * statement trimmed of its `;` and surrounding whitespace. So the two are compared without
 * whitespace and semicolons, which works for both (an edit that only changes whitespace is not
 * reported). A row without statements (e.g. `supabase migration repair`) cannot be compared.
 */
export function changedSinceApplied(statements: string[] | null, sql: string): boolean {
	if (!statements || statements.length === 0) return false;
	if (statements.length === 1 && statements[0] === sql) return false;
	const bare = (text: string) => text.replace(/[\s;]+/g, '');
	return bare(statements.join(';')) !== bare(sql);
}

/**
 * The one warning the local tools print when migrations changed after this database applied them,
 * or undefined when none did. `where` says whose database it is, which decides the fix:
 * `stack` / `demo` the local stack's (start it over from the current files), `project` any
 * database `npm run migrate` was pointed at (a real Supabase project: never edit an applied
 * migration, add a new one).
 */
export function changedMigrationsWarning(changed: Migration[], where: 'stack' | 'demo' | 'project'): string | undefined {
	if (changed.length === 0) return undefined;
	const one = changed.length === 1;
	const files = changed.map((migration) => `  ${path.relative(process.cwd(), migration.file) || migration.file}`).join('\n');
	const newMigration = 'put the change in a new migration file (a later YYYYMMDDHHMMSS_name.sql)';
	const fresh = where === 'demo' ? '`npm run demo -- --fresh` or `npm run stack -- --fresh`' : '`npm run stack -- --fresh`';
	const fix =
		where === 'project'
			? `Never edit a migration a Supabase project has applied: undo the edit and ${newMigration}.\n` +
				`If this is the local stack's database, \`npm run stack -- --fresh\` starts it over from the current files.`
			: `Local stack: start it from an empty database so the current files are applied: ${fresh} (deletes the data in .stack/).\n` +
				`A Supabase project that applied ${one ? 'this file' : 'these files'} will not get the edit either: never edit an applied migration, ${newMigration}.`;
	const what = one
		? '1 migration has changed since this database applied it; applied migrations are never run again, so the database still has the old version'
		: `${changed.length} migrations have changed since this database applied them; applied migrations are never run again, so the database still has the old versions`;
	return `WARNING: ${what}:\n${files}\n${fix}`;
}
