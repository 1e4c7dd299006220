// Review R1 (migration 20261201002690): on the agent path (Claim → agents with Send and Complete as
// tools, Phone and Message filled by $fromAI), a message whose send began is never sent twice nor
// ended dead by a second Send, and a model's own bad text is the model's to correct.
// - A second Send with another phone was answered phone_mismatch with the item id (…2600 tested
//   phone_mismatch before already_sending); Complete released it (its send's mark cleared) and the
//   next run sent it again: the lead got it twice. Now Send answers already_sending, and Complete
//   refuses a phone_mismatch release of a message whose send began (nothing written).
// - A second Send with a text over 4,096 characters failed invalid_message; Complete recorded the
//   delivered message dead, its lead new again. Now refused the same way.
// - The model's own too-long text: Send said to correct the owner's setting (user_queue_settings),
//   and Complete as a tool recorded the owner's good message dead (…2630), so the model's corrected
//   Send was refused. Now Send tells the model to shorten its text and call Send again, Complete
//   refuses that failure (send_not_begun), and the corrected Send goes out.
// Through n8n's engine against the local stack and the Graph simulator's WhatsApp Cloud API.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { TEST_AGENT_TYPE } from '../../harness/agent';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { whatsappSimulator } from './support/send';

/** Someone who is not the claimed lead. */
const SOMEONE_ELSE = '+447700900123';

const sims = whatsappSimulator();

const credentials = () => sims.credentials();
const nodeCredentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
const fromAI = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;
const SEND_TOOL = { resource: 'message', operation: 'send', itemId: fromAI('item_id'), worker: fromAI('worker'), phone: fromAI('phone'), message: fromAI('message') };
const COMPLETE_TOOL = { resource: 'message', operation: 'complete', itemId: fromAI('item_id'), worker: fromAI('worker'), outcome: fromAI('outcome'), messageId: fromAI('message_id'), error: fromAI('error') };
const CLAIMED = "$('Claim').first().json";

/** The model's Send: Claim's item and worker, `phone` and `text` (expressions' texts). */
const send = (phone: string, text: string) =>
	`={{ JSON.stringify({ item_id: ${CLAIMED}.item_id, worker: ${CLAIMED}.worker, phone: ${phone}, message: JSON.stringify({ type: 'text', text: ${text} }) }) }}`;
/** The model's Complete of what agent `name`'s Send answered. */
const reportOf = (name: string) =>
	`={{ (() => { const a = JSON.parse($('${name}').first().json.answer); const r = Array.isArray(a) ? a[0] : a; return JSON.stringify({ item_id: r.item_id, worker: r.worker, outcome: r.outcome, message_id: r.message_id ?? '', error: r.error ? JSON.stringify(r.error) : '' }); })() }}`;
/** The model's Complete written by hand: a phone_mismatch release of Claim's item. */
const mismatchReport = `={{ JSON.stringify({ item_id: ${CLAIMED}.item_id, worker: ${CLAIMED}.worker, outcome: 'released', message_id: '', error: JSON.stringify({ code: 'phone_mismatch', message: 'Not sent: the phone is not its lead\\'s phone' }) }) }}`;

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

