// Hosted Supabase applies migrations as its `postgres` role, which owns the objects but is not a
// superuser; the local stack applies them as a superuser, so a statement only a superuser may run
// passes here and fails there, blocking every later migration (review RMS2: the first text of
// 20261201002830 stored leadflow.tag_copy_given on pipeline_fire with ALTER FUNCTION … SET).
// Storing a custom (dotted) setting on a function, procedure, role or database needs a superuser
// (42501 "permission denied to set parameter"); setting one at run time (set_config, SET LOCAL)
// does not. This reads every migration as PostgreSQL reads it (test/helpers/superuser-settings.ts)
// and refuses the first kind, naming the file and line; the check's sample texts are run as such a
// role too, so its table of what it refuses is PostgreSQL's own answer. Then it applies every
// migration to a new database as that role, so that any other statement only a superuser may run
// fails here too (slower, and its error names the file but not the line).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { installSupabaseCompat } from '../../stack';
import { applyMigrations, listMigrations } from '../../stack/migrations';
import { testStack } from '../helpers/stack';
import { customSettingsStored } from '../helpers/superuser-settings';

// Sample texts for the text check, each run by PostgreSQL too (below). `hosted_db` is the database's
// name. REFUSED: each stores a custom setting and needs a superuser; the quoted name, FROM CURRENT,
// the clause after the body and a quoted default before the clause were missed by the first check
// (a pattern over the raw text). ACCEPTED: legal for the non-superuser owner, as our migrations use them.
const REFUSED: Array<[string, string]> = [
	['ALTER FUNCTION … SET a.b =', "alter function f(int)\n  set leadflow.tag_copy_given = 'on';"],
	['ALTER FUNCTION … SET a.b TO, upper case', "ALTER FUNCTION f(INT) SET Leadflow.X TO 'on';"],
	['a quoted name holding the dot', `alter function f(int) set "leadflow.x" = 'on';`],
	['quoted names joined by a dot', `alter function f(int) set "leadflow"."x" to 'on';`],
	['SET … FROM CURRENT', 'alter function f(int) set leadflow.x from current;'],
	['SET a.b TO DEFAULT', 'alter function f(int) set leadflow.x to default;'],
	['RESET a.b', 'alter function f(int) reset leadflow.x;'],
	['ALTER PROCEDURE', "alter procedure p() set leadflow.x = 'on';"],
	['ALTER ROUTINE', "alter routine f(int) set leadflow.x = 'on';"],
	['ALTER ROLE', "alter role current_user set leadflow.x = 'on';"],
	['ALTER USER … IN DATABASE', "alter user current_user in database hosted_db set leadflow.x to 'on';"],
	['ALTER DATABASE', "alter database hosted_db set leadflow.x = 'on';"],
	['CREATE FUNCTION … SET before the body', "create or replace function g() returns int language sql set app.x = '1' as $$ select 1 $$;"],
	['CREATE FUNCTION … SET after the body', "create function g() returns int as $$ begin return 1; end $$ language plpgsql set leadflow.x = 'on';"],
	['CREATE FUNCTION … SET after a tagged body', "create function g() returns int as $body$ begin return 1; end $body$\nlanguage plpgsql\nset leadflow.x = 'on';"],
	['CREATE FUNCTION … SET after a quoted body', "create function g() returns int as 'select 1' language sql set leadflow.x = 'on';"],
	['CREATE FUNCTION … SET after a quoted default', "create function g(p text default 'a;b') returns text language sql set leadflow.x = 'on' as $$ select p $$;"],
	['CREATE PROCEDURE … SET … FROM CURRENT', 'create procedure q() language sql set leadflow.x from current as $$ select 1 $$;'],
	['ALTER FUNCTION in a DO block', "do $$ begin alter function f(int) set leadflow.x = 'on'; end $$;"],
	['ALTER FUNCTION run by EXECUTE', `do $$ begin execute 'alter function f(int) set "leadflow.x" = ''on'''; end $$;`],
	['ALTER FUNCTION run by EXECUTE of an E-string', String.raw`do $$ begin execute E'alter function f(int) set leadflow.x = \'on\''; end $$;`],
	['a U&"…" name with a Unicode escape', String.raw`alter function f(int) set U&"leadflow\002ex" = 'on';`],
];
const ACCEPTED: Array<[string, string]> = [
	["SET search_path = '' on a function", "alter function f(int) set search_path = '';"],
	['SET search_path, quoted name', `alter function f(int) set "search_path" to 'public';`],
	['SET search_path FROM CURRENT', 'alter function f(int) set search_path from current;'],
	['SET plan_cache_mode and enable_seqscan on a function', 'alter function f(int) set plan_cache_mode = force_generic_plan;\nalter function f(int) set enable_seqscan = off;'],
	['SET SCHEMA', 'alter function f(int) set schema public;'],
	['RESET search_path, RESET ALL', 'alter function f(int) reset search_path;\nalter function f(int) reset all;'],
	['RETURNS SETOF', 'create function g() returns setof int language sql as $$ select 1 $$;'],
	['ALTER ROLE … SET search_path', "alter role current_user set search_path = 'public';"],
	[
		'CREATE FUNCTION … SET search_path, set_config and SET LOCAL in the body',
		"create function g() returns void language plpgsql set search_path = '' as $$ begin perform pg_catalog.set_config('leadflow.x', 'on', true); set local leadflow.y = 'on'; end $$;",
	],
	['SET LOCAL at the top', "set local leadflow.x = 'on';"],
	['set_config at the top', "select pg_catalog.set_config('leadflow.x', 'on', false);"],
	['UPDATE … SET a composite field in a body', 'create function g() returns void language sql as $$ update t set p.a = 1 $$;'],
	['UPDATE … SET a composite field in BEGIN ATOMIC', 'create function g() returns void language sql begin atomic update t set p.a = 1; end;'],
	['a line comment', "-- alter function f(int) set leadflow.x = 'on';\nselect 1;"],
	['a nested block comment', "/* one /* two */ alter function f(int) set leadflow.x = 'on'; */ select 1;"],
	['words in a comment on', "comment on function f(int) is 'never alter function f(int) set leadflow.x: a superuser''s';"],
];
// What the samples need: a function f(int), a procedure p(), a table t with a composite column.
const SAMPLE_SETUP = `create function f(int) returns int language sql as $$ select 1 $$;
	 create procedure p() language sql as $$ select 1 $$;
	 create type pair as (a int, b int);
	 create table t (p pair);`;

