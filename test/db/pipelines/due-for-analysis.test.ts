// pipeline_due_for_analysis: which conversations an analysis is due for, and their last messages, in
// one call. Times are fixed instants around NOW; nothing depends on the date.
import type { DueConversation } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, minutesAfter, move, NOW, rpc, type PipelineWorld } from './fixtures';

const due = (args: Record<string, unknown>) => rpc<DueConversation[]>('pipeline_due_for_analysis', { p_now: NOW, ...args });

/** Messages written straight in Postgres; inbound ones move the conversation's last_customer_message_at (its trigger). */
async function say(conversationId: string, userId: string, messages: Array<{ direction: 'inbound' | 'outbound'; text: string; at: string }>) {
	await withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, $2, m.direction, m.text, m.at from jsonb_to_recordset($3::jsonb) as m (direction text, text text, at timestamptz)`,
			[userId, conversationId, JSON.stringify(messages)],
		),
	);
}

describe('pipeline_due_for_analysis', () => {
	let world: PipelineWorld;

	beforeEach(async () => {
		world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
	});

	it('returns a contact not in the Page\'s pipeline yet, with its Page\'s pipeline and its last messages oldest first', async () => {
		const [contact] = await world.contacts(1);
		await say(contact, world.userId, [
			{ direction: 'inbound', text: 'Hi, how much is it?', at: minutesAfter(-50) },
			{ direction: 'outbound', text: 'It is 40 euros.', at: minutesAfter(-40) },
			{ direction: 'inbound', text: 'Can you deliver on Friday?', at: minutesAfter(-30) },
		]);
		const rows = await due({ p_user_id: world.userId });
		expect(rows).toHaveLength(1);
		expect(rows[0]).toMatchObject({
			conversation_id: contact,
			user_id: world.userId,
			page_id: world.pageId,
			pipeline_id: world.pipeline.id,
			update_mode: 'UPDATE_EXISTING',
			reason: 'not_in_pipeline',
			last_analysed_message_at: null,
		});
		expect(Date.parse(rows[0].last_customer_message_at)).toBe(Date.parse(minutesAfter(-30)));
		expect(rows[0].messages.map((message) => [message.direction, message.text])).toEqual([
			['inbound', 'Hi, how much is it?'],
			['outbound', 'It is 40 euros.'],
			['inbound', 'Can you deliver on Friday?'],
		]);
	});

	it('keeps to the last p_max_messages messages and to those sent by p_now', async () => {
		const [contact] = await world.contacts(1);
		await say(contact, world.userId, [
			...Array.from({ length: 5 }, (_, n) => ({ direction: 'inbound' as const, text: `message ${n + 1}`, at: minutesAfter(-60 + n) })),
			{ direction: 'outbound', text: 'after NOW', at: minutesAfter(10) },
		]);
		const [row] = await due({ p_user_id: world.userId, p_max_messages: 2 });
		expect(row.messages.map((message) => message.text)).toEqual(['message 4', 'message 5']);
	});

	it('returns a placed contact again only when the customer wrote after the analysis saw the conversation', async () => {
		const [fresh, stale, never] = await world.contacts(3);
		for (const contact of [fresh, stale, never]) await say(contact, world.userId, [{ direction: 'inbound', text: 'Hello', at: minutesAfter(-60) }]);
		await assign([
			analysis(fresh, 50, { last_message_at: minutesAfter(-60) }),
			analysis(stale, 50, { last_message_at: minutesAfter(-60) }),
		], minutesAfter(-55));
		await say(stale, world.userId, [{ direction: 'inbound', text: 'One more question', at: minutesAfter(-20) }]);
		await move([{ conversation_id: never, stage_id: world.pipeline.stages['Contacted'] }], minutesAfter(-50));

		const rows = await due({ p_user_id: world.userId });
		const byContact = new Map(rows.map((row) => [row.conversation_id, row]));
		expect(byContact.has(fresh)).toBe(false);
		expect(byContact.get(stale)).toMatchObject({ reason: 'new_messages' });
		expect(Date.parse(byContact.get(stale)!.last_analysed_message_at!)).toBe(Date.parse(minutesAfter(-60)));
		// Moved by hand, never analysed: due, so the AI gives it a score.
		expect(byContact.get(never)).toMatchObject({ reason: 'new_messages', last_analysed_message_at: null });
	});

	it('does not return a contact moved out of the Page\'s pipeline; it does return one a person added to another pipeline', async () => {
		const support = await world.addPipeline('Support', [{ name: 'Inbox', isDefault: true }]);
		const [movedOut, alsoInSupport] = await world.contacts(2);
		for (const contact of [movedOut, alsoInSupport]) await say(contact, world.userId, [{ direction: 'inbound', text: 'Hello', at: minutesAfter(-60) }]);
		await assign([analysis(movedOut, 50, { last_message_at: minutesAfter(-60) })], minutesAfter(-55));
		await move([
			{ conversation_id: movedOut, stage_id: support.stages.Inbox, from_pipeline_id: world.pipeline.id },
			{ conversation_id: alsoInSupport, stage_id: support.stages.Inbox },
		], minutesAfter(-50));
		// The customer writes again: still not due, it stays where it was moved.
		await say(movedOut, world.userId, [{ direction: 'inbound', text: 'Any news?', at: minutesAfter(-20) }]);

		const rows = await due({ p_user_id: world.userId });
		expect(rows.map((row) => [row.conversation_id, row.reason])).toEqual([[alsoInSupport, 'not_in_pipeline']]);
	});

	it('returns a place made by the fallback score again, in either mode, after the other due contacts', async () => {
		await world.settings({ mode: 'SKIP_EXISTING' });
		const [provisional, fresh, scored] = await world.contacts(3);
		await say(provisional, world.userId, [{ direction: 'inbound', text: 'Hello', at: minutesAfter(-90) }]);
		await say(scored, world.userId, [{ direction: 'inbound', text: 'Hello', at: minutesAfter(-80) }]);
		await say(fresh, world.userId, [{ direction: 'inbound', text: 'Hi there', at: minutesAfter(-10) }]);
		await assign([
			analysis(provisional, 15, { is_fallback: true, confidence: 0, last_message_at: minutesAfter(-90) }),
			analysis(scored, 50, { last_message_at: minutesAfter(-80) }),
		], minutesAfter(-85));

		// The provisional place waited longest, yet comes after the new contact.
		let rows = await due({ p_user_id: world.userId });
		expect(rows.map((row) => [row.conversation_id, row.reason])).toEqual([
			[fresh, 'not_in_pipeline'],
			[provisional, 'fallback_analysis'],
		]);

		// The model's analysis replaces it: due no more.
		await assign([analysis(provisional, 60, { last_message_at: minutesAfter(-90) })], minutesAfter(-5));
		rows = await due({ p_user_id: world.userId });
		expect(rows.map((row) => row.conversation_id)).toEqual([fresh]);
	});

	it('never returns a placed contact of a SKIP_EXISTING Page, nor any of a Page whose auto-assignment is off', async () => {
		const [placed, unplaced] = await world.contacts(2);
		for (const contact of [placed, unplaced]) await say(contact, world.userId, [{ direction: 'inbound', text: 'Hello', at: minutesAfter(-60) }]);
		await assign([analysis(placed, 50, { last_message_at: minutesAfter(-60) })], minutesAfter(-55));
		await say(placed, world.userId, [{ direction: 'inbound', text: 'Still there?', at: minutesAfter(-10) }]);

		await world.settings({ mode: 'SKIP_EXISTING' });
		expect((await due({ p_user_id: world.userId })).map((row) => [row.conversation_id, row.reason])).toEqual([[unplaced, 'not_in_pipeline']]);

		await world.settings({ enabled: false });
		expect(await due({ p_user_id: world.userId })).toEqual([]);
	});

	it('skips conversations without a customer message, and orders the rest oldest waiting first, at most p_limit', async () => {
		const [quiet, late, early, middle] = await world.contacts(4);
		await say(quiet, world.userId, [{ direction: 'outbound', text: 'Hello from the Page', at: minutesAfter(-90) }]);
		await say(late, world.userId, [{ direction: 'inbound', text: 'late', at: minutesAfter(-10) }]);
		await say(early, world.userId, [{ direction: 'inbound', text: 'early', at: minutesAfter(-80) }]);
		await say(middle, world.userId, [{ direction: 'inbound', text: 'middle', at: minutesAfter(-40) }]);

		expect((await due({ p_user_id: world.userId })).map((row) => row.conversation_id)).toEqual([early, middle, late]);
		expect((await due({ p_user_id: world.userId, p_limit: 2 })).map((row) => row.conversation_id)).toEqual([early, middle]);
	});

	it('keeps to one owner with p_user_id; without it, every owner\'s Pages', async () => {
		const other = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const [mine] = await world.contacts(1);
		const [theirs] = await other.contacts(1);
		// Long before anything other suites write: judged at a p_now just after them, every owner's
		// due conversations are these two (each owner's Page), oldest first.
		await say(mine, world.userId, [{ direction: 'inbound', text: 'mine', at: '1990-01-01T00:00:00Z' }]);
		await say(theirs, other.userId, [{ direction: 'inbound', text: 'theirs', at: '1990-01-01T00:01:00Z' }]);

		expect((await due({ p_user_id: world.userId })).map((row) => row.conversation_id)).toEqual([mine]);
		expect((await due({ p_user_id: other.userId })).map((row) => row.conversation_id)).toEqual([theirs]);
		const everyone = (await due({ p_limit: 1000, p_now: '1990-01-01T12:00:00Z' })).map((row) => row.conversation_id);
		expect(everyone.slice(0, 2)).toEqual([mine, theirs]);
	});

	it.each([
		['p_limit', { p_limit: 0 }],
		['p_limit', { p_limit: 1001 }],
		['p_max_messages', { p_max_messages: 0 }],
		['p_max_messages', { p_max_messages: 201 }],
	])('refuses %s out of range, naming it', async (field, args) => {
		const error = await failure(due({ p_user_id: world.userId, ...args }));
		expect(error.code).toBe('22023');
		expect(error.message).toMatch(new RegExp(`^${field} must be between`));
	});
});
