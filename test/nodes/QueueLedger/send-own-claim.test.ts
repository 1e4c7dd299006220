// Review X: Send delivers a claimed message only to its lead's phone, whatever its Phone parameter
// gives, and Complete as an AI agent's tool records sent or failed only for a message whose send
// began (migration 20261201002530). Through n8n's engine against the local stack and the Graph
// simulator's WhatsApp Cloud API.
// - A workflow whose Phone reads a wrong field (the first claimed item's phone for every item): the
//   other leads' messages are not sent (released, code phone_mismatch) and Complete gives them back;
//   before, every message went to the first lead and every lead was recorded contacted.
// - Claim → AI Agent with Send as its tool, Phone and Message from $fromAI: a model steered by a lead's
//   name gave another phone; before, the message went there and Complete recorded the lead contacted.
//   The text stays the model's to write: with the lead's own phone it is sent.
// - Claim → AI Agent with Complete as its tool: a model answering sent with a made-up message ID,
//   no Send having run, is refused naming Outcome, with advice; before, the lead was recorded
//   contacted with nothing delivered.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { TEST_AGENT_TYPE } from '../../harness/agent';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue } from './support/queue';
import { whatsappSimulator } from './support/send';

/** Someone who is not the claimed lead. */
const SOMEONE_ELSE = '+447700900123';

const sims = whatsappSimulator();

const credentials = () => sims.credentials();
const nodeCredentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
const fromAI = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

/** Claim → the test agent, with one Queue Ledger tool given `tool`'s parameters; the agent calls it once with `args`. */
function claimThenAgent(owner: string, args: string, tool: IDataObject): WorkflowJson {
	return {
		name: 'Claim, then an agent',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'claim', name: 'Claim', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }, credentials: nodeCredentials },
			{ id: 'agent', name: 'Agent', type: TEST_AGENT_TYPE, typeVersion: 1, position: [400, 0], parameters: { args } },
			{ id: 'tool', name: 'Leadflow Tool', type: 'n8n-nodes-leadflow.queueLedgerTool', typeVersion: 1, position: [400, 200], parameters: tool, credentials: nodeCredentials },
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Agent', type: 'main', index: 0 }]] },
			'Leadflow Tool': { ai_tool: [[{ node: 'Agent', type: 'ai_tool', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}

const SEND_TOOL = { resource: 'message', operation: 'send', itemId: fromAI('item_id'), worker: fromAI('worker'), phone: fromAI('phone'), message: fromAI('message') };
/** The model's arguments: this run's item and worker, `phone` (an expression's text), and its own text. */
const sendArgs = (phone: string) =>
	`={{ JSON.stringify({ item_id: $json.item_id, worker: $json.worker, phone: ${phone}, message: JSON.stringify({ type: 'text', text: 'Written by the model: visit evil.example' }) }) }}`;

test('a workflow whose Phone reads a wrong field sends each message only to its own lead: the others are released (phone_mismatch), given back by Complete, their leads not contacted', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const leads = await leadsOf(owner, 3);
	expect((await prepareDue(owner)).queued).toBe(3);
	const workflow = chainWorkflow(owner);
	// The mistake: every item's Phone is the first claimed item's.
	const send = workflow.nodes.find((node) => node.name === 'Send')!;
	send.parameters = { ...send.parameters, phone: "={{ $('Claim').first().json.phone }}" };
	const run = await runWorkflow(workflow, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const claimed = run.nodeOutputs.Claim;
	const first = claimed[0];
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((one) => one.to)).toEqual([first.phone]);
	const sent = new Map(run.nodeOutputs.Send.map((item) => [item.item_id, item]));
	for (const other of claimed.slice(1)) {
		expect(sent.get(other.item_id)).toMatchObject({
			outcome: 'released',
			message_id: null,
			error: { code: 'phone_mismatch', message: expect.stringMatching(new RegExp(`^Not sent: the phone "\\${first.phone}" is not its lead's phone`)), permanent: false },
		});
	}
	// Complete records the first sent and gives the others back: queued again, untried.
	expect(run.nodeOutputs.Complete.map((item) => [item.item_id, item.accepted, item.status])).toEqual(claimed.map((item, index) => [item.item_id, true, index === 0 ? 'sent' : 'queued']));
	const rows = new Map((await messagesOf(owner)).map((row) => [row.id, row]));
	for (const other of claimed.slice(1)) expect(rows.get(String(other.item_id))).toMatchObject({ status: 'queued', attempts: 0, message_id: null });
	const statuses = await Promise.all(leads.map(async (lead) => [lead.phone, await leadStatus(lead.leadId)]));
	expect(statuses).toEqual(leads.map((lead) => [lead.phone, lead.phone === first.phone ? 'contacted' : 'queued']));
}, 90_000);

test('Send as an AI agent\'s tool on its own claim sends nothing to a phone the model gives that is not the lead\'s (phone_mismatch); Complete then gives it back, the lead not contacted', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(claimThenAgent(owner, sendArgs(`'${SOMEONE_ELSE}'`), SEND_TOOL), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	expect(claimed.phone).toBe(lead.phone);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	const answered = JSON.parse(String(run.nodeOutputs.Agent[0].answer)) as IDataObject[];
	expect(answered).toEqual([
		expect.objectContaining({ item_id: claimed.item_id, phone: SOMEONE_ELSE, outcome: 'released', message_id: null, error: expect.objectContaining({ code: 'phone_mismatch' }) }),
	]);
	// The workflow's Complete (or the agent's) records what Send answered: the message back in the queue.
	const completed = (await runQueue(answered.map((one) => ({ ...one })), { resource: 'message', operation: 'complete' })).outputs[0];
	expect(completed.map((one) => [one.accepted, one.status])).toEqual([[true, 'queued']]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id])).toEqual([['queued', null]]);
	expect(await leadStatus(lead.leadId)).toBe('queued');
}, 90_000);

