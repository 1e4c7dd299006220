// The automation engine, in the transaction of the change that fires it: exactly the matching
// automations fire, once per change, also when two executions handle the same contacts at once;
// their database actions are written with the move or not at all; chains stop at the depth limit;
// a contact's follow-up stops and resumes apply in their order, each result saying what it did.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'pg';
import type { AssignResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, minutesAfter, move, NOW, places, runs, tagsOf } from './fixtures';

const automationCounts = (userId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ name: string; times_triggered: string; last_triggered_at: Date | null }>(
			'select name, times_triggered, last_triggered_at from public.pipeline_automations where user_id = $1 order by name',
			[userId],
		);
		return Object.fromEntries(rows.map((row) => [row.name, { times: Number(row.times_triggered), last: row.last_triggered_at?.toISOString() ?? null }]));
	});

const stopsOf = (conversationId: string) =>
	withDb(async (db) => (await db.query<{ rule_id: string | null; reason: string; note: string }>('select rule_id, reason, note from public.ai_automation_stops where conversation_id = $1 order by rule_id nulls first', [conversationId])).rows);

describe('which automations fire', () => {
	it('fires exactly the active automations of the pipeline whose trigger matches, once per change', async () => {
		const world = await createPipelineWorld();
		const other = await world.addPipeline('Other', [{ name: 'Somewhere' }]);
		const { stages } = world.pipeline;
		const ids = {
			entered: await world.automation({ name: 'entered', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] }),
			toQualified: await world.automation({ name: 'to qualified', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: stages.Qualified }, actions: [{ type: 'add_tag', tag_id: world.tags.Qualified }] }),
			contactedToQualified: await world.automation({
				name: 'contacted to qualified',
				trigger_type: 'STAGE_CHANGED',
				trigger_conditions: { from_stage_id: stages.Contacted, to_stage_id: stages.Qualified },
				actions: [{ type: 'webhook', url: 'https://crm.example.test/qualified' }],
			}),
			fromNewLead: await world.automation({ name: 'from new lead', trigger_type: 'STAGE_CHANGED', trigger_conditions: { from_stage_id: stages['New Lead'] }, actions: [{ type: 'add_tag', tag_id: world.tags.Hot }] }),
			anyStage: await world.automation({ name: 'any stage', trigger_type: 'STAGE_CHANGED', actions: [{ type: 'notify', message: 'Moved' }] }),
			won: await world.automation({ name: 'won', trigger_type: 'STATUS_CHANGED', trigger_conditions: { to_status: 'WON' }, actions: [{ type: 'stop_follow_up' }] }),
			hot: await world.automation({ name: 'hot', trigger_type: 'SCORE_CROSSED', trigger_conditions: { threshold: 70, direction: 'up' }, actions: [{ type: 'notify', message: 'Hot lead' }] }),
			cooled: await world.automation({ name: 'cooled', trigger_type: 'SCORE_CROSSED', trigger_conditions: { threshold: 50, direction: 'down' }, actions: [{ type: 'remove_tag', tag_id: world.tags.Hot }] }),
			inactive: await world.automation({ name: 'inactive', trigger_type: 'STAGE_CHANGED', actions: [{ type: 'add_tag', tag_id: world.tags.Hot }], is_active: false }),
			otherPipeline: await world.automation({ name: 'other pipeline', pipelineId: other.id, trigger_type: 'STAGE_CHANGED', actions: [{ type: 'add_tag', tag_id: world.tags.Hot }] }),
		};
		const name = Object.fromEntries(Object.entries(ids).map(([key, id]) => [id, key]));
		const contact = await world.contact();
		const firedAt = async (at: string) => (await runs(world.userId)).filter((run) => run.fired_at.toISOString() === at).map((run) => name[run.automation_id]).sort();

		// Enters at Contacted (score 30): entering is a stage change from none.
		expect((await assign([analysis(contact, 30)]))[0].automations_fired).toBe(2);
		expect(await firedAt(NOW)).toEqual(['anyStage', 'entered']);
		// Contacted → Qualified, 30 → 60: no threshold crossed.
		const t1 = minutesAfter(10);
		expect((await assign([analysis(contact, 60)], t1))[0].automations_fired).toBe(3);
		expect(await firedAt(t1)).toEqual(['anyStage', 'contactedToQualified', 'toQualified']);
		// Qualified → Won by status, 60 → 80: crosses 70 up.
		const t2 = minutesAfter(20);
		expect((await assign([analysis(contact, 80, { lead_status: 'WON' })], t2))[0].automations_fired).toBe(3);
		expect(await firedAt(t2)).toEqual(['anyStage', 'hot', 'won']);
		// The same analysis again (a replay): nothing changes, nothing fires.
		const t3 = minutesAfter(30);
		expect((await assign([analysis(contact, 80, { lead_status: 'WON' })], t3))[0]).toMatchObject({ outcome: 'kept', reason: 'already_applied', automations_fired: 0 });
		expect(await firedAt(t3)).toEqual([]);
		// Won stays (a stage without a range protects nothing, but WON routes there); 80 → 40 crosses 50 down.
		const t4 = minutesAfter(40);
		await assign([analysis(contact, 40, { lead_status: 'WON' })], t4);
		expect(await firedAt(t4)).toEqual(['cooled']);

		const counts = await automationCounts(world.userId);
		expect(counts).toEqual({
			'any stage': { times: 3, last: t2 },
			'contacted to qualified': { times: 1, last: t1 },
			cooled: { times: 1, last: t4 },
			entered: { times: 1, last: NOW },
			'from new lead': { times: 0, last: null },
			hot: { times: 1, last: t2 },
			inactive: { times: 0, last: null },
			'other pipeline': { times: 0, last: null },
			'to qualified': { times: 1, last: t1 },
			won: { times: 1, last: t2 },
		});
		// Each run says what fired it and what each action did.
		const [wonRun] = (await runs(world.userId)).filter((run) => run.automation_id === ids.won);
		expect(wonRun).toMatchObject({
			trigger_type: 'STATUS_CHANGED',
			from_stage_id: stages.Qualified,
			to_stage_id: stages.Won,
			depth: 0,
			status: 'completed',
			results: [{ index: 0, type: 'stop_follow_up', rule_id: null, status: 'applied' }],
		});
		expect(await tagsOf(contact)).toEqual(['In pipeline', 'Qualified']);
		expect(await stopsOf(contact)).toEqual([{ rule_id: null, reason: 'manual', note: `pipeline automation "won" (${ids.won})` }]);
		// One AUTOMATION_FIRED entry per run, after the change that fired it.
		const history = await activities(contact);
		expect(history.filter((entry) => entry.type === 'AUTOMATION_FIRED')).toHaveLength(9);
		expect(history.slice(0, 3).map((entry) => entry.type)).toEqual(['STAGE_CHANGED', 'AUTOMATION_FIRED', 'AUTOMATION_FIRED']);
	});

	it('runs every kind of database action, reports each one, and lets the last action on the same thing decide', async () => {
		const world = await createPipelineWorld();
		const ruleId = await world.rule();
		const onboarding = await world.addPipeline('Onboarding', [{ name: 'Kick-off', isDefault: false }, { name: 'Welcome', isDefault: true }]);
		const [contact, tagged] = await world.contacts(2);
		await withDb((db) =>
			db.query(`insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)`, [tagged, world.tags.Hot, world.userId]),
		);
		await withDb((db) =>
			db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, 'replied')`, [world.userId, contact, ruleId]),
		);
		const doomed = await withDb(async (db) => (await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Doomed') returning id`, [world.userId])).rows[0].id);
		const wonAutomation = await world.automation({
			name: 'won',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: world.pipeline.stages.Won },
			actions: [
				{ type: 'add_tag', tag_id: world.tags.Hot },
				{ type: 'remove_tag', tag_id: world.tags.Hot },
				{ type: 'add_tag', tag_id: doomed },
				{ type: 'resume_follow_up', rule_id: ruleId },
				{ type: 'set_lead_status', status: 'NEGOTIATING' },
				{ type: 'move_to_stage', stage_id: world.pipeline.stages.Lost },
				{ type: 'move_to_pipeline', pipeline_id: onboarding.id },
				{ type: 'notify', message: 'Won!', channel: 'slack' },
			],
		});
		const entered = await world.automation({ name: 'entered onboarding', pipelineId: onboarding.id, trigger_type: 'ENTERED_PIPELINE', trigger_conditions: { stage_id: onboarding.stages.Welcome }, actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] });
		// The tag is deleted after the automation was written (as a delete could before migration
		// 20261201001670, which now refuses it; triggers off for this one transaction): that action
		// fails, the others run.
		await withDb(async (db) => {
			await db.query('begin');
			await db.query('set local session_replication_role = replica');
			await db.query('delete from public.tags where id = $1', [doomed]);
			await db.query('commit');
		});

		await assign([analysis(contact, 30), analysis(tagged, 30)], minutesAfter(-10));
		const results = await move([
			{ conversation_id: contact, stage_name: 'won', reason: 'Signed the contract', actor_id: 'user-42' },
			{ conversation_id: tagged, stage_id: world.pipeline.stages.Won },
		]);
		expect(results.map((row) => [row.outcome, row.stage_name, row.automations_fired])).toEqual([
			['moved', 'Won', 2],
			['moved', 'Won', 2],
		]);
		const all = await runs(world.userId);
		const [wonRun] = all.filter((run) => run.automation_id === wonAutomation && run.conversation_id === contact);
		expect(wonRun.results).toEqual([
			{ index: 0, type: 'add_tag', tag_id: world.tags.Hot, status: 'overridden' },
			{ index: 1, type: 'remove_tag', tag_id: world.tags.Hot, status: 'unchanged', reason: 'not_tagged' },
			{ index: 2, type: 'add_tag', tag_id: doomed, status: 'failed', reason: 'tag_not_found' },
			{ index: 3, type: 'resume_follow_up', rule_id: ruleId, status: 'applied' },
			{ index: 4, type: 'set_lead_status', lead_status: 'NEGOTIATING', status: 'applied' },
			{ index: 5, type: 'move_to_stage', status: 'overridden' },
			{ index: 6, type: 'move_to_pipeline', status: 'applied', pipeline_id: onboarding.id, stage_id: onboarding.stages.Welcome, left_pipeline_id: world.pipeline.id },
			{ index: 7, type: 'notify', status: 'queued', outbox_id: expect.any(String) },
		]);
		const [taggedRun] = all.filter((run) => run.automation_id === wonAutomation && run.conversation_id === tagged);
		expect(taggedRun.results[1]).toEqual({ index: 1, type: 'remove_tag', tag_id: world.tags.Hot, status: 'applied' });
		// The contact left Sales for Onboarding's default stage, with its score and the status the
		// automation set; entering Onboarding fired its automation, one level deeper.
		expect((await places(world.userId)).filter((place) => place.conversation_id === contact)).toEqual([
			expect.objectContaining({ pipeline_id: onboarding.id, stage_id: onboarding.stages.Welcome, lead_score: 30, lead_status: 'NEGOTIATING' }),
		]);
		expect(all.filter((run) => run.automation_id === entered).map((run) => [run.conversation_id, run.depth])).toEqual(
			expect.arrayContaining([[contact, 1], [tagged, 1]]),
		);
		expect(await tagsOf(contact)).toEqual(['In pipeline']);
		expect(await tagsOf(tagged)).toEqual(['In pipeline']);
		expect(await stopsOf(contact)).toEqual([]);
		const history = await activities(contact);
		expect(history.map((entry) => [entry.pipeline_id === onboarding.id ? 'Onboarding' : 'Sales', entry.type, entry.depth, entry.actor])).toEqual([
			['Sales', 'STAGE_CHANGED', 0, 'ai'],
			['Sales', 'MANUAL_MOVE', 0, 'user'],
			['Sales', 'AUTOMATION_FIRED', 0, 'automation'],
			['Sales', 'STATUS_CHANGED', 1, 'automation'],
			['Sales', 'STAGE_CHANGED', 1, 'automation'],
			['Onboarding', 'STAGE_CHANGED', 1, 'automation'],
			['Onboarding', 'AUTOMATION_FIRED', 1, 'automation'],
		]);
		expect(history[1]).toMatchObject({ description: 'Signed the contract', actor_id: 'user-42', to_stage_id: world.pipeline.stages.Won });
	});
});

