// The send path never sends a message twice and records what it sent, against the local stack and
// the Graph simulator's WhatsApp Cloud API (made slow through its latency):
// - Claim's Worker Name is a prefix: the execution id and an instance suffix are always added, so a
//   second run that claims a message again after the first one's lease ran out (the same workflow,
//   the same option) holds it under another name, and the first run's Send is refused (not_held).
// - Send's lease is never shorter than its Timeout plus 30 s: a message stays held while Meta takes
//   longer than the Lease (Seconds) option to answer, so another run's Claim meanwhile does not end
//   it dead, uncertain, and Complete records it sent.
// - A cancelled execution (Stop, the workflow's timeout) runs no node after Send: Send records every
//   message itself before it returns (sent with its wamid, the rest back in the queue), and Complete
//   run after it all the same records nothing twice.
//
// Time: the node judges at the real clock; the waits are the simulator's latency and one lease of
// 10 s running out, never the date or the time zone.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { withDb } from '../../helpers/stack';
import { chainWorkflow, ledgerOf, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue } from './support/queue';
import { whatsappSimulator } from './support/send';

const sims = whatsappSimulator();
const credentials = () => sims.credentials();

test('two runs with the same Worker Name never hold a message under one name: the run whose lease ran out sends nothing, the message goes out once and is recorded with its wamid', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const claim = { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner };

	// Run A claims with a fixed name and a 10 s lease, and is slow to reach its Send.
	const a = (await runQueue([{}], { ...claim, options: { worker: 'whatsapp-sender', leaseSeconds: 10 } })).outputs[0];
	expect(a.map((one) => one.attempt)).toEqual([1]);
	await new Promise((resolve) => setTimeout(resolve, 11_000));
	// Run B, the same workflow with the same name, claims it again: A's send never began.
	const b = (await runQueue([{}], { ...claim, options: { worker: 'whatsapp-sender', leaseSeconds: 300 } })).outputs[0];
	expect(b.map((one) => one.attempt)).toEqual([2]);

	// Both reach their Send at once: only B's goes out.
	const [sendA, sendB] = await Promise.all([
		runQueue(a, { resource: 'message', operation: 'send' }, credentials()),
		runQueue(b, { resource: 'message', operation: 'send' }, credentials()),
	]);
	expect(sendA.outputs[0].map((one) => [one.outcome, (one.error as IDataObject | null)?.code])).toEqual([['released', 'not_held']]);
	expect(sendB.outputs[0].map((one) => one.outcome)).toEqual(['sent']);
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((one) => one.to)).toEqual([lead.phone]);

	const completeA = await runQueue(sendA.outputs[0], { resource: 'message', operation: 'complete' });
	expect(completeA.outputs[0].map((one) => [one.accepted, one.reason])).toEqual([[false, 'not_held']]);
	const completeB = await runQueue(sendB.outputs[0], { resource: 'message', operation: 'complete' });
	expect(completeB.outputs[0].map((one) => [one.accepted, one.status])).toEqual([[true, 'sent']]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts, row.message_id])).toEqual([['sent', 2, delivered[0].messageId]]);
	// Each run's name: the option, the execution id and a hash of the n8n instance id.
	for (const one of [...a, ...b]) expect(one.worker).toMatch(/^whatsapp-sender-\d+-[0-9a-f]{12}$/);
	expect(a[0].worker).not.toBe(b[0].worker);
}, 60_000);

