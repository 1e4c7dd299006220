// pipeline_assign through supabase-js, as the node calls it: the seed's priorities (status, score
// range, the AI's recommendation, the closest range, then the default or first stage), downgrade
// protection, both update modes, and the history that keeps the AI's reasoning.
import { withDb } from '../../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, minutesAfter, move, NOW, places, runs, type StageSpec } from './fixtures';

const byConversation = <T extends { conversation_id: string }>(rows: T[]) => new Map(rows.map((row) => [row.conversation_id, row]));

describe('pipeline_assign: which stage', () => {
	it('lets each of the seed\'s priorities decide, in order, and falls back to the default, then the first stage', async () => {
		const world = await createPipelineWorld();
		const [won, inRange, recommended, closest, tie, unknownName] = await world.contacts(6);
		const results = await assign([
			// Priority 1: the status routes to Won although the score is New Lead's.
			analysis(won, 10, { lead_status: 'WON' }),
			// Priority 2: 50 is in Qualified's range (46–70).
			analysis(inRange, 50, { lead_status: 'QUALIFIED' }),
			// Priority 3: 73 is in no range; the AI named Proposal (case and spaces ignored).
			analysis(recommended, 73, { recommended_stage: '  proposal ' }),
			// Priority 4: 74 is in no range; Proposal (from 76) is closer than Qualified (to 70).
			analysis(closest, 74),
			// Priority 4, a tie: 73 is 3 from both; the lower stage wins.
			analysis(tie, 73),
			// A recommendation naming no stage is no recommendation.
			analysis(unknownName, 74, { recommended_stage: 'Negotiation' }),
		]);
		expect(results.map((row) => [row.item_index, row.outcome, row.priority, row.stage_name])).toEqual([
			[0, 'assigned', 'status', 'Won'],
			[1, 'assigned', 'score_range', 'Qualified'],
			[2, 'assigned', 'ai_recommendation', 'Proposal'],
			[3, 'assigned', 'closest_score', 'Proposal'],
			[4, 'assigned', 'closest_score', 'Qualified'],
			[5, 'assigned', 'closest_score', 'Proposal'],
		]);
		const placed = byConversation(await places(world.userId));
		expect(placed.get(won)).toMatchObject({ stage_id: world.pipeline.stages.Won, lead_score: 10, lead_status: 'WON' });
		expect(placed.get(won)!.stage_entered_at.toISOString()).toBe(NOW);
		expect(placed.get(inRange)!.stage_id).toBe(world.pipeline.stages.Qualified);
		expect(placed.get(tie)!.stage_id).toBe(world.pipeline.stages.Qualified);

		// Without score ranges, statuses or a matching name: the default stage, else the first.
		const withDefault = await world.addPipeline('Partners', [{ name: 'Prospect' }, { name: 'Onboarding', isDefault: true }, { name: 'Active' }]);
		const withoutDefault = await world.addPipeline('Support', [{ name: 'Inbox' }, { name: 'Waiting' }, { name: 'Done', statuses: ['WON'] }]);
		const [partner, supportCase] = await world.contacts(2);
		const fallbacks = await assign([
			analysis(partner, 50, { pipeline_id: withDefault.id }),
			analysis(supportCase, 50, { pipeline_id: withoutDefault.id, recommended_stage: 'Escalated' }),
		]);
		expect(fallbacks.map((row) => [row.outcome, row.priority, row.stage_name, row.pipeline_id])).toEqual([
			['assigned', 'default_stage', 'Onboarding', withDefault.id],
			['assigned', 'first_stage', 'Inbox', withoutDefault.id],
		]);
	});

	it('uses the Page\'s pipeline, and skips contacts of a Page whose auto-assignment is off', async () => {
		const world = await createPipelineWorld();
		const [first, second] = await world.contacts(2);
		expect((await assign([analysis(first, 30)]))[0]).toMatchObject({ outcome: 'assigned', pipeline_id: world.pipeline.id, stage_name: 'Contacted' });

		await world.settings({ enabled: false });
		const [skipped] = await assign([analysis(second, 30)]);
		expect(skipped).toMatchObject({ outcome: 'skipped', reason: 'auto_assign_off', priority: null, pipeline_id: null, stage_id: null, automations_fired: 0 });
		expect((await places(world.userId)).map((place) => place.conversation_id)).toEqual([first]);
	});
});

