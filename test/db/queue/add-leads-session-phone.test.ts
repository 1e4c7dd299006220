// Add Leads refuses an item whose phone is not its campaign session's (migration 20261201001920):
// the lead holding a session is that session's person (its answer moves the lead), so {phone P,
// session S of phone Q} made P's lead hold S: S answered "no" moved P's lead, while Q's lead (the
// person who said no) stayed new and was messaged. Now such an item is refused like a session that
// is not the owner's (field phone, naming both phones and what to do): raised, or answered and left
// out of the write. An item with the session's phone, or without a phone, is added as before. Real
// Postgres through PostgREST, fixed instants (p_now).
import { randomUUID } from 'node:crypto';
import type { AddLeadsRow } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { addLeads, createOwner, failure, NOW, phone, prepare, rpc, rowCounts } from './fixtures';

const service = serviceClient();

/** One campaign session of the owner, of this phone, created before NOW. */
async function session(owner: string, number: string) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: `plumber-leeds_${randomUUID().replace(/-/g, '').slice(0, 10)}`, name: 'Plumber - Leeds', job_description: 'Plumber' },
		p_tasks: [{ phone: number, name: 'Quinn', session: `s-${randomUUID().slice(0, 8)}` }],
		p_now: '2026-11-25T08:00:00.000Z',
	});
	if (error) throw new Error(error.message);
	return (data as { sessions: Array<{ campaign_session_id: string; session: string }> }).sessions[0];
}

const message = (given: string, sessionId: string, sessionPhone: string) =>
	`${given} is not the phone of its campaign session ${sessionId} (${sessionPhone}): send that phone or leave phone empty to take it, or leave campaign_session_id out to add this number as a lead of its own`;

describe('queue_add_leads: an item\'s phone and its campaign session\'s', () => {
	it('another phone than its session\'s is refused, raised or answered, naming both phones; nothing is written for it', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [P, Q] = [phone(), phone()];
		const s = await session(owner, Q);
		const before = await rowCounts(owner);

		const raised = await failure(addLeads([{ user_id: owner, name: 'Pat', phone: P, campaign_session_id: s.campaign_session_id }]));
		expect(raised.message).toBe(`p_items[0].phone: ${message(P, s.campaign_session_id, Q)}`);
		expect(raised.hint).toMatch(/^Send the campaign session's phone \(or leave phone empty: the session's is used\)/);
		expect(await rowCounts(owner)).toEqual(before);

		const walkIn = phone();
		const answered = await rpc<AddLeadsRow[]>('queue_add_leads', {
			p_now: NOW,
			p_refused: 'answer',
			p_items: [
				{ user_id: owner, name: 'Pat', phone: P, campaign_session_id: s.campaign_session_id },
				{ user_id: owner, name: 'Walk-in', phone: walkIn },
			],
		});
		expect(answered.map((row) => [row.item_index, row.outcome, row.field, row.message, row.phone])).toEqual([
			[0, 'refused', 'phone', message(P, s.campaign_session_id, Q), null],
			[1, 'created', null, null, walkIn],
		]);
		const checked = await rpc<AddLeadsRow[]>('queue_add_leads', { p_now: NOW, p_refused: 'check', p_items: [{ user_id: owner, phone: P, campaign_session_id: s.campaign_session_id }] });
		expect(checked.map((row) => [row.outcome, row.field])).toEqual([['refused', 'phone']]);
		const leads = await withDb(async (db) => (await db.query('select phone, campaign_session_id from public.leads where user_id = $1', [owner])).rows);
		expect(leads).toEqual([{ phone: walkIn, campaign_session_id: null }]);
	});

	it('the session\'s own phone, or none, makes the session\'s lead; its "no" then moves the person who said it', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [Q, R] = [phone(), phone()];
		const [q, r] = [await session(owner, Q), await session(owner, R)];
		const rows = await addLeads([
			{ user_id: owner, name: 'Quinn', phone: Q, campaign_session_id: q.campaign_session_id },
			{ user_id: owner, name: 'Rae', campaign_session_id: r.campaign_session_id },
		]);
		expect(rows.map((row) => [row.outcome, row.phone, row.campaign_session_id])).toEqual([
			['created', Q, q.campaign_session_id],
			['created', R, r.campaign_session_id],
		]);
		const { error } = await service.rpc('record_session_objective', { p_owner: owner, p_session_id: q.session, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: `no-${q.session}` });
		expect(error).toBeNull();
		const statuses = await withDb(async (db) => (await db.query('select phone, status from public.leads where user_id = $1 order by name', [owner])).rows);
		expect(statuses).toEqual([{ phone: Q, status: 'not_interested' }, { phone: R, status: 'new' }]);
		const [prepared] = await prepare(owner);
		expect(prepared.queued).toBe(1);
		expect(await withDb(async (db) => (await db.query('select phone from public.whatsapp_message_queue where user_id = $1', [owner])).rows)).toEqual([{ phone: R }]);
	});
});
