// A contact an automation moves to another pipeline fires nothing more in the pipeline it left, and
// an automation's move within a pipeline never places a contact that is not in it (issue 11,
// migration 20261201001640_crm_pipelines_fire_left_place.sql). Before it, a status set in the same
// level as the move was handed on for the place just left: the old pipeline's STATUS_CHANGED
// automations fired, their move_to_stage put the contact back (status NEW), and the chain ran to
// the depth limit, queueing a webhook at every turn.
import { withDb } from '../../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, minutesAfter, move, NOW, places, runs } from './fixtures';

const timesTriggered = (userId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ name: string; times_triggered: string }>(
			'select name, times_triggered from public.pipeline_automations where user_id = $1 order by name',
			[userId],
		);
		return Object.fromEntries(rows.map((row) => [row.name, Number(row.times_triggered)]));
	});

const outbox = (userId: string) =>
	withDb(async (db) => (await db.query<{ id: string; kind: string; conversation_id: string }>('select id, kind, conversation_id from public.pipeline_outbox where user_id = $1', [userId])).rows);

describe('a contact moved to another pipeline by an automation', () => {
	it('fires nothing more in the pipeline it left, even with the status the same automation set', async () => {
		const world = await createPipelineWorld();
		const { stages } = world.pipeline;
		const onboarding = await world.addPipeline('Onboarding', [{ name: 'Kick-off', isDefault: true }, { name: 'Live' }]);
		const won = await world.automation({
			name: 'A won',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: stages.Won },
			actions: [
				{ type: 'set_lead_status', status: 'WON' },
				{ type: 'move_to_pipeline', pipeline_id: onboarding.id },
				{ type: 'webhook', url: 'https://crm.example.test/deal-won' },
			],
		});
		await world.automation({
			name: 'B status won',
			trigger_type: 'STATUS_CHANGED',
			trigger_conditions: { to_status: 'WON' },
			actions: [{ type: 'move_to_stage', stage_id: stages.Won }],
		});
		const contact = await world.contact();
		await assign([analysis(contact, 30)], minutesAfter(-10));

		const [moved] = await move([{ conversation_id: contact, stage_id: stages.Won, reason: 'Signed' }]);

		expect(moved).toMatchObject({ outcome: 'moved', stage_id: stages.Won, automations_fired: 1 });
		expect(moved.outbox_ids).toHaveLength(1);
		// A fired once; B did not fire for the pipeline the contact left.
		const fired = await runs(world.userId);
		expect(fired.map((run) => [run.automation_id, run.depth, run.status])).toEqual([[won, 0, 'completed']]);
		expect(fired[0].results).toEqual([
			{ index: 0, type: 'set_lead_status', lead_status: 'WON', status: 'applied' },
			{ index: 1, type: 'move_to_pipeline', status: 'applied', pipeline_id: onboarding.id, stage_id: onboarding.stages['Kick-off'], left_pipeline_id: world.pipeline.id },
			{ index: 2, type: 'webhook', status: 'queued', outbox_id: moved.outbox_ids[0] },
		]);
		expect(await timesTriggered(world.userId)).toEqual({ 'A won': 1, 'B status won': 0 });
		// One "deal won" webhook, one leave, the contact in Onboarding only, with the status A set.
		expect(await outbox(world.userId)).toEqual([{ id: moved.outbox_ids[0], kind: 'webhook', conversation_id: contact }]);
		const history = await activities(contact);
		expect(history.filter((entry) => entry.title === 'Moved to another pipeline')).toHaveLength(1);
		expect(history.filter((entry) => entry.type === 'STATUS_CHANGED').map((entry) => [entry.pipeline_id, entry.metadata])).toEqual([
			[world.pipeline.id, { from: 'CONTACTED', to: 'WON' }],
		]);
		expect((await places(world.userId)).map((place) => [place.conversation_id, place.pipeline_id, place.stage_id, place.lead_status])).toEqual([
			[contact, onboarding.id, onboarding.stages['Kick-off'], 'WON'],
		]);
	});
});

describe('an automation\'s move within a pipeline the contact is not in', () => {
	// Through pipeline_assign and pipeline_move a change is always of a place that exists when its
	// level runs (the case above no longer reaches the engine); the engine is called here as they
	// call it, with changes of contacts that have no place in the pipeline.
	it('fails with not_in_pipeline and places nothing', async () => {
		const world = await createPipelineWorld();
		const { stages } = world.pipeline;
		const toStage = await world.automation({
			name: 'to stage',
			trigger_type: 'STATUS_CHANGED',
			trigger_conditions: { to_status: 'WON' },
			actions: [{ type: 'move_to_stage', stage_id: stages.Won }],
		});
		const toOwnPipeline = await world.automation({
			name: 'to own pipeline',
			trigger_type: 'STATUS_CHANGED',
			trigger_conditions: { to_status: 'LOST' },
			actions: [{ type: 'move_to_pipeline', pipeline_id: world.pipeline.id }],
		});
		const [first, second] = await world.contacts(2);

		// A change's fields in order (leadflow_private.pipeline_change; actor, actor_id and reason since migration …1780).
		const answer = await withDb(async (db) => {
			const { rows } = await db.query<{ answer: { runs: Record<string, number>; outbox: Record<string, string[]> } }>(
				`select leadflow_private.pipeline_fire(array(
				          select row($1::uuid, c.conversation_id, $2::uuid, gen_random_uuid(), false, $3::uuid, $3::uuid, 30, 30, 'CONTACTED', c.to_status, 0, 'user', null, null)::leadflow_private.pipeline_change
				            from unnest($4::uuid[], $5::text[]) c (conversation_id, to_status)), $6) as answer`,
				[world.userId, world.pipeline.id, stages.Contacted, [first, second], ['WON', 'LOST'], NOW],
			);
			return rows[0].answer;
		});

		expect(answer).toEqual({ runs: { [first]: 1, [second]: 1 }, outbox: {} });
		const fired = await runs(world.userId);
		expect(fired.map((run) => [run.automation_id, run.conversation_id, run.depth, run.status, run.results])).toEqual(
			expect.arrayContaining([
				[toStage, first, 0, 'completed', [{ index: 0, type: 'move_to_stage', status: 'failed', reason: 'not_in_pipeline' }]],
				[toOwnPipeline, second, 0, 'completed', [{ index: 0, type: 'move_to_pipeline', status: 'failed', reason: 'not_in_pipeline' }]],
			]),
		);
		expect(fired).toHaveLength(2);
		expect(await places(world.userId)).toEqual([]);
		for (const contact of [first, second]) {
			expect((await activities(contact)).map((entry) => entry.type)).toEqual(['AUTOMATION_FIRED']);
		}
	});
});
