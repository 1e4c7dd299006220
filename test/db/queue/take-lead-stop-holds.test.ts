// Take Lead's stop holds (migrations 20261201002030 and …2040, review Z). A person answering from the
// Page inbox stops the contact for every rule with last_human_message_at (a human takeover a rule
// with resume_after_takeover_hours lifts by itself). A take afterwards, of a lead nobody may message
// (the console's Stop follow-ups) or an ordinary one, makes that stop hold until deleted and counts
// the rules it stopped; a later Page-inbox message does not make it liftable again. The console's
// Queue tab says "follow-ups stopped" only for a stop that holds, so a row whose conversation only
// has the inbox's stop still offers Stop follow-ups. Real Postgres through PostgREST, fixed instants.
import { serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { createWorld, NOW } from '../follow-up/fixtures';
import { claim, judgementOf } from '../follow-up/stage-helpers';
import { INBOX_APP_ID, connectPage, echo, recordEvents, senderOf } from '../messenger/fixtures';
import { preparedOwner, rpc, takeLead, TOMORROW } from './fixtures';

const service = serviceClient();
const hoursAfter = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);
const stopsOf = (conversationId: string) =>
	withDb(async (db) =>
		(await db.query<{ rule_id: string | null; reason: string; note: string | null; last_human_message_at: Date | null }>(
			'select rule_id, reason, note, last_human_message_at from public.ai_automation_stops where conversation_id = $1', [conversationId])).rows);

/** An owner's rule resuming 2 h after a takeover, the lead's tagged conversation a person answered from the Page inbox half an hour before NOW. */
async function inboxTakenOver(status: string, resumeAfterTakeoverHours: number | null = 2) {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	const ruleId = await world.rule({ minHours: 0 });
	await withDb((db) => db.query('update public.ai_automation_rules set resume_after_takeover_hours = $2 where id = $1', [ruleId, resumeAfterTakeoverHours]));
	const conversationId = await world.contact({ lastMessageHoursAgo: 5 });
	const psid = await senderOf(conversationId);
	const [recorded] = await recordEvents(service, [echo(world.pageId, psid, -0.5, INBOX_APP_ID, 'Anna here, I will take it from here')]);
	expect(recorded.stop_reason).toBe('human_takeover');
	expect(await stopsOf(conversationId)).toEqual([expect.objectContaining({ rule_id: null, reason: 'human_takeover', last_human_message_at: hoursAfter(-0.5) })]);
	const leadId = await withDb(async (db) =>
		(await db.query<{ id: string }>(`insert into public.leads (user_id, name, phone, conversation_id, status) values ($1, 'Opted Out', '+14155550999', $2, $3) returning id`, [world.userId, conversationId, status])).rows[0].id);
	return { world, ruleId, conversationId, psid, leadId };
}

describe('queue_take_lead after a takeover from the Page inbox', () => {
	it.each([
		['do_not_contact', 'do_not_contact', true],
		['new', 'human_controlled', false],
	])('a %s lead: the take makes the stop hold (stopped_rules 1), so the rule that resumes after 2 h never claims the person', async (leadStatus, answered, kept) => {
		const { world, ruleId, conversationId, psid, leadId } = await inboxTakenOver(leadStatus);
		// Before the take the inbox's stop is lifted for this rule 2 h after the person wrote.
		expect(await judgementOf(service, ruleId, conversationId, hoursAfter(2))).toMatchObject({ due: true });

		const [taken] = await takeLead(leadId, { actorId: world.userId, reason: 'Customer asked us to stop', userId: world.userId, now: NOW.toISOString() });
		// Before …2030: stopped_rules 0 and the inbox's stop left liftable (on conflict do nothing).
		expect(taken).toMatchObject({ status: answered, status_kept: kept, stopped_rules: 1 });
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: null, reason: 'human_takeover', note: 'Customer asked us to stop', last_human_message_at: null }]);
		expect(await judgementOf(service, ruleId, conversationId, hoursAfter(2))).toMatchObject({ due: false, stop_reason: 'human_takeover', due_at: null });
		expect((await claim(service, ruleId, `exec-holds-${leadStatus}`, 100, hoursAfter(2))).map((contact) => contact.conversation_id)).not.toContain(conversationId);

		// A person writing from the Page inbox again moves nothing: the stop still holds until deleted.
		await recordEvents(service, [echo(world.pageId, psid, 0.5, INBOX_APP_ID, 'Anna again')], { now: hoursAfter(0.5) });
		expect(await stopsOf(conversationId)).toEqual([expect.objectContaining({ note: 'Customer asked us to stop', last_human_message_at: null })]);
		expect((await claim(service, ruleId, `exec-holds-again-${leadStatus}`, 100, hoursAfter(5))).map((contact) => contact.conversation_id)).not.toContain(conversationId);

		// Twice: nothing more to stop.
		expect((await takeLead(leadId, { userId: world.userId, now: hoursAfter(1).toISOString() }))[0].stopped_rules).toBe(0);
	});

	it('a rule that never resumes by itself was held already: stopped_rules 0, and the stop holds all the same', async () => {
		const { world, conversationId, leadId } = await inboxTakenOver('not_interested', null);
		const [taken] = await takeLead(leadId, { userId: world.userId, now: NOW.toISOString() });
		expect(taken).toMatchObject({ status: 'not_interested', status_kept: true, stopped_rules: 0 });
		// No reason given: the default note says the lead was not taken over.
		expect(await stopsOf(conversationId)).toEqual([
			{ rule_id: null, reason: 'human_takeover', note: `follow-ups stopped for lead ${leadId} (not_interested, not taken over)`, last_human_message_at: null },
		]);
	});
});

test("console_queue_page: a conversation with only the Page inbox's liftable stop is not 'follow-ups stopped'; after the take it is", async () => {
	const { userId, leadIds: [leadId] } = await preparedOwner(1);
	const pageId = uniquePageId();
	await connectPage(pageId, userId);
	const conversationId = await withDb(async (db) => {
		const id = (await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, is_active, last_customer_message_at) values ($1, $2, $3, 'Opted Out', true, $4::timestamptz - interval '5 hours') returning id`, [userId, pageId, `77${Date.now()}`, NOW.toISOString()])).rows[0].id;
		await db.query(`update public.leads set conversation_id = $2, status = 'do_not_contact' where id = $1`, [leadId, id]);
		return id;
	});
	await recordEvents(service, [echo(pageId, await senderOf(conversationId), -0.5, INBOX_APP_ID, 'Anna here')]);
	const rowOf = async () =>
		(await rpc<{ rows: { rows: Array<{ lead_id: string; conversation_id: string | null; follow_ups_stopped: boolean }> } }>('console_queue_page', { p_user_id: userId, p_day: TOMORROW, p_owners: false }))
			.rows.rows.find((row) => row.lead_id === leadId);
	// Before …2040: true, so the row showed "· follow-ups stopped" and no Stop follow-ups button.
	expect(await rowOf()).toMatchObject({ conversation_id: conversationId, follow_ups_stopped: false });
	await takeLead(leadId, { userId, reason: 'Follow-ups stopped in the Leadflow console', now: `${TOMORROW}T10:00:00.000Z` });
	expect(await rowOf()).toMatchObject({ conversation_id: conversationId, follow_ups_stopped: true });
});
