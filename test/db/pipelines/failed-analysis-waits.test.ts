// pipeline_assign with pipeline_due_for_analysis: a placed contact whose new messages the model
// failed on (kept, fallback_analysis) is listed after the other due contacts until the customer
// writes again, so contacts the model keeps failing on never hold back new leads; it stays due, and
// the model's analysis still places it (migration …2140). Times are fixed instants around NOW;
// nothing depends on the date.
import type { DueConversation } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, minutesAfter, NOW, places, rpc, type Place } from './fixtures';

const due = (userId: string, limit = 100) =>
	rpc<DueConversation[]>('pipeline_due_for_analysis', { p_now: NOW, p_user_id: userId, p_limit: limit });

/** A customer message (its trigger moves the conversation's last_customer_message_at). */
const customerWrote = (userId: string, conversationIds: string[], at: string) =>
	withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, 'inbound', 'you are all idiots', $3 from unnest($2::uuid[]) c`,
			[userId, conversationIds, at],
		),
	);

/** What Analyze gives when the model fails (blocked, quota, timeout): the fallback score. */
const fallback = (conversationId: string, lastMessageAt: string) =>
	analysis(conversationId, 15, {
		is_fallback: true,
		confidence: 0,
		model: null,
		lead_status: 'CONTACTED',
		reasoning: 'Keyword score: the model did not answer.',
		last_message_at: lastMessageAt,
	});

/** A place without its failed try and updated_at: its stage, score, status and the analysis it holds. */
const placeAndAnalysis = (place: Place) => {
	const kept: Partial<Place> = { ...place };
	delete kept.failed_analysis_last_message_at;
	delete kept.updated_at;
	return kept;
};

describe('pipeline_due_for_analysis after the model failed on a placed contact\'s new messages', () => {
	it('lists it after a new lead until the customer writes again, and the model\'s analysis still places it', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const [first, second, fresh] = await world.contacts(3);
		// The model placed both long ago; each wrote again since, before a new customer wrote.
		await customerWrote(world.userId, [first, second], minutesAfter(-240));
		await assign([
			analysis(first, 50, { last_message_at: minutesAfter(-240) }),
			analysis(second, 50, { last_message_at: minutesAfter(-240) }),
		], minutesAfter(-230));
		await customerWrote(world.userId, [first], minutesAfter(-60));
		await customerWrote(world.userId, [second], minutesAfter(-50));
		await customerWrote(world.userId, [fresh], minutesAfter(-40));
		// Max Conversations 2: the two who waited longest.
		expect((await due(world.userId, 2)).map((row) => row.conversation_id)).toEqual([first, second]);
		const before = await places(world.userId);

		// The model fails on both: kept, the model's earlier score, stage and analysis stay.
		const kept = await assign([fallback(first, minutesAfter(-60)), fallback(second, minutesAfter(-50))], minutesAfter(-30));
		expect(kept.map((row) => [row.outcome, row.reason, row.stage_name, row.lead_score])).toEqual([
			['kept', 'fallback_analysis', 'Qualified', 50],
			['kept', 'fallback_analysis', 'Qualified', 50],
		]);
		// The next run: the new lead first, then the two, still due, oldest first (never dropped).
		expect((await due(world.userId, 2)).map((row) => row.conversation_id)).toEqual([fresh, first]);
		expect((await due(world.userId)).map((row) => [row.conversation_id, row.reason])).toEqual([
			[fresh, 'not_in_pipeline'],
			[first, 'new_messages'],
			[second, 'new_messages'],
		]);

		// The try is recorded on the place (the last message it saw); nothing else of it changed.
		const after = await places(world.userId);
		for (const contact of [first, second]) {
			const now = after.find((p) => p.conversation_id === contact)!;
			const was = before.find((p) => p.conversation_id === contact)!;
			expect(placeAndAnalysis(now)).toEqual(placeAndAnalysis(was));
			expect(was.failed_analysis_last_message_at).toBeNull();
			expect(now.failed_analysis_last_message_at?.toISOString()).toBe(contact === first ? minutesAfter(-60) : minutesAfter(-50));
		}
		// Nothing in the history: the try changed nothing a person sees.
		expect((await activities(first)).filter((a) => a.occurred_at.getTime() === Date.parse(minutesAfter(-30)))).toEqual([]);

		// A new customer message: the failed try did not see it, so it waits its turn among the others.
		await customerWrote(world.userId, [second], minutesAfter(-20));
		expect((await due(world.userId)).map((row) => row.conversation_id)).toEqual([fresh, second, first]);

		// The model answers later: the contact is placed by it, and due no more.
		const placed = await assign([analysis(first, 90, { last_message_at: minutesAfter(-60) })], minutesAfter(-10));
		expect(placed.map((row) => [row.outcome, row.stage_name])).toEqual([['moved', 'Proposal']]);
		expect((await due(world.userId)).map((row) => row.conversation_id)).toEqual([fresh, second]);
	});

	it('keeps the latest failed try when an older one is assigned after it, and a call the model answered records none', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const [contact, answered, fresh] = await world.contacts(3);
		await customerWrote(world.userId, [contact, answered], minutesAfter(-240));
		await assign([
			analysis(contact, 50, { last_message_at: minutesAfter(-240) }),
			analysis(answered, 50, { last_message_at: minutesAfter(-240) }),
		], minutesAfter(-230));
		await customerWrote(world.userId, [contact, answered], minutesAfter(-60));
		await customerWrote(world.userId, [contact], minutesAfter(-50));
		await assign([fallback(contact, minutesAfter(-50))], minutesAfter(-40));
		await assign([fallback(contact, minutesAfter(-60)), analysis(answered, 60, { last_message_at: minutesAfter(-60) })], minutesAfter(-30));
		// A new lead wrote after the contact's last message: it still comes first.
		await customerWrote(world.userId, [fresh], minutesAfter(-45));
		expect((await due(world.userId)).map((row) => [row.conversation_id, row.reason])).toEqual([
			[fresh, 'not_in_pipeline'],
			[contact, 'new_messages'],
		]);
		const rows = await places(world.userId);
		const failedAt = (id: string) => rows.find((p) => p.conversation_id === id)!.failed_analysis_last_message_at;
		expect(failedAt(contact)?.toISOString()).toBe(minutesAfter(-50));
		expect(failedAt(answered)).toBeNull();
	});
});
