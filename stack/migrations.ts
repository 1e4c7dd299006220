// Applies `supabase/migrations/*.sql` in file-name order and records each one where the Supabase
// CLI does (`supabase_migrations.schema_migrations`), so a project migrated here and one migrated
// with `supabase db push` agree on what has been applied. Each file runs in its own transaction
// under a transaction-scoped advisory lock: two runs at once apply every file exactly once, and it
// works through Supabase's transaction pooler too (no session locks).
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
	alreadyApplied: Migration[];
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

export async function applyMigrations(
	dbUrl: string,
	options: { dir?: string; log?: (line: string) => void } = {},
): Promise<MigrationResult> {
	const migrations = listMigrations(options.dir);
	const client = new Client({ connectionString: dbUrl, application_name: 'leadflow-migrate' });
	await client.connect();
	const result: MigrationResult = { applied: [], alreadyApplied: [] };
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
		await client.query('commit');
		for (const migration of migrations) {
			await client.query('begin');
			try {
				await client.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
				const seen = await client.query('select 1 from supabase_migrations.schema_migrations where version = $1', [
					migration.version,
				]);
				if (seen.rowCount) {
					await client.query('commit');
					result.alreadyApplied.push(migration);
					continue;
				}
				const sql = readFileSync(migration.file, 'utf8');
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
