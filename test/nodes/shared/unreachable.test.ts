// Supabase not reachable (nothing listens at the credential's URL): the node's error says so and what
// to check, and carries no stack trace, no line of code and no internal address, since the shipped
// webhook workflows answer a failed call with its message and description.
import { testStack } from '../../helpers/stack';
import { runQueue } from '../QueueLedger/support/queue';

it('a call that never reaches Supabase fails with the advice to check the URL, and nothing of the stack', async () => {
	const { result } = await runQueue([{}], { resource: 'report', operation: 'metrics', ownerUserId: '00000000-0000-4000-8000-000000000001', fromDay: '2026-11-01', toDay: '2026-11-02' }, {
		leadflowSupabaseApi: { url: 'http://127.0.0.1:9', serviceRoleKey: testStack().serviceRoleKey },
	});
	expect(result.error?.message).toMatch(/^queue_metrics failed: TypeError: fetch failed$/);
	expect(result.error?.description).toBe('Check the Supabase project URL and that the project is running.');
	expect(JSON.stringify({ message: result.error?.message, description: result.error?.description })).not.toMatch(/\n|\bat \S|node:|ECONNREFUSED|127\.0\.0\.1|\.(js|ts):\d+/);
});
