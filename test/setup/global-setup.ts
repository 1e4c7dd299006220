// One local stack (real Postgres + PostgREST + gateway, migrations applied) for the whole test run.
// Test files reach it through `testStack()` in test/helpers/stack.ts.
import { startStack, type RunningStack } from '../../stack';

declare global {
	var __LEADFLOW_STACK__: RunningStack | undefined;
}

export default async function globalSetup() {
	const stack = await startStack({ fast: true, clockHeader: true });
	globalThis.__LEADFLOW_STACK__ = stack;
	const { supabaseUrl, anonKey, serviceRoleKey, jwtSecret, dbUrl } = stack;
	process.env.LEADFLOW_TEST_STACK = JSON.stringify({ supabaseUrl, anonKey, serviceRoleKey, jwtSecret, dbUrl });
}
