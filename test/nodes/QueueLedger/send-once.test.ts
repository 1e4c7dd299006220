// Review S6: a claimed WhatsApp message goes out once (migration 20261201002600). Through n8n's engine
// against the local stack and the Graph simulator's WhatsApp Cloud API.
// - Claim merged with itself (every claimed item twice in Send's input; a retried node is the same):
//   each lead gets one message, the repeats are failed items (already_sending) Complete passes on,
//   and Complete records every lead contacted. Before, each lead got two messages, Complete refused
//   the whole batch (item listed twice), nothing was recorded and the messages ended dead, uncertain.
// - An AI agent calling Send twice for the same claimed message: the second call sends nothing and
//   says why (already_sending). Before, the lead got two messages.
// - Complete handed the same report twice (Send's output merged with itself): recorded once, each
//   answered. Before, the database refused the batch (item listed twice) and nothing was recorded.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { TEST_AGENT_TYPE } from '../../harness/agent';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { whatsappSimulator } from './support/send';
import { withDb } from '../../helpers/stack';

const sims = whatsappSimulator();
const credentials = () => sims.credentials();
const nodeCredentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
const fromAI = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;
const step = (id: string, name: string, x: number, parameters: IDataObject) => ({
	id,
	name,
	type: 'n8n-nodes-leadflow.queueLedger',
	typeVersion: 1,
	position: [x, 0],
	parameters,
	credentials: nodeCredentials,
});

