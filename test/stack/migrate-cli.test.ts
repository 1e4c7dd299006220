// `npm run migrate` (scripts/migrate.ts) refused before it connects: no database given, or one that
// is not a Postgres connection string. The refusal says which connection string to give and where
// Supabase shows it, and that each of the project's three works (the direct connection, the session
// pooler on 5432, the transaction pooler on 6543), as the README's *Create the tables* says. Before,
// no database gave only a 5432 example, and "--db-url foo" was tried as a connection and failed
// ("getaddrinfo ENOTFOUND base", after printing the count of migrations).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '../..');

async function migrate(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
	const rest = { ...process.env };
	delete rest.SUPABASE_DB_URL;
	return promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/migrate.ts', ...args], { cwd: root, timeout: 30_000, env: { ...rest, ...env } }).then(
		({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
		(error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
	);
}

const WHICH = /`npm run migrate -- --db-url "<connection string>"` \(or set SUPABASE_DB_URL\), the one your Supabase project shows under Connect \(Project Settings → Database\)\. Any of its three works: the direct connection \(postgresql:\/\/postgres:<password>@db\.<project-ref>\.supabase\.co:5432\/postgres, .*\), the session pooler \(port 5432\) or the transaction pooler \(port 6543\); the poolers' user is postgres\.<project-ref>\.\n$/;

test('no database given: exit 1, nothing run, the refusal says which connection string and where to find it', async () => {
	const run = await migrate([]);
	expect(run.code).toBe(1);
	expect(run.stdout).toBe('');
	expect(run.stderr).toMatch(/^migrate: Say which database: /);
	expect(run.stderr).toMatch(WHICH);
});

test('a --db-url (or SUPABASE_DB_URL) that is not a Postgres connection string is refused naming it, before any connection', async () => {
	const flag = await migrate(['--db-url', 'db.abc.supabase.co']);
	expect(flag.code).toBe(1);
	expect(flag.stdout).toBe('');
	expect(flag.stderr).toMatch(/^migrate: --db-url is not a Postgres connection string \(postgresql:\/\/…\): /);
	expect(flag.stderr).toMatch(WHICH);
	const env = await migrate([], { SUPABASE_DB_URL: 'db.abc.supabase.co' });
	expect(env.code).toBe(1);
	expect(env.stderr).toMatch(/^migrate: SUPABASE_DB_URL is not a Postgres connection string/);
});