// The pipeline of the table below: a status routes down to Nurture (so a proposal can be lower
// while the score stays high); Won has no score range.
const LADDER: StageSpec[] = [
	{ name: 'Nurture', statuses: ['UNRESPONSIVE'] }, // order 1, no range
	{ name: 'New Lead', min: 0, max: 20 }, // order 2
	{ name: 'Contacted', min: 21, max: 45 }, // order 3
	{ name: 'Qualified', min: 46, max: 70 }, // order 4
	{ name: 'Proposal', min: 76, max: 100 }, // order 5
	{ name: 'Won', statuses: ['WON'] }, // order 6, no range
];

describe('pipeline_assign: downgrade protection', () => {
	// current stage (order, lead_score_min) | new score | what proposes the stage | proposed stage (order, min) | outcome
	it.each`
		current        | score | extra                                                              | proposed       | outcome                          | stageAfter
		${'Qualified'} | ${60} | ${{ lead_status: 'UNRESPONSIVE' }}                                 | ${'Nurture'}   | ${'kept downgrade_protected'}    | ${'Qualified'}
		${'Qualified'} | ${46} | ${{ lead_status: 'UNRESPONSIVE' }}                                 | ${'Nurture'}   | ${'kept downgrade_protected'}    | ${'Qualified'}
		${'Qualified'} | ${45} | ${{ lead_status: 'UNRESPONSIVE' }}                                 | ${'Nurture'}   | ${'moved'}                       | ${'Nurture'}
		${'Proposal'}  | ${80} | ${{ lead_status: 'UNRESPONSIVE' }}                                 | ${'Nurture'}   | ${'kept downgrade_protected'}    | ${'Proposal'}
		${'Proposal'}  | ${73} | ${{ recommended_stage: 'Contacted' }}                              | ${'Contacted'} | ${'moved'}                       | ${'Contacted'}
		${'Proposal'}  | ${76} | ${{ recommended_stage: 'Contacted', lead_status: 'UNRESPONSIVE' }} | ${'Nurture'}   | ${'kept downgrade_protected'}    | ${'Proposal'}
		${'Won'}       | ${90} | ${{ lead_status: 'QUALIFIED' }}                                    | ${'Proposal'}  | ${'moved'}                       | ${'Proposal'}
		${'Contacted'} | ${80} | ${{}}                                                              | ${'Proposal'}  | ${'moved'}                       | ${'Proposal'}
		${'Qualified'} | ${74} | ${{}}                                                              | ${'Proposal'}  | ${'moved'}                       | ${'Proposal'}
		${'Qualified'} | ${72} | ${{}}                                                              | ${'Qualified'} | ${'kept same_stage'}             | ${'Qualified'}
	`('in $current, a score of $score proposing $proposed: $outcome', async ({ current, score, extra, proposed, outcome, stageAfter }) => {
		const world = await createPipelineWorld({ stages: LADDER });
		const contact = await world.contact();
		await move([{ conversation_id: contact, stage_name: current, pipeline_id: world.pipeline.id }], minutesAfter(-60));
		const [result] = await assign([analysis(contact, score, extra)]);
		expect(`${result.outcome}${result.reason ? ` ${result.reason}` : ''}`).toBe(outcome);
		expect(result.stage_name).toBe(stageAfter);
		expect(result.from_stage_name).toBe(current);
		if (result.reason === 'downgrade_protected') {
			// The output says why it stayed: the lower stage the analysis proposed, and which priority did.
			expect(result).toMatchObject({ proposed_stage_name: proposed, proposed_stage_id: world.pipeline.stages[proposed] });
		} else {
			expect(result.proposed_stage_id).toBeNull();
			expect(result.stage_name).toBe(proposed);
		}
		const [place] = await places(world.userId);
		expect(place.stage_id).toBe(world.pipeline.stages[stageAfter]);
		// Kept or not, the contact gets the analysis' score; the stage is what protection keeps.
		expect(place.lead_score).toBe(score);
	});
});

