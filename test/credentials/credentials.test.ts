// Each credential's "Test" request, performed as n8n performs it, against the local stack.
import { freePort } from '../../stack/ports';
import { testStack } from '../helpers/stack';
import { testCredential } from '../harness';

test('the Supabase credential tests OK against the stack with the service role key', async () => {
	const stack = testStack();
	await expect(testCredential('leadflowSupabaseApi', { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey })).resolves.toEqual({
		status: 'OK',
		message: 'Connection successful!',
	});
});

test('a trailing slash on the project URL does not matter', async () => {
	const stack = testStack();
	const result = await testCredential('leadflowSupabaseApi', { url: `${stack.supabaseUrl}/`, serviceRoleKey: stack.serviceRoleKey });
	expect(result.status).toBe('OK');
});

const NOT_SERVICE_ROLE =
	'The key was refused or may not read Leadflow\'s tables: use the service_role key (Project Settings → API Keys), not the anon or publishable key';

test('a wrong key fails, naming the key to use', async () => {
	const result = await testCredential('leadflowSupabaseApi', { url: testStack().supabaseUrl, serviceRoleKey: 'wrong-key' });
	expect(result).toEqual({ status: 'Error', message: NOT_SERVICE_ROLE });
});

test('the anon key (beside the service role key in Supabase\'s settings) fails: it may not read Leadflow\'s tables', async () => {
	const stack = testStack();
	const result = await testCredential('leadflowSupabaseApi', { url: stack.supabaseUrl, serviceRoleKey: stack.anonKey });
	expect(result).toEqual({ status: 'Error', message: NOT_SERVICE_ROLE });
});

test('a URL where no Leadflow tables are found fails, saying to apply the migrations and check the URL', async () => {
	const result = await testCredential('leadflowSupabaseApi', { url: `${testStack().supabaseUrl}/not-a-project`, serviceRoleKey: testStack().serviceRoleKey });
	expect(result).toEqual({
		status: 'Error',
		message: 'Leadflow\'s tables are not in this project: apply the migrations (supabase/migrations, README step 2) and check the Project URL',
	});
});

test('an unreachable project URL fails with the network error', async () => {
	const port = await freePort();
	const result = await testCredential('leadflowSupabaseApi', { url: `http://127.0.0.1:${port}`, serviceRoleKey: 'any' });
	expect(result).toEqual({ status: 'Error', message: 'ECONNREFUSED' });
});
