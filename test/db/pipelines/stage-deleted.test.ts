// A stage deleted while a call places contacts in it: the owner's delete (another connection, its
// transaction open) began first, the call waits for it, then must not fail with the foreign key's
// error (23503, no item named) but carry on without the stage, as if it had never been there.
import type { Client } from 'pg';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, move, NOW, places } from './fixtures';

/** Runs `call` while `db` holds an uncommitted delete of the stage; commits once the call waits for it. */
async function whileStageDeleted<T>(db: Client, stageId: string, call: () => Promise<T>): Promise<T> {
	await db.query('begin');
	await db.query('delete from public.pipeline_stages where id = $1', [stageId]);
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
