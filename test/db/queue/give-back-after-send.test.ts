// A lead given back (human_controlled set to new by the owner) after its first message went out is
// contacted, never queued and messaged a second time (migration
// 20261201002190_queue_give_back_after_send_contacted.sql): taken over while its message was being
// sent, Complete records the send but leaves the lead taken over; given back, it used to go back in
// the backlog and the next Prepare queued the same first message again. A give-back whose message
// did not go out (it died, its send was uncertain, or the take cancelled it before it began) still
// puts the lead back in the backlog, and so does the owner setting a contacted lead to new.
import type { BeginQueueSendResult } from '../../../nodes/shared/contract';
import { userClient, withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, messages, preparedOwner, prepare, rpc, sent, takeLead, TOMORROW, phonesOf } from './fixtures';

const CLAIMED = `${TOMORROW}T16:00:00.000Z`;
const TAKEN = `${TOMORROW}T16:00:30.000Z`;
const REPORTED = `${TOMORROW}T16:01:00.000Z`;
const TAKEN_LATER = `${TOMORROW}T16:30:00.000Z`;
const GIVEN_BACK = `${TOMORROW}T17:00:00.000Z`;
/** The owner's next Prepare after the give-back's day: it fills 2026-11-28. */
const NEXT_PREPARE = '2026-11-27T12:00:00.000Z';

const beginSend = (worker: string, ids: string[], now: string) =>
	phonesOf(ids).then((phones) => rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now }));

/** Each lead's status and its backlog item's status and message id. */
const state = (userId: string) =>
	withDb(async (db) =>
		Object.fromEntries(
			(
				await db.query<{ id: string; lead: string; backlog: string; message_id: string | null }>(
					`select l.id, l.status as lead, p.status as backlog, p.message_id
					   from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.user_id = $1`,
					[userId],
				)
			).rows.map((row) => [row.id, { lead: row.lead, backlog: row.backlog, message_id: row.message_id }]),
		),
	);