describe('pipeline_assign: update modes', () => {
	it('SKIP_EXISTING leaves a contact already in the pipeline alone: nothing written', async () => {
		const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
		const contact = await world.contact();
		await assign([analysis(contact, 30)]);
		const before = { place: await places(world.userId), history: await activities(contact) };
		const [again] = await assign([analysis(contact, 80, { lead_status: 'QUALIFIED', reasoning: 'Ready to buy.' })], minutesAfter(60));
		expect(again).toMatchObject({ outcome: 'kept', reason: 'skip_existing', priority: null, stage_name: 'Contacted', lead_score: 30, lead_status: 'CONTACTED' });
		expect(await places(world.userId)).toEqual(before.place);
		expect(await activities(contact)).toEqual(before.history);
	});

	it('UPDATE_EXISTING re-evaluates it, and an item may ask for either mode itself', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const [updated, skippedByItem] = await world.contacts(2);
		await assign([analysis(updated, 30), analysis(skippedByItem, 30)]);
		const results = await assign(
			[analysis(updated, 80, { lead_status: 'QUALIFIED' }), analysis(skippedByItem, 80, { update_mode: 'SKIP_EXISTING' })],
			minutesAfter(60),
		);
		expect(results.map((row) => [row.outcome, row.reason, row.priority, row.from_stage_name, row.stage_name])).toEqual([
			['moved', null, 'score_range', 'Contacted', 'Proposal'],
			['kept', 'skip_existing', null, 'Contacted', 'Contacted'],
		]);
		const placed = byConversation(await places(world.userId));
		expect(placed.get(updated)).toMatchObject({ stage_id: world.pipeline.stages.Proposal, lead_score: 80, lead_status: 'QUALIFIED' });
		expect(placed.get(updated)!.stage_entered_at.toISOString()).toBe(minutesAfter(60));
		expect(placed.get(skippedByItem)).toMatchObject({ stage_id: world.pipeline.stages.Contacted, lead_score: 30 });

		// A page in SKIP_EXISTING, an item asking for UPDATE_EXISTING.
		await world.settings({ mode: 'SKIP_EXISTING' });
		const [forced] = await assign([analysis(skippedByItem, 50, { update_mode: 'UPDATE_EXISTING' })], minutesAfter(120));
		expect(forced).toMatchObject({ outcome: 'moved', stage_name: 'Qualified' });
	});
});

describe('pipeline_assign: the history', () => {
	it('keeps the AI\'s reasoning, confidence and recommendation, and the place keeps the last analysis', async () => {
		const world = await createPipelineWorld();
		const contact = await world.contact();
		await assign([
			analysis(contact, 60, {
				lead_status: 'QUALIFIED',
				recommended_stage: 'Qualified',
				confidence: 87.5,
				reasoning: 'Asked for a quote for 40 units.',
				summary: 'Wants 40 units by March.',
				is_fallback: false,
				last_message_at: '2026-11-25T11:30:00Z',
			}),
		]);
		const [assigned] = await activities(contact);
		expect(assigned).toMatchObject({
			type: 'STAGE_CHANGED',
			title: 'AI auto-assigned to pipeline',
			description: 'Asked for a quote for 40 units.',
			from_stage_id: null,
			to_stage_id: world.pipeline.stages.Qualified,
			actor: 'ai',
			actor_id: 'gemini-3-flash',
			depth: 0,
			metadata: {
				confidence: 87.5,
				recommendation: 'Qualified',
				lead_score: 60,
				lead_status: 'QUALIFIED',
				priority: 'score_range',
				is_fallback: false,
				model: 'gemini-3-flash',
				outcome: 'assigned',
			},
		});
		expect(assigned.occurred_at.toISOString()).toBe(NOW);
		const [place] = await places(world.userId);
		expect(place).toMatchObject({
			analysis_summary: 'Wants 40 units by March.',
			analysis_confidence: '87.50',
			analysis_reasoning: 'Asked for a quote for 40 units.',
			analysis_recommended_stage: 'Qualified',
			analysis_model: 'gemini-3-flash',
			analysis_is_fallback: false,
		});
		expect(place.analysis_last_message_at!.toISOString()).toBe('2026-11-25T11:30:00.000Z');
		expect(place.analysed_at!.toISOString()).toBe(NOW);

		// The next analysis keeps the stage (same range): ANALYSED, with its reasoning; the score and
		// status changes are their own entries.
		await assign([analysis(contact, 65, { lead_status: 'NEGOTIATING', reasoning: 'Negotiating the price.', confidence: 70 })], minutesAfter(60));
		const history = await activities(contact);
		expect(history.slice(1).map((entry) => [entry.type, entry.description, entry.metadata])).toEqual([
			['ANALYSED', 'Negotiating the price.', expect.objectContaining({ confidence: 70, lead_score: 65, outcome: 'kept', reason: 'same_stage' })],
			['SCORE_CHANGED', null, { from: 60, to: 65 }],
			['STATUS_CHANGED', null, { from: 'QUALIFIED', to: 'NEGOTIATING' }],
		]);
	});

	it('says why a protected contact stayed, in its history too', async () => {
		const world = await createPipelineWorld({ stages: LADDER });
		const contact = await world.contact();
		await move([{ conversation_id: contact, stage_name: 'Proposal', pipeline_id: world.pipeline.id }], minutesAfter(-60));
		await assign([analysis(contact, 90, { lead_status: 'UNRESPONSIVE', reasoning: 'No answer for two weeks.' })]);
		const last = (await activities(contact)).find((entry) => entry.type === 'ANALYSED');
		expect(last).toMatchObject({
			description: 'No answer for two weeks.',
			from_stage_id: world.pipeline.stages.Proposal,
			to_stage_id: world.pipeline.stages.Proposal,
			metadata: expect.objectContaining({ outcome: 'kept', reason: 'downgrade_protected', priority: 'status', proposed_stage_id: world.pipeline.stages.Nurture }),
		});
	});
});