async function run(url: string, sql: string): Promise<void> {
	const db = new Client({ connectionString: url });
	await db.connect();
	try {
		await db.query(sql);
	} finally {
		await db.end();
	}
}

/**
 * A new database, owned by a new role in it made like hosted Supabase's postgres (no superuser; owns
 * the public schema and the supabase_realtime publication; may create roles, databases and schemas;
 * may read and reference the auth schema); `use` gets the role's URL. Both dropped after.
 */
async function asHostedOwner(use: (url: string, name: string) => Promise<void>): Promise<void> {
	const superuser = testStack().dbUrl;
	const name = `hosted_${randomBytes(6).toString('hex')}`;
	const password = randomBytes(12).toString('hex');
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
		await use(asOwner.toString(), name);
	} finally {
		try {
			await run(superuser, `drop database if exists ${name} with (force)`);
		} finally {
			// Even when the database could not be dropped: a role that may create roles and databases is not left in the shared cluster.
			await run(superuser, `drop role if exists ${name}`);
		}
	}
}

describe('migrations, as hosted Supabase applies them (its postgres role is not a superuser)', () => {
	it('never store a custom (dotted) setting on a function, procedure, role or database', () => {
		const found = listMigrations().flatMap((migration) =>
			customSettingsStored(readFileSync(migration.file, 'utf8')).map(
				({ line, setting, statement }) =>
					`${path.basename(migration.file)}:${line}: storing ${setting} ("${statement}") needs a superuser; set it at run time instead (pg_catalog.set_config(name, value, true) in the function's body)`,
			),
		);
		expect(found).toEqual([]);
	});

	it.each(REFUSED)('the text check refuses %s', (_, sql) => {
		expect(customSettingsStored(sql)).toHaveLength(1);
	});

	it.each(ACCEPTED)('the text check accepts %s', (_, sql) => {
		expect(customSettingsStored(sql)).toEqual([]);
	});

	it('the text check names the line of the statement and the setting', () => {
		expect(customSettingsStored("select 1;\n\ncreate function g()\nreturns int as $$\nselect 1\n$$ language sql\nset \"leadflow.x\" = 'on';")).toEqual([
			{ line: 7, setting: 'leadflow.x', statement: `create function g() returns int as $$ select 1 $$ language sql set "leadflow.x" = 'on';` },
		]);
		expect(customSettingsStored('select 1;\ndo $$\nbegin\n  alter function f(int) set leadflow.x from current;\nend $$;').map(({ line, setting }) => [line, setting])).toEqual([
			[4, 'leadflow.x'],
		]);
	});

	it('the samples the text check refuses are those PostgreSQL refuses to that role, and only those', async () => {
		await asHostedOwner(async (url, name) => {
			const database = new URL(testStack().dbUrl);
			database.pathname = `/${name}`;
			// Hosted Supabase's postgres owns the project's database (ALTER DATABASE … SET).
			await run(database.toString(), `alter database ${name} owner to ${name}`);
			const db = new Client({ connectionString: url });
			await db.connect();
			try {
				const answers: string[] = [];
				for (const [label, sql] of [...REFUSED, ...ACCEPTED]) {
					await db.query('begin');
					try {
						await db.query(SAMPLE_SETUP);
						await db.query(sql.replaceAll('hosted_db', name));
						answers.push(`${label}: accepted`);
					} catch (error) {
						answers.push(`${label}: ${(error as { code?: string }).code === '42501' ? 'refused' : (error as Error).message}`);
					} finally {
						await db.query('rollback');
					}
				}
				expect(answers).toEqual([...REFUSED.map(([label]) => `${label}: refused`), ...ACCEPTED.map(([label]) => `${label}: accepted`)]);
			} finally {
				await db.end();
			}
		});
	});

	it('all apply, in order, as a role that owns the schema but is not a superuser', async () => {
		await asHostedOwner(async (url) => {
			const result = await applyMigrations(url);
			expect(result.applied.map((migration) => migration.version)).toEqual(listMigrations().map((migration) => migration.version));
		});
	});
});