describe('atomicity', () => {
	it('writes the move and its automations\' actions together, or nothing', async () => {
		const world = await createPipelineWorld();
		const ruleId = await world.rule();
		await world.automation({
			name: 'qualified',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: world.pipeline.stages.Qualified },
			actions: [
				{ type: 'add_tag', tag_id: world.tags.Qualified },
				{ type: 'stop_follow_up', rule_id: ruleId },
				{ type: 'set_lead_status', status: 'QUALIFIED' },
				{ type: 'webhook', url: 'https://crm.example.test/hook' },
			],
		});
		const contact = await world.contact();
		await assign([analysis(contact, 30)], minutesAfter(-10));
		const state = async () => ({
			stage: (await places(world.userId))[0].stage_id,
			status: (await places(world.userId))[0].lead_status,
			tags: await tagsOf(contact),
			stops: (await stopsOf(contact)).length,
			runs: (await runs(world.userId)).length,
			outbox: (await withDb((db) => db.query('select count(*)::int as n from public.pipeline_outbox where user_id = $1', [world.userId]))).rows[0].n,
			history: (await activities(contact)).length,
		});
		const before = await state();
		expect(before).toMatchObject({ stage: world.pipeline.stages.Contacted, tags: [], stops: 0, runs: 0, outbox: 0 });
		const moveInTransaction = (db: Client) =>
			db.query(`select * from public.pipeline_move($1::jsonb, $2)`, [JSON.stringify([{ conversation_id: contact, stage_name: 'Qualified' }]), NOW]);

		await withDb(async (db) => {
			await db.query('begin');
			const { rows } = await moveInTransaction(db);
			expect(rows[0]).toMatchObject({ outcome: 'moved', automations_fired: 1 });
			// Inside the transaction: all of it; outside, until it commits: none of it.
			expect((await db.query('select count(*)::int as n from public.conversation_tags where conversation_id = $1', [contact])).rows[0].n).toBe(1);
			expect(await state()).toEqual(before);
			await db.query('rollback');
		});
		expect(await state()).toEqual(before);

		await withDb(async (db) => {
			await db.query('begin');
			await moveInTransaction(db);
			await db.query('commit');
		});
		expect(await state()).toEqual({
			stage: world.pipeline.stages.Qualified,
			status: 'QUALIFIED',
			tags: ['Qualified'],
			stops: 1,
			runs: 1,
			outbox: 1,
			history: before.history + 3, // MANUAL_MOVE, STATUS_CHANGED, AUTOMATION_FIRED
		});
	});
});

