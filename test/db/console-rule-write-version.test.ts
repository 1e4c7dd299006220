// console_rule_write's version check (migration 20261201002540, review K): a change may carry
// settings.updated_at, the rule's updated_at as the form read it. Two Edit forms opened on one rule
// (two console tabs, two people): the first save is written, the second, read before it, is refused
// naming updated_at with the rule as it is now (stale), nothing written, so it never undoes the
// first's change. Two saves from one version at the same moment on two connections: one written.
// Without updated_at a save changes the columns it sends, as before; a create carrying it, or one
// that is no time, is refused naming it.
import type { Client } from 'pg';
import { Client as PgClient } from 'pg';
import { serviceClient, testStack, untilWaitingForLock, withDb } from '../helpers/stack';
import { createWorld, NOW, type World } from './follow-up/fixtures';

const db = () => serviceClient({ now: NOW });

const settings = (tags: Record<string, string>) => ({
	name: 'Edited twice',
	include_tag_ids: [tags['AI Lead']],
	daily_limit: 40,
	instructions: 'Ask kindly whether they still want the offer.',
});

const ruleRow = async (id: string) =>
	withDb(async (client) => (await client.query('select * from public.ai_automation_rules where id = $1', [id])).rows[0]);

const save = (args: Record<string, unknown>) => db().rpc('console_rule_write', { p_now: NOW.toISOString(), ...args });

async function newRule(world: World) {
	const { data, error } = await save({ p_user_id: world.userId, p_settings: settings(world.tags) });
	expect(error).toBeNull();
	return data.rule as { id: string; updated_at: string; enabled: boolean; daily_limit: number };
}

test('a form read before another save is refused naming updated_at, with the rule now; nothing is written', async () => {
	const world = await createWorld();
	const opened = await newRule(world);
	expect(opened.updated_at).toEqual(expect.any(String));

	// Tab A switches the rule off, tab B (opened before) saved its whole form with the version it read.
	const off = await save({ p_rule_id: opened.id, p_settings: { enabled: false } });
	expect(off.data).toMatchObject({ saved: true, rule: { enabled: false } });
	const afterA = await ruleRow(opened.id);

	const stale = await save({ p_rule_id: opened.id, p_settings: { ...settings(world.tags), enabled: true, instructions: 'Mention the payment plan.', updated_at: opened.updated_at } });
	expect(stale.error).toBeNull();
	expect(stale.data).toMatchObject({
		saved: false,
		stale: true,
		rule: { id: opened.id, enabled: false, instructions: 'Ask kindly whether they still want the offer.', updated_at: off.data.rule.updated_at },
		error: { field: 'updated_at', message: expect.stringMatching(/^rule [0-9a-f-]{36} was changed since you opened it \(.*\): nothing was saved$/), hint: expect.stringContaining('Read the rule again') },
	});
	expect(await ruleRow(opened.id)).toEqual(afterA);

	// Read again (the answer's rule), the same change is saved, and the rule stays switched off.
	const again = await save({ p_rule_id: opened.id, p_settings: { instructions: 'Mention the payment plan.', updated_at: stale.data.rule.updated_at } });
	expect(again.data).toMatchObject({ saved: true, rule: { enabled: false, instructions: 'Mention the payment plan.' } });
	expect(again.data.rule.updated_at).not.toBe(stale.data.rule.updated_at);
	// The preview with an old version and a save of nothing but the version are judged the same.
	const preview = await save({ p_rule_id: opened.id, p_settings: { daily_limit: 9, updated_at: opened.updated_at }, p_save: false });
	expect(preview.data).toMatchObject({ saved: false, stale: true, error: { field: 'updated_at' } });
	const nothing = await save({ p_rule_id: opened.id, p_settings: { updated_at: again.data.rule.updated_at } });
	expect(nothing.data).toMatchObject({ saved: true, rule: { id: opened.id, updated_at: again.data.rule.updated_at } });
	const nothingStale = await save({ p_rule_id: opened.id, p_settings: { updated_at: opened.updated_at } });
	expect(nothingStale.data).toMatchObject({ saved: false, stale: true });
});

test('two saves from one version at the same moment on two connections: one is written, the other refused', async () => {
	const world = await createWorld();
	const opened = await newRule(world);
	const call = 'select public.console_rule_write(p_rule_id => $1, p_settings => $2, p_now => $3) as answer';
	const connect = async () => {
		const client = new PgClient({ connectionString: testStack().dbUrl });
		await client.connect();
		return client;
	};
	const [a, b]: Client[] = [await connect(), await connect()];
	try {
		await a.query('begin');
		const answerA = (await a.query(call, [opened.id, JSON.stringify({ daily_limit: 7, updated_at: opened.updated_at }), NOW.toISOString()])).rows[0].answer;
		expect(answerA).toMatchObject({ saved: true, rule: { daily_limit: 7 } });
		const pid = (await b.query('select pg_backend_pid() as pid')).rows[0].pid as number;
		const pendingB = b.query(call, [opened.id, JSON.stringify({ daily_limit: 40, instructions: 'Offer the early-bird price once.', updated_at: opened.updated_at }), NOW.toISOString()]);
		await untilWaitingForLock(pid, 'the second save never waited for the first');
		await a.query('commit');
		const answerB = (await pendingB).rows[0].answer;
		expect(answerB).toMatchObject({ saved: false, stale: true, rule: { daily_limit: 7 }, error: { field: 'updated_at' } });
	} finally {
		await a.end();
		await b.end();
	}
	expect(await ruleRow(opened.id)).toMatchObject({ daily_limit: 7, instructions: 'Ask kindly whether they still want the offer.' });
});

test('without updated_at a change writes what it sends; a create with it, or one that is no time, is refused naming it', async () => {
	const world = await createWorld();
	const opened = await newRule(world);
	await save({ p_rule_id: opened.id, p_settings: { daily_limit: 9 } });
	const plain = await save({ p_rule_id: opened.id, p_settings: { enabled: false } });
	expect(plain.data).toMatchObject({ saved: true, rule: { enabled: false, daily_limit: 9 } });

	const create = await save({ p_user_id: world.userId, p_settings: { ...settings(world.tags), updated_at: opened.updated_at } });
	expect(create.data).toMatchObject({ saved: false, error: { field: 'updated_at', message: expect.stringContaining('a new rule has none') } });
	const notTime = await save({ p_rule_id: opened.id, p_settings: { daily_limit: 3, updated_at: 'yesterday-ish' } });
	expect(notTime.data).toMatchObject({ saved: false, error: { field: 'updated_at', message: 'updated_at yesterday-ish is not a time' } });
	const rows = await withDb(async (client) => (await client.query('select daily_limit from public.ai_automation_rules where user_id = $1', [world.userId])).rows);
	expect(rows).toEqual([{ daily_limit: 9 }]);
});
