// workflows/queue-prepare.json through n8n's engine in-process against the local stack, from its
// "Prepare Now" webhook for one owner (the app's Prepare Tomorrow's Queue button): 200 with tomorrow's
// numbers, the same queue when called again, 400 for a malformed owner, 403 without the key. (The
// daily schedule runs the same node for every owner; it is not fired here, since it would prepare
// the queues of every other test's owners too.)
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type TestCredentials } from '../harness';
import { createTestUser } from '../helpers/stack';
import { leadsOf, messagesOf, queueOwner, supabaseCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-prepare.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials() });

const prepare = (headers: Record<string, string>) =>
	runWorkflow(WORKFLOW, { startNode: 'Prepare Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body: {} }, credentials: credentials() });

test('Prepare Now answers 200 with the owner\'s tomorrow; called again, the same queue', async () => {
	const owner = await queueOwner({ daily_capacity: 3 });
	await leadsOf(owner, 4);
	const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
	const before = tomorrow();
	const first = await prepare({ 'X-Leadflow-Owner': owner });
	expect(first.error).toBeUndefined();
	expect(first.response?.statusCode).toBe(200);
	const [prepared] = (first.response?.body as { owners: IDataObject[] }).owners;
	expect(prepared).toMatchObject({ user_id: owner, time_zone: 'UTC', capacity: 3, queued: 3, already_queued: 0, skipped: expect.objectContaining({ over_capacity: 1 }) });
	expect([before, tomorrow()]).toContain(prepared.day);
	const queue = await messagesOf(owner);
	expect(queue).toHaveLength(3);

	const again = await prepare({ 'X-Leadflow-Owner': owner });
	expect(again.response?.statusCode).toBe(200);
	expect((again.response?.body as { owners: IDataObject[] }).owners).toEqual([expect.objectContaining({ queued: 0, already_queued: 3 })]);
	expect(await messagesOf(owner)).toEqual(queue);
});

test('an owner without queue settings answers 404 saying what to do', async () => {
	const owner = await createTestUser('no-settings');
	const answer = await prepare({ 'X-Leadflow-Owner': owner });
	expect(answer.response).toMatchObject({ statusCode: 404, body: { status: 404, error: expect.stringMatching(/has no queue settings/), hint: expect.stringMatching(/user_queue_settings/) } });
});

test('a malformed owner answers 400 naming it; without the key 403; nothing is prepared', async () => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	const malformed = await prepare({ 'X-Leadflow-Owner': 'me' });
	expect(malformed.response?.statusCode).toBe(400);
	expect(malformed.response?.body).toEqual({ status: 400, error: 'The owner user ID "me" is not a UUID', hint: expect.stringMatching(/auth\.users/) });
	const noKey = await runWorkflow(WORKFLOW, { startNode: 'Prepare Now', webhook: { method: 'POST', headers: { 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });
	expect(noKey.response?.statusCode).toBe(403);
	expect(noKey.executedNodes).toEqual([]);
	expect(await messagesOf(owner)).toEqual([]);
});
