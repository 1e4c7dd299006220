// Queue Ledger's Send and Complete as an AI agent's tools act only on this execution's claim: the
// agent of a workflow whose Claim came before it (Claim → AI Agent with Send or Complete as its
// tool) sends and records its messages; a Queue Item ID and Worker Name of another execution's claim
// (both shown on the Console's queue page) are refused by Worker Name before anything is sent,
// recorded or given back, and the workflow whose claim it is sends and records its message once.
// Before 6 December 2026 (morning) Send as a tool sent the model's own text (to any phone it chose) on
// another execution's claim, and that workflow's Send then sent the owner's message too; Complete as
// a tool recorded the message sent with a made-up message ID, or released it under the run about to
// send it. From then until the evening both refused every call as a tool, the claiming workflow's
// own agent too.
//
// Time: the node judges at the real clock; the messages are prepared for a day already over, so they
// are due whatever the date (QueueLedger/support/queue.ts).
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, TEST_AGENT_TYPE, TEST_ENGINE_AGENT_TYPE } from '../../harness/agent';
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

test("Send as a tool on another execution's claim refuses before anything is sent, whatever phone and text the model gives; the workflow's own Send sends the owner's message once", async () => {
	const { owner, lead, claimed } = await workflowClaim();
	const send = { resource: 'message', operation: 'send', itemId: ai('item_id'), worker: ai('worker'), phone: ai('phone'), message: ai('message') };
	for (const phone of [lead.phone, '+447700900123']) {
		const { thrown, answer } = await asTool(send, { item_id: claimed.item_id, worker: claimed.worker, phone, message: JSON.stringify({ type: 'text', text: 'Written by the model' }) });
		expect(answer).toBeUndefined();
		expect(thrown).toMatch(/^Worker Name "n8n-\d+-[0-9a-f]{12}" is not a claim of this execution: as an AI agent's tool, only the messages this workflow's Claim holds in this run are sent or recorded\n\nDetails: .*A message of another run is that run's to send and record/);
	}
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	// Still the workflow's, as its Claim left it: neither sent nor given back.
	expect((await messagesOf(owner)).map((row) => [row.status, row.lease_holder, row.attempts, row.message_id])).toEqual([['claimed', claimed.worker, 1, null]]);

	await workflowSendsItsClaim(owner, lead, claimed);
}, 60_000);

test("Complete as a tool on another execution's claim refuses, records nothing and gives nothing back: no made-up message ID, no release under the run about to send", async () => {
	const { owner, lead, claimed } = await workflowClaim();
	const complete = { resource: 'message', operation: 'complete', itemId: ai('item_id'), worker: ai('worker'), outcome: ai('outcome'), messageId: ai('message_id') };
	for (const args of [
		{ item_id: claimed.item_id, worker: claimed.worker, outcome: 'sent', message_id: 'wamid.made-up-by-the-model' },
		{ item_id: claimed.item_id, worker: claimed.worker, outcome: 'released', message_id: '' },
	]) {
		const { thrown, answer } = await asTool(complete, args);
		expect(answer).toBeUndefined();
		expect(thrown).toMatch(/^Worker Name "n8n-\d+-[0-9a-f]{12}" is not a claim of this execution/);
	}
	expect((await messagesOf(owner)).map((row) => [row.status, row.lease_holder, row.attempts, row.message_id])).toEqual([['claimed', claimed.worker, 1, null]]);
	expect(await leadStatus(lead.leadId)).toBe('queued');

	await workflowSendsItsClaim(owner, lead, claimed);
}, 60_000);

/** Start → Claim (the owner's messages) → [Send →] Agent, with Queue Ledger `tool` as its tool: one execution. */
function claimThenAgent(owner: string, agentType: string, args: string, tool: IDataObject, sendFirst = false) {
	const nodes = [
		{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{ id: 'claim', name: 'Claim', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }, credentials: node },
		...(sendFirst ? [{ id: 'send', name: 'Send', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [300, 0], parameters: { resource: 'message', operation: 'send' }, credentials: node }] : []),
		{ id: 'agent', name: 'Agent', type: agentType, typeVersion: 1, position: [400, 0], parameters: { args } },
		{ id: 'tool', name: 'Leadflow Tool', type: 'n8n-nodes-leadflow.queueLedgerTool', typeVersion: 1, position: [400, 200], parameters: tool, credentials: node },
	];
	const connections = {
		Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
		...(sendFirst ? { Claim: { main: [[{ node: 'Send', type: 'main', index: 0 }]] }, Send: { main: [[{ node: 'Agent', type: 'main', index: 0 }]] } } : { Claim: { main: [[{ node: 'Agent', type: 'main', index: 0 }]] } }),
		'Leadflow Tool': { ai_tool: [[{ node: 'Agent', type: 'ai_tool', index: 0 }]] },
	};
	return { name: 'Claim, then an agent', nodes, connections, settings: { executionOrder: 'v1' } } as unknown as WorkflowJson;
}

const sendArgs = "={{ JSON.stringify({ item_id: $json.item_id, worker: $json.worker, phone: $json.phone, message: JSON.stringify($json.message) }) }}";

test.each([
	['invoked (agent < 3.0)', TEST_AGENT_TYPE],
	['engine request (agent 3.x)', TEST_ENGINE_AGENT_TYPE],
])("Claim → Agent with Send as its tool (%s): the agent sends this execution's claimed message, once", async (_path, agentType) => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const send = { resource: 'message', operation: 'send', itemId: ai('item_id'), worker: ai('worker'), phone: ai('phone'), message: ai('message') };
	const run = await runWorkflow(claimThenAgent(owner, agentType, sendArgs, send), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	const [agent] = run.nodeOutputs.Agent;
	const read = JSON.parse((agent.answer ?? agent.observation) as string) as IDataObject[];
	expect(read).toEqual([expect.objectContaining({ item_id: claimed.item_id, worker: claimed.worker, outcome: 'sent' })]);
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((one) => ({ to: one.to, text: one.text }))).toEqual([{ to: lead.phone, text: 'Hi Lead 0, from the owner' }]);
	// Sent under this execution's claim, for its Complete to record.
	expect((await messagesOf(owner)).map((row) => [row.status, row.lease_holder])).toEqual([['claimed', claimed.worker]]);
}, 60_000);

