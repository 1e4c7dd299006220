// The database's own catalog against the documented API (docs/database.md): what the Data API
// exposes is exactly what the page lists, every table is behind row level security, and every
// privilege an API role holds is one a policy or the page needs. A new table without RLS, a helper
// left callable in `public`, or a grant wider than the policies fails here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { withDb } from '../helpers/stack';

const API_ROLES = ['anon', 'authenticated', 'service_role'] as const;
type ApiRole = (typeof API_ROLES)[number];

interface DocumentedFunction {
	name: string;
	args: string[];
	roles: ApiRole[];
}

/** The rows of the "## Functions" table of docs/database.md. */
function documentedFunctions(): DocumentedFunction[] {
	const doc = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'database.md'), 'utf8');
	const section = doc.slice(doc.indexOf('\n## Functions'));
	const rows = section.split('\n').filter((line) => /^\| `\w+` \|/.test(line));
	return rows.map((line) => {
		const cells = line.split('|').map((cell) => cell.trim());
		return {
			name: cells[1].replace(/`/g, ''),
			args: cells[2].replace(/`/g, '').split(',').map((arg) => arg.trim()).filter(Boolean),
			roles: cells[4].split(',').map((role) => role.trim()) as ApiRole[],
		};
	});
}

/** The "## Tables" rows: table → what `authenticated` may do (read, insert, update, delete). */
function documentedTables(): Map<string, string[]> {
	const doc = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'database.md'), 'utf8');
	const section = doc.slice(doc.indexOf('\n## Tables'), doc.indexOf('\n## Views'));
	const tables = new Map<string, string[]>();
	for (const line of section.split('\n').filter((row) => /^\| `\w+` \|/.test(row))) {
		const cells = line.split('|').map((cell) => cell.trim());
		tables.set(cells[1].replace(/`/g, ''), cells[3].split(',').map((word) => word.trim()));
	}
	return tables;
}

interface CatalogFunction {
	name: string;
	arg_names: string[] | null;
	anon: boolean;
	authenticated: boolean;
	service_role: boolean;
	definer: boolean;
	config: string[] | null;
}

const catalogFunctions = () =>
	withDb(async (db) =>
		(
			await db.query<CatalogFunction>(`
				select p.proname as name,
				       (select array_agg(n order by i) from unnest(p.proargnames, p.proargmodes) with ordinality a(n, m, i)
				         where coalesce(m, 'i') in ('i', 'b', 'v')) as arg_names,
				       has_function_privilege('anon', p.oid, 'execute') as anon,
				       has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
				       has_function_privilege('service_role', p.oid, 'execute') as service_role,
				       p.prosecdef as definer, p.proconfig as config
				  from pg_proc p
				 where p.pronamespace = 'public'::regnamespace
				 order by 1`)
		).rows,
	);

describe('the Data API exposes exactly the documented functions', () => {
	it('every function in public is documented, with its argument names, for exactly the roles that may call it', async () => {
		const documented = new Map(documentedFunctions().map((fn) => [fn.name, fn]));
		expect(documented.size).toBeGreaterThan(10);
		const found = (await catalogFunctions()).map((fn) => ({
			name: fn.name,
			args: fn.arg_names ?? [],
			roles: API_ROLES.filter((role) => fn[role]),
		}));
		const expected = found.map((fn) => documented.get(fn.name) ?? { name: fn.name, args: ['(not in docs/database.md)'], roles: [] });
		expect(found.map((fn) => ({ ...fn, roles: [...fn.roles].sort() }))).toEqual(expected.map((fn) => ({ ...fn, roles: [...fn.roles].sort() })));
		// And nothing documented is missing from the database.
		expect([...documented.keys()].sort()).toEqual(found.map((fn) => fn.name).sort());
	});

	it('anon may execute no function in public and cannot enter leadflow_private', async () => {
		const callable = (await catalogFunctions()).filter((fn) => fn.anon).map((fn) => fn.name);
		expect(callable).toEqual([]);
		const usage = await withDb((db) => db.query(`select has_schema_privilege('anon', 'leadflow_private', 'usage') as usage`));
		expect(usage.rows[0]).toEqual({ usage: false });
	});

	it('every security definer function pins its search_path', async () => {
		const unpinned = (await catalogFunctions()).filter((fn) => fn.definer && !(fn.config ?? []).some((setting) => setting.startsWith('search_path=')));
		expect(unpinned.map((fn) => fn.name)).toEqual([]);
		const privateUnpinned = await withDb((db) =>
			db.query(`select proname from pg_proc where pronamespace = 'leadflow_private'::regnamespace and prosecdef
			            and not coalesce(proconfig, '{}') && array['search_path=""', 'search_path=']`),
		);
		expect(privateUnpinned.rows).toEqual([]);
	});
});

describe('tables and views', () => {
	it('every table in public has row level security enabled and at least one policy', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ table: string; rls: boolean; policies: number }>(`
				select c.relname as table, c.relrowsecurity as rls, (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
				  from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') order by 1`),
		);
		expect(rows.length).toBeGreaterThanOrEqual(18);
		expect(rows.filter((row) => !row.rls || row.policies === 0)).toEqual([]);
	});

	it('every view in public runs with the reader\'s rights (security_invoker)', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ view: string }>(`
				select c.relname as view from pg_class c
				 where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
				   and not coalesce(c.reloptions, '{}') @> array['security_invoker=true']`),
		);
		expect(rows).toEqual([]);
	});

	it('no API role may TRUNCATE, anon holds no table privilege, and service_role none beyond rows', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ table: string; role: string; privilege: string }>(`
				select c.relname as table, r.role, p.privilege
				  from pg_class c
				 cross join unnest(array['anon', 'authenticated', 'service_role']) r(role)
				 cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(privilege)
				 where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v')
				   and has_table_privilege(r.role, c.oid, p.privilege)
				   and (p.privilege in ('TRUNCATE', 'REFERENCES', 'TRIGGER') or r.role = 'anon')
				 order by 1, 2, 3`),
		);
		expect(rows).toEqual([]);
	});

	it('authenticated may write a table only where a policy lets it, and exactly as docs/database.md says', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ table: string; privilege: string; granted: boolean; policy: boolean }>(`
				select c.relname as table, lower(p.privilege) as privilege,
				       has_table_privilege('authenticated', c.oid, p.privilege) as granted,
				       exists (select from pg_policy pol
				                where pol.polrelid = c.oid
				                  and pol.polcmd in (case p.privilege when 'SELECT' then 'r' when 'INSERT' then 'a' when 'UPDATE' then 'w' else 'd' end, '*')
				                  and (pol.polroles @> array[0::oid] or pol.polroles @> array['authenticated'::regrole::oid])) as policy
				  from pg_class c
				 cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p(privilege)
				 where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
				 order by 1`),
		);
		const withoutPolicy = rows.filter((row) => row.granted && !row.policy).map((row) => `${row.table}: ${row.privilege}`);
		expect(withoutPolicy).toEqual([]);
		const verb = { select: 'read', insert: 'insert', update: 'update', delete: 'delete' } as Record<string, string>;
		const granted = new Map<string, string[]>();
		for (const row of rows) if (row.granted) granted.set(row.table, [...(granted.get(row.table) ?? []), verb[row.privilege]]);
		const documented = documentedTables();
		const tables = [...new Set(rows.map((row) => row.table))];
		const sorted = (words: string[]) => [...words].sort();
		expect(Object.fromEntries(tables.map((table) => [table, sorted(granted.get(table) ?? [])]))).toEqual(
			Object.fromEntries(tables.map((table) => [table, sorted(documented.get(table) ?? ['(not in docs/database.md)'])])),
		);
	});
});
