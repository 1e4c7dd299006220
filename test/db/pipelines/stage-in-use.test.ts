// A stage an automation names (its trigger, or a move_to_stage action) is not deleted on its own
// (migration …2400): before it, an empty stage went and the automation triggered by it stayed
// active, pointing at a stage that no longer exists, never fired again, and refused every later
// edit. The refusal names the automations and what to do; deleting the whole pipeline still goes.
import { userClient, withDb } from '../../helpers/stack';
import { createPipelineWorld, move } from './fixtures';

const automationsOf = (userId: string) =>
	withDb(async (db) => (await db.query<{ name: string; is_active: boolean; trigger_conditions: Record<string, string> }>(
		'select name, is_active, trigger_conditions from public.pipeline_automations where user_id = $1 order by name', [userId])).rows);

describe('deleting a stage an automation names', () => {
	it('is refused while an automation\'s trigger names it, naming the automation and what to do; the automation still fires', async () => {
		const world = await createPipelineWorld();
		const hot = world.pipeline.stages.Proposal;
		const id = await world.automation({ name: 'Hot alert', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: hot }, actions: [{ type: 'notify', message: 'A hot lead!' }] });
		// The owner's app deletes the empty stage (row level security, as a signed-in user).
		const refused = await userClient(world.userId).from('pipeline_stages').delete().eq('id', hot).select('id');
		expect(refused.error).toMatchObject({
			code: '23503',
			message: 'stage "Proposal" is named by automation "Hot alert" (its trigger): point it at another stage or delete it first',
			details: `Automation ids: ${id}.`,
			hint: 'Change the trigger (trigger_conditions) or the move_to_stage action of each automation named to another stage, or delete the automation, then delete the stage. Deleting the whole pipeline deletes its own automations with it.',
		});
		expect(await automationsOf(world.userId)).toEqual([{ name: 'Hot alert', is_active: true, trigger_conditions: { to_stage_id: hot } }]);
		const [contact] = await world.contacts(1);
		const [moved] = await move([{ conversation_id: contact, stage_id: hot }]);
		expect(moved).toMatchObject({ stage_name: 'Proposal', automations_fired: 1 });

		// Pointed at another stage (and the contact moved on), the stage goes.
		await withDb((db) => db.query('update public.pipeline_automations set trigger_conditions = $2 where id = $1', [id, JSON.stringify({ to_stage_id: world.pipeline.stages.Won })]));
		await move([{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified }]);
		expect((await userClient(world.userId).from('pipeline_stages').delete().eq('id', hot).select('id')).data).toEqual([{ id: hot }]);
	});

	it('names every automation naming it, switched off ones and other pipelines\' moves into it too; ENTERED_PIPELINE\'s stage and from_stage_id count', async () => {
		const world = await createPipelineWorld();
		const qualified = world.pipeline.stages.Qualified;
		const onboarding = await world.addPipeline('Onboarding', [{ name: 'Welcome' }]);
		await world.automation({ name: 'Left Qualified', trigger_type: 'STAGE_CHANGED', trigger_conditions: { from_stage_id: qualified }, actions: [{ type: 'notify', message: 'x' }], is_active: false });
		await world.automation({ name: 'Entered at Qualified', trigger_type: 'ENTERED_PIPELINE', trigger_conditions: { stage_id: qualified }, actions: [{ type: 'move_to_stage', stage_id: qualified }] });
		await world.automation({ name: 'Back to sales', pipelineId: onboarding.id, trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'move_to_stage', stage_id: qualified }] });
		await world.automation({ name: 'Unrelated', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Won }, actions: [{ type: 'notify', message: 'x' }] });
		const error = await withDb((db) => db.query('delete from public.pipeline_stages where id = $1', [qualified]).then(() => null, (refusal: { code: string; message: string }) => refusal));
		expect(error).toMatchObject({
			code: '23503',
			message: 'stage "Qualified" is named by automations "Back to sales" (a move to this stage), "Entered at Qualified" (its trigger and a move to this stage), "Left Qualified" (its trigger, switched off): point them at another stage or delete them first',
		});
		// A stage of the same name in another pipeline is another stage: Onboarding's Welcome goes.
		expect((await withDb((db) => db.query('delete from public.pipeline_stages where id = $1', [onboarding.stages.Welcome]))).rowCount).toBe(1);
	});

	it('deleting the whole pipeline still goes, its automations with it', async () => {
		const world = await createPipelineWorld();
		await world.automation({ name: 'Hot alert', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Proposal }, actions: [{ type: 'notify', message: 'x' }] });
		const deleted = await userClient(world.userId).from('pipelines').delete().eq('id', world.pipeline.id).select('id');
		expect(deleted.error).toBeNull();
		expect(deleted.data).toEqual([{ id: world.pipeline.id }]);
		expect(await automationsOf(world.userId)).toEqual([]);
	});
});
