// A lead's message that has not begun going out follows the lead's phone (migration
// 20261201001720): Prepare copies the phone into the message, and a correction made after it (by the
// owner's app, a workflow, n8n) is where the message goes; a claimed message's run holding the old
// number cannot send it (queue_begin_send refuses it, phone_changed, and the next claim hands it out
// with the new one); a lead whose phone is removed is not sent to the old one: its message is
// cancelled and the lead waits in the backlog until it has a number. A message whose send began is
// left to its worker. Real Postgres through PostgREST, fixed instants (p_now), never the machine's
// clock.
import type { BeginQueueSendResult, QueueCompleteResult } from '../../../nodes/shared/contract';
import { userClient, withDb } from '../../helpers/stack';
import { addLeads, claim, complete, createOwner, ledger, messages, phone, prepare, rpc, sent, NOW, TOMORROW, phonesOf } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string) =>
	phonesOf(ids).then((phones) => rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now }));
const setPhone = (leadId: string, value: string | null) => withDb((db) => db.query('update public.leads set phone = $2 where id = $1', [leadId, value]));
const lead = (leadId: string) =>
	withDb(async (db) => (await db.query<{ status: string; phone: string | null }>('select status, phone from public.leads where id = $1', [leadId])).rows[0]);

describe('a lead\'s waiting message follows its phone', () => {
	it('corrected after Prepare: the claim hands it out with the new number; the old number, given to another lead, gets that lead\'s message only', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [oldNumber, corrected] = [phone(), phone()];
		const [ann] = await addLeads([{ user_id: owner, name: 'Ann', phone: oldNumber }]);
		await prepare(owner, NOW);
		// The owner's app corrects Ann's number (a signed-in user may update their leads), then adds
		// Carl, whose number it really was; the hourly Prepare queues Carl for the same day.
		const { error } = await userClient(owner).from('leads').update({ phone: corrected }).eq('id', ann.lead_id);
		expect(error).toBeNull();
		const [carl] = await addLeads([{ user_id: owner, name: 'Carl', phone: oldNumber }]);
		await prepare(owner, NOW);

		const items = await claim('w-1', owner, at('16:00'));
		expect(items.map((item) => [item.lead_id, item.phone]).sort()).toEqual([[ann.lead_id, corrected], [carl.lead_id, oldNumber]].sort());
		expect((await messages(owner)).map((m) => [m.lead_id, m.day, m.phone]).sort()).toEqual([[ann.lead_id, TOMORROW, corrected], [carl.lead_id, TOMORROW, oldNumber]].sort());
		// A queued message changes only its number: no ledger row for it.
		expect((await ledger(owner)).filter((row) => row.reason.startsWith('phone_'))).toEqual([]);
	});

	it('corrected after the claim, before the send: the run holding the old number is refused (phone_changed), the message is released to the new number and claimed with it', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [oldNumber, corrected] = [phone(), phone()];
		const [ann] = await addLeads([{ user_id: owner, name: 'Ann', phone: oldNumber }]);
		await prepare(owner, NOW);
		const [held] = await claim('w-old', owner, at('16:00'));
		expect(held.phone).toBe(oldNumber);

		await setPhone(ann.lead_id, corrected);
		expect(await beginSend('w-old', [held.item_id], at('16:01'))).toEqual([
			{ item_id: held.item_id, send: false, status: 'queued', reason: 'phone_changed', lease_expires_at: null },
		]);
		expect((await messages(owner)).map((m) => [m.status, m.phone, m.attempts, m.lease_holder])).toEqual([['queued', corrected, 0, null]]);
		expect((await ledger(owner)).at(-1)).toMatchObject({
			queue: 'whatsapp_message_queue', item_id: held.item_id, from_status: 'claimed', to_status: 'queued', worker: 'w-old', reason: 'phone_changed', actor: 'system', attempt: 0,
		});
		// The old run's report of it (Send's released, not attempted) is refused: it no longer holds it.
		const [report] = await complete('w-old', [{ item_id: held.item_id, outcome: 'released', error: { code: 'phone_changed', message: 'Not sent' } }], at('16:01'));
		expect(report).toMatchObject<Partial<QueueCompleteResult>>({ accepted: false, reason: 'not_held' });

		// The next run claims it with the new number, as the first attempt, and sends it.
		const [again] = await claim('w-new', owner, at('16:02'));
		expect(again).toMatchObject({ item_id: held.item_id, phone: corrected, attempt: 1 });
		expect((await beginSend('w-new', [again.item_id], at('16:02')))[0]).toMatchObject({ send: true });
		expect((await complete('w-new', [sent(again)], at('16:03')))[0]).toMatchObject({ status: 'sent', accepted: true });
		expect(await lead(ann.lead_id)).toEqual({ status: 'contacted', phone: corrected });
	});

	it('removed: its message is cancelled (a claimed one\'s run refused), the lead new again without a number, skipped by Prepare until it has one', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [bob, eve] = await addLeads([{ user_id: owner, name: 'Bob', phone: phone() }, { user_id: owner, name: 'Eve', phone: phone() }]);
		await prepare(owner, NOW);
		const held = await claim('w-1', owner, at('16:00'), 1);
		expect(held).toHaveLength(1);
		const claimedLead = held[0].lead_id;
		const waitingLead = claimedLead === bob.lead_id ? eve.lead_id : bob.lead_id;

		await setPhone(claimedLead, null);
		await setPhone(waitingLead, null);
		expect((await beginSend('w-1', [held[0].item_id], at('16:01')))[0]).toMatchObject({ send: false, status: 'cancelled', reason: 'phone_changed' });
		expect((await messages(owner)).map((m) => m.status)).toEqual(['cancelled', 'cancelled']);
		expect(await claim('w-2', owner, at('16:02'))).toEqual([]);
		expect(await lead(claimedLead)).toEqual({ status: 'new', phone: null });
		expect(await lead(waitingLead)).toEqual({ status: 'new', phone: null });

		// The ledger says why, for each: the message, the backlog item waiting again, the lead new.
		const rows = (await ledger(owner)).filter((row) => row.lead_id === claimedLead && row.reason === 'phone_removed');
		expect(rows.map((row) => [row.queue, row.from_status, row.to_status, row.actor])).toEqual([
			['whatsapp_message_queue', 'claimed', 'cancelled', 'system'],
			['lead_processing_queue', 'claimed', 'cancelled', 'system'],
			['lead_processing_queue', 'cancelled', 'queued', 'system'],
			['leads', 'queued', 'new', 'system'],
		]);
		expect(rows[0].worker).toBe('w-1');

		// Prepare skips them for want of a number; given one again, the next Prepare queues it.
		const tomorrowNoon = at('12:00');
		expect((await prepare(owner, tomorrowNoon))[0]).toMatchObject({ queued: 0, skipped: expect.objectContaining({ no_phone: 2 }) });
		const newNumber = phone();
		await setPhone(waitingLead, newNumber);
		expect((await prepare(owner, tomorrowNoon))[0]).toMatchObject({ queued: 1 });
		expect((await messages(owner)).filter((m) => m.status === 'queued').map((m) => [m.lead_id, m.phone])).toEqual([[waitingLead, newNumber]]);
	});

	it('a message whose send began is left to its worker: sent to the number it went out with', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const oldNumber = phone();
		const [ann] = await addLeads([{ user_id: owner, name: 'Ann', phone: oldNumber }]);
		await prepare(owner, NOW);
		const [held] = await claim('w-1', owner, at('16:00'));
		expect((await beginSend('w-1', [held.item_id], at('16:00')))[0]).toMatchObject({ send: true });

		await setPhone(ann.lead_id, phone());
		expect((await messages(owner)).map((m) => [m.status, m.phone, m.lease_holder])).toEqual([['claimed', oldNumber, 'w-1']]);
		// Send renews it with its next group (p_renew_item_ids: its lease only): still this run's.
		expect(await rpc('queue_begin_send', { p_worker: 'w-1', p_item_ids: [], p_phones: [], p_renew_item_ids: [held.item_id], p_lease_seconds: 300, p_now: at('16:01') })).toEqual([]);
		expect((await messages(owner)).map((m) => [m.lease_holder, new Date(m.lease_expires_at!).toISOString()])).toEqual([['w-1', at('16:06')]]);
		expect((await complete('w-1', [sent(held)], at('16:02')))[0]).toMatchObject({ status: 'sent', accepted: true });
		expect((await messages(owner)).map((m) => [m.status, m.phone])).toEqual([['sent', oldNumber]]);
	});
});
