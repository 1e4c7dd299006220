// A sent follow-up's time is when its send began (the guard row's attempted_at), not when the batch
// was recorded: a reply written between delivery and the record, but stored after it (Messenger
// Sync importing it later, a late webhook), still stops the contact, and the conversation has the
// follow-up before the reply (migration 20261201001480_follow_up_sent_at_send_start.sql).
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../../helpers/stack';
import { addMessage, createWorld, NOW } from './fixtures';
import { beginSend, claim, explain, generate, recordSend } from './stage-helpers';

const service = serviceClient({ now: NOW });
// Message ids unique to this run: the clock projects run this file on one database.
const RUN = randomUUID().slice(0, 8);
const seconds = (n: number) => new Date(NOW.getTime() + n * 1000);
const BEGIN = seconds(3);
const RECORD = seconds(100);
const LATER = seconds(5 * 3600);

/** One contact of a new rule (stop on reply, 4 h apart): claimed at NOW, begun at NOW+3 s, recorded sent at NOW+100 s. */
async function sentLate(executionId: string) {
	const world = await createWorld();
	const ruleId = await world.rule({ maxFollowUps: 3, minHours: 4, stopOnReply: true });
	const conversationId = await world.contact({ lastMessageHoursAgo: 1 });
	const [claimed] = await claim(service, ruleId, executionId);
	expect(claimed.conversation_id).toBe(conversationId);
	await generate(service, executionId, [claimed.state_id]);
	const [begun] = await beginSend(service, executionId, [claimed.state_id], BEGIN);
	expect(begun.outcome).toBe('send');
	const messageId = `m_${executionId}_${RUN}`;
	expect(await recordSend(service, executionId, [{ state_id: claimed.state_id, outcome: 'sent', facebook_message_id: messageId }], RECORD)).toEqual([
		{ state_id: claimed.state_id, outcome: 'sent' },
	]);
	return { ruleId, conversationId, stateId: claimed.state_id, messageId };
}

const stopsOf = (conversationId: string) =>
	withDb(async (db) => (await db.query('select rule_id, reason from public.ai_automation_stops where conversation_id = $1', [conversationId])).rows);

const lastFollowUpAt = (stateId: string) =>
	withDb(async (db) => (await db.query<{ at: Date }>('select last_follow_up_at as at from public.ai_automation_contact_states where id = $1', [stateId])).rows[0].at);

/** The conversation's messages, in the order its history is read (oldest first). */
const history = (conversationId: string) =>
	withDb(async (db) =>
		(
			await db.query<{ direction: string; facebook_message_id: string | null; sent_at: Date }>(
				'select direction, facebook_message_id, sent_at from public.messenger_messages where conversation_id = $1 order by sent_at, id',
				[conversationId],
			)
		).rows,
	);

it('a reply written after the send began but stored after the batch was recorded stops the contact', async () => {
	const { ruleId, conversationId, stateId, messageId } = await sentLate('exec-late-reply');

	// The person answered 30 s in; Messenger Sync stores it after the record, with Facebook's time.
	await addMessage(conversationId, 'inbound', seconds(30).toISOString(), 'Yes, still interested');

	expect(await stopsOf(conversationId)).toEqual([{ rule_id: ruleId, reason: 'replied' }]);
	// Five hours later (past the 4 h interval, inside the reply's window) the contact is not due.
	const judged = (await explain(service, ruleId, LATER)).find((row) => row.conversation_id === conversationId);
	expect(judged?.reason).toBe('stopped');
	expect(await claim(service, ruleId, 'exec-next', 100, LATER)).toEqual([]);
	// The follow-up's time is its begin, on the contact and in the conversation, where it comes
	// before the reply.
	expect((await lastFollowUpAt(stateId)).toISOString()).toBe(BEGIN.toISOString());
	const [outbound] = (await history(conversationId)).filter((message) => message.direction === 'outbound');
	expect(outbound).toMatchObject({ facebook_message_id: messageId });
	expect(outbound.sent_at.toISOString()).toBe(BEGIN.toISOString());
	expect((await history(conversationId)).slice(-2).map((message) => message.direction)).toEqual(['outbound', 'inbound']);
});

it('a message written before the send began is not a reply to it: the contact stays due', async () => {
	const { ruleId, conversationId } = await sentLate('exec-early-message');

	// Written between the claim and the begin, stored after the record.
	await addMessage(conversationId, 'inbound', seconds(2).toISOString(), 'Hello?');

	expect(await stopsOf(conversationId)).toEqual([]);
	expect((await history(conversationId)).slice(-2).map((message) => message.direction)).toEqual(['inbound', 'outbound']);
	const next = await claim(service, ruleId, 'exec-next', 100, LATER);
	expect(next.map((contact) => [contact.conversation_id, contact.follow_up_number])).toEqual([[conversationId, 2]]);
	// The history the next generation reads: the message, then the follow-up.
	expect(next[0].messages.slice(-2).map((message) => message.direction)).toEqual(['inbound', 'outbound']);
});

it('a late sent for a contact the reaper made send_uncertain takes the begin\'s time too', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ maxFollowUps: 3, minHours: 4 });
	const conversationId = await world.contact({ lastMessageHoursAgo: 1 });
	const [claimed] = await claim(service, ruleId, 'exec-reaped');
	await generate(service, 'exec-reaped', [claimed.state_id]);
	await beginSend(service, 'exec-reaped', [claimed.state_id], BEGIN, 30);
	// The lease ran out; the next claim reaps it: failed send_uncertain.
	await claim(service, ruleId, 'exec-reaper', 10, seconds(300));
	const messageId = `m_reaped_${RUN}`;

	expect(await recordSend(service, 'exec-reaped', [{ state_id: claimed.state_id, outcome: 'sent', facebook_message_id: messageId }], seconds(360))).toEqual([
		{ state_id: claimed.state_id, outcome: 'sent' },
	]);

	expect((await lastFollowUpAt(claimed.state_id)).toISOString()).toBe(BEGIN.toISOString());
	const [outbound] = (await history(conversationId)).filter((message) => message.direction === 'outbound');
	expect(outbound.sent_at.toISOString()).toBe(BEGIN.toISOString());
});
