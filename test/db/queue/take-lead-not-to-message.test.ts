// Take Lead refuses a lead nobody may message (migration 20261201001920): a lead `do_not_contact`
// (opted out), `not_interested` (declined) or `invalid` (cannot be reached) is not made
// human_controlled, so it can never be given back (set to new) and queued again. The refusal names
// the lead and its status and says what to do (22023, a 400 on the Take Lead webhook); nothing is
// written. Any other status is taken as before. Real Postgres through PostgREST, fixed instants.
import { withDb } from '../../helpers/stack';
import { failure, ledger, messages, preparedOwner, prepare, rowCounts, takeLead, TOMORROW } from './fixtures';

const leadOf = (leadId: string) =>
	withDb(async (db) => (await db.query<{ status: string; taken_over_at: Date | null; updated_at: Date }>('select status, taken_over_at, updated_at from public.leads where id = $1', [leadId])).rows[0]);

describe('queue_take_lead of a lead nobody may message', () => {
	it.each([
		['do_not_contact', 'opted out: never to be contacted', /nobody may message it/],
		['not_interested', 'it declined', /nobody may message it/],
		['invalid', 'it cannot be reached: WhatsApp gave its message up as undeliverable, or its details are wrong', /once its phone is corrected/],
	])('a lead that is %s is refused, naming its status and what to do; nothing is written, and given back it is never queued', async (status, meaning, hint) => {
		const { userId, leadIds: [leadId] } = await preparedOwner(1);
		// The owner's app marks the lead (its waiting message is cancelled by the leads' trigger).
		await withDb((db) => db.query('update public.leads set status = $2 where id = $1', [leadId, status]));
		expect((await messages(userId))[0].status).toBe('cancelled');
		const before = { counts: await rowCounts(userId), ledger: await ledger(userId), lead: await leadOf(leadId) };

		const refused = await failure(takeLead(leadId, { actorId: userId, reason: 'Customer called', userId, now: `${TOMORROW}T10:00:00.000Z` }));
		expect(refused.code).toBe('22023');
		expect(refused.message).toBe(`p_lead_id: lead ${leadId} is ${status} (${meaning}), so it is not taken over`);
		expect(refused.hint).toMatch(hint);

		expect(await rowCounts(userId)).toEqual(before.counts);
		expect(await ledger(userId)).toEqual(before.ledger);
		expect(await leadOf(leadId)).toEqual(before.lead);
		expect(await withDb(async (db) => (await db.query('select count(*)::int as n from public.ai_automation_stops where user_id = $1', [userId])).rows[0].n)).toBe(0);
		// Still not human_controlled, so nothing gives it back to the queue: the next day's Prepare skips it.
		const [next] = await prepare(userId, `${TOMORROW}T12:00:00.000Z`);
		expect(next.queued).toBe(0);
	});

	it('a contacted, engaged or booked lead is still taken over', async () => {
		const { userId, leadIds } = await preparedOwner(3);
		const statuses = ['contacted', 'engaged', 'booked'];
		await withDb((db) => db.query('update public.leads l set status = s.status from unnest($1::uuid[], $2::text[]) s (id, status) where l.id = s.id', [leadIds, statuses]));
		for (const leadId of leadIds) {
			const [taken] = await takeLead(leadId, { userId, now: `${TOMORROW}T10:00:00.000Z` });
			expect(taken).toMatchObject({ lead_id: leadId, status: 'human_controlled', already_taken: false });
			expect((await leadOf(leadId)).status).toBe('human_controlled');
		}
	});
});