describe('chains', () => {
	it('stops automations that move contacts back and forth at the depth limit, and says so', async () => {
		const world = await createPipelineWorld({ stages: [{ name: 'Ping' }, { name: 'Pong' }, { name: 'Rest' }] });
		const { stages } = world.pipeline;
		const ping = await world.automation({ name: 'ping', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: stages.Ping }, actions: [{ type: 'move_to_stage', stage_id: stages.Pong }] });
		const pong = await world.automation({ name: 'pong', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: stages.Pong }, actions: [{ type: 'move_to_stage', stage_id: stages.Ping }] });
		const contact = await world.contact();
		const [moved] = await move([{ conversation_id: contact, stage_id: stages.Ping }]);
		expect(moved.automations_fired).toBe(5);
		const chain = await runs(world.userId);
		expect(chain.map((run) => [run.automation_id === ping ? 'ping' : 'pong', run.depth, run.status])).toEqual([
			['ping', 0, 'completed'],
			['pong', 1, 'completed'],
			['ping', 2, 'completed'],
			['pong', 3, 'completed'],
			['ping', 4, 'completed'],
			['pong', 5, 'depth_limit'],
		]);
		expect(chain[5].results).toEqual([]);
		// The last move ran (to Pong); the one it would have fired did not.
		expect((await places(world.userId))[0].stage_id).toBe(stages.Pong);
		expect(await automationCounts(world.userId)).toEqual({ ping: { times: 3, last: NOW }, pong: { times: 2, last: NOW } });
		expect(pong).not.toBe(ping);
		// The contact's history says the chain was stopped, by which automation and why, after the
		// last move (it ended at that move, with nothing saying a chain was cut).
		const history = await activities(contact);
		const last = history[history.length - 1];
		expect(history.map((entry) => entry.type).slice(-3)).toEqual(['AUTOMATION_FIRED', 'STAGE_CHANGED', 'AUTOMATION_STOPPED']);
		expect(history.filter((entry) => entry.type === 'AUTOMATION_STOPPED')).toHaveLength(1);
		expect(last).toMatchObject({
			type: 'AUTOMATION_STOPPED',
			title: 'Automation "pong" not run: the chain of automations reached its limit',
			description: expect.stringMatching(/^This change was made by the 5th automation in a row set off by one change, the most a chain may run, so automations that set each other off .* cannot run for ever\. The contact stays where the last automation put it/),
			actor: 'automation',
			actor_id: null,
			automation_id: pong,
			run_id: chain[5].id,
			depth: 5,
			from_stage_id: stages.Ping,
			to_stage_id: stages.Pong,
			metadata: { trigger_type: 'STAGE_CHANGED', status: 'depth_limit', max_depth: 5 },
		});
		expect(last.occurred_at.toISOString()).toBe(NOW);
	});
});