test('a Lease (Seconds) shorter than Meta takes to answer: the message stays held for its whole send; another run\'s Claim takes nothing, and Complete records it sent', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const claimed = (await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { leaseSeconds: 300 } })).outputs[0];
	expect(claimed).toHaveLength(1);

	// Lease 5 s (the option's least), Timeout 10 s; Meta answers in 6 s.
	await sims.graph.control.setLatency(6_000, '/messages');
	const send = await runQueue(claimed, { resource: 'message', operation: 'send', options: { leaseSeconds: 5, timeoutMs: 10_000 } }, credentials());
	expect(send.outputs[0].map((one) => one.outcome)).toEqual(['sent']);
	// The next run's Claim, now (more than 5 s after the send began): nothing to take, nothing ended.
	const other = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner });
	expect(other.outputs[0]).toEqual([]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.last_error])).toEqual([['claimed', null]]);

	// Held for the Timeout and the margin from just before the send: 40 s.
	const [held] = await withDb(
		async (db) =>
			(await db.query<{ seconds: number }>('select extract(epoch from lease_expires_at - send_started_at)::float8 as seconds from public.whatsapp_message_queue where user_id = $1', [owner]))
				.rows,
	);
	expect(held.seconds).toBeGreaterThanOrEqual(40);

	const completed = await runQueue(send.outputs[0], { resource: 'message', operation: 'complete' });
	expect(completed.outputs[0].map((one) => [one.accepted, one.status, one.reason])).toEqual([[true, 'sent', null]]);
	const delivered = await sims.graph.control.whatsappMessages();
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id])).toEqual([['sent', delivered[0].messageId]]);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
}, 60_000);

test('an execution cancelled mid-batch: Send records what it sent (sent, with the wamid) and gives back what it did not; Complete after it records nothing twice', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const leads = await leadsOf(owner, 6);
	await prepareDue(owner);
	// Two at a time, each answered after a second: three groups; Stop once the first group is answered.
	await sims.graph.control.setLatency(1_000, '/messages');
	const stop = new AbortController();
	const run = runWorkflow(chainWorkflow(owner, { send: { concurrency: 2 } }), { credentials: credentials(), cancel: stop.signal });
	await sims.graph.control.waitForRequests((requests) => requests.filter((one) => one.path.endsWith('/messages') && one.outcome === 'answered').length >= 2, { timeoutMs: 30_000 });
	stop.abort();
	const result = await run;
	expect(result.executedNodes).not.toContain('Complete');

	// Meta accepted the first group. A send the Stop cut short (n8n aborts the requests in flight) may
	// have reached Meta: dead, uncertain, its lead left queued for the owner, as for any send without
	// an answer. The last group never began: back in the queue, due again, the attempt given back.
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.length).toBeGreaterThanOrEqual(2);
	const wamidOf = new Map(delivered.map((one) => [one.to, one.messageId]));
	const rows = new Map((await messagesOf(owner)).map((row) => [row.lead_id, row]));
	const seen = { sent: 0, uncertain: 0, queued: 0 };
	for (const lead of leads) {
		const row = rows.get(lead.leadId);
		const state = [row?.status, row?.attempts, row?.message_id, row?.last_error?.code ?? null, row?.status === 'queued' ? row.lease_holder : 'held', await leadStatus(lead.leadId)];
		if (wamidOf.has(lead.phone)) {
			expect(state).toEqual(['sent', 1, wamidOf.get(lead.phone), null, 'held', 'contacted']);
			seen.sent++;
		} else if (row?.status === 'dead') {
			expect(state).toEqual(['dead', 1, null, 'uncertain', 'held', 'queued']);
			seen.uncertain++;
		} else {
			expect(state).toEqual(['queued', 0, null, null, null, 'queued']);
			seen.queued++;
		}
	}
	expect(seen.sent).toBe(delivered.length);
	expect(seen.queued).toBeGreaterThanOrEqual(2);
	// Nothing is left claimed for its lease to run out.
	expect([...rows.values()].filter((row) => row.status === 'claimed')).toEqual([]);

	// Complete run with Send's items all the same: each report answered as recorded, nothing written.
	const sent = result.nodeBranches.Send?.[0] ?? [];
	expect(sent).toHaveLength(6);
	const ledger = await ledgerOf(owner);
	const completed = await runQueue(sent, { resource: 'message', operation: 'complete' });
	expect(completed.outputs[0].map((one) => one.accepted)).toEqual(sent.map(() => true));
	expect(await ledgerOf(owner)).toEqual(ledger);
	expect((await sims.graph.control.whatsappMessages()).length).toBe(delivered.length);
}, 60_000);
