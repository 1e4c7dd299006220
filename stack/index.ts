// The local Supabase-compatible stack: real PostgreSQL, real PostgREST, the gateway in front, the
// Supabase roles and `auth` schema, and this project's migrations applied. Used by `npm run stack`,
// the demo, the tests and the benchmarks.
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { startGateway } from './gateway';
import { projectKeys } from './jwt';
import { applyMigrations, type MigrationResult } from './migrations';
import { freePortOutside, onFreePort } from './ports';
import { placeData, serverUser, temporaryDataDir } from './placement';
import { postgresBinaries, refuseDataInUse, startPostgres } from './postgres';
import { startPostgrest } from './postgrest';
import { startWatchdog } from './watchdog';

export { userJwt, signJwt, verifyJwt } from './jwt';
export { StackSetupError } from './placement';

export interface StackInfo {
	/** The project URL, as in Supabase's settings: the Data API is under `{supabaseUrl}/rest/v1`. */
	supabaseUrl: string;
	anonKey: string;
	serviceRoleKey: string;
	jwtSecret: string;
	/** A direct connection as the `postgres` role, like Supabase's connection string. */
	dbUrl: string;
}

export interface RunningStack extends StackInfo {
	migrations: MigrationResult;
	/** Where the database lives (a temporary folder unless one was given). */
	dataDir: string;
	/** Set when the data is not in the folder asked for: where it is and why (see placement.ts). */
	dataDirNote?: string;
	/** Set when PostgreSQL runs from a copy of its binaries: where and why. */
	binariesNote?: string;
	/** PostgREST itself, behind the gateway: for benchmarks that tell the two apart. Clients use supabaseUrl. */
	postgrestUrl: string;
	stop(): Promise<void>;
}

export interface StackOptions {
	/** Keep the database here between runs; default: a temporary folder removed on stop. */
	dataDir?: string;
	/** Start from an empty database even if `dataDir` holds one. */
	fresh?: boolean;
	/** The gateway's port (the project URL's); default: any free port. */
	port?: number;
	/** Postgres's port; default: any free port. */
	dbPort?: number;
	/** Faster, non-durable Postgres settings for tests and benchmarks. */
	fast?: boolean;
	/**
	 * Tests only: a request carrying `X-Leadflow-Now: <ISO instant>` is judged at that instant (the
	 * header sets `leadflow.now` for the request's transaction; see leadflow_private.now()). Off
	 * everywhere else, as on supabase.com, where no client can move the database's clock.
	 */
	clockHeader?: boolean;
	/** Tests only: the Data API's Max Rows (default 1,000, Supabase's), to see a project that lowered it. */
	maxRows?: number;
	log?: (line: string) => void;
}

interface Secrets {
	jwtSecret: string;
	/** When the API keys were issued: kept so the keys stay the same across restarts. */
	issuedAt: number;
	superuserPassword: string;
	authenticatorPassword: string;
}

const randomSecret = (bytes: number) => randomBytes(bytes).toString('hex');

function loadOrCreateSecrets(dataDir: string): Secrets {
	const file = path.join(dataDir, 'stack.json');
	if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Secrets;
	const secrets = {
		jwtSecret: randomSecret(32),
		issuedAt: Math.floor(Date.now() / 1000),
		superuserPassword: randomSecret(16), authenticatorPassword: randomSecret(16) };
	writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
	return secrets;
}

/** The stacks this process started and has not stopped yet (stopEveryStack stops them). */
const runningStacks = new Set<() => Promise<void>>();

/**
 * Stops every stack this process started and has not stopped: for a process ended by a signal,
 * whose `finally` blocks never run (bench/stop-on-signal.ts), so no PostgreSQL is left behind.
 */
export async function stopEveryStack(): Promise<void> {
	await Promise.all([...runningStacks].map((stopOne) => stopOne()));
}