describe('a lead given back (human_controlled -> new)', () => {
	it('after its message was sent is contacted, its sent backlog item kept, the ledger saying message_sent; the leads whose message did not go out go back in the backlog', async () => {
		const { userId } = await preparedOwner(6);
		const items = await claim('worker-g', userId, CLAIMED);
		expect(items).toHaveLength(6);
		// a: taken while its message was being sent, which Meta accepted (the review's case).
		// b: taken while being sent, the message then dead (a template refused).
		// c: taken while being sent, the send uncertain (no answer from Meta).
		// d: taken before its send began: the take cancels it.
		// e: sent and contacted, taken over afterwards.
		// f: sent and contacted, set to new by the owner (not a give-back: the first message asked for again).
		const [a, b, c, d, e, f] = items;
		await beginSend('worker-g', [a, b, c, e, f].map((item) => item.item_id), CLAIMED);
		for (const item of [a, b, c]) expect((await takeLead(item.lead_id, { actorId: userId, now: TAKEN }))[0].sending).toHaveLength(1);
		expect((await takeLead(d.lead_id, { actorId: userId, now: TAKEN }))[0].sending).toEqual([]);
		const reports = await complete(
			'worker-g',
			[
				sent(a, 'wamid.A'),
				failed(b, { code: '132001', message: 'Template name does not exist in the translation', permanent: true }),
				failed(c, { code: 'uncertain', message: 'No answer from Meta within 30000 ms: it may have been sent', permanent: true }),
				sent(e, 'wamid.E'),
				sent(f, 'wamid.F'),
			],
			REPORTED,
		);
		expect(reports.map((row) => [row.status, row.accepted])).toEqual([
			['sent', true],
			['dead', true],
			['dead', true],
			['sent', true],
			['sent', true],
		]);
		await takeLead(e.lead_id, { actorId: userId, now: TAKEN_LATER });
		expect(await state(userId)).toEqual({
			[a.lead_id]: { lead: 'human_controlled', backlog: 'sent', message_id: 'wamid.A' },
			[b.lead_id]: { lead: 'human_controlled', backlog: 'dead', message_id: null },
			[c.lead_id]: { lead: 'human_controlled', backlog: 'dead', message_id: null },
			[d.lead_id]: { lead: 'human_controlled', backlog: 'cancelled', message_id: null },
			[e.lead_id]: { lead: 'human_controlled', backlog: 'sent', message_id: 'wamid.E' },
			[f.lead_id]: { lead: 'contacted', backlog: 'sent', message_id: 'wamid.F' },
		});

		// The owner's app gives them back, in one statement, as a person would from a list.
		const app = userClient(userId, { now: new Date(GIVEN_BACK) });
		const back = await app.from('leads').update({ status: 'new' }).in('id', items.map((item) => item.lead_id));
		expect(back.error).toBeNull();

		expect(await state(userId)).toEqual({
			[a.lead_id]: { lead: 'contacted', backlog: 'sent', message_id: 'wamid.A' },
			[b.lead_id]: { lead: 'new', backlog: 'queued', message_id: null },
			[c.lead_id]: { lead: 'new', backlog: 'queued', message_id: null },
			[d.lead_id]: { lead: 'new', backlog: 'queued', message_id: null },
			[e.lead_id]: { lead: 'contacted', backlog: 'sent', message_id: 'wamid.E' },
			[f.lead_id]: { lead: 'new', backlog: 'queued', message_id: 'wamid.F' }, // (a backlog item put back keeps its last message id)
		});
		// What the app reads back.
		const { data: read } = await app.from('leads').select('id, status, updated_at').eq('id', a.lead_id).single();
		expect(read).toEqual({ id: a.lead_id, status: 'contacted', updated_at: GIVEN_BACK.replace('.000Z', '+00:00') });

		// The ledger tells it: the owner's give-back, then contacted because the message was sent.
		const rows = await ledger(userId);
		const leadRows = (leadId: string) =>
			rows.filter((row) => row.queue === 'leads' && row.lead_id === leadId).map((row) => [row.from_status, row.to_status, row.actor, row.reason, row.at.toISOString()]);
		expect(leadRows(a.lead_id).slice(-3)).toEqual([
			['queued', 'human_controlled', 'user', 'human_takeover', TAKEN],
			['human_controlled', 'new', 'user', 'updated', GIVEN_BACK],
			['new', 'contacted', 'automation', 'message_sent', GIVEN_BACK],
		]);
		expect(leadRows(e.lead_id).slice(-4)).toEqual([
			['queued', 'contacted', 'automation', 'message_sent', REPORTED],
			['contacted', 'human_controlled', 'user', 'human_takeover', TAKEN_LATER],
			['human_controlled', 'new', 'user', 'updated', GIVEN_BACK],
			['new', 'contacted', 'automation', 'message_sent', GIVEN_BACK],
		]);
		// Their sent backlog items were not touched by the give-back.
		const backlogRows = rows.filter((row) => row.queue === 'lead_processing_queue' && [a.lead_id, e.lead_id].includes(row.lead_id));
		expect(backlogRows.filter((row) => row.at.toISOString() === GIVEN_BACK)).toEqual([]);
		// The others were put back by the give-back, as before.
		for (const lead of [b, c, d, f]) {
			expect(rows.filter((row) => row.queue === 'lead_processing_queue' && row.lead_id === lead.lead_id).at(-1)).toMatchObject({
				to_status: 'queued',
				at: new Date(GIVEN_BACK),
			});
		}

		// The next Prepare queues the leads whose message did not go out, and f, never a or e.
		const [next] = await prepare(userId, NEXT_PREPARE);
		expect(next).toMatchObject({ day: '2026-11-28', queued: 4 });
		const queuedFor = (await messages(userId)).filter((row) => row.day === '2026-11-28').map((row) => row.lead_id);
		expect(queuedFor.sort()).toEqual([b, c, d, f].map((item) => item.lead_id).sort());
	});

	it('while its message is still being sent (before Complete) ends contacted too, as before: both orders agree', async () => {
		const { userId } = await preparedOwner(1);
		const [held] = await claim('worker-h', userId, CLAIMED);
		await beginSend('worker-h', [held.item_id], CLAIMED);
		await takeLead(held.lead_id, { actorId: userId, now: TAKEN });
		const back = await userClient(userId, { now: new Date(TAKEN) }).from('leads').update({ status: 'new' }).eq('id', held.lead_id);
		expect(back.error).toBeNull();
		expect(await state(userId)).toEqual({ [held.lead_id]: { lead: 'new', backlog: 'claimed', message_id: null } });
		await complete('worker-h', [sent(held, 'wamid.H')], REPORTED);
		expect(await state(userId)).toEqual({ [held.lead_id]: { lead: 'contacted', backlog: 'sent', message_id: 'wamid.H' } });
		const last = (await ledger(userId)).filter((row) => row.queue === 'leads').at(-1);
		expect(last).toMatchObject({ from_status: 'new', to_status: 'contacted', actor: 'automation', reason: 'message_sent' });
		const [next] = await prepare(userId, NEXT_PREPARE);
		expect(next).toMatchObject({ queued: 0 });
	});
});
