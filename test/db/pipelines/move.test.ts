// pipeline_move: a manual move from the user's app (through n8n) or an AI agent, to a stage by id or
// by name, within a pipeline, into one, or from one pipeline to another; logged as MANUAL_MOVE.
import { activities, analysis, assign, createPipelineWorld, failure, minutesAfter, move, places } from './fixtures';

describe('pipeline_move', () => {
	it('moves within the pipeline by id or by name, keeps a contact already there, and logs who and why', async () => {
		const world = await createPipelineWorld();
		const [byId, byName, already] = await world.contacts(3);
		await assign([analysis(byId, 30), analysis(byName, 30), analysis(already, 50)], minutesAfter(-60));
		const results = await move([
			{ conversation_id: byId, stage_id: world.pipeline.stages.Proposal, reason: 'Sent the quote by email', actor_id: 'user-7' },
			{ conversation_id: byName, stage_name: ' QUALIFIED ', actor: 'ai', actor_id: 'sales-agent', reason: 'Asked for a demo' },
			{ conversation_id: already, stage_name: 'Qualified' },
		]);
		expect(results.map((row) => [row.outcome, row.reason, row.from_stage_name, row.stage_name, row.left_pipeline_id])).toEqual([
			['moved', null, 'Contacted', 'Proposal', null],
			['moved', null, 'Contacted', 'Qualified', null],
			['kept', 'same_stage', 'Qualified', 'Qualified', null],
		]);
		const placed = new Map((await places(world.userId)).map((place) => [place.conversation_id, place]));
		expect(placed.get(byId)).toMatchObject({ stage_id: world.pipeline.stages.Proposal, lead_score: 30 });
		expect(placed.get(byId)!.stage_entered_at.toISOString()).toBe(minutesAfter(0));
		expect(placed.get(already)!.stage_entered_at.toISOString()).toBe(minutesAfter(-60));

		const [, manual] = await activities(byId);
		expect(manual).toMatchObject({
			type: 'MANUAL_MOVE',
			title: 'Moved manually',
			description: 'Sent the quote by email',
			actor: 'user',
			actor_id: 'user-7',
			from_stage_id: world.pipeline.stages.Contacted,
			to_stage_id: world.pipeline.stages.Proposal,
		});
		const [, agent] = await activities(byName);
		expect(agent).toMatchObject({ type: 'MANUAL_MOVE', title: 'Moved by an AI agent', actor: 'ai', actor_id: 'sales-agent', description: 'Asked for a demo' });
		expect(await activities(already)).toHaveLength(1);
	});

	it('puts a contact into a pipeline, or moves it from one pipeline to another with its score, status and analysis', async () => {
		const world = await createPipelineWorld();
		const support = await world.addPipeline('Support', [{ name: 'Inbox' }, { name: 'Waiting' }]);
		const [joins, switches, fresh] = await world.contacts(3);
		await assign([analysis(joins, 60, { lead_status: 'QUALIFIED' }), analysis(switches, 80, { lead_status: 'NEGOTIATING', summary: 'Wants a discount.' })], minutesAfter(-60));
		const results = await move([
			{ conversation_id: joins, stage_name: 'waiting', pipeline_id: support.id },
			{ conversation_id: switches, stage_id: support.stages.Inbox, from_pipeline_id: world.pipeline.id },
			{ conversation_id: fresh, stage_name: 'Contacted', pipeline_id: world.pipeline.id },
		]);
		expect(results.map((row) => [row.outcome, row.pipeline_id, row.stage_name, row.from_stage_name, row.left_pipeline_id])).toEqual([
			['assigned', support.id, 'Waiting', null, null],
			['moved', support.id, 'Inbox', 'Proposal', world.pipeline.id],
			['assigned', world.pipeline.id, 'Contacted', null, null],
		]);
		const all = await places(world.userId);
		const of = (conversationId: string) => all.filter((place) => place.conversation_id === conversationId).map((place) => [place.pipeline_id, place.lead_score, place.lead_status]);
		// Joining Support leaves the contact in Sales too (and starts there without a score, until an
		// analysis gives one); switching takes it out of Sales, with its score and status.
		expect(of(joins).sort()).toEqual([[support.id, null, 'NEW'], [world.pipeline.id, 60, 'QUALIFIED']].sort());
		expect(of(switches)).toEqual([[support.id, 80, 'NEGOTIATING']]);
		expect(all.find((place) => place.conversation_id === switches)!.analysis_summary).toBe('Wants a discount.');
		expect(of(fresh)).toEqual([[world.pipeline.id, null, 'NEW']]);
		// The history in Sales stays, and says where the contact went.
		const history = await activities(switches);
		expect(history.map((entry) => [entry.pipeline_id === support.id ? 'Support' : 'Sales', entry.type, entry.from_stage_id, entry.to_stage_id])).toEqual([
			['Sales', 'STAGE_CHANGED', null, world.pipeline.stages.Proposal],
			['Sales', 'STAGE_CHANGED', world.pipeline.stages.Proposal, null],
			['Support', 'MANUAL_MOVE', null, support.stages.Inbox],
		]);
		expect(history[1].metadata).toEqual({ stage_name: 'Inbox', to_pipeline_id: support.id, to_stage_id: support.stages.Inbox });

		// By name without a pipeline: only when the contact is in exactly one.
		const twoPipelines = await failure(move([{ conversation_id: joins, stage_name: 'Inbox' }]));
		expect(twoPipelines).toMatchObject({ code: '22023', message: 'p_items[0].pipeline_id: required with stage_name, the contact is in 2 pipelines' });
		const [byNameOnly] = await move([{ conversation_id: switches, stage_name: 'waiting' }], minutesAfter(5));
		expect(byNameOnly).toMatchObject({ outcome: 'moved', stage_name: 'Waiting', pipeline_id: support.id });

		// A contact in both pipelines, moved from Sales to Support's stage it is already in: it leaves Sales.
		const [leaves] = await move([{ conversation_id: joins, stage_id: support.stages.Waiting, from_pipeline_id: world.pipeline.id }], minutesAfter(10));
		expect(leaves).toMatchObject({ outcome: 'moved', stage_name: 'Waiting', from_stage_name: 'Waiting', left_pipeline_id: world.pipeline.id, automations_fired: 0 });
		expect((await places(world.userId)).filter((place) => place.conversation_id === joins).map((place) => [place.pipeline_id, place.lead_score])).toEqual([
			[support.id, null],
		]);
	});

	// from_pipeline_id naming the destination's own pipeline was dropped without a word (a stage by name
	// without pipeline_id is looked up in the one pipeline the contact is in, the one it would leave):
	// the call answered "moved" with no leave, and the contact stayed. It contradicts itself: refused.
	it('refuses a from_pipeline_id that is the stage\'s own pipeline (by name or by id): 22023 naming it, nothing written', async () => {
		const world = await createPipelineWorld();
		const contact = await world.contact();
		await assign([analysis(contact, 30)], minutesAfter(-60));
		const before = await activities(contact);
		const expected = {
			code: '22023',
			message: `p_items[1].from_pipeline_id: the stage is in pipeline ${world.pipeline.id}, the pipeline it would leave: give pipeline_id or a stage of another pipeline`,
		};
		const mark = { field: 'from_pipeline_id', reason: 'stage_in_pipeline_left', item_index: 1 };
		const other = await world.contact();
		await assign([analysis(other, 30)], minutesAfter(-60));
		for (const item of [
			{ conversation_id: contact, stage_name: 'qualified', from_pipeline_id: world.pipeline.id },
			{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified, from_pipeline_id: world.pipeline.id },
			{ conversation_id: contact, stage_name: 'Qualified', pipeline_id: world.pipeline.id, from_pipeline_id: world.pipeline.id },
		]) {
			const refused = await failure(move([{ conversation_id: other, stage_name: 'Won' }, item]));
			expect({ item, refused, mark: JSON.parse(refused.details ?? 'null') as unknown }).toMatchObject({ item, refused: expected, mark });
		}
		expect((await places(world.userId)).filter((place) => place.conversation_id !== contact || place.pipeline_id === world.pipeline.id).map((place) => [place.conversation_id, place.stage_id])).toEqual(
			expect.arrayContaining([
				[contact, world.pipeline.stages.Contacted],
				[other, world.pipeline.stages.Contacted],
			]),
		);
		expect(await activities(contact)).toEqual(before);
	});
});