describe('two executions at once', () => {
	/** Waits until a session is blocked on the open transaction of `db`. */
	async function waitUntilBlockedOn(db: Client) {
		const { rows } = await db.query<{ xid: string }>('select pg_current_xact_id()::text as xid');
		for (let attempt = 0; attempt < 200; attempt++) {
			const waiting = await withDb((other) =>
				other.query<{ n: number }>(`select count(*)::int as n from pg_locks where not granted and locktype = 'transactionid' and transactionid::text = $1`, [rows[0].xid]),
			);
			if (waiting.rows[0].n > 0) return;
			await sleep(25);
		}
		throw new Error('the second execution never waited for the first');
	}

	it('the second waits for the first, then finds the contacts placed: every automation fired once', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		await world.automation({ name: 'entered', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }, { type: 'webhook', url: 'https://crm.example.test/new' }] });
		await world.automation({ name: 'qualified', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Qualified }, actions: [{ type: 'notify', message: 'Qualified' }] });
		const contacts = await world.contacts(20);
		const items = contacts.map((id, i) => analysis(id, i % 2 ? 60 : 30));

		let second: Promise<AssignResult[]> | undefined;
		await withDb(async (db) => {
			await db.query('begin');
			await db.query(`select * from public.pipeline_assign($1::jsonb, $2)`, [JSON.stringify(items), NOW]);
			second = assign(items, NOW);
			await waitUntilBlockedOn(db);
			await db.query('commit');
		});
		const secondResults = await second!;
		// The same analyses: the second execution finds them applied.
		expect(new Set(secondResults.map((row) => `${row.outcome} ${row.reason}`))).toEqual(new Set(['kept already_applied']));
		expect(secondResults.every((row) => row.automations_fired === 0)).toBe(true);

		const fired = await runs(world.userId);
		expect(fired).toHaveLength(30); // entered × 20, qualified × 10
		expect(new Set(fired.map((run) => `${run.automation_id} ${run.conversation_id}`)).size).toBe(30);
		const outbox = await withDb((db) => db.query<{ n: number }>('select count(*)::int as n from public.pipeline_outbox where user_id = $1', [world.userId]));
		expect(outbox.rows[0].n).toBe(30);
	});

	it('two calls racing over the same contacts through the Data API place each once and fire each automation once', async () => {
		const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
		await world.automation({ name: 'entered', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] });
		const contacts = await world.contacts(200);
		const items = contacts.map((id) => analysis(id, 50));
		const [a, b] = await Promise.all([
			serviceClient().rpc('pipeline_assign', { p_items: items, p_now: NOW }),
			serviceClient().rpc('pipeline_assign', { p_items: [...items].reverse(), p_now: NOW }),
		]);
		expect(a.error).toBeNull();
		expect(b.error).toBeNull();
		const outcomes = [...(a.data as AssignResult[]), ...(b.data as AssignResult[])];
		for (const contact of contacts) {
			expect(outcomes.filter((row) => row.conversation_id === contact).map((row) => row.outcome).sort()).toEqual(['assigned', 'kept']);
		}
		const fired = await runs(world.userId);
		expect(fired).toHaveLength(200);
		expect(new Set(fired.map((run) => run.conversation_id)).size).toBe(200);
	});
});

