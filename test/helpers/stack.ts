// The run's shared local stack (started by test/setup/global-setup.ts) and helpers to act on it as
// Supabase clients do: service role, a signed-in user, or anonymous.
import { randomInt, randomUUID } from 'node:crypto';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { createAuthUser, startStack, userJwt, type RunningStack, type StackInfo } from '../../stack';

export function testStack(): StackInfo {
	const raw = process.env.LEADFLOW_TEST_STACK;
	if (!raw) throw new Error('LEADFLOW_TEST_STACK is not set: run the tests with `npm test` (jest.config.js starts the stack).');
	return JSON.parse(raw) as StackInfo;
}

export interface ClientOptions {
	/**
	 * Judge every request of this client at this instant: views and functions' `p_now` defaults read
	 * it through leadflow_private.now() (the test stack's `X-Leadflow-Now` header). Without it the
	 * database's own clock applies.
	 */
	now?: Date;
}

function options(headers: Record<string, string>, { now }: ClientOptions) {
	return {
		auth: { persistSession: false, autoRefreshToken: false },
		global: { headers: { ...headers, ...(now ? { 'X-Leadflow-Now': now.toISOString() } : {}) } },
	};
}

export function serviceClient(clientOptions: ClientOptions = {}): SupabaseClient {
	const stack = testStack();
	return createClient(stack.supabaseUrl, stack.serviceRoleKey, options({}, clientOptions));
}

export function anonClient(clientOptions: ClientOptions = {}): SupabaseClient {
	const stack = testStack();
	return createClient(stack.supabaseUrl, stack.anonKey, options({}, clientOptions));
}

/** A client acting as a signed-in user: the anon key plus the user's access token, as in a browser. */
export function userClient(userId: string, clientOptions: ClientOptions = {}): SupabaseClient {
	const stack = testStack();
	return createClient(stack.supabaseUrl, stack.anonKey, options({ Authorization: `Bearer ${userJwt(userId, stack.jwtSecret)}` }, clientOptions));
}

/** A new user in auth.users with a unique email; returns its id. */
export function createTestUser(label = 'user'): Promise<string> {
	return createAuthUser(testStack().dbUrl, `${label}-${randomUUID()}@leadflow.test`);
}

/**
 * A Facebook Page id no other test will draw: 15 digits, 48 random bits (a clash is about one in
 * 10^14 per pair, where six random digits clashed in a full run). It stays below 2^53, so code that
 * reads it as a number keeps it exact.
 */
export function uniquePageId(): string {
	return String(100_000_000_000_000 + randomInt(2 ** 48 - 1));
}

/** Runs `fn` with a direct Postgres connection as the `postgres` role. */
export async function withDb<T>(fn: (db: Client) => Promise<T>): Promise<T> {
	const db = new Client({ connectionString: testStack().dbUrl });
	await db.connect();
	try {
		return await fn(db);
	} finally {
		await db.end();
	}
}

/** Resolves once the backend `pid` waits for a lock (a concurrent test's way of knowing where another call stands); throws `message` after `timeoutMs`. */
export async function untilWaitingForLock(pid: number, message = `backend ${pid} never waited for a lock`, timeoutMs = 10_000): Promise<void> {
	await withDb(async (db) => {
		for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 20))) {
			const { rows } = await db.query<{ wait_event_type: string | null }>('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
			if (rows[0]?.wait_event_type === 'Lock') return;
		}
		throw new Error(message);
	});
}

/**
 * For the describe block it is called in: a stack of its own, started before its tests and stopped
 * after them, which testStack() (so withDb, the clients and the fixtures) names meanwhile (this
 * test file's copy of the environment). For a test whose call reaches every owner, rule or Page of
 * the database (a claim of every rule reaps every expired lease; a prepare of every owner locks
 * every owner's settings): on the run's shared stack it would reach other test files' rows.
 */
export function useStackOfItsOwn(): void {
	let stack: RunningStack | undefined;
	let shared: string | undefined;
	beforeAll(async () => {
		stack = await startStack({ fast: true, clockHeader: true });
		shared = process.env.LEADFLOW_TEST_STACK;
		const { supabaseUrl, anonKey, serviceRoleKey, jwtSecret, dbUrl } = stack;
		process.env.LEADFLOW_TEST_STACK = JSON.stringify({ supabaseUrl, anonKey, serviceRoleKey, jwtSecret, dbUrl });
	}, 180_000);
	afterAll(async () => {
		process.env.LEADFLOW_TEST_STACK = shared;
		await stack?.stop();
	});
}
