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

test('a wrong key fails the way n8n reports the gateway’s 401', async () => {
	const result = await testCredential('leadflowSupabaseApi', { url: testStack().supabaseUrl, serviceRoleKey: 'wrong-key' });
	expect(result).toEqual({ status: 'Error', message: 'Unauthorized' });
});

test('an unreachable project URL fails with the network error', async () => {
	const port = await freePort();
	const result = await testCredential('leadflowSupabaseApi', { url: `http://127.0.0.1:${port}`, serviceRoleKey: 'any' });
	expect(result).toEqual({ status: 'Error', message: 'ECONNREFUSED' });
});
