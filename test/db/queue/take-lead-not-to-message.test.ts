// Take Lead of a lead nobody may message (migration 20261201002000, after 20261201001920): a lead
// `do_not_contact` (opted out), `not_interested` (declined) or `invalid` (cannot be reached) keeps
// its status, so it can never be given back (set to new) and queued again; everything else a take
// does is done: what still waits is cancelled, and its Messenger conversation's follow-ups are
// stopped for every rule (human_takeover, rule_id null), so a follow-up rule tagging it no longer
// claims it. The answer says so (status_kept, explanation); a lead without a conversation has
// nothing to stop and the answer says that. Any other status is taken over as before. Real
// Postgres through PostgREST, fixed instants.
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { createWorld, NOW as FOLLOW_UP_NOW } from '../follow-up/fixtures';
import { ledger, messages, preparedOwner, prepare, rowCounts, rpc, takeLead, TOMORROW } from './fixtures';

const leadOf = (leadId: string) =>
	withDb(async (db) => (await db.query<{ status: string; taken_over_at: Date | null; taken_over_by: string | null; updated_at: Date }>('select status, taken_over_at, taken_over_by, updated_at from public.leads where id = $1', [leadId])).rows[0]);
const stopsOf = (userId: string) =>
	withDb(async (db) => (await db.query<{ conversation_id: string; rule_id: string | null; reason: string; note: string | null }>('select conversation_id, rule_id, reason, note from public.ai_automation_stops where user_id = $1', [userId])).rows);

const MEANING: Record<string, string> = {
	do_not_contact: 'opted out: never to be contacted',
	not_interested: 'it declined',
	invalid: 'it cannot be reached: WhatsApp gave its message up as undeliverable, or its details are wrong',
};
const STOPPED = 'its Messenger follow-ups are stopped for every rule (delete the stop to resume them).';
const NO_CONVERSATION = 'it has no Messenger conversation, so there are no follow-ups to stop.';
const kept = (leadId: string, status: string, tail: string) =>
	`Lead ${leadId} is ${status} (${MEANING[status]}): its status is kept, not made human_controlled, so giving it back can never queue it again; ${tail}`;

describe('queue_take_lead of a lead nobody may message', () => {
	it.each(['do_not_contact', 'not_interested', 'invalid'])(
		'a %s lead whose conversation a follow-up rule tags: the follow-ups are stopped, the status kept; the rule no longer claims the person',
		async (status) => {
			// The reviewer's case: an owner's follow-up rule tags two conversations; one is the lead's.
			const world = await createWorld();
			const ruleId = await world.rule();
			const [leadConversation, otherConversation] = await world.contacts(2);
			const leadId = await withDb(async (db) =>
				(await db.query<{ id: string }>(`insert into public.leads (user_id, name, phone, conversation_id, status) values ($1, 'Opted Out', '+14155550999', $2, $3) returning id`, [world.userId, leadConversation, status])).rows[0].id,
			);
			const before = await leadOf(leadId);

			const [taken] = await takeLead(leadId, { actorId: world.userId, reason: 'Customer asked us to stop; handling by hand', userId: world.userId, now: FOLLOW_UP_NOW.toISOString() });
			expect(taken).toEqual({
				lead_id: leadId,
				user_id: world.userId,
				status,
				already_taken: false,
				cancelled: [],
				stopped_rules: 1,
				sending: [],
				status_kept: true,
				explanation: kept(leadId, status, STOPPED),
			});
			// The lead is as it was: not human_controlled, so no give-back can queue it.
			expect(await leadOf(leadId)).toEqual(before);
			expect(await stopsOf(world.userId)).toEqual([{ conversation_id: leadConversation, rule_id: null, reason: 'human_takeover', note: 'Customer asked us to stop; handling by hand' }]);

			// The rule's claim takes the other contact, never the lead's (before …2000: both).
			const claimed = await rpc<ClaimExplained>('automation_claim_explained', { p_rule_id: ruleId, p_limit: 10, p_execution_id: `exec-${status}`, p_lease_seconds: 600, p_now: FOLLOW_UP_NOW.toISOString() });
			expect(claimed.contacts.map((contact) => contact.conversation_id)).toEqual([otherConversation]);

			// Twice is harmless: the stop exists, nothing more is written.
			const [again] = await takeLead(leadId, { userId: world.userId, now: FOLLOW_UP_NOW.toISOString() });
			expect(again).toMatchObject({ status, already_taken: false, cancelled: [], stopped_rules: 0, status_kept: true, explanation: kept(leadId, status, STOPPED) });
			expect(await stopsOf(world.userId)).toHaveLength(1);
			expect(await leadOf(leadId)).toEqual(before);
		},
	);

	it.each(['do_not_contact', 'not_interested', 'invalid'])(
		'a %s lead of the queue without a conversation: its status kept, nothing to stop (the answer says so), and the next Prepare does not queue it',
		async (status) => {
			const { userId, leadIds: [leadId] } = await preparedOwner(1);
			// The owner's app marks the lead (its waiting message is cancelled by the leads' trigger).
			await withDb((db) => db.query('update public.leads set status = $2 where id = $1', [leadId, status]));
			expect((await messages(userId))[0].status).toBe('cancelled');
			const before = { counts: await rowCounts(userId), ledger: await ledger(userId), lead: await leadOf(leadId) };

			const [taken] = await takeLead(leadId, { actorId: userId, reason: 'Customer called', userId, now: `${TOMORROW}T10:00:00.000Z` });
			expect(taken).toMatchObject({ lead_id: leadId, status, already_taken: false, cancelled: [], stopped_rules: 0, status_kept: true, explanation: kept(leadId, status, NO_CONVERSATION) });

			expect(await rowCounts(userId)).toEqual(before.counts);
			expect(await ledger(userId)).toEqual(before.ledger);
			expect(await leadOf(leadId)).toEqual(before.lead);
			expect(await stopsOf(userId)).toEqual([]);
			// Still not human_controlled, so nothing gives it back to the queue: the next day's Prepare skips it.
			const [next] = await prepare(userId, `${TOMORROW}T12:00:00.000Z`);
			expect(next.queued).toBe(0);
		},
	);

	it('a contacted, engaged or booked lead is still taken over', async () => {
		const { userId, leadIds } = await preparedOwner(3);
		const statuses = ['contacted', 'engaged', 'booked'];
		await withDb((db) => db.query('update public.leads l set status = s.status from unnest($1::uuid[], $2::text[]) s (id, status) where l.id = s.id', [leadIds, statuses]));
		for (const leadId of leadIds) {
			const [taken] = await takeLead(leadId, { userId, now: `${TOMORROW}T10:00:00.000Z` });
			expect(taken).toMatchObject({ lead_id: leadId, status: 'human_controlled', already_taken: false, status_kept: false, explanation: null });
			expect((await leadOf(leadId)).status).toBe('human_controlled');
		}
	});
});