test('a delivered message sent again by the model with another phone: already_sending, a phone_mismatch report of it refused, the first send recorded; the next run sends nothing (the lead gets it once)', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['First', send(`${CLAIMED}.phone`, "'Hi from the model'"), SEND_TOOL],
			['Again', send(`'${SOMEONE_ELSE}'`, "'Hi from the model'"), SEND_TOOL],
			['Mismatch', mismatchReport, COMPLETE_TOOL],
			['Record', reportOf('First'), COMPLETE_TOOL],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	expect(answerOf(run, 'First')).toEqual([expect.objectContaining({ item_id: claimed.item_id, outcome: 'sent' })]);
	// The second Send: a repeat, no item_id to report (before: released phone_mismatch with the item id).
	const [again] = answerOf(run, 'Again');
	expect(again.item_id).toBeUndefined();
	expect(again.error).toMatchObject({ code: 'already_sending', item_id: claimed.item_id });
	// A phone_mismatch report of it anyway (before: accepted, the message back in the queue).
	expect(run.nodeOutputs.Mismatch[0].answer).toBeUndefined();
	expect(String(run.nodeOutputs.Mismatch[0].thrown)).toMatch(new RegExp(`^Outcome "released" with error phone_mismatch is refused for queue item ${String(claimed.item_id)}: a Send of this run already began sending it`));
	expect(answerOf(run, 'Record')).toEqual([expect.objectContaining({ item_id: claimed.item_id, accepted: true, status: 'sent' })]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
	const next = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to)).toEqual([lead.phone]);
}, 120_000);

test('a delivered message sent again by the model with a too-long text: the invalid_message report of it refused (not dead), the first send recorded, the lead contacted', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['First', send(`${CLAIMED}.phone`, "'Hi from the model'"), SEND_TOOL],
			['Again', send(`${CLAIMED}.phone`, "'y'.repeat(5000)"), SEND_TOOL],
			['Report', reportOf('Again'), COMPLETE_TOOL],
			['Record', reportOf('First'), COMPLETE_TOOL],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	expect(answerOf(run, 'Again')).toEqual([expect.objectContaining({ item_id: claimed.item_id, outcome: 'failed', error: expect.objectContaining({ code: 'invalid_message' }) })]);
	// Before: accepted, the delivered message dead and its lead new again.
	expect(String(run.nodeOutputs.Report[0].thrown)).toMatch(/^Outcome "failed" with error invalid_message is refused .*: a Send of this run already began sending it/);
	expect(answerOf(run, 'Record')).toEqual([expect.objectContaining({ accepted: true, status: 'sent' })]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['sent']);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(1);
}, 120_000);

test('the model\'s own too-long text: Send tells the model to shorten it and call Send again (not to correct the owner\'s setting), Complete refuses the failure (send_not_begun), the corrected Send goes out', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['Long', send(`${CLAIMED}.phone`, "'x'.repeat(5000)"), SEND_TOOL],
			['Report', reportOf('Long'), COMPLETE_TOOL],
			['Shorter', send(`${CLAIMED}.phone`, "'Hi, a short text'"), SEND_TOOL],
			['Record', reportOf('Shorter'), COMPLETE_TOOL],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const [long] = answerOf(run, 'Long');
	expect(long).toMatchObject({ outcome: 'failed', error: { code: 'invalid_message' } });
	const said = String((long.error as IDataObject).message);
	expect(said).toMatch(/^The message is a text of 5000 characters; WhatsApp takes at most 4096: it is the message you gave as message, not the owner's setting\. .*call Send again with it/);
	expect(said).not.toContain('user_queue_settings');
	// Before: accepted, the owner's good message dead, and the corrected Send refused already_completed.
	expect(String(run.nodeOutputs.Report[0].thrown)).toMatch(/^Outcome "failed" is refused for queue item .*: no Send of this run began sending it/);
	expect(answerOf(run, 'Shorter')).toEqual([expect.objectContaining({ outcome: 'sent' })]);
	expect(answerOf(run, 'Record')).toEqual([expect.objectContaining({ accepted: true, status: 'sent' })]);
	expect((await sims.graph.control.whatsappMessages()).map((one) => [one.to, one.text])).toEqual([[lead.phone, 'Hi, a short text']]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
}, 120_000);

/** The model's Complete written by hand: a release of Claim's item without an error (giving it back untried). */
const releaseReport = `={{ JSON.stringify({ item_id: ${CLAIMED}.item_id, worker: ${CLAIMED}.worker, outcome: 'released', message_id: '', error: '' }) }}`;

test('a delivered message the model then reports released (no error code): refused, the message not given back; the first send recorded; the next run sends nothing (migration 20261201002700)', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(
		claimThenAgents(owner, [
			['First', send(`${CLAIMED}.phone`, "'Hi from the model'"), SEND_TOOL],
			['GiveBack', releaseReport, COMPLETE_TOOL],
			['Record', reportOf('First'), COMPLETE_TOOL],
		]),
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	expect(answerOf(run, 'First')).toEqual([expect.objectContaining({ item_id: claimed.item_id, outcome: 'sent' })]);
	// Before: accepted (queued again, its send's mark cleared): the next run sent it again.
	expect(run.nodeOutputs.GiveBack[0].answer).toBeUndefined();
	expect(String(run.nodeOutputs.GiveBack[0].thrown)).toMatch(
		new RegExp(`^Outcome "released" is refused for queue item ${String(claimed.item_id)}: a Send of this run already began sending it`),
	);
	expect(String(run.nodeOutputs.GiveBack[0].thrown)).not.toContain('with error');
	expect(answerOf(run, 'Record')).toEqual([expect.objectContaining({ item_id: claimed.item_id, accepted: true, status: 'sent' })]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
	const next = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to)).toEqual([lead.phone]);
}, 120_000);

