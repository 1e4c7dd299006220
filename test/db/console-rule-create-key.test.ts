// console_rule_write's create key (migration 20261201001410): a new rule saved twice with its form's
// key (a double click, a retry after a lost answer, a proxy sending the POST again) is one rule. The
// repeat answers the rule the first save created (the same id, repeat: true) and writes nothing,
// also when both calls run at the same moment on two connections; a repeat with a setting changed
// is refused naming it, with the rule, nothing written. The key is the owner's: another owner's
// create with the same key is its own rule. A refused create leaves its key free; the preview and a
// change by rule id ignore it.
import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { Client as PgClient } from 'pg';
import { serviceClient, testStack, untilWaitingForLock, withDb } from '../helpers/stack';
import { createWorld, NOW } from './follow-up/fixtures';

const db = () => serviceClient({ now: NOW });

const settings = (tags: Record<string, string>) => ({
	name: 'Saved twice',
	include_tag_ids: [tags['AI Lead']],
	exclude_tag_ids: [tags['Do Not Contact']],
	active_hours_start: '09:00',
	time_zone: 'Europe/Paris',
	daily_limit: 40,
	min_hours_between_follow_ups: 3.5,
	instructions: 'Ask kindly whether they still want the offer.',
});

const rulesOf = (userId: string) =>
	withDb(async (client) => (await client.query('select * from public.ai_automation_rules where user_id = $1 order by created_at', [userId])).rows);

const save = (args: Record<string, unknown>) => db().rpc('console_rule_write', { p_now: NOW.toISOString(), ...args });

test('a create sent twice with its key is one rule: the repeat answers the same rule and writes nothing', async () => {
	const world = await createWorld();
	const key = randomUUID();
	const first = await save({ p_user_id: world.userId, p_settings: settings(world.tags), p_create_key: key });
	expect(first.error).toBeNull();
	expect(first.data).toMatchObject({ saved: true, rule: { name: 'Saved twice', create_key: key } });
	expect(first.data.repeat).toBeUndefined();
	const [written] = await rulesOf(world.userId);

	const second = await save({ p_user_id: world.userId, p_settings: settings(world.tags), p_create_key: key });
	expect(second.error).toBeNull();
	expect(second.data).toMatchObject({ saved: true, repeat: true, rule: { id: first.data.rule.id } });
	expect(second.data.explain).toEqual(first.data.explain);
	const rows = await rulesOf(world.userId);
	expect(rows.map((row) => row.id)).toEqual([first.data.rule.id]);
	// Nothing written by the repeat: the row is as the first save left it.
	expect(rows[0].updated_at).toEqual(written.updated_at);
});

test('two creates with one key at the same moment on two connections make one rule, both answering it', async () => {
	const world = await createWorld();
	const key = randomUUID();
	const call = 'select public.console_rule_write(p_user_id => $1, p_settings => $2, p_now => $3, p_create_key => $4) as answer';
	const args = [world.userId, JSON.stringify(settings(world.tags)), NOW.toISOString(), key];
	const connect = async () => {
		const client = new PgClient({ connectionString: testStack().dbUrl });
		await client.connect();
		return client;
	};
	const [a, b]: Client[] = [await connect(), await connect()];
	try {
		// a creates the rule and holds its transaction open; b's create with the key then has to wait
		// for a (the unique constraint), and answers once a commits.
		await a.query('begin');
		const answerA = (await a.query(call, args)).rows[0].answer;
		expect(answerA).toMatchObject({ saved: true, rule: { create_key: key } });
		const pid = (await b.query('select pg_backend_pid() as pid')).rows[0].pid as number;
		const pendingB = b.query(call, args);
		await untilWaitingForLock(pid, 'the second create never waited for the first');
		await a.query('commit');
		const answerB = (await pendingB).rows[0].answer;
		expect(answerB).toMatchObject({ saved: true, repeat: true, rule: { id: answerA.rule.id } });
	} finally {
		await a.end();
		await b.end();
	}
	expect((await rulesOf(world.userId)).map((row) => row.id)).toHaveLength(1);

	// And at once through the Data API, as two deliveries of one POST.
	const other = randomUUID();
	const both = await Promise.all([1, 2].map(() => save({ p_user_id: world.userId, p_settings: { ...settings(world.tags), name: 'At once' }, p_create_key: other })));
	expect(both.map((answer) => answer.error)).toEqual([null, null]);
	expect(both.map((answer) => answer.data.saved)).toEqual([true, true]);
	expect(both[0].data.rule.id).toBe(both[1].data.rule.id);
	expect(both.filter((answer) => answer.data.repeat === true)).toHaveLength(1);
	expect((await rulesOf(world.userId)).filter((row) => row.name === 'At once')).toHaveLength(1);
});

