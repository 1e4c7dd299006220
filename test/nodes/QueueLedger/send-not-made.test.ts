// Task F1 (migration 20261201002770, review RM1 of 20261201002700):
// - A release of a message whose send began is taken only from the Send that let it go and did not
//   send it: Send takes its own mark back (queue_send_not_made) before it reports. Before, a
//   Complete of `released not_attempted` (an AI agent's, its error filled by $fromAI, or a workflow
//   node's own report) for a delivered message put it back in the queue, and the next run sent it
//   again: the lead got it twice. Send's own releases (a refused token) still give the messages back.
// - Send as an AI agent's tool whose Message is the workflow's (not $fromAI): a message it cannot
//   send is recorded dead by Send (invalid_message, its lead new again), as in a workflow. Before, the
//   advice said to correct user_queue_settings.message, Complete as a tool refused the failure
//   (send_not_begun), and the message came back every run with no attempt cap.
// Through n8n's engine against the local stack and the Graph simulator's WhatsApp Cloud API.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { TEST_AGENT_TYPE } from '../../harness/agent';
import { withDb } from '../../helpers/stack';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { PHONE_NUMBER_ID, TOKEN, whatsappSimulator } from './support/send';

const sims = whatsappSimulator();
const credentials = () => sims.credentials();
const nodeCredentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
const fromAI = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;
const SEND_TOOL = { resource: 'message', operation: 'send', itemId: fromAI('item_id'), worker: fromAI('worker'), phone: fromAI('phone'), message: fromAI('message') };
const COMPLETE_TOOL = { resource: 'message', operation: 'complete', itemId: fromAI('item_id'), worker: fromAI('worker'), outcome: fromAI('outcome'), messageId: fromAI('message_id'), error: fromAI('error') };
const CLAIMED = "$('Claim').first().json";
const NOT_ATTEMPTED = { code: 'not_attempted', message: 'Not sent: the execution was cancelled', permanent: false };

/** The model's Send of Claim's item, its own text. */
const send = `={{ JSON.stringify({ item_id: ${CLAIMED}.item_id, worker: ${CLAIMED}.worker, phone: ${CLAIMED}.phone, message: JSON.stringify({ type: 'text', text: 'Hi from the model' }) }) }}`;
/** The model's Send of Claim's item with Message set in the tool: only the item, worker and phone. */
const sendItem = `={{ JSON.stringify({ item_id: ${CLAIMED}.item_id, worker: ${CLAIMED}.worker, phone: ${CLAIMED}.phone }) }}`;
/** The model's Complete written by hand: released not_attempted for Claim's item. */
const notAttemptedReport = `={{ JSON.stringify({ item_id: ${CLAIMED}.item_id, worker: ${CLAIMED}.worker, outcome: 'released', message_id: '', error: JSON.stringify(${JSON.stringify(NOT_ATTEMPTED)}) }) }}`;
/** The model's Complete of what agent `name`'s Send answered. */
const reportOf = (name: string) =>
	`={{ (() => { const a = JSON.parse($('${name}').first().json.answer); const r = Array.isArray(a) ? a[0] : a; return JSON.stringify({ item_id: r.item_id, worker: r.worker, outcome: r.outcome, message_id: r.message_id ?? '', error: r.error ? JSON.stringify(r.error) : '' }); })() }}`;

/** Claim, then one test agent per step in turn, each with its one Queue Ledger tool, calling it once with the step's arguments. */
function claimThenAgents(owner: string, steps: Array<[name: string, args: string, tool: IDataObject]>): WorkflowJson {
	const nodes: IDataObject[] = [
		{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{ id: 'claim', name: 'Claim', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }, credentials: nodeCredentials },
	];
	const connections: IDataObject = { Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] } };
	let previous = 'Claim';
	steps.forEach(([name, args, tool], index) => {
		nodes.push({ id: name, name, type: TEST_AGENT_TYPE, typeVersion: 1, position: [400 + index * 200, 0], parameters: { args } });
		nodes.push({ id: `${name}-tool`, name: `${name} Tool`, type: 'n8n-nodes-leadflow.queueLedgerTool', typeVersion: 1, position: [400 + index * 200, 200], parameters: tool, credentials: nodeCredentials });
		connections[previous] = { main: [[{ node: name, type: 'main', index: 0 }]] };
		connections[`${name} Tool`] = { ai_tool: [[{ node: name, type: 'ai_tool', index: 0 }]] };
		previous = name;
	});
	return { name: 'Claim, then agents', nodes, connections, settings: { executionOrder: 'v1' } } as unknown as WorkflowJson;
}