describe('pipeline_assign: the fallback score', () => {
	const fallback = (conversationId: string, score: number, extra: Parameters<typeof analysis>[2] = {}) =>
		analysis(conversationId, score, { is_fallback: true, confidence: 0, model: null, lead_status: 'NEW', reasoning: 'Keyword score: the model did not answer.', ...extra });

	it('never moves or rescores a contact the model placed: kept, fallback_analysis, only the failed try recorded', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const contact = await world.contact();
		await assign([analysis(contact, 80, { lead_status: 'NEGOTIATING' })]);
		const before = { place: await places(world.userId), history: await activities(contact) };
		// 15 is New Lead's range, below Proposal's minimum: the model's analysis would have moved it down.
		const [result] = await assign([fallback(contact, 15)], minutesAfter(60));
		expect(result).toMatchObject({
			outcome: 'kept',
			reason: 'fallback_analysis',
			priority: null,
			stage_name: 'Proposal',
			from_stage_name: 'Proposal',
			lead_score: 80,
			lead_status: 'NEGOTIATING',
			automations_fired: 0,
		});
		// The place as the model left it, but for the try (the last message it saw: the item's
		// last_message_at), which lists the contact after new ones until the customer writes again (…2140).
		const after = await places(world.userId);
		const withoutTry = (rows: typeof after) => rows.map((row) => ({ ...row, failed_analysis_last_message_at: null, updated_at: null }));
		expect(withoutTry(after)).toEqual(withoutTry(before.place));
		expect(after.map((row) => row.failed_analysis_last_message_at?.toISOString())).toEqual([minutesAfter(-30)]);
		expect(await activities(contact)).toEqual(before.history);
	});

	it('places a new contact, provisionally: the model\'s next analysis re-evaluates it even under SKIP_EXISTING', async () => {
		const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
		const contact = await world.contact();
		const [placed] = await assign([fallback(contact, 15)]);
		expect(placed).toMatchObject({ outcome: 'assigned', stage_name: 'New Lead', lead_score: 15 });
		expect((await places(world.userId))[0].analysis_is_fallback).toBe(true);

		// Still the fallback: the place stays as it is.
		const [again] = await assign([fallback(contact, 30)], minutesAfter(30));
		expect(again).toMatchObject({ outcome: 'kept', reason: 'fallback_analysis', stage_name: 'New Lead', lead_score: 15 });

		// The model answers: the provisional place is re-evaluated (moved), and is the model's from then on.
		const [scored] = await assign([analysis(contact, 80, { lead_status: 'QUALIFIED' })], minutesAfter(60));
		expect(scored).toMatchObject({ outcome: 'moved', reason: null, priority: 'score_range', from_stage_name: 'New Lead', stage_name: 'Proposal', lead_score: 80 });
		expect((await places(world.userId))[0]).toMatchObject({ analysis_is_fallback: false, lead_score: 80 });
		const [skipped] = await assign([analysis(contact, 50)], minutesAfter(90));
		expect(skipped).toMatchObject({ outcome: 'kept', reason: 'skip_existing', stage_name: 'Proposal', lead_score: 80 });
	});
});