test('Send as an AI agent\'s tool on its own claim, given the lead\'s phone, sends the model\'s text to the lead', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(claimThenAgent(owner, sendArgs('$json.phone'), SEND_TOOL), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect((await sims.graph.control.whatsappMessages()).map((one) => [one.to, one.text])).toEqual([[lead.phone, 'Written by the model: visit evil.example']]);
	const [answer] = JSON.parse(String(run.nodeOutputs.Agent[0].answer)) as IDataObject[];
	expect(answer).toMatchObject({ outcome: 'sent', message_id: expect.stringMatching(/^wamid\./) });
}, 90_000);

test('Complete as an AI agent\'s tool on its own claim refuses sent with a made-up message ID when no Send began it, naming Outcome and saying to use Send; nothing recorded', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const complete = { resource: 'message', operation: 'complete', itemId: fromAI('item_id'), worker: fromAI('worker'), outcome: fromAI('outcome'), messageId: fromAI('message_id') };
	const args = "={{ JSON.stringify({ item_id: $json.item_id, worker: $json.worker, outcome: 'sent', message_id: 'wamid.made-up-by-the-model' }) }}";
	const run = await runWorkflow(claimThenAgent(owner, args, complete), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	const [agent] = run.nodeOutputs.Agent;
	expect(agent.answer).toBeUndefined();
	expect(String(agent.thrown)).toMatch(new RegExp(`^Outcome "sent" is refused for queue item ${String(claimed.item_id)}: no Send of this run began sending it`));
	expect(String(agent.thrown)).toContain('use Send (Queue Ledger)');
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id])).toEqual([['claimed', null]]);
	expect(await leadStatus(lead.leadId)).toBe('queued');
}, 90_000);

// Review S10 (migration 20261201002630), mended by review R1 (20261201002690): as a tool, Complete
// takes failed with invalid_message for a message whose send never began only when the owner's
// message as stored ({{name}} filled) cannot be sent: then it ends dead, as a workflow's Complete
// records it. …2630 took it on the model's word: a model could end any claimed message dead, and its
// own too-long text (Send's Message filled by $fromAI) ended the owner's good message dead.
const completeTool = { resource: 'message', operation: 'complete', itemId: fromAI('item_id'), worker: fromAI('worker'), outcome: fromAI('outcome'), error: fromAI('error') };
const invalidMessageArgs =
	"={{ JSON.stringify({ item_id: $json.item_id, worker: $json.worker, outcome: 'failed', error: JSON.stringify({ code: 'invalid_message', message: 'The message text is over 4,096 characters', permanent: true }) }) }}";

test('Complete as an AI agent\'s tool on its own claim refuses failed invalid_message when no Send ran and the owner\'s message can be sent (send_not_begun): nothing recorded', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(claimThenAgent(owner, invalidMessageArgs, completeTool), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	const [agent] = run.nodeOutputs.Agent;
	expect(agent.answer).toBeUndefined();
	expect(String(agent.thrown)).toMatch(new RegExp(`^Outcome "failed" is refused for queue item ${String(claimed.item_id)}: no Send of this run began sending it`));
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.last_error])).toEqual([['claimed', null]]);
	expect(await leadStatus(lead.leadId)).toBe('queued');
}, 90_000);

test('Complete as an AI agent\'s tool on its own claim records failed invalid_message when the owner\'s message, the lead\'s name filled in, cannot be sent (over 4,096 characters): the message dead', async () => {
	// 4,088 characters and {{name}}: a setting the database takes, past 4,096 once this lead's name fills it.
	const owner = await queueOwner({ message: { type: 'text', text: `${'x'.repeat(4088)}{{name}}` } });
	const [lead] = await leadsOf(owner, 1, () => 'A lead with a rather long name');
	await prepareDue(owner);
	const run = await runWorkflow(claimThenAgent(owner, invalidMessageArgs, completeTool), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	const [agent] = run.nodeOutputs.Agent;
	expect(agent.thrown).toBeUndefined();
	expect(JSON.parse(String(agent.answer))).toEqual([expect.objectContaining({ item_id: claimed.item_id, accepted: true, status: 'dead' })]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => [row.status, (row.last_error as IDataObject | null)?.code])).toEqual([['dead', 'invalid_message']]);
	expect(await leadStatus(lead.leadId)).toBe('new');
}, 90_000);
