// Send failing as a node before its first queue_begin_send (a WhatsApp credential without a valid
// Phone Number ID, an item it cannot read) gives the claimed messages it was handed back before it
// reports its error: queue_complete, released, one call per worker: back to queued, due at once,
// the lease ended and the claim's attempt given back. Before, they stayed claimed for the lease (5
// minutes in the shipped workflow) and each broken run used up one of their attempts. Another
// worker's messages are left alone; when giving back fails, the node's own error is still the one
// shown, the failure added to its description.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type TestCredentials } from '../../harness';
import { testStack } from '../../helpers/stack';
import { chainWorkflow, ledgerOf, leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials } from './support/queue';

const NO_PHONE_NUMBER_ID = 'The WhatsApp credential has no valid Phone Number ID';
const broken = (supabase: TestCredentials = supabaseCredentials()): TestCredentials => ({ ...supabase, ...whatsappCredentials('http://127.0.0.1:9', '') });
const rowsOf = async (owner: string) => (await messagesOf(owner)).map((row) => [row.status, row.attempts, row.lease_holder ?? null]);

async function claimed(count: number, worker = 'worker-a') {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	await leadsOf(owner, count);
	expect((await prepareDue(owner)).queued).toBe(count);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker } });
	expect(claim.outputs[0]).toHaveLength(count);
	return { owner, items: claim.outputs[0] };
}

test('failing as a node (no valid Phone Number ID), Send gives every claimed message back first: queued, due now, the attempt not counted', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	await leadsOf(owner, 3);
	await prepareDue(owner);
	const run = await runWorkflow(chainWorkflow(owner, { worker: 'worker-a' }), { credentials: broken() });
	expect(run.error).toMatchObject({ node: 'Send', message: NO_PHONE_NUMBER_ID });
	expect(run.executedNodes).not.toContain('Complete');
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);
	// The ledger: claimed by worker-a, then released by it.
	const ledger = (await ledgerOf(owner)).filter((row) => row.queue === 'whatsapp_message_queue');
	expect(ledger.filter((row) => row.from_status === 'claimed').map((row) => [row.to_status, row.reason])).toEqual([
		['queued', 'released'],
		['queued', 'released'],
		['queued', 'released'],
	]);
});

test('with Continue On Fail every item fails with the error (not the item\'s fault: service_error) and its message is given back', async () => {
	const { owner, items } = await claimed(2);
	const run = await runQueue(items, { resource: 'message', operation: 'send' }, broken(), { continueOnFail: true });
	expect(run.result.error).toBeUndefined();
	expect(run.outputs[0]).toEqual([
		{ error: { code: 'service_error', message: NO_PHONE_NUMBER_ID, description: expect.stringMatching(/^Enter the numeric ID/) } },
		{ error: { code: 'service_error', message: NO_PHONE_NUMBER_ID, description: expect.stringMatching(/^Enter the numeric ID/) } },
	]);
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
	]);
});

test('an item Send cannot read fails the node; the messages of the other items are given back', async () => {
	const { owner, items } = await claimed(2);
	const run = await runQueue([...items, { ...items[0], item_id: 'not-a-uuid' }], { resource: 'message', operation: 'send' }, { ...supabaseCredentials(), ...whatsappCredentials('http://127.0.0.1:9') });
	expect(run.result.error).toMatchObject({ node: 'Queue', message: 'The queue item ID "not-a-uuid" is not a UUID' });
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
	]);
});

test('a message another worker holds is left alone: only the worker named on the item gives back', async () => {
	const { owner, items } = await claimed(2, 'worker-b');
	const run = await runQueue(
		items.map((item) => ({ ...item, worker: 'worker-a' })),
		{ resource: 'message', operation: 'send' },
		broken(),
	);
	expect(run.result.error).toMatchObject({ message: NO_PHONE_NUMBER_ID });
	expect(items[0].worker).toMatch(/^worker-b-/);
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts, row.lease_holder])).toEqual([
		['claimed', 1, items[0].worker],
		['claimed', 1, items[0].worker],
	]);
});

test('when giving back fails too, the node\'s own error is shown, the failure added to its description; the messages stay claimed until their lease ends', async () => {
	const { owner, items } = await claimed(1);
	const run = await runQueue(items, { resource: 'message', operation: 'send' }, broken({ leadflowSupabaseApi: { url: 'http://127.0.0.1:9', serviceRoleKey: testStack().serviceRoleKey } }));
	expect(run.result.error).toMatchObject({
		message: NO_PHONE_NUMBER_ID,
		description: expect.stringMatching(/^Enter the numeric ID .* Giving its 1 claimed messages back failed too \(.*\): they stay claimed until their lease ends/),
	});
	expect(JSON.stringify(run.result.error)).not.toContain(testStack().serviceRoleKey);
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual([['claimed', 1]]);
	// Nothing was sent: the worker gives them back once Supabase answers again.
	const again = await runQueue(items as IDataObject[], { resource: 'message', operation: 'send' }, broken());
	expect(again.result.error).toMatchObject({ message: NO_PHONE_NUMBER_ID });
	expect(await rowsOf(owner)).toEqual([['queued', 0, null]]);
});
