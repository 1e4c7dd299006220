// The queue workflows' schedules, when the operation fails: workflows/queue-prepare.json ("Prepare
// Tomorrow") and workflows/queue-run.json ("Claim Due Messages") send a failure to their error
// output, which answers the webhook's caller; a scheduled run has nobody to answer, so it must end
// in error (Stop and Error with the failure's message) for n8n to record it (even with
// EXECUTIONS_DATA_SAVE_ON_SUCCESS=none) and to call the Error Workflow, never end green. Supabase
// is unreachable here (nothing listens on port 9), so the schedules touch no owner's queue.
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../harness';
import { testStack } from '../helpers/stack';
import { whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const unreachable = (): TestCredentials => ({
	httpHeaderAuth: KEY,
	leadflowSupabaseApi: { url: 'http://127.0.0.1:9', serviceRoleKey: testStack().serviceRoleKey },
	...whatsappCredentials('http://127.0.0.1:9'),
});

test.each([
	['workflows/queue-prepare.json', 'Prepare Tomorrow'],
	['workflows/queue-run.json', 'Claim Due Messages'],
])('%s: a scheduled run whose %s fails ends in error with its message', async (workflow, operation) => {
	const run = await runWorkflow(workflow, { trigger: 'schedule', credentials: unreachable() });

	expect(run.mode).toBe('trigger');
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.any(String) });
	// The message is the operation's failure, as its error output had it.
	const [failed] = run.nodeBranches[operation]?.[1] ?? [];
	expect(run.error?.message).toBe((failed?.error as { message?: string } | undefined)?.message);
	expect(run.executedNodes).not.toContain('Respond With Problem');
});

test.each([
	['workflows/queue-prepare.json', 'Prepare Now'],
	['workflows/queue-run.json', 'Run Now'],
])('%s: the same failure started by %s answers 500 with the message only, and the run is not an error', async (workflow, webhook) => {
	const run = await runWorkflow(workflow, { startNode: webhook, webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: {} }, credentials: unreachable() });

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({ status: 500, error: expect.any(String), hint: expect.anything() });
	expect(JSON.stringify(run.response?.body)).not.toContain(testStack().serviceRoleKey);
	expect(run.error).toBeUndefined();
	expect(run.executedNodes).not.toContain('Fail The Scheduled Run');
});
