// automation_monitor_page, the console's monitor: its totals and stages are automation_snapshot's,
// its pages are the snapshot's contact list filtered and cut, and bad arguments are refused naming
// the argument.
import { serviceClient } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';

const db = serviceClient({ now: NOW });

interface PageAnswer {
	rules: Array<{ id: string; name: string }>;
	rulesLeftOut?: number;
	rule: { id: string } | null;
	stats: Record<string, unknown> & { skipped_by_reason: Record<string, number> };
	stages: unknown[];
	contacts: { total: number; offset: number; limit: number; rows: Array<Record<string, unknown>> };
	activeContacts: unknown[];
}

async function page(args: Record<string, unknown>): Promise<PageAnswer> {
	const { data, error } = await db.rpc('automation_monitor_page', { p_now: NOW.toISOString(), ...args });
	if (error) throw new Error(error.message);
	return data as PageAnswer;
}

async function snapshot(ruleId: string) {
	const { data, error } = await db.rpc('automation_snapshot', { p_rule_id: ruleId, p_contact_limit: 100_000, p_now: NOW.toISOString() });
	if (error) throw new Error(error.message);
	return data as { stats: Record<string, unknown>; stages: unknown[]; eligibleContacts: Array<Record<string, unknown>> };
}

const pick = (row: Record<string, unknown>) => ({
	conversation_id: row.conversation_id,
	contact_status: row.contact_status,
	status_reason: row.status_reason,
	due_at: row.due_at,
	sender_name: row.sender_name,
});

test('totals and stages equal the snapshot; pages, filters and search cut the snapshot\'s list in its order', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Console rule', exclude: ['Do Not Contact'] });
	await world.contacts(7, { name: 'Ada Eligible' });
	await world.contacts(3, { name: 'Bob Outside', lastMessageHoursAgo: 30 });
	await world.contacts(2, { name: 'Cy Excluded', tags: ['AI Lead', 'Do Not Contact'] });
	await world.contacts(4, { name: 'Untagged', tags: ['Hot'] });

	const whole = await snapshot(ruleId);
	const first = await page({ p_rule_id: ruleId, p_limit: 5 });

	expect(first.stats).toEqual(whole.stats);
	expect(first.stats).toMatchObject({ total_with_tags: 12, eligible_count: 7, skipped_count: 5, skipped_by_reason: { outside_window: 3, excluded_tag: 2 } });
	expect(first.stages).toEqual(whole.stages);
	expect(first.rule?.id).toBe(ruleId);
	expect(first.rules.map((rule) => rule.id)).toContain(ruleId);

	// Pages of 5 joined give the snapshot's list, in its order.
	const rows = [...first.contacts.rows];
	for (let offset = 5; offset < first.contacts.total; offset += 5) rows.push(...(await page({ p_rule_id: ruleId, p_limit: 5, p_offset: offset })).contacts.rows);
	expect(first.contacts.total).toBe(12);
	expect(rows.map(pick)).toEqual(whole.eligibleContacts.map(pick));

	const skipped = await page({ p_rule_id: ruleId, p_status: 'skipped', p_reason: 'excluded_tag' });
	expect(skipped.contacts.total).toBe(2);
	expect(skipped.contacts.rows.map((row) => row.sender_name)).toEqual(['Cy Excluded', 'Cy Excluded']);
	expect(skipped.stats.total_with_tags).toBe(12);

	const searched = await page({ p_rule_id: ruleId, p_search: 'bob out' });
	expect(searched.contacts.rows.map((row) => [row.sender_name, row.status_reason])).toEqual(Array(3).fill(['Bob Outside', 'outside_window']));
	// A wildcard in the search is a character, not a pattern.
	expect((await page({ p_rule_id: ruleId, p_search: '%' })).contacts.total).toBe(0);
});

test('without a rule it lists the rules only; an unknown rule answers null', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Listed rule' });
	const list = await page({});
	expect(list.rule).toBeNull();
	expect(list.rules).toContainEqual(expect.objectContaining({ id: ruleId, name: 'Listed rule' }));
	const { data, error } = await db.rpc('automation_monitor_page', { p_rule_id: '00000000-0000-4000-8000-000000000000' });
	expect(error).toBeNull();
	expect(data).toBeNull();
});

// Before migration 20261201002480 the page of one owner's rule listed every owner's rules (the
// console's picker showed owner B's rule names and Pages on owner A's page), and a cap was applied
// by the node after the database had read them all.
test('a rule\'s page lists only its owner\'s rules, at most p_rules_limit of them, counting the rest', async () => {
	const a = await createWorld();
	const b = await createWorld();
	const aRules = [await a.rule({ name: 'A first' }), await a.rule({ name: 'A second' }), await a.rule({ name: 'A third' })];
	const bRule = await b.rule({ name: 'B only' });

	const ofA = await page({ p_rule_id: aRules[1], p_limit: 5 });
	expect(ofA.rule?.id).toBe(aRules[1]);
	expect(ofA.rules.map((rule) => rule.name)).toEqual(['A first', 'A second', 'A third']);
	expect(ofA.rules.map((rule) => rule.id)).not.toContain(bRule);
	expect(ofA).not.toHaveProperty('rulesLeftOut');
	const ofB = await page({ p_rule_id: bRule, p_limit: 5 });
	expect(ofB.rules.map((rule) => rule.id)).toEqual([bRule]);

	// The cap: the first rules in name order, and how many more the owner has.
	const capped = await page({ p_rule_id: aRules[2], p_limit: 5, p_rules_limit: 2 });
	expect(capped.rules.map((rule) => rule.name)).toEqual(['A first', 'A second']);
	expect(capped.rulesLeftOut).toBe(1);
	expect((await page({ p_rule_id: aRules[0], p_limit: 5, p_rules_limit: 3 })).rulesLeftOut).toBe(0);
	expect((await page({ p_rule_id: bRule, p_limit: 5, p_rules_limit: 20 })).rulesLeftOut).toBe(0);
});

test.each([
	[{ p_rules_limit: 0 }, 'p_rules_limit'],
	[{ p_rules_limit: 1001 }, 'p_rules_limit'],
	[{ p_status: 'sent' }, 'p_status'],
	[{ p_reason: 'Outside Window' }, 'p_reason'],
	[{ p_offset: -1 }, 'p_offset'],
	[{ p_limit: 501 }, 'p_limit'],
	[{ p_search: 'x'.repeat(201) }, 'p_search'],
])('refuses %j naming %s (22023)', async (args, field) => {
	const { data, error } = await db.rpc('automation_monitor_page', { p_rule_id: '00000000-0000-4000-8000-000000000000', ...args });
	expect(data).toBeNull();
	expect(error?.code).toBe('22023');
	expect(error?.message).toMatch(new RegExp(`^${field} `));
});