describe('pipeline_assign: a contact moved out of the pipeline', () => {
	const outbox = (userId: string) =>
		withDb(async (db) => (await db.query<{ id: string }>('select id from public.pipeline_outbox where user_id = $1', [userId])).rows);

	it('stays out: skipped, left_pipeline, with where it is now, and its automations do not fire again', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const onboarding = await world.addPipeline('Onboarding', [{ name: 'Welcome', isDefault: true }]);
		// Won moves the contact to Onboarding; entering the Sales pipeline tags it.
		await world.automation({ name: 'won', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Won }, actions: [{ type: 'move_to_pipeline', pipeline_id: onboarding.id }] });
		await world.automation({ name: 'entered', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://hooks.example.com/entered' }] });
		const [won, other] = await world.contacts(2);

		const [first] = await assign([analysis(won, 90, { lead_status: 'WON' })]);
		expect(first).toMatchObject({ outcome: 'assigned', stage_name: 'Won' });
		expect((await places(world.userId)).map((place) => [place.pipeline_id, place.stage_id])).toEqual([[onboarding.id, onboarding.stages.Welcome]]);
		const before = { history: await activities(won), outbox: await outbox(world.userId) };

		const results = await assign([analysis(won, 90, { lead_status: 'WON' }), analysis(other, 30)], minutesAfter(60));
		expect(results[0]).toMatchObject({
			outcome: 'skipped',
			reason: 'left_pipeline',
			priority: null,
			pipeline_id: onboarding.id,
			stage_id: onboarding.stages.Welcome,
			stage_name: 'Welcome',
			automations_fired: 0,
		});
		// Another contact of the same call is placed as usual.
		expect(results[1]).toMatchObject({ outcome: 'assigned', stage_name: 'Contacted', automations_fired: 1 });
		expect(await activities(won)).toEqual(before.history);
		expect((await outbox(world.userId)).length).toBe(before.outbox.length + 1);
		expect((await places(world.userId)).filter((place) => place.conversation_id === won).map((place) => place.pipeline_id)).toEqual([onboarding.id]);

		// Moved back by a person: assigned again as any contact in the pipeline.
		await move([{ conversation_id: won, stage_name: 'Qualified', pipeline_id: world.pipeline.id }], minutesAfter(90));
		const [back] = await assign([analysis(won, 50, { lead_status: 'QUALIFIED' })], minutesAfter(120));
		expect(back).toMatchObject({ outcome: 'kept', reason: 'same_stage', stage_name: 'Qualified' });
	});
});

describe('pipeline_assign: an older analysis assigned last', () => {
	it('is kept, stale_analysis, writing nothing: the contact is not moved back and nothing fires twice', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		const toProposal = await world.automation({
			name: 'to Proposal',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: world.pipeline.stages.Proposal },
			actions: [{ type: 'notify', message: 'Proposal' }],
		});
		const contact = await world.contact();
		await assign([analysis(contact, 30, { last_message_at: '2026-11-25T10:50:00Z' })], minutesAfter(-60));

		// Two executions analysed the contact: the newer (11:05) is assigned first.
		const [newer] = await assign([analysis(contact, 85, { last_message_at: '2026-11-25T11:05:00Z' })], minutesAfter(-10));
		expect(newer).toMatchObject({ outcome: 'moved', stage_name: 'Proposal', automations_fired: 1 });
		const before = await activities(contact);

		const [older] = await assign([analysis(contact, 35, { last_message_at: '2026-11-25T11:00:00Z' })], minutesAfter(-5));
		expect(older).toMatchObject({
			outcome: 'kept',
			reason: 'stale_analysis',
			priority: null,
			stage_name: 'Proposal',
			from_stage_name: 'Proposal',
			lead_score: 85,
			automations_fired: 0,
		});
		const [place] = await places(world.userId);
		expect(place).toMatchObject({ stage_id: world.pipeline.stages.Proposal, lead_score: 85 });
		expect(place.analysis_last_message_at!.toISOString()).toBe('2026-11-25T11:05:00.000Z');
		expect(await activities(contact)).toHaveLength(before.length);

		// The newer analysis again (an equal time is not stale; the very same analysis is already applied): kept in its stage, nothing fired.
		const [again] = await assign([analysis(contact, 85, { last_message_at: '2026-11-25T11:05:00Z' })]);
		expect(again).toMatchObject({ outcome: 'kept', reason: 'already_applied', automations_fired: 0 });
		expect((await runs(world.userId)).filter((run) => run.automation_id === toProposal)).toHaveLength(1);
	});
});