const answerOf = (run: Awaited<ReturnType<typeof runWorkflow>>, name: string) => JSON.parse(String(run.nodeOutputs[name][0].answer)) as IDataObject[];
const sendMarks = (owner: string) =>
	withDb(async (db) => (await db.query<{ status: string; send_started_at: Date | null }>('select status, send_started_at from public.whatsapp_message_queue where user_id = $1', [owner])).rows);

test('as a tool: a delivered message the model reports released not_attempted is refused, not given back; the first send recorded; the next run sends nothing (the lead gets it once)', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['First', send, SEND_TOOL],
			['GiveBack', notAttemptedReport, COMPLETE_TOOL],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	expect(answerOf(run, 'First')).toEqual([expect.objectContaining({ item_id: claimed.item_id, outcome: 'sent' })]);
	// Before: accepted, queued again, the send's mark cleared.
	expect(run.nodeOutputs.GiveBack[0].answer).toBeUndefined();
	expect(String(run.nodeOutputs.GiveBack[0].thrown)).toMatch(
		new RegExp(`^Outcome "released" with error not_attempted is refused for queue item ${String(claimed.item_id)}: a Send of this run already began sending it`),
	);
	expect(await sendMarks(owner)).toEqual([{ status: 'claimed', send_started_at: expect.any(Date) }]);
	// Before: the next run claimed it again and sent it a second time.
	const next = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect(next.nodeOutputs.Claim ?? []).toEqual([]);
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to)).toEqual([lead.phone]);
}, 120_000);

test('a workflow: Complete given released not_attempted for messages Send delivered refuses it (already_sending), nothing given back; the next run sends nothing', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const leads = await leadsOf(owner, 2);
	await prepareDue(owner);
	const workflow = chainWorkflow(owner);
	// The workflow's own report instead of Send's: every message released not_attempted.
	workflow.nodes = workflow.nodes.map((node) =>
		node.name === 'Complete' ? { ...node, parameters: { ...node.parameters, outcome: 'released', messageId: '', error: JSON.stringify(NOT_ATTEMPTED) } } : node,
	);
	const run = await runWorkflow(workflow, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect((run.nodeOutputs.Send ?? []).map((one) => one.outcome)).toEqual(['sent', 'sent']);
	// Before: accepted, both queued again.
	expect((run.nodeOutputs.Complete ?? []).map((one) => [one.accepted, one.status, one.reason])).toEqual([
		[false, 'claimed', 'already_sending'],
		[false, 'claimed', 'already_sending'],
	]);
	const next = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect(next.nodeOutputs.Claim ?? []).toEqual([]);
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to).sort()).toEqual(leads.map((lead) => lead.phone).sort());
}, 120_000);

test("Send's own release of messages it let go and Meta refused (a refused token): Send takes its mark back, Complete gives them back (queued, the attempt given back), and the next run sends them", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: 'another-token' } });
	const run = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	// One group of three: each let go (queue_begin_send), each refused by Meta.
	expect((run.nodeOutputs.Send ?? []).map((one) => [one.outcome, (one.error as IDataObject).code])).toEqual(Array(3).fill(['released', 'invalid_token']));
	// With the database refusing every release of a begun message, Send's own must have cleared its marks.
	expect((run.nodeOutputs.Complete ?? []).map((one) => [one.accepted, one.status])).toEqual(Array(3).fill([true, 'queued']));
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual(Array(3).fill(['queued', 0]));
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
	const next = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect((next.nodeOutputs.Complete ?? []).map((one) => [one.accepted, one.status])).toEqual(Array(3).fill([true, 'sent']));
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to).sort()).toEqual(leads.map((lead) => lead.phone).sort());
}, 120_000);

