// console_rules, console_rule_write, console_rule_delete (migration 20261201000760): a rule made from
// a JSON object of its columns is the row written; a refusal names the column, the database's own
// message, and writes nothing; the preview is automation_explain's judgement of the settings as if
// saved, and leaves nothing written. console_rule_prompt (migration 20261201000800): what the claim
// would hand GenerateFollowUp for one tagged contact with unsaved settings, nothing written.
import { serviceClient, withDb } from '../../helpers/stack';
import { addMessage, at, createWorld, NOW } from './fixtures';

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

test('console_rule_prompt answers the first due contact with its last messages and follow-up number under unsaved settings, or the one asked, and writes nothing', async () => {
	const world = await createWorld();
	const [later] = await world.contacts(1, { name: 'Wrote an hour ago', lastMessageHoursAgo: 1 });
	const [first] = await world.contacts(1, { name: 'Wrote two hours ago', lastMessageHoursAgo: 2 });
	const [late] = await world.contacts(1, { name: 'Wrote 30 hours ago', lastMessageHoursAgo: 30 });
	await addMessage(first, 'inbound', at(-5), 'Do you deliver?');
	await addMessage(first, 'outbound', at(-4.5), 'Yes, in two days.');
	await addMessage(first, 'inbound', at(-4), 'How much is it?');
	const open = { ...settings(world.tags), active_hours_start: '00:00:00', active_hours_end: '00:00:00', active_days: [1, 2, 3, 4, 5, 6, 7] };
	const call = (args: Record<string, unknown>) => db().rpc('console_rule_prompt', { p_now: NOW.toISOString(), ...args });

	const { data, error } = await call({ p_user_id: world.userId, p_settings: { ...open, context_message_count: 2, language: 'German', model: 'gemini-2.5-flash' } });
	expect(error).toBeNull();
	expect(await rulesOf(world.userId)).toEqual([]);
	expect(data.tagged).toBe(3);
	expect(data.contacts).toEqual([
		{ conversation_id: first, sender_name: 'Wrote two hours ago', due: true, reason: null },
		{ conversation_id: later, sender_name: 'Wrote an hour ago', due: true, reason: null },
		{ conversation_id: late, sender_name: 'Wrote 30 hours ago', due: false, reason: 'outside_window' },
	]);
	expect(data.contact).toMatchObject({ conversation_id: first, sender_name: 'Wrote two hours ago', follow_up_number: 1, due: true });
	expect(data.contact.messages.map((message: { direction: string; text: string }) => [message.direction, message.text])).toEqual([
		['outbound', 'Yes, in two days.'],
		['inbound', 'How much is it?'],
	]);
	expect(data.rule).toEqual({ id: null, instructions: open.instructions, model: 'gemini-2.5-flash', language: 'German', context_message_count: 2 });

	const asked = await call({ p_user_id: world.userId, p_settings: open, p_conversation_id: late, p_contact_limit: 1 });
	expect(asked.data.contacts).toHaveLength(1);
	expect(asked.data.contact).toMatchObject({ conversation_id: late, due: false, reason: 'outside_window', messages: [] });

	// A saved rule: the unsaved change shows, the row stays as it was; a contact followed up once is at its second.
	const saved = await db().rpc('console_rule_write', { p_user_id: world.userId, p_settings: open, p_now: NOW.toISOString() });
	const ruleId = saved.data.rule.id;
	await withDb((client) =>
		client.query(
			`insert into public.ai_automation_contact_states (user_id, rule_id, conversation_id, follow_up_count, last_follow_up_at)
			 values ($1, $2, $3, 1, $4)`,
			[world.userId, ruleId, later, at(-30)],
		),
	);
	const changed = await call({ p_rule_id: ruleId, p_settings: { language: 'Dutch' }, p_conversation_id: later });
	expect(changed.data.rule).toMatchObject({ id: ruleId, language: 'Dutch' });
	expect(changed.data.contact).toMatchObject({ conversation_id: later, follow_up_number: 2 });
	expect((await rulesOf(world.userId))[0].language).toBeNull();
});

test('console_rule_prompt refuses a setting or a contact not of the rule naming it, and a bad contact limit, writing nothing', async () => {
	const world = await createWorld();
	const [untagged] = await world.contacts(1, { name: 'Only hot', tags: ['Hot'] });
	const call = (args: Record<string, unknown>) => db().rpc('console_rule_prompt', { p_now: NOW.toISOString(), p_user_id: world.userId, ...args });

	const history = await call({ p_settings: { ...settings(world.tags), context_message_count: 101 } });
	expect(history.data).toMatchObject({ saved: false, error: { field: 'context_message_count', message: expect.stringMatching(/context_message_count_check/), hint: expect.stringMatching(/<= 100/) } });
	const contact = await call({ p_settings: settings(world.tags), p_conversation_id: untagged });
	expect(contact.data).toMatchObject({ saved: false, error: { field: 'conversation_id', message: expect.stringMatching(/does not carry this rule's tags/) } });
	const limit = await call({ p_settings: settings(world.tags), p_contact_limit: 0 });
	expect(limit.error).toMatchObject({ code: '22023', message: expect.stringMatching(/p_contact_limit must be between 1 and 1000/) });
	expect(await rulesOf(world.userId)).toEqual([]);

	const nobody = await call({ p_settings: settings(world.tags) });
	expect(nobody.data).toMatchObject({ tagged: 0, contacts: [], contact: null });
	expect(await rulesOf(world.userId)).toEqual([]);
});