export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
	const user = serverUser();
	const { nativeDir, note: binariesNote } = postgresBinaries(user);
	const temporary = !options.dataDir;
	const { dir: dataDir, note: dataDirNote } = temporary ? { dir: temporaryDataDir(user), note: undefined } : placeData(options.dataDir!, user);
	// Another start's server on these files (a second `npm run demo` on one clone): refused before
	// --fresh removes them or the start stops that server (stack/postgres.ts).
	if (!temporary) refuseDataInUse(path.join(dataDir, 'pgdata'));
	if (options.fresh && !temporary) {
		rmSync(path.join(dataDir, 'pgdata'), { recursive: true, force: true });
		rmSync(path.join(dataDir, 'stack.json'), { force: true });
	}
	mkdirSync(dataDir, { recursive: true });
	if (user) chmodSync(dataDir, 0o755); // the server user walks through it to pgdata (0700, its own)
	accessSync(dataDir, constants.W_OK);
	const secrets = loadOrCreateSecrets(dataDir);
	// Stops the servers should this process die without stopping them (SIGKILL, a crash).
	const watchdog = startWatchdog();
	if (temporary) watchdog.remove(dataDir);
	const stoppers: Array<() => Promise<void>> = [];
	const stop = async () => {
		runningStacks.delete(stop);
		for (const stopOne of stoppers.splice(0).reverse()) await stopOne().catch(() => undefined);
		if (temporary) rmSync(dataDir, { recursive: true, force: true });
		watchdog.done();
	};
	runningStacks.add(stop);

	try {
		const postgres = await onFreePort(options.dbPort, (port) =>
			startPostgres({
				dataDir: path.join(dataDir, 'pgdata'),
				port,
				superuserPassword: secrets.superuserPassword,
				nativeDir,
				user,
				fast: options.fast,
				onSpawn: (child) => watchdog.watch(child, 'SIGINT'),
			}),
		);
		stoppers.push(postgres.stop);

		await prepareDatabase(postgres.superuserUrl, secrets.authenticatorPassword);
		const migrations = await applyMigrations(postgres.superuserUrl, { log: options.log });
		if (options.clockHeader) await runSqlFile(postgres.superuserUrl, 'test-clock.sql');

		const postgrest = await onFreePort(undefined, async (port) =>
			startPostgrest({
				port,
				adminPort: await freePortOutside(new Set([port])),
				dbUrl: `postgres://authenticator:${secrets.authenticatorPassword}@127.0.0.1:${postgres.port}/postgres`,
				jwtSecret: secrets.jwtSecret,
				preRequest: options.clockHeader ? TEST_CLOCK_PRE_REQUEST : undefined,
				maxRows: options.maxRows,
				log: options.log,
				onSpawn: (child) => watchdog.watch(child, 'SIGTERM'),
			}),
		);
		stoppers.push(postgrest.stop);

		const keys = projectKeys(secrets.jwtSecret, secrets.issuedAt);
		const gateway = await startGateway({ port: options.port ?? 0, postgrestUrl: postgrest.url, apiKeys: [keys.anonKey, keys.serviceRoleKey] });
		stoppers.push(gateway.stop);

		return {
			supabaseUrl: gateway.url,
			anonKey: keys.anonKey,
			serviceRoleKey: keys.serviceRoleKey,
			jwtSecret: secrets.jwtSecret,
			dbUrl: postgres.superuserUrl,
			migrations,
			dataDir,
			dataDirNote,
			binariesNote,
			postgrestUrl: postgrest.url,
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}

/** The pre-request function test-clock.sql creates (tests' stacks only). */
const TEST_CLOCK_PRE_REQUEST = 'leadflow_test.clock_from_header';

async function runSqlFile(dbUrl: string, file: string): Promise<void> {
	const client = new Client({ connectionString: dbUrl });
	await client.connect();
	try {
		await client.query(readFileSync(path.join(__dirname, file), 'utf8'));
	} finally {
		await client.end();
	}
}

/** Gives a database what every Supabase project's has: the API roles and the auth schema. */
export function installSupabaseCompat(dbUrl: string): Promise<void> {
	return runSqlFile(dbUrl, 'supabase-compat.sql');
}

async function prepareDatabase(superuserUrl: string, authenticatorPassword: string) {
	await installSupabaseCompat(superuserUrl);
	const client = new Client({ connectionString: superuserUrl });
	await client.connect();
	try {
		await client.query(`alter role authenticator with password '${authenticatorPassword.replace(/'/g, "''")}'`);
	} finally {
		await client.end();
	}
}

/** A user in `auth.users`, as Supabase Auth would create on sign-up. */
export async function createAuthUser(dbUrl: string, email: string): Promise<string> {
	const client = new Client({ connectionString: dbUrl });
	await client.connect();
	try {
		const { rows } = await client.query<{ id: string }>(
			`insert into auth.users (email) values ($1)
			 on conflict (email) do update set updated_at = now()
			 returning id`,
			[email],
		);
		return rows[0].id;
	} finally {
		await client.end();
	}
}
