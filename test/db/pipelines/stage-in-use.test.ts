// A stage an automation names (its trigger, or a move_to_stage action) is not deleted on its own
// (migration …2400): before it, an empty stage went and the automation triggered by it stayed
// active, pointing at a stage that no longer exists, never fired again, and refused every later
// edit. The refusal names the automations and what to do; deleting the whole pipeline still goes.
import { Client } from 'pg';
import { testStack, userClient, withDb } from '../../helpers/stack';
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

// A stage delete and a save of an automation naming that stage, at the same time (two requests of the
// owner's app): two real connections, the first one's transaction held open while the second runs.
// Before migration …2450 neither waited for the other: the stage went and the automation was saved
// naming it. Now the save takes a shared advisory lock per stage it names and the delete the same
// key exclusively (…2470; …2450 locked the stage rows FOR KEY SHARE instead, which a reorder of the
// stages waited for and a two-stage swap deadlocked with): whichever comes second waits for the
// first, then is refused; a rename or a reorder never waits for a save.
describe('deleting a stage while an automation naming it is saved', () => {
	const connections: Client[] = [];
	async function connect(): Promise<Client> {
		const db = new Client({ connectionString: testStack().dbUrl });
		await db.connect();
		connections.push(db);
		return db;
	}
	afterEach(async () => {
		for (const db of connections.splice(0)) await db.end();
	});

	const pidOf = async (db: Client) => (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
	/** Resolves once backend `pid` waits for a lock, or once `call` (running on it) has ended. */
	async function untilWaitingOrDone(pid: number, call: Promise<unknown>): Promise<void> {
		let done = false;
		void call.then(
			() => (done = true),
			() => (done = true),
		);
		await withDb(async (watcher) => {
			for (const until = Date.now() + 10_000; !done; await new Promise((resolve) => setTimeout(resolve, 20))) {
				const { rows } = await watcher.query<{ wait_event_type: string | null }>('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
				if (rows[0]?.wait_event_type === 'Lock') return;
				if (Date.now() > until) throw new Error(`backend ${pid} neither waited for a lock nor ended`);
			}
		});
	}
	/** Whether `call`, running on backend `pid`, waits for a lock (false: it has ended). */
	async function waitsForALock(pid: number, call: Promise<unknown>): Promise<boolean> {
		let done = false;
		void call.then(
			() => (done = true),
			() => (done = true),
		);
		await untilWaitingOrDone(pid, call);
		return !done;
	}
	const outcome = (call: Promise<unknown>) => call.then(() => 'done', (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }));
	const stageExists = (id: string) => withDb(async (db) => (await db.query('select from public.pipeline_stages where id = $1', [id])).rowCount === 1);

	it('the delete first: the save waits for it, then is refused (the stage is not found); no automation names a stage that is gone', async () => {
		const world = await createPipelineWorld();
		const hot = world.pipeline.stages.Proposal;
		const deleting = await connect();
		const saving = await connect();
		const savingPid = await pidOf(saving);
		await deleting.query('begin');
		await deleting.query('delete from public.pipeline_stages where id = $1', [hot]);
		const saved = outcome(saving.query(
			`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions)
			 values ($1, $2, 'Hot alert', 'STAGE_CHANGED', $3, $4)`,
			[world.userId, world.pipeline.id, JSON.stringify({ to_stage_id: hot }), JSON.stringify([{ type: 'notify', message: 'A hot lead!' }])],
		));
		await untilWaitingOrDone(savingPid, saved);
		await deleting.query('commit');
		expect(await saved).toEqual({ code: '23503', message: `trigger_conditions.to_stage_id: stage ${hot} is not a stage of this automation's pipeline` });
		expect(await stageExists(hot)).toBe(false);
		expect(await automationsOf(world.userId)).toEqual([]);
	});

	it('the save first (a move_to_stage added to an automation): the delete waits for it, then is refused naming the automation', async () => {
		const world = await createPipelineWorld();
		const won = world.pipeline.stages.Won;
		const id = await world.automation({ name: 'Closed', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Proposal }, actions: [{ type: 'notify', message: 'x' }] });
		const saving = await connect();
		const deleting = await connect();
		const deletingPid = await pidOf(deleting);
		await saving.query('begin');
		await saving.query('update public.pipeline_automations set actions = $2 where id = $1', [id, JSON.stringify([{ type: 'notify', message: 'x' }, { type: 'move_to_stage', stage_id: won }])]);
		const deleted = outcome(deleting.query('delete from public.pipeline_stages where id = $1', [won]));
		await untilWaitingOrDone(deletingPid, deleted);
		await saving.query('commit');
		expect(await deleted).toEqual({ code: '23503', message: 'stage "Won" is named by automation "Closed" (a move to this stage): point it at another stage or delete it first' });
		expect(await stageExists(won)).toBe(true);
	});

	it('the owner\'s app still saves an automation naming its stages, and renames and reorders a stage while one is being saved', async () => {
		const world = await createPipelineWorld();
		const saved = await userClient(world.userId).from('pipeline_automations').insert({
			pipeline_id: world.pipeline.id,
			name: 'Hot alert',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { from_stage_id: world.pipeline.stages.Qualified, to_stage_id: world.pipeline.stages.Proposal },
			actions: [{ type: 'move_to_stage', stage_id: world.pipeline.stages.Won }],
		}).select('name');
		expect(saved.error).toBeNull();
		expect(saved.data).toEqual([{ name: 'Hot alert' }]);

		// A rename (no key change) does not wait for a save holding the stage.
		const saving = await connect();
		await saving.query('begin');
		await saving.query(
			`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions)
			 values ($1, $2, 'Second', 'STAGE_CHANGED', $3, $4)`,
			[world.userId, world.pipeline.id, JSON.stringify({ to_stage_id: world.pipeline.stages.Won }), JSON.stringify([{ type: 'notify', message: 'x' }])],
		);
		const renamed = await userClient(world.userId).from('pipeline_stages').update({ name: 'Closed won' }).eq('id', world.pipeline.stages.Won).select('name');
		expect(renamed.data).toEqual([{ name: 'Closed won' }]);
		// Nor does a reorder (stage_order is a column of a unique constraint: under …2450's FOR KEY
		// SHARE it waited for the save).
		const reordering = await connect();
		const reorderingPid = await pidOf(reordering);
		const reordered = outcome(reordering.query('update public.pipeline_stages set stage_order = stage_order + 100 where id = $1', [world.pipeline.stages.Won]));
		const reorderWaited = await waitsForALock(reorderingPid, reordered);
		await saving.query('commit');
		expect({ reorderWaited, reordered: await reordered }).toEqual({ reorderWaited: false, reordered: 'done' });
	});

	it('the owner\'s app swapping two stages\' order in one transaction while an automation naming both is saved: neither waits, both go (review S10)', async () => {
		// Before …2470 the save, holding Proposal FOR KEY SHARE, waited for Qualified (being reordered),
		// and the swap's second update waited for the save: 40P01, deadlock detected.
		const world = await createPipelineWorld();
		const { Qualified: qualified, Proposal: proposal } = world.pipeline.stages;
		const orderOf = () => withDb(async (db) => Object.fromEntries((await db.query<{ id: string; stage_order: number }>(
			'select id, stage_order from public.pipeline_stages where id = any ($1)', [[qualified, proposal]])).rows.map((row) => [row.id, row.stage_order])));
		const before = await orderOf();
		const id = await world.automation({ name: 'Hot alert', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: qualified }, actions: [{ type: 'notify', message: 'x' }] });
		const reordering = await connect();
		const saving = await connect();
		const reorderingPid = await pidOf(reordering);
		const savingPid = await pidOf(saving);
		await reordering.query('begin');
		await reordering.query('update public.pipeline_stages set stage_order = $2 where id = $1', [qualified, before[proposal]]);
		await saving.query('begin');
		const saved = outcome(saving.query('update public.pipeline_automations set trigger_conditions = $2 where id = $1',
			[id, JSON.stringify({ from_stage_id: proposal, to_stage_id: qualified })]));
		const saveWaited = await waitsForALock(savingPid, saved);
		const swapped = outcome(reordering.query('update public.pipeline_stages set stage_order = $2 where id = $1', [proposal, before[qualified]]));
		const swapWaited = await waitsForALock(reorderingPid, swapped);
		const outcomes = { saved: await saved, swapped: await swapped };
		await reordering.query('commit');
		await saving.query('commit');
		expect({ saveWaited, swapWaited, ...outcomes }).toEqual({ saveWaited: false, swapWaited: false, saved: 'done', swapped: 'done' });
		expect(await orderOf()).toEqual({ [qualified]: before[proposal], [proposal]: before[qualified] });
		expect(await automationsOf(world.userId)).toEqual([{ name: 'Hot alert', is_active: true, trigger_conditions: { from_stage_id: proposal, to_stage_id: qualified } }]);
	});
});