test("Claim → Send → Agent with Complete as its tool: the agent records this execution's sent message", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const complete = { resource: 'message', operation: 'complete', itemId: ai('item_id'), worker: ai('worker'), outcome: ai('outcome'), messageId: ai('message_id') };
	const args = "={{ JSON.stringify({ item_id: $json.item_id, worker: $json.worker, outcome: $json.outcome, message_id: $json.message_id }) }}";
	const run = await runWorkflow(claimThenAgent(owner, TEST_AGENT_TYPE, args, complete, true), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [sent] = run.nodeOutputs.Send;
	expect(sent.outcome).toBe('sent');
	const read = JSON.parse(run.nodeOutputs.Agent[0].answer as string) as IDataObject[];
	expect(read).toEqual([expect.objectContaining({ accepted: true, status: 'sent' })]);
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered).toHaveLength(1);
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id])).toEqual([['sent', delivered[0].messageId]]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
}, 60_000);

test.each([
	['invoked (agent < 3.0)', TEST_AGENT_TYPE],
	['engine request (agent 3.x)', TEST_ENGINE_AGENT_TYPE],
])("A tool's $json is the agent's input item (%s): Take Lead with Lead ID at its default, the model giving nothing, takes the lead of the item Claim handed the agent", async (_path, agentType) => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	await prepareDue(owner);
	// Lead ID left at its default, {{ $json.lead_id }}; the model gives no argument.
	const run = await runWorkflow(claimThenAgent(owner, agentType, '{}', { resource: 'lead', operation: 'takeLead', ownerUserId: owner }), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	const [agent] = run.nodeOutputs.Agent;
	expect(JSON.parse((agent.answer ?? agent.observation) as string)).toEqual([expect.objectContaining({ lead_id: claimed.lead_id, status: 'human_controlled' })]);
	expect(await leadStatus(claimed.lead_id as string)).toBe('human_controlled');
}, 60_000);
