// Queue Ledger's Send and Complete as an AI agent's tools: a tool's call holds no claim, so the
// Queue Item ID and Worker Name a model gives (both shown on the Console's queue page) can only be a
// workflow's claim. Each refuses to run as a tool before anything is sent, recorded or given back,
// and the workflow whose claim it is sends and records its message once, as it would have.
// Before 6 December 2026 Send as a tool sent the model's own text (to any phone it chose) on that
// claim, and the workflow's Send then sent the owner's message too; Complete as a tool recorded the
// message sent with a made-up message ID, or released it under the run about to send it.
//
// Time: the node judges at the real clock; the messages are prepared for a day already over, so they
// are due whatever the date (QueueLedger/support/queue.ts).
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials } from '../QueueLedger/support/queue';

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

const credentials = () => ({ ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('queueLedger', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

/** A workflow's Claim of the owner's one due message: its item (item_id, phone, message, worker). */
async function workflowClaim(): Promise<{ owner: string; lead: { leadId: string; phone: string }; claimed: IDataObject }> {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const [claimed] = (await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner })).outputs[0];
	expect(claimed.worker).toMatch(/^n8n-\d+-[0-9a-f]{12}$/);
	return { owner, lead, claimed };
}

/** The workflow's own Send and Complete on the item its Claim gave: the owner's message goes out once and is recorded. */
async function workflowSendsItsClaim(owner: string, lead: { leadId: string; phone: string }, claimed: IDataObject): Promise<void> {
	const sent = (await runQueue([claimed], { resource: 'message', operation: 'send' }, credentials())).outputs[0];
	expect(sent.map((one) => one.outcome)).toEqual(['sent']);
	const completed = (await runQueue(sent, { resource: 'message', operation: 'complete' })).outputs[0];
	expect(completed.map((one) => [one.accepted, one.status])).toEqual([[true, 'sent']]);
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((one) => ({ to: one.to, text: one.text }))).toEqual([{ to: lead.phone, text: 'Hi Lead 0, from the owner' }]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id])).toEqual([['sent', delivered[0].messageId]]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
}

test("Send as a tool on a workflow's claim refuses before anything is sent, whatever phone and text the model gives; the workflow's own Send sends the owner's message once", async () => {
	const { owner, lead, claimed } = await workflowClaim();
	const send = { resource: 'message', operation: 'send', itemId: ai('item_id'), worker: ai('worker'), phone: ai('phone'), message: ai('message') };
	for (const phone of [lead.phone, '+447700900123']) {
		const { thrown, answer } = await asTool(send, { item_id: claimed.item_id, worker: claimed.worker, phone, message: JSON.stringify({ type: 'text', text: 'Written by the model' }) });
		expect(answer).toBeUndefined();
		expect(thrown).toMatch(/^Send cannot run as an AI agent's tool\n\nDetails: .*a tool's call holds no claim.*use Get Metrics \(its numbers per day\) or the Leadflow Console node's Queue Page/);
	}
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	// Still the workflow's, as its Claim left it: neither sent nor given back.
	expect((await messagesOf(owner)).map((row) => [row.status, row.lease_holder, row.attempts, row.message_id])).toEqual([['claimed', claimed.worker, 1, null]]);

	await workflowSendsItsClaim(owner, lead, claimed);
}, 60_000);

test("Complete as a tool on a workflow's claim refuses, records nothing and gives nothing back: no made-up message ID, no release under the run about to send", async () => {
	const { owner, lead, claimed } = await workflowClaim();
	const complete = { resource: 'message', operation: 'complete', itemId: ai('item_id'), worker: ai('worker'), outcome: ai('outcome'), messageId: ai('message_id') };
	for (const args of [
		{ item_id: claimed.item_id, worker: claimed.worker, outcome: 'sent', message_id: 'wamid.made-up-by-the-model' },
		{ item_id: claimed.item_id, worker: claimed.worker, outcome: 'released', message_id: '' },
	]) {
		const { thrown, answer } = await asTool(complete, args);
		expect(answer).toBeUndefined();
		expect(thrown).toMatch(/^Complete cannot run as an AI agent's tool\n\nDetails: .*a tool's call holds no claim and sends nothing.*use Get Metrics \(its numbers per day\) or the Leadflow Console node's Queue Page/);
	}
	expect((await messagesOf(owner)).map((row) => [row.status, row.lease_holder, row.attempts, row.message_id])).toEqual([['claimed', claimed.worker, 1, null]]);
	expect(await leadStatus(lead.leadId)).toBe('queued');

	await workflowSendsItsClaim(owner, lead, claimed);
}, 60_000);
