// console_rules, console_rule_write, console_rule_delete (migration 20261201000760): a rule made from
// a JSON object of its columns is the row written; a refusal names the column, the database's own
// message, and writes nothing; the preview is automation_explain's judgement of the settings as if
// saved, and leaves nothing written.
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';

const db = () => serviceClient({ now: NOW });

const settings = (tags: Record<string, string>) => ({
	name: 'Made in the console',
	include_tag_ids: [tags['AI Lead']],
	exclude_tag_ids: [tags['Do Not Contact']],
	tag_match: 'any',
	active_hours_start: '09:00:00',
	active_hours_end: '18:00:00',
	time_zone: 'Europe/Paris',
	active_days: [1, 2, 3, 4, 5],
	daily_limit: 40,
	max_follow_ups: 2,
	min_hours_between_follow_ups: 3.5,
	stop_on_reply: false,
	instructions: 'Ask kindly whether they still want the offer.',
});

const rulesOf = (userId: string) =>
	withDb(async (client) => (await client.query('select * from public.ai_automation_rules where user_id = $1', [userId])).rows);

test('a rule written from its settings is the row in the table, with its tags by name', async () => {
	const world = await createWorld();
	const { data, error } = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: settings(world.tags), p_now: NOW.toISOString() });
	expect(error).toBeNull();
	expect(data.saved).toBe(true);
	const [row] = await rulesOf(world.userId);
	expect(data.rule.id).toBe(row.id);
	expect(data.rule).toMatchObject({ ...settings(world.tags), min_hours_between_follow_ups: 3.5, user_id: world.userId });
	expect(row).toMatchObject({ name: 'Made in the console', daily_limit: 40, time_zone: 'Europe/Paris', active_days: [1, 2, 3, 4, 5], stop_on_reply: false });

	const { data: listed } = await db().rpc('console_rules', { p_user_id: world.userId });
	expect(listed.rules).toHaveLength(1);
	expect(listed.rules[0].include_tags).toEqual([{ id: world.tags['AI Lead'], name: 'AI Lead' }]);
	expect(listed.rules[0].exclude_tags).toEqual([{ id: world.tags['Do Not Contact'], name: 'Do Not Contact' }]);
	expect(listed.tags.map((tag: { name: string }) => tag.name)).toEqual(['AI Lead', 'Do Not Contact', 'Hot']);
	expect(listed.owners).toEqual([world.userId]);

	const toggled = await db().rpc('console_rule_write', { p_rule_id: row.id, p_settings: { enabled: false }, p_now: NOW.toISOString() });
	expect(toggled.data).toMatchObject({ saved: true, rule: { enabled: false, daily_limit: 40 } });
	expect((await rulesOf(world.userId))[0].enabled).toBe(false);

	const deleted = await db().rpc('console_rule_delete', { p_rule_id: row.id });
	expect(deleted.data).toEqual({ deleted: true, id: row.id });
	expect(await rulesOf(world.userId)).toEqual([]);
});

test.each([
	[{ daily_limit: 0 }, 'daily_limit', /daily_limit_check/],
	[{ daily_limit: 'many' }, 'daily_limit', /invalid input syntax for type integer/],
	[{ time_zone: 'Mars/Olympus' }, 'time_zone', /time zone "Mars\/Olympus" is not known/],
	[{ include_tag_ids: [] }, 'include_tag_ids', /at least one tag to include/],
	[{ name: '  ' }, 'name', /name_check/],
	[{ active_days: [0] }, 'active_days', /active_days_check/],
	[{ instructions: null }, 'instructions', /null value in column "instructions"/],
	[{ colour: 'red' }, 'colour', /colour is not a setting of a rule/],
])('settings %j are refused naming %s, nothing written', async (change, field, message) => {
	const world = await createWorld();
	const { data, error } = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: { ...settings(world.tags), ...change }, p_now: NOW.toISOString() });
	expect(error).toBeNull();
	expect(data.saved).toBe(false);
	expect(data.error).toMatchObject({ field, message: expect.stringMatching(message) });
	expect(data.rule).toBeUndefined();
	expect(await rulesOf(world.userId)).toEqual([]);
});

test('a check constraint\'s refusal says what the column allows, from the constraint itself', async () => {
	const world = await createWorld();
	const { data } = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: { ...settings(world.tags), daily_limit: 1_000_001 } });
	expect(data.error).toEqual({
		field: 'daily_limit',
		message: expect.stringMatching(/daily_limit_check/),
		hint: expect.stringMatching(/^Allowed: \(+daily_limit >= 1\) AND \(daily_limit <= 1000000\)+\.$/),
	});
	expect(await rulesOf(world.userId)).toEqual([]);
});

test('a tag both included and excluded is refused on the exclude field; an unknown excluded tag too', async () => {
	const world = await createWorld();
	const both = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: { ...settings(world.tags), exclude_tag_ids: [world.tags['AI Lead']] } });
	expect(both.data.error).toMatchObject({ field: 'exclude_tag_ids', message: expect.stringMatching(/both included and excluded/) });
	const unknown = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: { ...settings(world.tags), exclude_tag_ids: ['00000000-0000-4000-8000-000000000000'] } });
	expect(unknown.data.error).toMatchObject({ field: 'exclude_tag_ids', message: expect.stringMatching(/does not exist or belongs to another owner/) });
	expect(await rulesOf(world.userId)).toEqual([]);
});

test('the preview counts what automation_explain judges once saved, and writes nothing', async () => {
	const world = await createWorld();
	await world.contacts(3, { name: 'Due' });
	await world.contacts(2, { name: 'Late', lastMessageHoursAgo: 30 });
	await world.contacts(1, { name: 'Excluded', tags: ['AI Lead', 'Do Not Contact'] });
	const open = { ...settings(world.tags), active_hours_start: '00:00:00', active_hours_end: '00:00:00', active_days: [1, 2, 3, 4, 5, 6, 7] };
	const preview = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: open, p_save: false, p_now: NOW.toISOString() });
	expect(preview.error).toBeNull();
	expect(preview.data.saved).toBe(false);
	expect(await rulesOf(world.userId)).toEqual([]);

	const saved = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: open, p_now: NOW.toISOString() });
	const { data: rows } = await db().rpc('automation_explain', { p_rule_id: saved.data.rule.id, p_now: NOW.toISOString() });
	const byReason: Record<string, number> = {};
	for (const row of rows as { reason: string | null }[]) if (row.reason) byReason[row.reason] = (byReason[row.reason] ?? 0) + 1;
	expect(preview.data.explain).toEqual({ tagged: rows.length, due: rows.filter((row: { due: boolean }) => row.due).length, by_reason: byReason });
	expect(preview.data.explain).toEqual(saved.data.explain);
	expect(preview.data.explain.due).toBe(3);
	expect(preview.data.explain.tagged).toBe(6);

	// A preview of a change to a saved rule leaves the rule as it was.
	const narrowed = await db().rpc('console_rule_write', { p_rule_id: saved.data.rule.id, p_settings: { active_days: [7] }, p_save: false, p_now: NOW.toISOString() });
	expect(narrowed.data.explain.due).toBe(0);
	expect((await rulesOf(world.userId))[0].active_days).toEqual([1, 2, 3, 4, 5, 6, 7]);
});