/** Claim → Merge (Claim into both inputs: every item twice) → Send → Complete (none when `complete` is false: the messages stay claimed, their leases as Send left them). */
function mergedTwice(owner: string, concurrency: number, sendOptions: IDataObject = {}, complete = true): WorkflowJson {
	return {
		name: 'Claim merged with itself',
		nodes: [
			{ id: 's', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			step('c', 'Claim', 200, { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }),
			{ id: 'm', name: 'Merge', type: 'n8n-nodes-base.merge', typeVersion: 3, position: [400, 0], parameters: {} },
			step('se', 'Send', 600, { resource: 'message', operation: 'send', options: { concurrency, ...sendOptions } }),
			...(complete ? [step('co', 'Complete', 800, { resource: 'message', operation: 'complete' })] : []),
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Merge', type: 'main', index: 0 }, { node: 'Merge', type: 'main', index: 1 }]] },
			Merge: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			...(complete && { Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] } }),
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}

/** Claim → Send → Merge (Send into both inputs: every report twice) → Complete. */
function reportsTwice(owner: string): WorkflowJson {
	return {
		name: 'Send merged with itself',
		nodes: [
			{ id: 's', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			step('c', 'Claim', 200, { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }),
			step('se', 'Send', 400, { resource: 'message', operation: 'send' }),
			{ id: 'm', name: 'Merge', type: 'n8n-nodes-base.merge', typeVersion: 3, position: [600, 0], parameters: {} },
			step('co', 'Complete', 800, { resource: 'message', operation: 'complete' }),
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Merge', type: 'main', index: 0 }, { node: 'Merge', type: 'main', index: 1 }]] },
			Merge: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}

// Parallel Sends 10: both occurrences in one queue_begin_send; 1: the repeat in a later group.
for (const concurrency of [10, 1]) {
	it(`Claim merged with itself (every item twice), Parallel Sends ${concurrency}: one message per lead, the repeats passed on as already_sending, every lead recorded contacted`, async () => {
		const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
		const leads = await leadsOf(owner, 2);
		expect((await prepareDue(owner)).queued).toBe(2);
		const run = await runWorkflow(mergedTwice(owner, concurrency), { credentials: credentials() });
		expect(run.error).toBeUndefined();
		expect(run.nodeOutputs.Merge).toHaveLength(4);
		const delivered = await sims.graph.control.whatsappMessages();
		expect(delivered.map((message) => message.to).sort()).toEqual(leads.map((lead) => lead.phone).sort());
		const ids = (run.nodeOutputs.Claim ?? []).map((item) => String(item.item_id));
		expect(run.nodeOutputs.Send?.map((item) => (item.outcome ?? (item.error as IDataObject).code) as string)).toEqual(['sent', 'sent', 'already_sending', 'already_sending']);
		expect(run.nodeOutputs.Send?.slice(2).map((item) => [item.item_id, (item.error as IDataObject).item_id])).toEqual(ids.map((id) => [undefined, id]));
		expect(run.nodeOutputs.Complete?.filter((item) => item.accepted === true).map((item) => [item.item_id, item.status])).toEqual(ids.map((id) => [id, 'sent']));
		expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['sent', 'sent']);
		expect(await Promise.all(leads.map((lead) => leadStatus(lead.leadId)))).toEqual(['contacted', 'contacted']);
	}, 120_000);
}

it('Complete handed every report twice (Send merged with itself): each message recorded once, every item answered', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 2);
	expect((await prepareDue(owner)).queued).toBe(2);
	const run = await runWorkflow(reportsTwice(owner), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(2);
	const ids = (run.nodeOutputs.Claim ?? []).map((item) => String(item.item_id));
	expect(run.nodeOutputs.Complete?.map((item) => [item.item_id, item.accepted, item.status, item.item_index])).toEqual([
		[ids[0], true, 'sent', 0],
		[ids[0], true, 'sent', 2],
		[ids[1], true, 'sent', 1],
		[ids[1], true, 'sent', 3],
	]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['sent', 'sent']);
	expect(await Promise.all(leads.map((lead) => leadStatus(lead.leadId)))).toEqual(['contacted', 'contacted']);
}, 120_000);

it('an AI agent calling Send twice for the same claimed message: sent once, the second call sends nothing and says already_sending', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const SEND_TOOL = { resource: 'message', operation: 'send', itemId: fromAI('item_id'), worker: fromAI('worker'), phone: fromAI('phone'), message: fromAI('message') };
	const args = `={{ JSON.stringify({ item_id: $('Claim').first().json.item_id, worker: $('Claim').first().json.worker, phone: $('Claim').first().json.phone, message: JSON.stringify({ type: 'text', text: 'Hello from the model' }) }) }}`;
	const workflow = {
		name: 'Claim, then the agent calls Send twice',
		nodes: [
			{ id: 's', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			step('c', 'Claim', 200, { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }),
			{ id: 'a1', name: 'Agent', type: TEST_AGENT_TYPE, typeVersion: 1, position: [400, 0], parameters: { args } },
			{ id: 't1', name: 'Send Tool', type: 'n8n-nodes-leadflow.queueLedgerTool', typeVersion: 1, position: [400, 200], parameters: SEND_TOOL, credentials: nodeCredentials },
			{ id: 'a2', name: 'Agent Again', type: TEST_AGENT_TYPE, typeVersion: 1, position: [600, 0], parameters: { args } },
			{ id: 't2', name: 'Send Tool 2', type: 'n8n-nodes-leadflow.queueLedgerTool', typeVersion: 1, position: [600, 200], parameters: SEND_TOOL, credentials: nodeCredentials },
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Agent', type: 'main', index: 0 }]] },
			Agent: { main: [[{ node: 'Agent Again', type: 'main', index: 0 }]] },
			'Send Tool': { ai_tool: [[{ node: 'Agent', type: 'ai_tool', index: 0 }]] },
			'Send Tool 2': { ai_tool: [[{ node: 'Agent Again', type: 'ai_tool', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
	const run = await runWorkflow(workflow, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((message) => message.to)).toEqual([lead.phone]);
	expect(String(run.nodeOutputs.Agent?.[0]?.answer)).toContain('"outcome":"sent"');
	const second = String(run.nodeOutputs['Agent Again']?.[0]?.answer ?? run.nodeOutputs['Agent Again']?.[0]?.thrown);
	expect(second).toContain('already_sending');
	expect(second).not.toContain('"outcome":"sent"');
	// Still claimed by this run, its send begun: Complete records the one message sent.
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual([['claimed', 1]]);
}, 120_000);

// Review S10: Send left a message out of the renewals when the same group asked about it again (a
// repeat, refused already_sending, which renews nothing), and still counted the renewal as done, so
// with a slow group (Meta near the Timeout) that message's lease could end before Complete reported
// it: the next Claim then ends a message Meta accepted dead, uncertain. Lease 31 s with a Timeout of
// 1 s renews at every group; items A, B, A, B one per group: the last group asks about B again, and
// its call must still renew B with A (both leases then end at the same instant, that call's).
// Before, B's lease stayed at the third group's call, older than A's. (Since task C1 the repeats are
// answered by Send itself, so the last two groups make no call: both leases are the second group's.)
it('a repeated message asked again in a later group is renewed with the others: every begun message\'s lease is the last call\'s', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	expect((await prepareDue(owner)).queued).toBe(2);
	const run = await runWorkflow(mergedTwice(owner, 1, { leaseSeconds: 31, timeoutMs: 1000 }, false), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect(run.nodeOutputs.Send?.map((item) => (item.outcome ?? (item.error as IDataObject).code) as string)).toEqual(['sent', 'sent', 'already_sending', 'already_sending']);
	const leases = await withDb(async (db) => (await db.query<{ id: string; status: string; lease: string }>(
		"select id, status, to_char(lease_expires_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as lease from public.whatsapp_message_queue where user_id = $1 order by id",
		[owner],
	)).rows);
	expect(leases.map((row) => row.status)).toEqual(['claimed', 'claimed']);
	expect(leases[0].lease).toBe(leases[1].lease);
}, 120_000);

// Task C1 2 (noticed in F1/MF1): Send checked whether the batch had stopped (a refused token, a rate
// limit, Stop) before the database's refusals, and a repeat in a later group was never asked about
// once it had: the same message came out once with its own report and once released not_attempted.
// Complete (or Send itself, on Stop) then handed the database two different reports of one item, and
// queue_complete refused the whole batch: nothing recorded, the sent message left claimed until its
// lease ran out, then dead, uncertain. Now a message listed again in Send's input (same worker) is
// answered already_sending by Send itself, whatever became of its first occurrence, and never asked
// about or sent: one report per message.
it('every item twice, Parallel Sends 1, the first send refused 130429 (the batch stops): the repeats are already_sending, Complete records each message once', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	expect((await prepareDue(owner)).queued).toBe(2);
	await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 130429 } });
	const run = await runWorkflow(mergedTwice(owner, 1), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const ids = (run.nodeOutputs.Claim ?? []).map((item) => String(item.item_id));
	expect(run.nodeOutputs.Send?.map((item) => [item.item_id ?? (item.error as IDataObject).item_id, item.outcome ?? null, (item.error as IDataObject).code])).toEqual([
		[ids[0], 'failed', '130429'],
		[ids[1], 'released', 'not_attempted'],
		[ids[0], null, 'already_sending'],
		[ids[1], null, 'already_sending'],
	]);
	expect(run.nodeOutputs.Complete?.filter((item) => item.item_id).map((item) => [item.item_id, item.accepted, item.status])).toEqual([
		[ids[0], true, 'failed'],
		[ids[1], true, 'queued'],
	]);
	expect((await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(1);
	expect(new Map((await messagesOf(owner)).map((row) => [row.id, [row.status, row.attempts]]))).toEqual(
		new Map([
			[ids[0], ['failed', 1]],
			[ids[1], ['queued', 0]],
		]),
	);
}, 120_000);

it('every item twice, Parallel Sends 1, Stop once the first message was answered: Send records each message once itself, the delivered one sent, nothing left claimed', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	expect((await prepareDue(owner)).queued).toBe(2);
	await sims.graph.control.setLatency(1_000, '/messages');
	const stop = new AbortController();
	const running = runWorkflow(mergedTwice(owner, 1), { credentials: credentials(), cancel: stop.signal });
	await sims.graph.control.waitForRequests((requests) => requests.some((one) => one.path.endsWith('/messages') && one.outcome === 'answered'), { timeoutMs: 30_000 });
	stop.abort();
	const run = await running;
	expect(run.executedNodes).not.toContain('Complete');
	const claimed = run.nodeOutputs.Claim ?? [];
	const ids = claimed.map((item) => String(item.item_id));
	// Recorded by Send itself: the first sent (its wamid); the second sent, uncertain (the Stop cut its
	// request short) or back in the queue (never begun); none left claimed to end dead at its lease.
	const delivered = await sims.graph.control.whatsappMessages();
	const wamidOf = new Map(delivered.map((one) => [one.to, one.messageId]));
	const rows = new Map((await messagesOf(owner)).map((row) => [row.id, row]));
	expect(rows.get(ids[0])).toMatchObject({ status: 'sent', message_id: wamidOf.get(String(claimed[0].phone)) });
	expect(await leadStatus(String(claimed[0].lead_id))).toBe('contacted');
	const second = rows.get(ids[1]);
	if (wamidOf.has(String(claimed[1].phone))) expect(second).toMatchObject({ status: 'sent', message_id: wamidOf.get(String(claimed[1].phone)) });
	else expect(['dead', 'queued']).toContain(second?.status);
	expect([...rows.values()].filter((row) => row.status === 'claimed')).toEqual([]);
	// The repeats: nothing sent, no report of their own.
	const send = run.nodeOutputs.Send ?? [];
	expect(send.slice(2).map((item) => [item.item_id, (item.error as IDataObject).item_id, (item.error as IDataObject).code])).toEqual(ids.map((id) => [undefined, id, 'already_sending']));
}, 120_000);
