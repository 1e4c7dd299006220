// A stage deleted while a call places contacts in it: the owner's delete (another connection, its
// transaction open) began first, the call waits for it, then must not fail with the foreign key's
// error (23503, no item named) but carry on without the stage, as if it had never been there.
import type { Client } from 'pg';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, move, NOW, places, runs } from './fixtures';

/**
 * Runs `call` while `db` holds an uncommitted delete of the stage (or of what `statement` deletes
 * with it, e.g. its pipeline); commits once the call waits for it.
 */
async function whileStageDeleted<T>(db: Client, stageId: string, call: () => Promise<T>, statement = 'delete from public.pipeline_stages where id = $1', id = stageId): Promise<T> {
	await db.query('begin');
	await db.query(statement, [id]);
	const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
	const result = call().then(
		(value) => ({ value }),
		(error: unknown) => ({ error }),
	);
	// The call is waiting for the delete's lock (whatever it waits in): then the delete commits.
	for (let waited = 0; ; waited += 20) {
		const blocked = await withDb(async (other) => (await other.query('select count(*)::int as n from pg_stat_activity where $1 = any (pg_blocking_pids(pid))', [rows[0].pid])).rows[0].n);
		if (blocked > 0) break;
		if (waited > 10_000) throw new Error('the call never waited for the delete');
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	await db.query('commit');
	const outcome = await result;
	if ('error' in outcome) throw outcome.error;
	return outcome.value;
}

describe('a stage deleted while contacts are placed in it', () => {
	it('pipeline_assign waits for the delete, then places the contact by the stages left', async () => {
		const world = await createPipelineWorld();
		const contact = await world.contact();
		// 30 is Contacted's (21–45); without Contacted the closest range is New Lead's (20 is 10 away).
		const [result] = await withDb((db) => whileStageDeleted(db, world.pipeline.stages.Contacted, () => assign([analysis(contact, 30)])));
		expect(result).toMatchObject({ outcome: 'assigned', priority: 'closest_score', stage_name: 'New Lead' });
		expect((await places(world.userId)).map((place) => place.stage_id)).toEqual([world.pipeline.stages['New Lead']]);
	});

	it('pipeline_move waits for the delete, then refuses the move naming the item, as for any stage that does not exist', async () => {
		const world = await createPipelineWorld();
		const contact = await world.contact();
		await move([{ conversation_id: contact, stage_name: 'New Lead', pipeline_id: world.pipeline.id }]);
		const error = await withDb((db) =>
			whileStageDeleted(db, world.pipeline.stages.Qualified, () => failure(move([{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified }]))),
		);
		expect(error).toMatchObject({ code: 'P0002', message: `p_items[0].stage_id: stage ${world.pipeline.stages.Qualified} does not exist (for this conversation's owner)` });
		expect((await places(world.userId)).map((place) => place.stage_id)).toEqual([world.pipeline.stages['New Lead']]);
	});

	// An automation's move may go to a stage the call itself did not lock (another pipeline's): the
	// automation engine locks its moves' stages the same way before reading them. (A stage a move
	// names is not deleted on its own since migration …2400: here the whole other pipeline is.)
	it("pipeline_assign: an automation's move_to_stage into another pipeline waits for the delete of that pipeline, then fails as stage_not_found, the call does not", async () => {
		const world = await createPipelineWorld();
		const onboarding = await world.addPipeline('Onboarding', [{ name: 'Welcome' }, { name: 'Kick-off' }]);
		const automation = await world.automation({ name: 'to onboarding', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'move_to_stage', stage_id: onboarding.stages.Welcome }] });
		const contact = await world.contact();
		const [result] = await withDb((db) =>
			whileStageDeleted(db, onboarding.stages.Welcome, () => assign([analysis(contact, 30)]), 'delete from public.pipelines where id = $1', onboarding.id),
		);
		expect(result).toMatchObject({ outcome: 'assigned', stage_name: 'Contacted', automations_fired: 1 });
		const [run] = (await runs(world.userId)).filter((row) => row.automation_id === automation);
		expect(run.results).toEqual([{ index: 0, type: 'move_to_stage', status: 'failed', reason: 'stage_not_found' }]);
		expect((await places(world.userId)).map((place) => place.stage_id)).toEqual([world.pipeline.stages.Contacted]);
	});

	it("pipeline_move: an automation's move_to_pipeline waits for the delete of the pipeline's first stage, then takes the next one", async () => {
		const world = await createPipelineWorld();
		const onboarding = await world.addPipeline('Onboarding', [{ name: 'Kick-off' }, { name: 'Welcome', isDefault: true }]);
		const automation = await world.automation({ name: 'won', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Won }, actions: [{ type: 'move_to_pipeline', pipeline_id: onboarding.id }] });
		const contact = await world.contact();
		await move([{ conversation_id: contact, stage_name: 'New Lead', pipeline_id: world.pipeline.id }]);
		const [result] = await withDb((db) => whileStageDeleted(db, onboarding.stages.Welcome, () => move([{ conversation_id: contact, stage_id: world.pipeline.stages.Won }])));
		expect(result).toMatchObject({ outcome: 'moved', stage_name: 'Won', automations_fired: 1 });
		const [run] = (await runs(world.userId)).filter((row) => row.automation_id === automation);
		expect(run.results).toEqual([
			{ index: 0, type: 'move_to_pipeline', status: 'applied', pipeline_id: onboarding.id, stage_id: onboarding.stages['Kick-off'], left_pipeline_id: world.pipeline.id },
		]);
		expect((await places(world.userId)).map((place) => [place.pipeline_id, place.stage_id])).toEqual([[onboarding.id, onboarding.stages['Kick-off']]]);
	});

	it('a delete that comes while pipeline_assign holds the stages waits, then is refused: the stage holds the contact', async () => {
		const world = await createPipelineWorld();
		const contact = await world.contact();
		const refused = await withDb(async (call) => {
			await call.query('begin');
			await call.query('select * from public.pipeline_assign($1::jsonb, $2)', [JSON.stringify([analysis(contact, 30)]), NOW]);
			const { rows } = await call.query<{ pid: number }>('select pg_backend_pid() as pid');
			return withDb(async (owner) => {
				const deleting = owner.query('delete from public.pipeline_stages where id = $1', [world.pipeline.stages.Contacted]).then(
					() => null,
					(error: { code?: string; message?: string }) => ({ code: error.code, message: error.message }),
				);
				for (let waited = 0; ; waited += 20) {
					const blocking = await withDb(async (other) => (await other.query('select count(*)::int as n from pg_stat_activity where $1 = any (pg_blocking_pids(pid))', [rows[0].pid])).rows[0].n);
					if (blocking > 0) break;
					if (waited > 10_000) throw new Error('the delete never waited for the call');
					await new Promise((resolve) => setTimeout(resolve, 20));
				}
				await call.query('commit');
				return deleting;
			});
		});
		expect(refused).toEqual({ code: '23503', message: 'stage "Contacted" still holds contacts: move them to another stage first' });
		expect((await places(world.userId)).map((place) => place.stage_id)).toEqual([world.pipeline.stages.Contacted]);
	});
});
