// queue_settle_lead (migration 20261201002940_queue_settle_dead_message.sql): the owner settles a
// lead whose last WhatsApp message ended dead. `delivered` (only after `uncertain`) makes the lead
// contacted; `send_again` puts its backlog item back and the lead new, so the next Prepare writes a
// new message. One transaction, the lead locked first; the same settle again answers
// already_settled; a lead that cannot be settled is answered not_settleable with the field at fault;
// an unknown lead or another owner's is P0002. Before the migration there was no such function.
import { randomUUID } from 'node:crypto';
import type { SettleLeadResult } from '../../../nodes/shared/contract';
import { createTestUser, withDb } from '../../helpers/stack';
import { claim, complete, failed, failure, ledger, messages, preparedOwner, prepare, rowCounts, rpc, sent, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const UNCERTAIN = { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true };
const OPTED_OUT = { code: '131050', message: '(#131050) User has stopped marketing messages', permanent: true };

const settle = (leadId: string, outcome: string | null, options: { userId?: string | null; actorId?: string | null; reason?: string | null; now?: string } = {}) =>
	rpc<SettleLeadResult[]>('queue_settle_lead', {
		p_lead_id: leadId,
		p_outcome: outcome,
		p_actor_id: options.actorId ?? null,
		p_reason: options.reason ?? null,
		p_now: options.now ?? at('18:00'),
		p_user_id: options.userId ?? null,
	}).then((rows) => rows[0]);

const leadState = (leadId: string) =>
	withDb(async (db) => {
		const lead = (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0].status;
		const backlog = (await db.query<{ status: string }>('select status from public.lead_processing_queue where lead_id = $1', [leadId])).rows.map((row) => row.status);
		return { lead, backlog };
	});

describe('queue_settle_lead', () => {
	it('delivered: an uncertain message\'s lead becomes contacted, a ledger row says who and why; the same call again is already_settled', async () => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [m] = await claim('w-settle-d', userId, at('16:00'));
		await complete('w-settle-d', [failed(m, UNCERTAIN)], at('16:01'));
		expect(await leadState(m.lead_id)).toEqual({ lead: 'queued', backlog: ['dead'] });
		const owner = userId;

		const first = await settle(m.lead_id, 'delivered', { userId, actorId: owner, reason: 'She answered on the phone' });
		expect(first).toMatchObject({
			lead_id: m.lead_id,
			outcome: 'delivered',
			settled: true,
			already_settled: false,
			refusal: null,
			field: null,
			status: 'contacted',
			item_id: m.item_id,
			message_status: 'dead',
			error_code: 'uncertain',
		});
		expect(await leadState(m.lead_id)).toEqual({ lead: 'contacted', backlog: ['dead'] });
		const rows = (await ledger(userId)).filter((row) => row.reason === 'dead_message_settled');
		expect(rows.map((row) => [row.queue, row.from_status, row.to_status, row.actor, row.actor_id, row.detail])).toEqual([
			['leads', 'queued', 'contacted', 'user', owner, { item_id: m.item_id, outcome: 'delivered', error_code: 'uncertain', note: 'She answered on the phone' }],
		]);

		const counts = await rowCounts(userId);
		const again = await settle(m.lead_id, 'delivered', { userId, now: at('19:00') });
		expect(again).toMatchObject({ settled: true, already_settled: true, refusal: null, status: 'contacted', item_id: m.item_id });
		expect(await rowCounts(userId)).toEqual(counts);
		// The other outcome afterwards is refused, naming outcome.
		const other = await settle(m.lead_id, 'send_again', { userId });
		expect(other).toMatchObject({ settled: false, already_settled: false, refusal: 'not_settleable', field: 'outcome', status: 'contacted' });
		expect(other.explanation).toContain('already settled as delivered');
		expect(await rowCounts(userId)).toEqual(counts);
		// No Prepare takes it again.
		expect((await prepare(userId, at('20:00')))[0]).toMatchObject({ queued: 0 });
	});

	it('send_again: the backlog item is queued again and the lead new; the next Prepare writes a new message; again is already_settled', async () => {
		const { userId } = await preparedOwner(2, { max_attempts: 3 });
		const [a, b] = await claim('w-settle-s', userId, at('16:00'));
		await complete('w-settle-s', [failed(a, UNCERTAIN), failed(b, OPTED_OUT)], at('16:01'));
		// b's lead set to new by the owner does nothing by itself once it is queued; settling does.
		const first = await settle(a.lead_id, 'send_again', { userId });
		expect(first).toMatchObject({ settled: true, already_settled: false, status: 'new', error_code: 'uncertain' });
		expect(await leadState(a.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
		const optedBack = await settle(b.lead_id, 'send_again', { userId, reason: 'opted back in' });
		expect(optedBack).toMatchObject({ settled: true, status: 'new', error_code: '131050' });
		expect(optedBack.explanation).toContain('131050');
		const rows = (await ledger(userId)).filter((row) => row.reason === 'dead_message_settled' && row.lead_id === a.lead_id);
		expect(rows.map((row) => [row.queue, row.from_status, row.to_status, row.actor])).toEqual([
			['lead_processing_queue', 'dead', 'queued', 'user'],
			['leads', 'queued', 'new', 'user'],
		]);
		const counts = await rowCounts(userId);
		expect(await settle(a.lead_id, 'send_again', { userId })).toMatchObject({ settled: true, already_settled: true, status: 'new' });
		expect(await rowCounts(userId)).toEqual(counts);

		expect((await prepare(userId, at('20:00')))[0]).toMatchObject({ day: '2026-11-27', queued: 2 });
		expect((await messages(userId)).filter((row) => row.status === 'queued').map((row) => row.lead_id).sort()).toEqual([a.lead_id, b.lead_id].sort());
		// Its last message is the new one now: nothing to settle.
		const later = await settle(a.lead_id, 'send_again', { userId });
		expect(later).toMatchObject({ settled: false, refusal: 'not_settleable', field: 'lead_id', message_status: 'queued' });
		expect(later.explanation).toContain('waiting to be sent');
	});

	it('a lead set to new while its uncertain message waited (made queued, its backlog item dead: migration 20261201002930) can be settled both ways', async () => {
		const { userId } = await preparedOwner(2, { max_attempts: 3 });
		const [a, b] = await claim('w-settle-n', userId, at('16:00'));
		await withDb((db) => db.query(`update public.leads set status = 'new' where id = any ($1::uuid[])`, [[a.lead_id, b.lead_id]]));
		await complete('w-settle-n', [failed(a, UNCERTAIN), failed(b, UNCERTAIN)], at('16:01'));
		expect(await leadState(a.lead_id)).toEqual({ lead: 'queued', backlog: ['dead'] });
		expect(await settle(a.lead_id, 'send_again', { userId })).toMatchObject({ settled: true, status: 'new' });
		expect(await leadState(a.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
		expect(await settle(b.lead_id, 'delivered', { userId })).toMatchObject({ settled: true, status: 'contacted' });
		expect(await leadState(b.lead_id)).toEqual({ lead: 'contacted', backlog: ['dead'] });
	});

	it('refuses: delivered for a message Meta answered with an error; a message not dead or being sent; a lead do_not_contact, invalid, human_controlled or moved on; nothing written', async () => {
		const { userId } = await preparedOwner(7, { max_attempts: 3 });
		const [optedOut, unreachable, beingSent, sentOne, taken, dnc, template] = await claim('w-settle-r', userId, at('16:00'));
		await rpc('queue_begin_send', { p_worker: 'w-settle-r', p_item_ids: [beingSent.item_id], p_phones: [beingSent.phone], p_lease_seconds: 300, p_now: at('16:00') });
		await complete(
			'w-settle-r',
			[
				failed(optedOut, OPTED_OUT),
				failed(unreachable, { code: '131026', message: 'Message undeliverable', permanent: true }),
				sent(sentOne),
				failed(taken, UNCERTAIN),
				failed(dnc, UNCERTAIN),
				failed(template, { code: '132001', message: 'Template name does not exist in the translation', permanent: true }),
			],
			at('16:01'),
		);
		await takeLead(taken.lead_id, { userId, now: at('16:30') });
		await withDb((db) => db.query(`update public.leads set status = 'do_not_contact' where id = $1`, [dnc.lead_id]));
		const counts = await rowCounts(userId);

		const cases: Array<[string, string, Partial<SettleLeadResult>, string]> = [
			[optedOut.lead_id, 'delivered', { field: 'outcome', error_code: '131050' }, 'died with error 131050'],
			[unreachable.lead_id, 'send_again', { field: 'lead_id', status: 'invalid' }, 'undeliverable'],
			[beingSent.lead_id, 'delivered', { field: 'lead_id', message_status: 'claimed' }, 'being sent now'],
			[sentOne.lead_id, 'send_again', { field: 'lead_id', message_status: 'sent', status: 'contacted' }, 'sent: Meta accepted it'],
			[taken.lead_id, 'send_again', { field: 'lead_id', status: 'human_controlled' }, 'taken it over'],
			[dnc.lead_id, 'send_again', { field: 'lead_id', status: 'do_not_contact' }, 'opted out'],
			[dnc.lead_id, 'delivered', { field: 'lead_id', status: 'do_not_contact' }, 'opted out'],
			[template.lead_id, 'send_again', { field: 'lead_id', status: 'new' }, 'queued again by itself'],
		];
		for (const [leadId, outcome, expected, words] of cases) {
			const answer = await settle(leadId, outcome, { userId });
			expect({ leadId, ...answer }).toMatchObject({ leadId, settled: false, already_settled: false, refusal: 'not_settleable', ...expected });
			expect(answer.explanation).toContain(words);
		}
		expect(await rowCounts(userId)).toEqual(counts);
	});

	it('an unknown lead, another owner\'s lead, a bad outcome, reason or actor: refused naming the argument', async () => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [m] = await claim('w-settle-x', userId, at('16:00'));
		await complete('w-settle-x', [failed(m, UNCERTAIN)], at('16:01'));
		const stranger = await createTestUser('queue');

		const unknown = await failure(settle(randomUUID(), 'delivered', { userId }));
		expect(unknown).toMatchObject({ code: 'P0002' });
		expect(unknown.message).toMatch(/^p_lead_id: lead .* does not exist for user/);
		const otherOwner = await failure(settle(m.lead_id, 'delivered', { userId: stranger }));
		expect(otherOwner).toMatchObject({ code: 'P0002' });
		expect(otherOwner.message).toMatch(/^p_lead_id:/);
		for (const outcome of [null, 'arrived', '']) {
			const bad = await failure(settle(m.lead_id, outcome, { userId }));
			expect(bad).toMatchObject({ code: '22023' });
			expect(bad.message).toMatch(/^p_outcome: must be delivered .* or send_again/);
		}
		expect((await failure(settle(m.lead_id, 'delivered', { userId, reason: '   ' }))).message).toMatch(/^p_reason:/);
		expect((await failure(settle(m.lead_id, 'delivered', { userId, actorId: randomUUID() }))).message).toMatch(/^p_actor_id:/);
		expect(await leadState(m.lead_id)).toEqual({ lead: 'queued', backlog: ['dead'] });
	});

	it('two settles at once, with different outcomes, and a settle beside a Take Lead: one wins whole, the other sees its result', async () => {
		const { userId } = await preparedOwner(4, { max_attempts: 3 });
		const claimed = await claim('w-settle-c', userId, at('16:00'));
		await complete('w-settle-c', claimed.map((item) => failed(item, UNCERTAIN)), at('16:01'));
		const [a, b, c, d] = claimed;

		// Two settles of one lead at once: the lead's lock orders them.
		const [one, two] = await Promise.all([settle(a.lead_id, 'delivered', { userId }), settle(a.lead_id, 'send_again', { userId })]);
		const answers = [one, two].sort((x, y) => Number(y.settled) - Number(x.settled));
		expect(answers.map((answer) => [answer.settled, answer.refusal, answer.field])).toEqual([
			[true, null, null],
			[false, 'not_settleable', 'outcome'],
		]);
		const won = answers[0].outcome;
		expect(await leadState(a.lead_id)).toEqual(won === 'delivered' ? { lead: 'contacted', backlog: ['dead'] } : { lead: 'new', backlog: ['queued'] });
		expect((await ledger(userId)).filter((row) => row.reason === 'dead_message_settled' && row.lead_id === a.lead_id && row.queue === 'leads')).toHaveLength(1);

		// The same settle twice at once: one settles, the other answers already_settled.
		const same = await Promise.all([settle(b.lead_id, 'send_again', { userId }), settle(b.lead_id, 'send_again', { userId })]);
		expect(same.map((answer) => answer.already_settled).sort()).toEqual([false, true]);
		expect(await leadState(b.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });

		// A settle beside a Take Lead: either the take comes first (the settle refuses a human_controlled
		// lead) or the settle does (the take then cancels the backlog item it queued): never a lead
		// human_controlled with a queued backlog item.
		const [settled] = await Promise.all([settle(c.lead_id, 'send_again', { userId }), takeLead(c.lead_id, { userId, now: at('18:00') })]);
		const state = await leadState(c.lead_id);
		expect(state.lead).toBe('human_controlled');
		expect(state.backlog).toEqual([settled.settled ? 'cancelled' : 'dead']);

		// A settle beside a Prepare: the lead queued by the settle is prepared once, or on the next run.
		await Promise.all([settle(d.lead_id, 'send_again', { userId }), prepare(userId, at('18:00'))]);
		await prepare(userId, at('18:01'));
		const dMessages = (await messages(userId)).filter((row) => row.lead_id === d.lead_id).map((row) => row.status);
		expect(dMessages.sort()).toEqual(['dead', 'queued']);
		expect((await leadState(d.lead_id)).lead).toBe('queued');
	});
});
