// `npm run migrate -- --db-url <postgres connection string>`: applies supabase/migrations/*.sql to a
// Supabase project's database (or any Postgres with Supabase's roles), in order, each file once.
// Use the direct connection or the session pooler (port 5432) from Project Settings → Database.
// A database whose files were pasted into the SQL editor (nothing recorded) is refused until
// `--mark-applied-through <version>` says which it has: those are recorded without being run.
import { parseArgs } from 'node:util';
import { applyMigrations, changedMigrationsWarning, listMigrations } from '../stack/migrations';

async function main() {
	const { values } = parseArgs({ options: { 'db-url': { type: 'string' }, 'mark-applied-through': { type: 'string' } } });
	const dbUrl = values['db-url'] ?? process.env.SUPABASE_DB_URL;
	if (!dbUrl) {
		throw new Error(
			'Say which database: `npm run migrate -- --db-url "postgresql://postgres:<password>@db.<project-ref>.supabase.co:5432/postgres"` (or set SUPABASE_DB_URL).',
		);
	}
	console.log(`${listMigrations().length} migrations in supabase/migrations.`);
	const result = await applyMigrations(dbUrl, { log: (line) => console.log(`  ${line}`), markAppliedThrough: values['mark-applied-through'] });
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
