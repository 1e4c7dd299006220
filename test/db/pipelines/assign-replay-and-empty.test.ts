// pipeline_assign (with pipeline_due_for_analysis and pipeline_analysis_unused): a person's move
// ends a fallback placement's provisional status, a pipeline with no stages yet fails no batch, and
// an analysis applied twice changes and fires nothing the second time (migration …1650). Times are
// fixed instants around NOW; nothing depends on the date.
import type { AnalysisUnused, DueConversation } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, minutesAfter, move, NOW, places, rpc, runs } from './fixtures';

const due = (userId: string) => rpc<DueConversation[]>('pipeline_due_for_analysis', { p_now: NOW, p_user_id: userId });
const unused = (conversationIds: string[]) => rpc<AnalysisUnused[]>('pipeline_analysis_unused', { p_conversation_ids: conversationIds });

/** A customer message (its trigger moves the conversation's last_customer_message_at). */
const customerWrote = (userId: string, conversationIds: string[], at: string) =>
	withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, 'inbound', 'How much is it?', $3 from unnest($2::uuid[]) c`,
			[userId, conversationIds, at],
		),
	);

const outbox = (userId: string) =>
	withDb(async (db) => (await db.query<{ id: string }>('select id from public.pipeline_outbox where user_id = $1', [userId])).rows);

const fallback = (conversationId: string, score: number) =>
	analysis(conversationId, score, { is_fallback: true, confidence: 0, model: null, lead_status: 'CONTACTED', reasoning: 'Keyword score: the model did not answer.' });

describe('pipeline_assign: a fallback placement a person moved since', () => {
	it('is no longer provisional: not due again, and the model\'s analysis keeps the person\'s stage on a SKIP_EXISTING Page', async () => {
		const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
		const [movedByHand, untouched] = await world.contacts(2);
		await customerWrote(world.userId, [movedByHand, untouched], minutesAfter(-90));
		const placed = await assign([fallback(movedByHand, 30), fallback(untouched, 30)], minutesAfter(-60));
		expect(placed.map((row) => [row.outcome, row.stage_name])).toEqual([
			['assigned', 'Contacted'],
			['assigned', 'Contacted'],
		]);

		// A person moves one of them on.
		const [moved] = await move([{ conversation_id: movedByHand, stage_name: 'Proposal', pipeline_id: world.pipeline.id }], minutesAfter(-30));
		expect(moved).toMatchObject({ outcome: 'moved', stage_name: 'Proposal' });

		// Only the untouched one is still due for the model's analysis.
		expect((await due(world.userId)).map((row) => [row.conversation_id, row.reason])).toEqual([[untouched, 'fallback_analysis']]);

		// The model answers for both: the untouched place is re-evaluated, the moved one keeps the
		// person's stage and takes the model's score and summary.
		const scored = await assign([analysis(movedByHand, 50, { lead_status: 'QUALIFIED' }), analysis(untouched, 50, { lead_status: 'QUALIFIED' })]);
		expect(scored[0]).toMatchObject({
			outcome: 'kept',
			reason: 'skip_existing',
			priority: null,
			from_stage_name: 'Proposal',
			stage_name: 'Proposal',
			lead_score: 50,
			lead_status: 'QUALIFIED',
		});
		expect(scored[1]).toMatchObject({ outcome: 'moved', reason: null, from_stage_name: 'Contacted', stage_name: 'Qualified' });
		const place = (await places(world.userId)).find((row) => row.conversation_id === movedByHand)!;
		expect(place).toMatchObject({ stage_id: world.pipeline.stages.Proposal, lead_score: 50, analysis_is_fallback: false, analysis_model: 'gemini-3-flash' });
		expect(place.stage_entered_at.toISOString()).toBe(minutesAfter(-30));
		// From then on the model's place on a SKIP_EXISTING Page: left alone.
		const [later] = await assign([analysis(movedByHand, 90, { last_message_at: minutesAfter(5) })], minutesAfter(10));
		expect(later).toMatchObject({ outcome: 'kept', reason: 'skip_existing', stage_name: 'Proposal', lead_score: 50 });
	});
});

describe('pipeline_assign: a Page whose pipeline has no stages yet', () => {
	it('skips its contacts (pipeline_has_no_stages) and places the others of the batch; nothing lists them for an analysis', async () => {
		const ready = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const empty = await createPipelineWorld({ mode: 'UPDATE_EXISTING', stages: [] });
		const readyContact = await ready.contact();
		const [emptyContact, namedEmpty] = await empty.contacts(2);
		await customerWrote(empty.userId, [emptyContact, namedEmpty], minutesAfter(-90));

		// No Gemini call for them: Due for Analysis does not list them, the unused check leaves them out.
		expect(await due(empty.userId)).toEqual([]);
		expect(await unused([emptyContact, readyContact])).toEqual([
			{ item_index: 0, conversation_id: emptyContact, outcome: 'skipped', reason: 'pipeline_has_no_stages' },
		]);

		const results = await assign([
			analysis(emptyContact, 50),
			analysis(readyContact, 50),
			analysis(namedEmpty, 50, { pipeline_id: empty.pipeline.id }),
		]);
		expect(results.map((row) => [row.conversation_id, row.outcome, row.reason, row.pipeline_id, row.stage_id, row.automations_fired])).toEqual([
			[emptyContact, 'skipped', 'pipeline_has_no_stages', empty.pipeline.id, null, 0],
			[readyContact, 'assigned', null, ready.pipeline.id, ready.pipeline.stages.Qualified, 0],
			[namedEmpty, 'skipped', 'pipeline_has_no_stages', empty.pipeline.id, null, 0],
		]);
		expect(await places(empty.userId)).toEqual([]);
		expect(await activities(emptyContact)).toEqual([]);

		// Once the pipeline has a stage, its contacts are due and placed as any.
		await withDb((db) =>
			db.query(`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order) values ($1, $2, 'Inbox', 1)`, [empty.userId, empty.pipeline.id]),
		);
		expect((await due(empty.userId)).map((row) => row.reason)).toEqual(['not_in_pipeline', 'not_in_pipeline']);
		const [placed] = await assign([analysis(emptyContact, 50)], minutesAfter(10));
		expect(placed).toMatchObject({ outcome: 'assigned', stage_name: 'Inbox' });
	});
});

describe('pipeline_assign: the same analysis applied twice', () => {
	it('is kept, already_applied: the contact is not pulled back and its automations do not fire again; another result of the same messages applies', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const toQualified = await world.automation({
			name: 'to Qualified',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: world.pipeline.stages.Qualified },
			actions: [
				{ type: 'move_to_stage', stage_id: world.pipeline.stages.Proposal },
				{ type: 'set_lead_status', status: 'NEGOTIATING' },
				{ type: 'webhook', url: 'https://crm.example.test/qualified' },
			],
		});
		const contact = await world.contact();
		const item = analysis(contact, 50, { lead_status: 'QUALIFIED', last_message_at: minutesAfter(-30) });

		const [first] = await assign([item], minutesAfter(-10));
		expect(first).toMatchObject({ outcome: 'assigned', automations_fired: 1 });
		expect((await places(world.userId))[0]).toMatchObject({ stage_id: world.pipeline.stages.Proposal, lead_status: 'NEGOTIATING' });
		const before = { place: await places(world.userId), history: await activities(contact), outbox: await outbox(world.userId) };
		expect(before.outbox).toHaveLength(1);

		// n8n retries Assign after the committed call's answer was lost: the identical analysis.
		const [replayed] = await assign([item]);
		expect(replayed).toMatchObject({
			outcome: 'kept',
			reason: 'already_applied',
			priority: null,
			stage_name: 'Proposal',
			from_stage_name: 'Proposal',
			lead_score: 50,
			lead_status: 'NEGOTIATING',
			automations_fired: 0,
			outbox_ids: [],
		});
		expect(await places(world.userId)).toEqual(before.place);
		expect(await activities(contact)).toEqual(before.history);
		expect(await outbox(world.userId)).toEqual(before.outbox);
		expect((await runs(world.userId)).filter((run) => run.automation_id === toQualified)).toHaveLength(1);

		// A re-analysis of the same messages with another result (the same last_message_at) is not a replay.
		const [again] = await assign([{ ...item, lead_score: 60 }], minutesAfter(10));
		expect(again).toMatchObject({ outcome: 'moved', reason: null, from_stage_name: 'Proposal', stage_name: 'Qualified', lead_score: 60 });
	});
});
