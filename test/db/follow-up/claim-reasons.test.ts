// automation_claim_explained says why a claim took nothing, or fewer than asked: the rule's tagged
// contacts it did not take, counted by the judgement's reason, and each rule's status. One test per
// reason a caller must tell apart (nobody tagged, outside active hours, today's limit used, held by
// another execution, switched off), and on the mixed world: the counts equal the judgement's own
// (automation_evaluate) for every enabled rule.
import type { ClaimExplained, ClaimedContact } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, localTime, NOW } from './fixtures';
import { MIXED_RULES, seedMixedWorld } from './mixed-world';
import { claim, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const claimExplained = (ruleId: string | null, executionId: string, limit = 100) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: limit,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
	});

const stop = (userId: string, conversationId: string, ruleId: string | null, reason: string) =>
	withDb((db) =>
		db.query('insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, $4)', [
			userId,
			conversationId,
			ruleId,
			reason,
		]),
	);

describe('automation_claim_explained: why nothing, or fewer than asked, was claimed', () => {
	it('claims what it was asked for with no reason, as automation_claim would (the same fields per contact)', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contacts(5);
		const result = await claimExplained(ruleId, 'exec-filled', 2);
		expect(result.contacts).toHaveLength(2);
		expect(result.summary).toMatchObject({ requested: 2, claimed: 2, reason: null });
		expect(result.summary.rules).toEqual([expect.objectContaining({ ruleId, status: 'filled', claimed: 2, dailyLimit: 100, usedToday: 0, inActiveHours: true })]);

		// The next 2 through automation_claim: the same fields, the same kind of values, except the
		// rule's settings, which come once per rule (claimedRules) instead of on every contact.
		const rows = await claim(service, ruleId, 'exec-rows', 2);
		const shape = (contact: object) => Object.fromEntries(Object.entries(contact).map(([key, value]) => [key, Array.isArray(value) ? 'array' : typeof value]));
		const { rule, ...withoutRule } = rows[0] as ClaimedContact;
		expect(result.contacts.every((contact) => !('rule' in contact))).toBe(true);
		expect(shape(result.contacts[0])).toEqual(shape(withoutRule));
		expect(result.claimedRules).toEqual({ [ruleId]: rule });
		expect(result.contacts.map((contact) => contact.conversation_id)).not.toContain(rows[0].conversation_id);
	});

	it('says no_tagged_contacts when nobody carries the rule\'s tags', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ include: ['Hot'] });
		await world.contacts(3); // tagged AI Lead, not Hot
		const result = await claimExplained(ruleId, 'exec-untagged');
		expect(result.contacts).toEqual([]);
		expect(result.claimedRules).toEqual({});
		expect(result.summary).toEqual({
			requested: 100,
			pageId: null,
			claimed: 0,
			reason: 'no_tagged_contacts',
			notClaimed: {},
			rules: [expect.objectContaining({ ruleId, status: 'no_tagged_contacts', claimed: 0, notClaimed: {} })],
		});
	});

	it('says outside_active_hours with the contacts it holds back and when the hours begin', async () => {
		const world = await createWorld();
		// NOW is 12:00 UTC: the hours 01:00–02:00 UTC are not now.
		const ruleId = await world.rule({ activeHours: { start: '01:00', end: '02:00', timeZone: 'UTC' } });
		await world.contacts(3);
		await world.contacts(2, { lastMessageHoursAgo: 30 });
		const result = await claimExplained(ruleId, 'exec-hours');
		expect(result.summary).toMatchObject({ claimed: 0, reason: 'outside_active_hours', notClaimed: { outside_active_hours: 3, outside_window: 2 } });
		const [rule] = result.summary.rules;
		expect(rule).toMatchObject({ status: 'outside_active_hours', inActiveHours: false });
		expect(new Date(rule.nextActiveAt!).toISOString()).toBe(localTime('UTC', '01:00', 1).toISOString());
	});

	it('tells another execution\'s contacts (in_progress) from today\'s limit (daily_limit_reached) in overlapping claims', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2 });
		await world.contacts(5);

		const first = await claimExplained(ruleId, 'exec-first');
		expect(first.contacts).toHaveLength(2);
		// Asked for 100, got 2: the limit ran out during this claim for the 3 others.
		expect(first.summary).toMatchObject({ claimed: 2, reason: 'daily_limit_reached', notClaimed: { daily_limit_reached: 3 } });
		expect(first.summary.rules[0]).toMatchObject({ status: 'daily_limit_reached', usedToday: 0, dailyLimit: 2 });

		const second = await claimExplained(ruleId, 'exec-second');
		expect(second.contacts).toEqual([]);
		expect(second.summary).toMatchObject({ claimed: 0, reason: 'daily_limit_reached', notClaimed: { in_progress: 2, daily_limit_reached: 3 } });
		expect(second.summary.rules[0]).toMatchObject({ usedToday: 2 });
	});

	it('says no_more_due with in_progress when another execution holds every due contact, under the limit', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 100 });
		await world.contacts(3);
		const first = await claimExplained(ruleId, 'exec-a');
		expect(first.summary).toMatchObject({ claimed: 3, reason: 'no_more_due', notClaimed: {} });
		const second = await claimExplained(ruleId, 'exec-b');
		expect(second.summary).toMatchObject({ claimed: 0, reason: 'no_more_due', notClaimed: { in_progress: 3 } });
	});

	it('counts each reason a tagged contact is not due', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ exclude: ['Do Not Contact'] });
		await world.contacts(2); // due
		const stopped = await world.contacts(2);
		for (const id of stopped) await stop(world.userId, id, ruleId, 'manual');
		await world.contact({ tags: ['AI Lead', 'Do Not Contact'] });
		await world.contact({ isActive: false });
		await world.contacts(3, { lastMessageHoursAgo: 25 });
		await world.contact({ lastMessageHoursAgo: null });
		const result = await claimExplained(ruleId, 'exec-mixed');
		expect(result.contacts).toHaveLength(2);
		expect(result.summary).toMatchObject({
			claimed: 2,
			reason: 'no_more_due',
			notClaimed: { stopped: 2, excluded_tag: 1, inactive: 1, outside_window: 4 },
		});
	});

	it('says rule_disabled for a rule asked for by id that is switched off', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ enabled: false });
		await world.contacts(2);
		const result = await claimExplained(ruleId, 'exec-off');
		expect(result.summary).toEqual({
			requested: 100,
			pageId: null,
			claimed: 0,
			reason: 'rule_disabled',
			notClaimed: {},
			rules: [expect.objectContaining({ ruleId, status: 'rule_disabled', claimed: 0 })],
		});
	});

	it('refuses what automation_claim refuses, naming the argument, and claims nothing', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const cases: Array<{ args: Record<string, unknown>; error: RegExp }> = [
			{ args: { p_execution_id: ' ' }, error: /^p_execution_id is required: .* \(22023\)$/ },
			{ args: { p_limit: 0 }, error: /^p_limit must be between 1 and 10000 \(got 0\) \(22023\)$/ },
			{ args: { p_limit: 10_001 }, error: /^p_limit must be between 1 and 10000 \(got 10001\) \(22023\)$/ },
			{ args: { p_lease_seconds: 4 }, error: /^p_lease_seconds must be between 5 and 86400 \(got 4\) \(22023\)$/ },
			{ args: { p_rule_id: '00000000-0000-4000-8000-000000000000' }, error: /^automation rule 00000000-0000-4000-8000-000000000000 does not exist \(P0002\)$/ },
		];
		for (const name of ['automation_claim', 'automation_claim_explained']) {
			for (const { args, error } of cases) {
				const call = rpc(service, name, { p_rule_id: ruleId, p_limit: 10, p_execution_id: 'exec-refused', p_lease_seconds: 600, p_now: NOW.toISOString(), ...args });
				await expect(call).rejects.toThrow(new RegExp(`^${name}: ${error.source.slice(1)}`));
			}
		}
		const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where conversation_id = $1', [conversationId]));
		expect(states.rowCount).toBe(0);
	});

	it('counts, for every rule of the mixed world, the reasons the judgement gives', async () => {
		const world = await seedMixedWorld(20_261_201);
		// Reaped rule by rule: a reap of every rule would also settle other test files' worlds, which
		// share the database and may be judged at another NOW (the moved clocks run beside this one).
		await withDb((db) =>
			db.query('select public.automation_reap($1, r) from unnest($2::uuid[]) r', [NOW.toISOString(), Object.values(world.rules)]),
		);
		const seen = new Set<string>();
		for (const spec of MIXED_RULES.filter((rule) => rule.enabled)) {
			const ruleId = world.rules[spec.key];
			const judged = await withDb(async (db) => {
				const { rows } = await db.query<{ reason: string | null; open: boolean }>(
					`select e.reason, e.last_customer_message_at > $2::timestamptz - interval '24 hours' as open
					   from leadflow_private.automation_evaluate($1, $2) e`,
					[ruleId, NOW.toISOString()],
				);
				return rows;
			});
			const closed = await withDb(async (db) => {
				// The rule's contacts (of its Page, carrying its tags as tag_match says) whose window is closed.
				const { rows } = await db.query<{ n: number }>(
					`select count(*)::int as n from public.messenger_conversations c
					   join public.ai_automation_rules r on r.id = $1 and c.user_id = r.user_id and (r.page_id is null or c.page_id = r.page_id)
					  where (c.last_customer_message_at is null or c.last_customer_message_at <= $2::timestamptz - interval '24 hours')
					    and (select count(distinct ct.tag_id) from public.conversation_tags ct
					          where ct.conversation_id = c.id and ct.tag_id = any (r.include_tag_ids))
					        >= case r.tag_match when 'all' then cardinality(r.include_tag_ids) else 1 end`,
					[ruleId, NOW.toISOString()],
				);
				return rows[0].n;
			});
			const expected: Record<string, number> = {};
			for (const row of judged.filter((judgement) => judgement.open && judgement.reason)) expected[row.reason!] = (expected[row.reason!] ?? 0) + 1;
			if (closed > 0) expected.outside_window = closed;
			const due = judged.filter((judgement) => judgement.reason === null).length;

			const result = await claimExplained(ruleId, `exec-mixed-${spec.key}`, 10_000);
			expect({ rule: spec.key, claimed: result.summary.claimed, notClaimed: result.summary.notClaimed }).toEqual({ rule: spec.key, claimed: due, notClaimed: expected });
			expect(result.summary.reason).toBe('no_more_due');
			for (const reason of Object.keys(expected)) seen.add(reason);
		}
		// The world holds most reasons a claim inside the active hours and under the limits can meet
		// (whether a held contact's window is open depends on the draw).
		expect([...seen].filter((reason) => reason !== 'in_progress').sort()).toEqual([
			'excluded_tag',
			'failed',
			'inactive',
			'interval_not_elapsed',
			'max_follow_ups',
			'outside_window',
			'page_of_another_owner',
			'stopped',
		]);
	});
});