test('a repeat with a setting changed is refused naming it, with the rule the key created; nothing is written', async () => {
	const world = await createWorld();
	const key = randomUUID();
	const first = await save({ p_user_id: world.userId, p_settings: settings(world.tags), p_create_key: key });
	const [before] = await rulesOf(world.userId);

	const changed = await save({ p_user_id: world.userId, p_settings: { ...settings(world.tags), daily_limit: 60 }, p_create_key: key });
	expect(changed.error).toBeNull();
	expect(changed.data).toMatchObject({ saved: false, repeat: true, rule: { id: first.data.rule.id, daily_limit: 40 } });
	expect(changed.data.error.field).toBe('daily_limit');
	expect(changed.data.error.message).toBe(`the rule this key created (${first.data.rule.id}) has daily_limit 40; this save asks for 60: nothing was changed`);
	expect(changed.data.error.hint).toContain(first.data.rule.id);
	const rows = await rulesOf(world.userId);
	expect(rows).toHaveLength(1);
	expect(rows[0]).toEqual(before);

	// Values compared as the columns store them: 09:00 is 09:00:00, 3.5 is 3.50.
	const same = await save({ p_user_id: world.userId, p_settings: { ...settings(world.tags), active_hours_start: '09:00:00', min_hours_between_follow_ups: '3.50' }, p_create_key: key });
	expect(same.data).toMatchObject({ saved: true, repeat: true, rule: { id: first.data.rule.id } });
});

test('a key is the owner\'s; a refused create leaves it free; the preview and a change by rule id ignore it', async () => {
	const world = await createWorld();
	const otherWorld = await createWorld();
	const key = randomUUID();

	const refused = await save({ p_user_id: world.userId, p_settings: { ...settings(world.tags), daily_limit: 0 }, p_create_key: key });
	expect(refused.data).toMatchObject({ saved: false, error: { field: 'daily_limit' } });
	const preview = await save({ p_user_id: world.userId, p_settings: settings(world.tags), p_create_key: key, p_save: false });
	expect(preview.data).toMatchObject({ saved: false, explain: { tagged: expect.any(Number) } });
	expect(await rulesOf(world.userId)).toEqual([]);

	const created = await save({ p_user_id: world.userId, p_settings: settings(world.tags), p_create_key: key });
	expect(created.data).toMatchObject({ saved: true, rule: { create_key: key } });
	expect(created.data.repeat).toBeUndefined();
	const another = await save({ p_user_id: otherWorld.userId, p_settings: settings(otherWorld.tags), p_create_key: key });
	expect(another.data).toMatchObject({ saved: true, rule: { user_id: otherWorld.userId, create_key: key } });
	expect(another.data.rule.id).not.toBe(created.data.rule.id);

	const changed = await save({ p_rule_id: created.data.rule.id, p_settings: { daily_limit: 70 }, p_create_key: randomUUID() });
	expect(changed.data).toMatchObject({ saved: true, rule: { id: created.data.rule.id, daily_limit: 70, create_key: key } });
	expect(await rulesOf(world.userId)).toHaveLength(1);

	// A key that is not a UUID is refused by the argument's type, nothing written.
	const bad = await save({ p_user_id: world.userId, p_settings: { ...settings(world.tags), name: 'Bad key' }, p_create_key: 'twice' });
	expect(bad.error).toMatchObject({ code: '22P02', message: expect.stringContaining('uuid') });
	expect(await rulesOf(world.userId)).toHaveLength(1);
});
