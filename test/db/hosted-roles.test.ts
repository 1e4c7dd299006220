// Hosted Supabase applies migrations as its `postgres` role, which owns the objects but is not a
// superuser; the local stack applies them as a superuser, so a statement only a superuser may run
// passes here and fails there, blocking every later migration (review RMS2: the first text of
// 20261201002830 stored leadflow.tag_copy_given on pipeline_fire with ALTER FUNCTION … SET).
// Storing a custom (dotted) setting on a function, procedure, role or database needs a superuser
// (42501 "permission denied to set parameter"); setting one at run time (set_config, SET LOCAL)
// does not. This reads every migration's statements, comments left out, and refuses the first kind;
// then applies every migration to a new database as a role made like hosted Supabase's postgres
// (no superuser; owns the public schema and the supabase_realtime publication; may create roles,
// databases and schemas; may read and reference the auth schema), so that any other statement only a
// superuser may run fails here too.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { installSupabaseCompat } from '../../stack';
import { applyMigrations, listMigrations } from '../../stack/migrations';
import { testStack } from '../helpers/stack';

const IDENT = String.raw`(?:"[^"]+"|[a-z_][a-z0-9_$]*)`;
const CUSTOM = String.raw`\bset\s+${IDENT}\s*\.\s*${IDENT}\s*(?:=|\bto\b)`;
// ALTER FUNCTION / PROCEDURE / ROUTINE / ROLE / USER / DATABASE … SET a.b: up to the statement's end.
const ALTER_SET = new RegExp(String.raw`\balter\s+(?:function|procedure|routine|role|user|database)\b[^;]*?${CUSTOM}`, 'gi');
// CREATE [OR REPLACE] FUNCTION / PROCEDURE … SET a.b: in the clauses before the body's quotes.
const CREATE_SET = new RegExp(String.raw`\bcreate\s+(?:or\s+replace\s+)?(?:function|procedure)\b[^;$']*?${CUSTOM}`, 'gi');

/** The SQL without its comments (line and block), string and body text kept. */
function withoutComments(sql: string): string {
	return sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
}

export function customSettingsStored(sql: string): string[] {
	const text = withoutComments(sql);
	return [...text.matchAll(ALTER_SET), ...text.matchAll(CREATE_SET)].map((m) => m[0].replace(/\s+/g, ' ').trim());
}

describe('migrations, as hosted Supabase applies them (its postgres role is not a superuser)', () => {
	it('never store a custom (dotted) setting on a function, procedure, role or database', () => {
		const found = listMigrations().flatMap((migration) =>
			customSettingsStored(readFileSync(migration.file, 'utf8')).map(
				(statement) =>
					`${path.basename(migration.file)}: "${statement.slice(0, 160)}" needs a superuser; set it at run time instead (pg_catalog.set_config(name, value, true) in the function's body)`,
			),
		);
		expect(found).toEqual([]);
	});

	it('recognises the statements that need a superuser, and only those', () => {
		expect(customSettingsStored("alter function f(int)\n  set leadflow.tag_copy_given = 'on';")).toHaveLength(1);
		expect(customSettingsStored("alter role authenticator set pgrst.db_schemas to 'public';")).toHaveLength(1);
		expect(customSettingsStored("create or replace function f() returns int language sql set app.x = '1' as $$ select 1 $$;")).toHaveLength(1);
		expect(customSettingsStored("alter function f() set search_path = '';")).toEqual([]);
		expect(customSettingsStored("create function f() returns void language plpgsql set search_path = '' as $$ begin perform set_config('a.b', 'on', true); set local a.b = 'on'; end $$;")).toEqual([]);
		expect(customSettingsStored("-- alter function f() set a.b = 'on'\nselect 1;")).toEqual([]);
	});

	it('all apply, in order, as a role that owns the schema but is not a superuser', async () => {
		const superuser = testStack().dbUrl;
		const name = `hosted_${randomBytes(6).toString('hex')}`;
		const password = randomBytes(12).toString('hex');
		const run = async (url: string, sql: string) => {
			const db = new Client({ connectionString: url });
			await db.connect();
			try {
				await db.query(sql);
			} finally {
				await db.end();
			}
		};
		const database = new URL(superuser);
		database.pathname = `/${name}`;
		await run(superuser, `create database ${name}`);
		try {
			await installSupabaseCompat(database.toString());
			await run(
				database.toString(),
				`create role ${name} login password '${password}' nosuperuser createrole createdb bypassrls;
				 grant anon, authenticated, service_role to ${name} with admin option;
				 alter schema public owner to ${name};
				 grant create on database ${name} to ${name};
				 alter publication supabase_realtime owner to ${name};
				 grant usage on schema auth to ${name};
				 grant select, references on all tables in schema auth to ${name};
				 grant execute on all functions in schema auth to ${name};`,
			);
			const asOwner = new URL(database.toString());
			asOwner.username = name;
			asOwner.password = password;
			const result = await applyMigrations(asOwner.toString());
			expect(result.applied.map((migration) => migration.version)).toEqual(listMigrations().map((migration) => migration.version));
		} finally {
			try {
				await run(superuser, `drop database if exists ${name} with (force)`);
			} finally {
				// Even when the database could not be dropped: a role that may create roles and databases is not left in the shared cluster.
				await run(superuser, `drop role if exists ${name}`);
			}
		}
	});
});