describe('follow-up stops and resumes', () => {
	interface Rules {
		x: string;
		y: string;
	}
	type Stop = { rule_id: string | null; reason: string };

	/**
	 * A contact with the given stops (rule_id null: every rule) moved to Won, which fires the given
	 * automations (each a list of actions), created in that order. Two follow-up rules, x and y.
	 */
	async function fire(automations: (rules: Rules) => Array<Array<Record<string, unknown>>>, stops: (rules: Rules) => Stop[] = () => []) {
		const world = await createPipelineWorld();
		const rules = { x: await world.rule(), y: await world.rule() };
		const ids: string[] = [];
		for (const [i, actions] of automations(rules).entries()) {
			ids.push(await world.automation({ name: `automation ${i}`, trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Won }, actions }));
		}
		const contact = await world.contact();
		for (const stop of stops(rules)) {
			await withDb((db) =>
				db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, $4)`, [world.userId, contact, stop.rule_id, stop.reason]),
			);
		}
		const [moved] = await move([{ conversation_id: contact, stage_id: world.pipeline.stages.Won }]);
		expect(moved.automations_fired).toBe(ids.length);
		const fired = await runs(world.userId);
		return { ...rules, ids, results: ids.map((id) => fired.find((run) => run.automation_id === id)?.results), stops: await stopsOf(contact) };
	}

	it('a resume of every rule before a stop of rule X lifts the stops found, and the stop of X stands', async () => {
		const { x, ids, results, stops } = await fire(
			({ x }) => [[{ type: 'resume_follow_up' }, { type: 'stop_follow_up', rule_id: x }]],
			({ y }) => [{ rule_id: y, reason: 'replied' }],
		);
		expect(results[0]).toEqual([
			{ index: 0, type: 'resume_follow_up', rule_id: null, status: 'applied' },
			{ index: 1, type: 'stop_follow_up', rule_id: x, status: 'applied' },
		]);
		expect(stops).toEqual([{ rule_id: x, reason: 'manual', note: `pipeline automation "automation 0" (${ids[0]})` }]);
	});

	it('a resume of every rule after a stop of rule X lifts it: the last action holds', async () => {
		const { x, results, stops } = await fire(({ x }) => [[{ type: 'stop_follow_up', rule_id: x }, { type: 'resume_follow_up' }]]);
		expect(results[0]).toEqual([
			{ index: 0, type: 'stop_follow_up', rule_id: x, status: 'applied' },
			{ index: 1, type: 'resume_follow_up', rule_id: null, status: 'applied' },
		]);
		expect(stops).toEqual([]);
	});

	it('applies in order across the automations of one change, and across levels', async () => {
		// Two automations for the same change, in the order they were created: the second's resume
		// lifts the first's stop; a stop that finds its rule stopped already is unchanged.
		const same = await fire(({ x }) => [[{ type: 'stop_follow_up', rule_id: x }, { type: 'stop_follow_up', rule_id: x }], [{ type: 'resume_follow_up' }]]);
		expect(same.results).toEqual([
			[
				{ index: 0, type: 'stop_follow_up', rule_id: same.x, status: 'applied' },
				{ index: 1, type: 'stop_follow_up', rule_id: same.x, status: 'unchanged', reason: 'already_stopped' },
			],
			[{ index: 0, type: 'resume_follow_up', rule_id: null, status: 'applied' }],
		]);
		expect(same.stops).toEqual([]);

		// A stop at depth 0; one level deeper (its move fires it) a resume of every rule lifts it, and
		// the every-rule stop after that stands.
		const world = await createPipelineWorld();
		const x = await world.rule();
		const { Won, Lost } = world.pipeline.stages;
		await world.automation({ name: 'won', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: Won }, actions: [{ type: 'stop_follow_up', rule_id: x }, { type: 'move_to_stage', stage_id: Lost }] });
		const lost = await world.automation({ name: 'lost', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: Lost }, actions: [{ type: 'resume_follow_up' }, { type: 'stop_follow_up' }] });
		const contact = await world.contact();
		await move([{ conversation_id: contact, stage_id: Won }]);
		expect((await runs(world.userId)).map((run) => [run.depth, run.results.map((result) => [result.type, result.rule_id ?? null, result.status])])).toEqual([
			[0, [['stop_follow_up', x, 'applied'], ['move_to_stage', null, 'applied']]],
			[1, [['resume_follow_up', null, 'applied'], ['stop_follow_up', null, 'applied']]],
		]);
		expect(await stopsOf(contact)).toEqual([{ rule_id: null, reason: 'manual', note: `pipeline automation "lost" (${lost})` }]);
	});

	it('a resume of rule X on a contact stopped for every rule says so, and leaves that stop', async () => {
		const takeover = { rule_id: null, reason: 'human_takeover', note: null };
		const only = await fire(({ x }) => [[{ type: 'resume_follow_up', rule_id: x }]], () => [takeover]);
		expect(only.results[0]).toEqual([{ index: 0, type: 'resume_follow_up', rule_id: only.x, status: 'unchanged', reason: 'stopped_for_every_rule' }]);
		expect(only.stops).toEqual([takeover]);

		// Stopped for X too: that stop is lifted, the every-rule one stays.
		const both = await fire(({ x }) => [[{ type: 'resume_follow_up', rule_id: x }]], ({ x }) => [takeover, { rule_id: x, reason: 'replied' }]);
		expect(both.results[0]).toEqual([{ index: 0, type: 'resume_follow_up', rule_id: both.x, status: 'applied' }]);
		expect(both.stops).toEqual([takeover]);
	});

	it('a plain stop and a plain resume still apply, and a resume with nothing to lift says so', async () => {
		const stop = await fire(({ x }) => [[{ type: 'stop_follow_up', rule_id: x }]], ({ y }) => [{ rule_id: y, reason: 'replied' }]);
		expect(stop.results[0]).toEqual([{ index: 0, type: 'stop_follow_up', rule_id: stop.x, status: 'applied' }]);
		expect(stop.stops.map((row) => `${row.rule_id} ${row.reason}`).sort()).toEqual([`${stop.x} manual`, `${stop.y} replied`].sort());

		const resume = await fire(({ x }) => [[{ type: 'resume_follow_up', rule_id: x }]], ({ x, y }) => [{ rule_id: x, reason: 'replied' }, { rule_id: y, reason: 'replied' }]);
		expect(resume.results[0]).toEqual([{ index: 0, type: 'resume_follow_up', rule_id: resume.x, status: 'applied' }]);
		expect(resume.stops.map((row) => row.rule_id)).toEqual([resume.y]);

		const nothing = await fire(({ x }) => [[{ type: 'resume_follow_up', rule_id: x }, { type: 'resume_follow_up' }]]);
		expect(nothing.results[0]).toEqual([
			{ index: 0, type: 'resume_follow_up', rule_id: nothing.x, status: 'unchanged', reason: 'not_stopped' },
			{ index: 1, type: 'resume_follow_up', rule_id: null, status: 'unchanged', reason: 'not_stopped' },
		]);
	});
});
