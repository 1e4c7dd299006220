// Claim given several owners as items (one claim per owner), one of them without queue settings
// (queue_claim refuses that owner, P0002, since migration 20261201002240): that owner's refusal
// never stops or holds another owner's messages. Without Continue On Fail the node fails, and the
// messages it had claimed for the earlier owners are given back first (queued, due at once, the
// attempt not counted), not left held for the lease with an attempt used. With Continue On Fail the
// refused owner's item fails alone; Send and Complete pass that failed item on and send and record
// the other owner's messages (before, Send failed the batch on it: "The queue item ID "" is not a
// UUID", giving every message back).
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { createTestUser } from '../../helpers/stack';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials } from './support/queue';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-queue-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
});

/** Manual Trigger → one item per owner → Claim (Continue On Fail to its regular output) → Send → Complete. */
function perOwnerChain(owners: string[]): WorkflowJson {
	const credentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
	const step = (id: string, name: string, x: number, parameters: IDataObject, extra: IDataObject = {}) => ({
		id,
		name,
		type: 'n8n-nodes-leadflow.queueLedger',
		typeVersion: 1,
		position: [x, 0],
		parameters,
		credentials,
		...extra,
	});
	return {
		name: 'Per-owner queue run',
		nodes: [
			{ id: 'o1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'o2', name: 'Owners', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [100, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify({ owners: owners.map((owner) => ({ owner })) }), options: {} } },
			{ id: 'o3', name: 'One Per Owner', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: [150, 0], parameters: { fieldToSplitOut: 'owners', options: {} } },
			step('o4', 'Claim', 200, { resource: 'message', operation: 'claim', limit: 50, ownerUserId: '={{ $json.owner }}', options: {} }, { onError: 'continueRegularOutput' }),
			step('o5', 'Send', 400, { resource: 'message', operation: 'send', options: {} }),
			step('o6', 'Complete', 600, { resource: 'message', operation: 'complete' }),
		],
		connections: {
			Start: { main: [[{ node: 'Owners', type: 'main', index: 0 }]] },
			Owners: { main: [[{ node: 'One Per Owner', type: 'main', index: 0 }]] },
			'One Per Owner': { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

test('Claim failing for an owner without queue settings gives back what it claimed for the owners before: queued, not held, no attempt used', async () => {
	const withSettings = await queueOwner();
	await leadsOf(withSettings, 2);
	expect((await prepareDue(withSettings)).queued).toBe(2);
	const bare = await createTestUser('queue-bare');

	const { result } = await runQueue([{ owner: withSettings }, { owner: bare }], { resource: 'message', operation: 'claim', limit: 50, ownerUserId: '={{ $json.owner }}' });
	expect(result.error?.message).toBe(`Owner User ID: user ${bare} has no queue settings`);
	// Before: both claimed, attempt 1, held by the failed run until the lease ran out.
	expect((await messagesOf(withSettings)).map((row) => [row.status, row.attempts, row.lease_holder])).toEqual([
		['queued', 0, null],
		['queued', 0, null],
	]);
});

test('with Continue On Fail, the owner without queue settings fails alone: Send and Complete pass its item on and send and record the other owner\'s messages', async () => {
	const withSettings = await queueOwner();
	const leads = await leadsOf(withSettings, 2);
	expect((await prepareDue(withSettings)).queued).toBe(2);
	const bare = await createTestUser('queue-bare');

	const run = await runWorkflow(perOwnerChain([withSettings, bare]), { credentials: { ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) } });
	expect(run.error).toBeUndefined();
	const refused = { error: expect.objectContaining({ code: 'not_found', message: `Owner User ID: user ${bare} has no queue settings` }) };
	const sent = (run.nodeOutputs.Send ?? []) as IDataObject[];
	expect(sent.filter((one) => one.outcome === 'sent')).toHaveLength(2);
	expect(sent.filter((one) => one.error !== undefined && one.item_id === undefined)).toEqual([refused]);
	const completed = (run.nodeOutputs.Complete ?? []) as IDataObject[];
	expect(completed.filter((one) => one.accepted === true).map((one) => one.status)).toEqual(['sent', 'sent']);
	expect(completed.filter((one) => one.item_id === undefined)).toEqual([refused]);
	expect((await messagesOf(withSettings)).map((row) => row.status)).toEqual(['sent', 'sent']);
	for (const lead of leads) expect(await leadStatus(lead.leadId)).toBe('contacted');
});
