// Send holds every message it let go until Complete reports it, however slow Meta is: once a third
// of the lease has passed, a group's queue_begin_send also renews the lease of the messages the
// earlier groups sent. Against the local
// stack and the Graph simulator's WhatsApp Cloud API made slow (through the credential's base URL):
// an overlapping run's Claim, after the first group's lease as its own begin_send set it would have
// run out and before the last group's, ends nothing dead (`uncertain`), and Complete records every
// message Meta accepted as sent, with its wamid.
//
// Time: the node judges at the real clock; the overlapping Claim is judged (p_now) at an instant
// computed from what the database recorded (when each group's send began), five minutes on, as
// the next minutes' runs of workflows/queue-run.json would meet it with a slow Meta.
import type { IDataObject } from 'n8n-workflow';
import { withDb } from '../../helpers/stack';
import { leadStatus, messagesOf, prepareDue, queueOwner, leadsOf, runQueue } from './support/queue';
import { whatsappSimulator } from './support/send';

/** The shipped lease of workflows/queue-run.json (Claim's). */
const LEASE_SECONDS = 300;
/** Send's lease here: short, so that three slow groups outlast it (a third of it, 3 s, passes between two groups). */
const SEND_LEASE_SECONDS = 9;
/** How long Meta takes to answer each send. */
const LATENCY_MS = 3_500;

const sims = whatsappSimulator();

const credentials = () => sims.credentials();

interface Held {
	id: string;
	send_started_at: Date;
	lease_expires_at: Date;
}

test('a slow Meta: every message sent is still held when Complete reports it; an overlapping Claim ends none dead, and each is recorded sent with its wamid', async () => {
	const owner = await queueOwner();
	const leads = await leadsOf(owner, 3);
	expect((await prepareDue(owner)).queued).toBe(3);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-slow', leaseSeconds: LEASE_SECONDS } });
	expect(claim.outputs[0]).toHaveLength(3);

	// Meta answers each send after 3.5 s; one message per group: three groups, one after the other,
	// 7 s from the first to the last, past the first group's own 9 s lease by the time Complete runs.
	await sims.graph.control.setLatency(LATENCY_MS, '/messages');
	const send = await runQueue(claim.outputs[0], { resource: 'message', operation: 'send', options: { concurrency: 1, leaseSeconds: SEND_LEASE_SECONDS } }, credentials());
	expect(send.outputs[0].map((one) => one.outcome)).toEqual(['sent', 'sent', 'sent']);

	// Each group's send began after the one before.
	const held = () => withDb(async (db) => (await db.query<Held>('select id, send_started_at, lease_expires_at from public.whatsapp_message_queue where user_id = $1 order by send_started_at', [owner])).rows);
	const [first, , last] = (await held()).map((row) => row.send_started_at.getTime());
	expect(last - first).toBeGreaterThanOrEqual(2 * LATENCY_MS - 100);

	// The next minute's run claims after the first group's lease (from its own begin) ran out, while
	// the last group's holds: half way between the two lease ends.
	const taken = await withDb(
		async (db) =>
			(
				await db.query(
					`select * from public.queue_claim('worker-next', 100, 300,
					   (select min(send_started_at) + (max(send_started_at) - min(send_started_at)) / 2 + make_interval(secs => $2)
					      from public.whatsapp_message_queue where user_id = $1),
					   $1)`,
					[owner, SEND_LEASE_SECONDS],
				)
			).rows,
	);
	expect(taken).toEqual([]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.last_error])).toEqual([
		['claimed', null],
		['claimed', null],
		['claimed', null],
	]);
	// Every message is held until a lease after the last group's send began.
	for (const row of await held()) expect(row.lease_expires_at.getTime()).toBeGreaterThanOrEqual(last + SEND_LEASE_SECONDS * 1_000);

	// Complete records each as Meta answered it.
	const completed = await runQueue(send.outputs[0], { resource: 'message', operation: 'complete' });
	expect(completed.outputs[0].map((one) => [one.accepted, one.status, one.reason])).toEqual([
		[true, 'sent', null],
		[true, 'sent', null],
		[true, 'sent', null],
	]);
	const delivered = await sims.graph.control.whatsappMessages();
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id]).sort()).toEqual(delivered.map((one) => ['sent', one.messageId]).sort());
	for (const lead of leads) expect(await leadStatus(lead.leadId)).toBe('contacted');
	expect(send.outputs[0].every((one) => typeof (one as IDataObject).message_id === 'string')).toBe(true);
}, 60_000);