test("as a tool whose Message is the workflow's: a message Send cannot send is recorded dead (invalid_message, its lead new again), with advice for the workflow, not the model; it does not come back", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	// The builder's Message in the tool: a text over 4,096 characters.
	const tool = { ...SEND_TOOL, message: `={{ JSON.stringify({ type: 'text', text: 'x'.repeat(5000) }) }}` };
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['Send', sendItem, tool],
			['Report', reportOf('Send'), COMPLETE_TOOL],
			['Send2', sendItem, tool],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	const [answer] = answerOf(run, 'Send');
	expect(answer).toMatchObject({ item_id: claimed.item_id, outcome: 'failed', error: { code: 'invalid_message', permanent: true } });
	const said = String((answer.error as IDataObject).message);
	const stored = "The message is a text of 5000 characters; WhatsApp takes at most 4096: it is the Message set in this tool (the workflow's, not filled by the model), or the owner's message setting (user_queue_settings.message) when the tool's Message reads the claimed message; correct it there";
	expect(said).toBe(`${stored}. Nothing was sent. Send recorded the message dead (invalid_message) and its lead is queued again with the next Prepare; there is nothing to report to Complete`);
	expect(said).not.toContain('call Send again');
	// Before: still claimed (Complete as a tool refused the failure, send_not_begun), handed out again after its lease, every run.
	// The operator reads what was wrong with the message, not the words for the model (task MF1: before, "…there is nothing to report to Complete" was stored).
	expect(await messagesOf(owner)).toEqual([expect.objectContaining({ status: 'dead', last_error: expect.objectContaining({ code: 'invalid_message', message: stored }) })]);
	const details = await withDb(async (db) => (await db.query<{ message: string }>("select detail ->> 'message' as message from public.queue_ledger where lead_id = $1 and reason = 'permanent_error'", [lead.leadId])).rows);
	expect(details.length).toBeGreaterThan(0);
	for (const detail of details) expect(detail.message).toBe(stored);
	// Send called again for the dead message: the same report, answered as recorded by the database.
	const [again] = answerOf(run, 'Send2');
	expect(String((again.error as IDataObject).message)).toBe(said);
	expect(await leadStatus(lead.leadId)).toBe('new');
	// The model's report of Send's answer (made after Send recorded it) changes nothing; nothing was sent.
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
}, 120_000);

test("as a tool whose Phone is the workflow's and not E.164: the message is recorded dead with the operator's words (the phone not repeated), the model told so; it does not come back", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const tool = { ...SEND_TOOL, phone: "={{ '0412 345 678' }}", message: `={{ JSON.stringify({ type: 'text', text: 'Hi' }) }}` };
	const run = await runWorkflow(claimThenAgents(owner, [['Send', sendItem, tool]]), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [answer] = answerOf(run, 'Send');
	expect(answer).toMatchObject({ outcome: 'failed', error: { code: 'invalid_message', permanent: true } });
	const said = String((answer.error as IDataObject).message);
	expect(said).toMatch(/^The Phone set in this tool \(the workflow's, not filled by the model\) did not give a number in E\.164/);
	expect(said).toMatch(/Send recorded the message dead \(invalid_message\)/);
	// Before: failed invalid_message, nothing recorded: still claimed, handed out again after its lease, every run.
	const [message] = await messagesOf(owner);
	expect(message).toMatchObject({ status: 'dead', last_error: expect.objectContaining({ code: 'invalid_message' }) });
	expect(String(message.last_error?.message)).not.toContain('0412');
	expect(String(message.last_error?.message)).not.toContain('Nothing was sent');
	expect(await leadStatus(lead.leadId)).toBe('new');
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
}, 120_000);

test("as a tool whose Message is the workflow's: when its record as dead is refused (the message no longer held), Send says so, never that it was recorded dead", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	await leadsOf(owner, 1);
	await prepareDue(owner);
	const tool = { ...SEND_TOOL, message: `={{ JSON.stringify({ type: 'text', text: 'x'.repeat(5000) }) }}` };
	// The model gives the message back first, then calls Send for it.
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['Release', notAttemptedReport, COMPLETE_TOOL],
			['Send', sendItem, tool],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const said = String((answerOf(run, 'Send')[0].error as IDataObject).message);
	// Before: "The message was recorded dead (invalid_message) …", though the database refused it.
	expect(said).not.toContain('recorded the message dead');
	expect(said).toMatch(/Nothing was sent\. Send's record of it as dead was refused \(not_held; the message is queued\); there is nothing to report to Complete$/);
	expect(await messagesOf(owner)).toEqual([expect.objectContaining({ status: 'queued' })]);
}, 120_000);
