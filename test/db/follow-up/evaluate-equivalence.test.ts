// automation_evaluate judges every tagged contact of a rule with joins (migration …820), and
// automation_judge_contact judges one (the claim's judgement). They must agree on every column for
// every contact: on the mixed world of the claim tests (every reason, the boundaries, two Pages and
// a third another owner connected, tag_match any and all, stops of every kind, contacts in every
// stage), for every rule, at moments inside and outside the rules' active hours, and with a rule's
// daily limit used up.
import { DateTime } from 'luxon';
import type { Client } from 'pg';
import { withDb } from '../../helpers/stack';
import { NOW } from './fixtures';
import { MIXED_RULES, seedMixedWorld, type MixedWorld } from './mixed-world';

const SEED = 20_261_201;
const HOUR = 3_600_000;

type Row = Record<string, unknown> & { conversation_id: string; reason: string | null };
const byConversation = (rows: Row[]) => [...rows].sort((a, b) => (a.conversation_id < b.conversation_id ? -1 : a.conversation_id > b.conversation_id ? 1 : 0));

const dueAtOf = (row: Row) => (row.due_at === null ? null : Date.parse(row.due_at as string));
/** The time a contact waits for, or null when its 24 h window closes at or before it. */
const dueUnlessWindowFirst = (row: Row, time: number) => (Date.parse(row.window_closes_at as string) > time ? time : null);

/** Every tagged contact of the rule, judged all at once. */
async function evaluated(db: Client, ruleId: string, at: Date): Promise<Row[]> {
	const { rows } = await db.query<{ row: Row }>('select to_jsonb(e) as row from leadflow_private.automation_evaluate($1, $2) e', [ruleId, at.toISOString()]);
	return byConversation(rows.map((row) => row.row));
}

/** Every conversation carrying one of the rule's include tags, judged one at a time, as the claim does. */
async function judgedOneByOne(db: Client, ruleId: string, at: Date): Promise<Row[]> {
	const { rows } = await db.query<{ row: Row }>(
		`select to_jsonb(j) as row
		   from public.ai_automation_rules r
		  cross join lateral (select leadflow_private.automation_rule_usage(r.id, r.time_zone, $2) as used) u
		  cross join lateral (select distinct ct.conversation_id from public.conversation_tags ct where ct.tag_id = any (r.include_tag_ids)) t
		  cross join lateral leadflow_private.automation_judge_contact(r.id, t.conversation_id, $2, u.used) j
		  where r.id = $1`,
		[ruleId, at.toISOString()],
	);
	return byConversation(rows.map((row) => row.row));
}

describe('automation_evaluate answers what automation_judge_contact answers, contact by contact', () => {
	let world: MixedWorld;

	beforeAll(async () => {
		world = await seedMixedWorld(SEED);
	});

	// NOW is a Wednesday 12:00 UTC, inside every rule's hours; 6 h later Paris's 09:00–17:00 is over;
	// 9 h later New York's overnight window has not begun; 3 days later is a Saturday (weekday
	// rules closed); 30 h earlier other contacts were inside their window, stops and intervals
	// stood differently.
	const moments: Array<[string, number]> = [
		['at NOW', 0],
		['6 h later', 6 * HOUR],
		['9 h later', 9 * HOUR],
		['3 days later', 72 * HOUR],
		['30 h earlier', -30 * HOUR],
	];

	it.each(moments)('%s: every rule, every column', async (_label, offset) => {
		const at = new Date(NOW.getTime() + offset);
		await withDb(async (db) => {
			const reasons = new Set<string>();
			for (const rule of MIXED_RULES) {
				const ruleId = world.rules[rule.key];
				const all = await evaluated(db, ruleId, at);
				expect(all.length).toBeGreaterThan(0);
				expect({ rule: rule.key, rows: all }).toEqual({ rule: rule.key, rows: await judgedOneByOne(db, ruleId, at) });
				for (const row of all) reasons.add(row.reason ?? 'due');
			}
			// Each moment judges a mix, not one reason for everyone, among them the contacts on the Page
			// another owner connected.
			expect(reasons.size).toBeGreaterThanOrEqual(4);
			expect(reasons).toContain('page_of_another_owner');
		});
	});

	it('outside a rule\'s active hours: both say outside_active_hours and when the hours begin again, unless the window closes first', async () => {
		// Paris's 09:00–17:00 rule at 19:00 Paris time: contacts still inside their 24 h window wait
		// for the next morning (outside_window comes first for the others); those whose window closes
		// before it have no due time (migration …1830).
		const at = new Date(NOW.getTime() + 6 * HOUR);
		await withDb(async (db) => {
			const all = await evaluated(db, world.rules.allLeadAndWebinar, at);
			const outside = all.filter((row) => row.reason === 'outside_active_hours');
			expect(outside.length).toBeGreaterThan(0);
			// Thursday 09:00 in Paris (computed by luxon, whatever the clock's season).
			const morning = DateTime.fromJSDate(at, { zone: 'Europe/Paris' }).plus({ days: 1 }).set({ hour: 9, minute: 0, second: 0, millisecond: 0 });
			expect(morning.weekday).toBe(4);
			expect(outside.map((row) => dueAtOf(row))).toEqual(outside.map((row) => dueUnlessWindowFirst(row, morning.toMillis())));
			expect(new Set(outside.map((row) => dueAtOf(row)))).toEqual(new Set([morning.toMillis(), null]));
			expect(all).toEqual(await judgedOneByOne(db, world.rules.allLeadAndWebinar, at));
		});
	});

	it('with the daily limit used up: both say daily_limit_reached for the due contacts, due at the next local midnight unless the window closes first', async () => {
		await withDb(async (db) => {
			await db.query('begin');
			try {
				// Two contacts claimed (held, not yet sent: they count against the limit), then a limit of 1.
				const ruleId = world.rules.anyLeadOrHot;
				const { rows } = await db.query<{ claimed: { contacts: unknown[] } }>(
					`select public.automation_claim_explained($1, 2, 'exec-evaluate-equivalence', 600, $2) as claimed`,
					[ruleId, NOW.toISOString()],
				);
				expect(rows[0].claimed.contacts).toHaveLength(2);
				await db.query('update public.ai_automation_rules set daily_limit = 1 where id = $1', [ruleId]);
				const all = await evaluated(db, ruleId, NOW);
				const limited = all.filter((row) => row.reason === 'daily_limit_reached');
				expect(limited.length).toBeGreaterThan(0);
				// The rule counts days in UTC: the next midnight after Wednesday 12:00.
				const midnight = DateTime.fromJSDate(NOW, { zone: 'UTC' }).plus({ days: 1 }).startOf('day');
				expect(limited.map((row) => dueAtOf(row))).toEqual(limited.map((row) => dueUnlessWindowFirst(row, midnight.toMillis())));
				expect(new Set(limited.map((row) => dueAtOf(row)))).toEqual(new Set([midnight.toMillis(), null]));
				expect(all.filter((row) => row.reason === 'in_progress').length).toBeGreaterThanOrEqual(2);
				expect(all).toEqual(await judgedOneByOne(db, ruleId, NOW));
			} finally {
				await db.query('rollback');
			}
		});
	});
});