/** The model's Complete of agent `name`'s Send answer already_sending (no item_id of its own: the error's), with `outcome`. */
const repeatReport = (name: string, outcome: 'failed' | 'released') =>
	`={{ (() => { const e = JSON.parse($('${name}').first().json.answer)[0].error; return JSON.stringify({ item_id: e.item_id, worker: e.worker, outcome: '${outcome}', message_id: '', error: JSON.stringify({ code: e.code, message: e.message }) }); })() }}`;

test('a second Send\'s already_sending passed on to Complete as failed or released: refused, with the advice to report the first Send\'s outcome; the first send recorded; the next runs send nothing (migration 20261201002720)', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}, from the owner' }, retry_backoff_seconds: 60 });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const workflow = claimThenAgents(owner, [
		['First', send(`${CLAIMED}.phone`, "'Hi from the model'"), SEND_TOOL],
		['Again', send(`${CLAIMED}.phone`, "'Hi from the model'"), SEND_TOOL],
		['AsFailed', repeatReport('Again', 'failed'), COMPLETE_TOOL],
		['AsReleased', repeatReport('Again', 'released'), COMPLETE_TOOL],
		['Record', reportOf('First'), COMPLETE_TOOL],
	]);
	// The two Complete tools fail as items (Continue On Fail), so the answer carries the advice the model reads.
	workflow.nodes = workflow.nodes.map((node) => (['AsFailed Tool', 'AsReleased Tool'].includes(String(node.name)) ? { ...node, onError: 'continueRegularOutput' } : node));
	const run = await runWorkflow(workflow, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeOutputs.Claim;
	expect(answerOf(run, 'Again')).toEqual([{ error: expect.objectContaining({ code: 'already_sending', item_id: claimed.item_id }) }]);
	// Before: failed already_sending was accepted (the delivered message due again after the backoff),
	// and released already_sending got the advice for a give-back, not the second Send's.
	for (const [name, outcome] of [['AsFailed', 'failed'], ['AsReleased', 'released']]) {
		expect(answerOf(run, name)).toEqual([
			{
				error: expect.objectContaining({
					message: expect.stringMatching(new RegExp(`^Outcome "${outcome}" with error already_sending is refused for queue item ${String(claimed.item_id)}: a Send of this run already began sending it`)),
					description: expect.stringMatching(/^That error came from calling Send again for a message whose send had already begun: .*Report the outcome the first Send answered for it/),
				}),
			},
		]);
	}
	expect(answerOf(run, 'Record')).toEqual([expect.objectContaining({ item_id: claimed.item_id, accepted: true, status: 'sent' })]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
	const next = await runWorkflow(chainWorkflow(owner), { credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to)).toEqual([lead.phone]);
}, 120_000);
