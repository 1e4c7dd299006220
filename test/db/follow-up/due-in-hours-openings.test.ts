// A due time moved into the rule's active hours (the interval's end, a retry, a takeover stop's end)
// is looked up in the rule's next openings, computed once per rule (automation_active_starts,
// automation_next_active_start_in), instead of computed per contact by automation_next_active_start
// (migration 20261201002350_follow_up_due_in_hours_openings_once.sql, for its cost). The answer must
// be the same as the per-contact way of 20261201002310_follow_up_window_copy_and_due_in_hours.sql:
// compared here over many instants (both DST changes of 2027 in New York and Berlin), hour shapes
// (day hours, overnight, the whole day, hours inside the DST gap and overlap, every day excluded but
// one), times before, inside and after the hours, windows closing before and after, no window, a
// stop without end, and times the openings do not reach. Every instant is fixed, never today's.
import { withDb } from '../../helpers/stack';

// Hour shapes: start, end, ISO days (1 = Monday).
const SHAPES: Array<[string, string, number[]]> = [
	['09:00', '17:00', [1, 2, 3, 4, 5]],
	['09:00', '17:00', [7]],
	['22:00', '06:00', [1, 2, 3, 4, 5, 6, 7]],
	['17:00', '09:00', [3]],
	['23:00', '01:00', [6]],
	['00:00', '00:00', [1, 2, 3, 4, 5, 6, 7]],
	['00:00', '00:00', [1]],
	['09:00', '09:00', [2, 4]],
	['02:30', '03:30', [1, 2, 3, 4, 5, 6, 7]],
	['01:30', '02:30', [7]],
	['02:15', '02:45', [7]],
	['08:00', '20:00', [5]],
];
const ZONES = ['America/New_York', 'Europe/Berlin'];
// The DST changes of 2027: New York 14 March and 7 November, Berlin 28 March and 31 October.
const DAYS = ['2027-03-14', '2027-11-07', '2027-03-28', '2027-10-31'];

interface Compared {
	rows: number;
	mismatches: Array<Record<string, unknown>>;
	moved: number;
	kept: number;
	none: number;
	beyond_reach: number;
	reasons: number;
}

it('the rule\'s openings give every due time the per-contact way gives', async () => {
	const result = await withDb(async (db) => {
		const { rows } = await db.query<Compared>(
			`
			with shapes as (
			  select s.ord, s.start::time as hs, s."end"::time as he, s.days::smallint[] as days, z.tz
			    from jsonb_to_recordset($1::jsonb) s (ord int, start text, "end" text, days int[])
			   cross join unnest($2::text[]) z (tz)
			),
			nows as (
			  -- From a day before each DST day to two days after it, every 317 minutes (odd minutes too).
			  select d::timestamptz - interval '1 day' + n * interval '317 minutes' + (n % 7) * interval '1 minute' as p_now
			    from unnest($3::text[]) d, generate_series(0, 13) n
			),
			rules as (
			  select sh.*, n.p_now,
			         leadflow_private.automation_active_starts(sh.hs, sh.he, sh.days, sh.tz, n.p_now) as starts,
			         leadflow_private.automation_next_active_start(sh.hs, sh.he, sh.days, sh.tz, n.p_now) as next_active_at,
			         leadflow_private.automation_next_active_start(sh.hs, sh.he, sh.days, sh.tz, n.p_now + interval '1 day') as next_day_active_at
			    from shapes sh cross join nows n
			),
			cases as (
			  select r.*, j,
			         (array['interval_not_elapsed', 'failed', 'stopped', null, 'outside_active_hours', 'daily_limit_reached'])[1 + (j % 6)] as reason,
			         -- The time waited for: from 2 h before p_now to 26 h after it, every 47 minutes; a few
			         -- far beyond the openings' 11 days; a stop without end.
			         case when j = 40 then null
			              when j in (38, 39) then r.p_now + interval '12 days' + j * interval '1 hour'
			              else r.p_now + (j - 3) * interval '47 minutes' end as t,
			         -- The window closes from 1 h before p_now to 25 h after it (a message after p_now when
			         -- far), or never opened (no message).
			         case when j % 11 = 5 then null
			              when j in (38, 39, 40) then r.p_now + interval '13 days'
			              else r.p_now + ((j * 7 + r.ord * 5) % 27 - 1) * interval '1 hour' + (j % 4) * interval '13 minutes' end as closes
			    from rules r cross join generate_series(0, 40) j
			),
			compared as (
			  select c.*,
			         -- As 20261201002310's automation_due_at_of: each time moved per contact.
			         nullif(least(
			           case
			             when c.reason is null then c.p_now
			             when c.reason = 'outside_active_hours' then c.next_active_at
			             when c.reason = 'daily_limit_reached' then c.next_day_active_at
			             when c.reason in ('stopped', 'failed', 'interval_not_elapsed') then
			               leadflow_private.automation_next_active_start(c.hs, c.he, c.days, c.tz, c.t)
			           end,
			           coalesce(c.closes, '-infinity'::timestamptz)),
			           coalesce(c.closes, '-infinity'::timestamptz)) as per_contact,
			         leadflow_private.automation_due_at_of(
			           c.reason, c.p_now,
			           case when c.reason = 'stopped' then c.t end,
			           case when c.reason = 'failed' then c.t end,
			           -- The interval's end is the last follow-up + the hours between follow-ups.
			           case when c.reason = 'interval_not_elapsed' then c.t - interval '4.5 hours' end, 4.5,
			           c.next_active_at, c.next_day_active_at, c.closes, c.hs, c.he, c.days, c.tz, c.starts) as looked_up
			    from cases c
			)
			select count(*)::int as rows,
			       coalesce(jsonb_agg(jsonb_build_object('shape', ord, 'tz', tz, 'p_now', p_now, 'reason', reason, 't', t,
			                                             'closes', closes, 'per_contact', per_contact, 'looked_up', looked_up))
			                  filter (where per_contact is distinct from looked_up), '[]') as mismatches,
			       (count(*) filter (where reason in ('stopped', 'failed', 'interval_not_elapsed') and per_contact > t))::int as moved,
			       (count(*) filter (where reason in ('stopped', 'failed', 'interval_not_elapsed') and per_contact = t))::int as kept,
			       (count(*) filter (where reason in ('stopped', 'failed', 'interval_not_elapsed') and per_contact is null and t < closes))::int as none,
			       (count(*) filter (where per_contact is not null and (t < p_now or t >= starts[cardinality(starts)])
			                           and reason in ('stopped', 'failed', 'interval_not_elapsed')))::int as beyond_reach,
			       (count(distinct reason))::int as reasons
			  from compared
			`,
			[
				JSON.stringify(SHAPES.map(([start, end, days], ord) => ({ ord, start, end, days }))),
				ZONES,
				DAYS,
			],
		);
		return rows[0];
	});
	// Not one answer differs (the first few shown when one does).
	expect(result.mismatches.slice(0, 5)).toEqual([]);
	expect(result.mismatches).toHaveLength(0);
	// And the comparison covers what it must: every pair, times moved to an opening, times kept
	// inside the hours, openings after the window's close (no due time), times beyond the openings.
	expect(result.rows).toBe(SHAPES.length * ZONES.length * DAYS.length * 14 * 41);
	expect(result.reasons).toBe(5); // and null (due): six
	expect(result.moved).toBeGreaterThan(1000);
	expect(result.kept).toBeGreaterThan(1000);
	expect(result.none).toBeGreaterThan(5000);
	expect(result.beyond_reach).toBeGreaterThan(500);
}, 300_000);
