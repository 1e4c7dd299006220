// Migration 20261201002810 (task MF1, review RF1 of 20261201002770): queue_begin_send saved by the
// database, its answer lost on the way back (a reset connection, a gateway's 502). Before, Send
// reported the group `released not_checked` without taking back the marks the lost call had set,
// Complete's releases were refused (already_sending), and the messages ended dead `uncertain` at
// their lease's end though nothing had been sent (their leads left `queued`, their backlog items dead).
// Now Send repeats the call with its own key (the repeat answers send again for what that key began)
// and, if it still fails, takes back that call's marks by the key before it reports.
// Through n8n's engine against the local stack (behind a proxy that loses answers) and the Graph
// simulator's WhatsApp Cloud API.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { withDb } from '../../helpers/stack';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { gatewayProxy, outcomes, whatsappSimulator } from './support/send';

/** How many of the next queue_begin_send answers the proxy loses after the database answered, and how. */
let lose = { count: 0, as: 'reset' as 'reset' | 'gateway' };
let beginCalls = 0;

const sims = whatsappSimulator();
const proxy = gatewayProxy((call) => {
	if (!call.begin) return false;
	void call.forward().then((answer) => {
		beginCalls++;
		if (lose.count > 0) {
			lose.count--;
			// The database did it (committed); its answer never reaches n8n.
			if (lose.as === 'reset') call.req.socket.destroy();
			else call.gatewayError(502);
			return;
		}
		call.answer(answer);
	});
	return true;
});

beforeEach(() => {
	lose = { count: 0, as: 'reset' };
	beginCalls = 0;
});

const throughProxy = () => sims.credentials(proxy.url);

test("the first answer lost (a reset connection): the call repeated with its key answers send, each message goes out once and is recorded sent", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	lose = { count: 1, as: 'reset' };
	const run = await runWorkflow(chainWorkflow(owner), { credentials: throughProxy() });
	expect(run.error).toBeUndefined();
	expect(beginCalls).toBe(2);
	// Before: released not_checked (the repeat, without a key, was never made), nothing sent.
	expect(outcomes(run, 'Send').map((one) => one.outcome)).toEqual(['sent', 'sent', 'sent']);
	const sent = await sims.graph.control.whatsappMessages();
	expect(sent.map((message) => message.to).sort()).toEqual(leads.map((lead) => lead.phone).sort());
	expect(outcomes(run, 'Complete').map((one) => [one.accepted, one.status])).toEqual(Array(3).fill([true, 'sent']));
}, 120_000);

test("every answer lost (a gateway's 502, repeats too): the messages are given back, nothing sent, and the next run sends them", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	lose = { count: 100, as: 'gateway' };
	const run = await runWorkflow(chainWorkflow(owner), { credentials: throughProxy() });
	expect(run.error).toBeUndefined();
	// The call and its repeats, all saved by the database, none answered.
	expect(beginCalls).toBeGreaterThan(1);
	expect(outcomes(run, 'Send').map((one) => [one.outcome, (one.error as IDataObject)?.code])).toEqual(Array(3).fill(['released', 'not_checked']));
	// Before: refused already_sending, the messages left claimed and begun.
	expect(outcomes(run, 'Complete').map((one) => [one.accepted, one.status, one.reason])).toEqual(Array(3).fill([true, 'queued', null]));
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	for (const message of await messagesOf(owner)) expect(message).toMatchObject({ status: 'queued', attempts: 0, lease_holder: null });
	const marks = await withDb(async (db) => (await db.query('select send_started_at, begin_key from public.whatsapp_message_queue where user_id = $1', [owner])).rows);
	expect(marks).toEqual(Array(3).fill({ send_started_at: null, begin_key: null }));
	// Before: a later claim (after the lease) ended them dead uncertain. Now the next run sends them.
	const next = await runWorkflow(chainWorkflow(owner), { credentials: sims.credentials() });
	expect(next.error).toBeUndefined();
	expect(outcomes(next, 'Complete').map((one) => [one.accepted, one.status])).toEqual(Array(3).fill([true, 'sent']));
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(3);
	for (const lead of leads) expect(await leadStatus(lead.leadId)).toBe('contacted');
}, 180_000);
