// Meta's 131050: the person stopped the business's marketing messages, nothing more (they can still
// get service replies and utility templates, and can opt back in). queue_complete ends the message
// dead and its backlog item dead, never queued again by itself, and leaves the lead as it is (not
// do_not_contact, which would keep a campaign answer from moving it and Take Lead from taking it);
// the message keeps Meta's code for the owner to see why (migration
// 20261201002320_queue_opted_out_marketing_keeps_lead.sql; before, 20261201002240 made the lead
// do_not_contact). A lead still new then is made queued, and a give-back (human_controlled -> new)
// leaves it queued, its backlog item dead: only the owner setting it to new from queued queues it
// again (migration 20261201002360_queue_opted_out_marketing_stays_out.sql).
import { randomUUID } from 'node:crypto';
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { claim, complete, createOwner, failed, ledger, messages, phone as newPhone, preparedOwner, prepare, rpc, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const OPTED_OUT = { code: '131050', message: '(#131050) User has stopped marketing messages', permanent: true };

const leadState = async (leadId: string) =>
	await withDb(async (db) => {
		const lead = (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0].status;
		const backlog = (await db.query<{ status: string }>('select status from public.lead_processing_queue where lead_id = $1', [leadId])).rows.map((row) => row.status);
		return { lead, backlog };
	});

describe('a message dead with 131050', () => {
	it('leaves its lead queued, its backlog item dead: no later Prepare takes it, the code is on the message and its ledger row', async () => {
		const { userId } = await preparedOwner(2, { daily_capacity: 2 });
		const [m, other] = await claim('w-optout', userId, at('13:00'));
		const optedOutLead = m.lead_id;
		const answers = await complete('w-optout', [failed(m, OPTED_OUT), failed(other, { code: '131000', message: 'Something went wrong', permanent: true })], at('13:01'));
		expect(answers.map((answer) => [answer.status, answer.accepted])).toEqual([
			['dead', true],
			['dead', true],
		]);
		expect(await leadState(optedOutLead)).toEqual({ lead: 'queued', backlog: ['dead'] });
		// The other dead message (not the person's choice) puts its lead back for the next Prepare, as before.
		expect(await leadState(other.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });

		const message = (await messages(userId)).find((row) => row.lead_id === optedOutLead)!;
		expect(message.last_error).toMatchObject({ code: '131050' });
		const rows = await ledger(userId);
		expect(rows.filter((row) => row.queue === 'whatsapp_message_queue' && row.item_id === message.id).at(-1)).toMatchObject({
			from_status: 'claimed',
			to_status: 'dead',
			detail: { code: '131050' },
		});
		expect(rows.filter((row) => row.queue === 'leads' && row.item_id === optedOutLead).map((row) => row.to_status)).toEqual(['new', 'queued']);

		// The next days' Prepare queues the other lead only.
		await prepare(userId, at('20:00'));
		const queuedAgain = (await messages(userId)).filter((row) => row.status === 'queued').map((row) => row.lead_id);
		expect(queuedAgain).toEqual([other.lead_id]);
	});

	it('a lead set back to new while its message waited is made queued, its backlog item dead; setting it to new then queues it again', async () => {
		// Before migration 20261201002360 it stayed new with its backlog item dead: no Prepare took it,
		// and setting it to new did nothing (the leads' trigger acts on a change of status only).
		const { userId } = await preparedOwner(1, { max_attempts: 3, retry_backoff_seconds: 60 });
		const [m] = await claim('w-optout-new', userId, at('16:00'));
		await complete('w-optout-new', [failed(m)], at('16:00'));
		await withDb((db) => db.query(`update public.leads set status = 'new' where id = $1`, [m.lead_id]));
		expect(await leadState(m.lead_id)).toEqual({ lead: 'new', backlog: ['claimed'] });
		const [retry] = await claim('w-optout-new', userId, at('16:05'));
		expect((await complete('w-optout-new', [failed(retry, OPTED_OUT)], at('16:05')))[0]).toMatchObject({ status: 'dead', accepted: true });
		expect(await leadState(m.lead_id)).toEqual({ lead: 'queued', backlog: ['dead'] });
		expect((await ledger(userId)).filter((row) => row.queue === 'leads').at(-1)).toMatchObject({
			from_status: 'new',
			to_status: 'queued',
			actor: 'automation',
			reason: 'message_dead',
			at: new Date(at('16:05')),
		});
		// Left alone, no Prepare takes it.
		expect((await prepare(userId, at('20:00')))[0]).toMatchObject({ day: '2026-11-27', queued: 0 });

		// The person opted back in: the owner sets it to new, and the next Prepare queues it.
		const back = await userClient(userId, { now: new Date(at('21:00')) }).from('leads').update({ status: 'new' }).eq('id', m.lead_id);
		expect(back.error).toBeNull();
		expect(await leadState(m.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
		expect((await prepare(userId, at('12:00', '2026-11-27')))[0]).toMatchObject({ day: '2026-11-28', queued: 1 });
		expect((await messages(userId)).filter((row) => row.status === 'queued').map((row) => [row.lead_id, row.day])).toEqual([[m.lead_id, '2026-11-28']]);
	});

	it('a lead taken over and given back (human_controlled -> new) is made queued, its backlog item dead: only the owner setting it to new from queued queues it again', async () => {
		// Before migration 20261201002360 the give-back put it back in the backlog, and the next
		// Prepare queued the same marketing message to the person who had stopped them.
		const { userId } = await preparedOwner(3, { max_attempts: 3 });
		// a: refused with 131050, then taken over. b: taken over while its message was being sent,
		// which Meta then refused with 131050. c: dead of another error, then taken over (unchanged:
		// given back, it goes back in the backlog).
		const [a, b, c] = await claim('w-optout-give', userId, at('16:00'));
		await rpc('queue_begin_send', { p_worker: 'w-optout-give', p_item_ids: [b.item_id], p_phones: [b.phone], p_lease_seconds: 300, p_now: at('16:00') });
		expect((await takeLead(b.lead_id, { userId, now: at('16:00') }))[0].sending).toHaveLength(1);
		const other = { code: '132001', message: 'Template name does not exist in the translation', permanent: true };
		await complete('w-optout-give', [failed(a, OPTED_OUT), failed(b, OPTED_OUT), failed(c, other)], at('16:01'));
		expect(await leadState(b.lead_id)).toEqual({ lead: 'human_controlled', backlog: ['dead'] });
		for (const item of [a, c]) await takeLead(item.lead_id, { userId, now: at('16:30') });

		// The owner's app gives them back, in one statement.
		const app = (time: string, day?: string) => userClient(userId, { now: new Date(at(time, day)) });
		const back = await app('17:00').from('leads').update({ status: 'new' }).in('id', [a.lead_id, b.lead_id, c.lead_id]);
		expect(back.error).toBeNull();
		expect(await leadState(a.lead_id)).toEqual({ lead: 'queued', backlog: ['dead'] });
		expect(await leadState(b.lead_id)).toEqual({ lead: 'queued', backlog: ['dead'] });
		expect(await leadState(c.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
		const rows = await ledger(userId);
		expect(rows.filter((row) => row.queue === 'leads' && row.lead_id === a.lead_id).slice(-2).map((row) => [row.from_status, row.to_status, row.actor, row.reason, row.at.toISOString()])).toEqual([
			['human_controlled', 'new', 'user', 'updated', at('17:00')],
			['new', 'queued', 'automation', 'message_dead', at('17:00')],
		]);
		// The give-back left their backlog items as they were.
		expect(rows.filter((row) => row.queue === 'lead_processing_queue' && [a.lead_id, b.lead_id].includes(row.lead_id) && row.at.toISOString() === at('17:00'))).toEqual([]);

		// The next Prepare queues c only.
		expect((await prepare(userId, at('20:00')))[0]).toMatchObject({ day: '2026-11-27', queued: 1 });
		expect((await messages(userId)).filter((row) => row.day === '2026-11-27').map((row) => row.lead_id)).toEqual([c.lead_id]);

		// The person opted back in: the owner sets a to new (from queued), and the next Prepare queues it.
		expect((await app('21:00').from('leads').update({ status: 'new' }).eq('id', a.lead_id)).error).toBeNull();
		expect(await leadState(a.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
		expect((await prepare(userId, at('12:00', '2026-11-27')))[0]).toMatchObject({ day: '2026-11-28', queued: 1 });
		expect((await messages(userId)).filter((row) => row.day === '2026-11-28').map((row) => row.lead_id)).toEqual([a.lead_id]);
	});

	it('a campaign answer "interested" still moves its lead, and Take Lead takes it', async () => {
		const service = serviceClient();
		for (const take of [false, true]) {
			const owner = await createOwner({ daily_capacity: 10, max_attempts: 1 });
			const phone = newPhone();
			const [lead] = await rpc<Array<{ lead_id: string }>>('queue_add_leads', { p_items: [{ user_id: owner, name: 'Rita', phone, source: 'test' }], p_now: at('12:00', '2026-11-25') });
			await prepare(owner);
			const [m] = await claim('w-optout-campaign', owner, at('13:00'));
			await complete('w-optout-campaign', [failed(m, OPTED_OUT)], at('13:01'));
			if (take) {
				const [taken] = await takeLead(lead.lead_id, { userId: owner, now: at('14:00') });
				expect(taken).toMatchObject({ status: 'human_controlled', status_kept: false });
				continue;
			}
			const { data, error } = await service.rpc('create_campaign_sessions', {
				p_owner: owner,
				p_campaign: { name_uid: `plumber-leeds_${randomUUID().replace(/-/g, '').slice(0, 10)}`, name: 'Plumber - Leeds', job_description: 'Plumber' },
				p_tasks: [{ phone, name: 'Rita', session: `s-${randomUUID().slice(0, 8)}` }],
				p_now: at('14:00'),
			});
			expect(error).toBeNull();
			const [session] = (data as { sessions: Array<{ session: string }> }).sessions;
			const answered = await service.rpc('record_session_objective', {
				p_owner: owner,
				p_session_id: session.session,
				p_objective: 'interested',
				p_value: true,
				p_source: 'whatsapp',
				p_event_key: `interested-${session.session}`,
			});
			expect(answered.error).toBeNull();
			expect((await leadState(lead.lead_id)).lead).toBe('engaged');
		}
	});
});
