// `npm run migrate -- --db-url <postgres connection string>`: applies supabase/migrations/*.sql to a
// Supabase project's database (or any Postgres with Supabase's roles), in order, each file once.
// Any of the project's connection strings (its Connect button, Project Settings → Database) works:
// the direct connection, the session pooler (port 5432) or the transaction pooler (port 6543), as
// each file runs in one transaction under a transaction-scoped lock (stack/migrations.ts).
// A database whose files were pasted into the SQL editor (nothing recorded) is refused until
// `--mark-applied-through <version>` says which it has: those are recorded without being run.
import { parseArgs } from 'node:util';
import { applyMigrations, changedMigrationsWarning, listMigrations } from '../stack/migrations';

/** Which connection string to give, in the words of every refusal of it. */
const WHICH =
	'`npm run migrate -- --db-url "<connection string>"` (or set SUPABASE_DB_URL), the one your Supabase project shows under Connect ' +
	'(Project Settings → Database). Any of its three works: the direct connection ' +
	'(postgresql://postgres:<password>@db.<project-ref>.supabase.co:5432/postgres, IPv6 unless the project has the IPv4 add-on), ' +
	'the session pooler (port 5432) or the transaction pooler (port 6543); the poolers\' user is postgres.<project-ref>.';

async function main() {
	const { values } = parseArgs({ options: { 'db-url': { type: 'string' }, 'mark-applied-through': { type: 'string' } } });
	const dbUrl = values['db-url'] ?? process.env.SUPABASE_DB_URL;
	if (!dbUrl) throw new Error(`Say which database: ${WHICH}`);
	if (!/^postgres(ql)?:\/\//.test(dbUrl.trim())) {
		throw new Error(`${values['db-url'] !== undefined ? '--db-url' : 'SUPABASE_DB_URL'} is not a Postgres connection string (postgresql://…): ${WHICH}`);
	}
	console.log(`${listMigrations().length} migrations in supabase/migrations.`);
	const result = await applyMigrations(dbUrl.trim(), { log: (line) => console.log(`  ${line}`), markAppliedThrough: values['mark-applied-through'] });
	for (const migration of result.alreadyApplied) console.log(`  already applied ${migration.version}_${migration.name}.sql`);
	const marked = result.marked.length ? `, ${result.marked.length} recorded as applied without being run` : '';
	console.log(`Done: ${result.applied.length} applied${marked}, ${result.alreadyApplied.length} already applied.`);
	const warning = changedMigrationsWarning(result.changed, 'project');
	if (warning) console.warn(`\n${warning}`);
}

main().catch((error) => {
	console.error(`migrate: ${error instanceof Error ? error.message : String(error)}`);
	process.exit(1);
});
