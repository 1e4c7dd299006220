// The daily limit's day never begins after the instant it is asked for, also when the end of active
// hours that pass midnight is a local time the clocks repeat (New York's autumn night, 01:30) or skip
// (its spring night, 02:30) that night: PostgreSQL reads such a time in standard time, an hour after
// the first one, and the day then began ahead of the clock, its usage 0 (migration
// 20261201001850_follow_up_begin_rule_page_and_dst_limit_day.sql; before it, 4 went out in one day of
// a limit of 2). Every instant is fixed (p_now), never the machine's clock or time zone.
import type { MonitorPage } from '../../../nodes/shared/contract/console';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { rpc, runPipeline } from './stage-helpers';

const service = serviceClient({ now: NOW });
const NEW_YORK = 'America/New_York';

const sendAt = async (ruleId: string, executionId: string, now: Date) =>
	(await runPipeline(service, ruleId, executionId, now)).sent.filter((item) => item.outcome === 'completed' || item.outcome === 'sent').length;

const monitorStats = async (ruleId: string, now: Date) =>
	(await rpc<MonitorPage>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_now: now.toISOString() })).stats!;

const hoursBeforeNow = (instant: Date) => (NOW.getTime() - instant.getTime()) / 3_600_000;

const dayOf = async (start: string, end: string, at: Date) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ start: Date; next: Date }>(
			`select leadflow_private.automation_limit_day_start($1, $2, $3, $4, 0) as start,
			        leadflow_private.automation_limit_day_start($1, $2, $3, $4, 1) as next`,
			[NEW_YORK, start, end, at],
		);
		return [rows[0].start.toISOString(), rows[0].next.toISOString()];
	});

describe('an overnight window ending in the hour the clocks repeat or skip (New York, limit 2)', () => {
	it('autumn, 01:45-01:30: two sent at 01:15 EDT, none at 01:50 EDT (the same day of the limit), two at 01:50 EST', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2, minHours: 24, maxFollowUps: 1, activeHours: { start: '01:45', end: '01:30', timeZone: NEW_YORK } });
		// Six wrote at 23:00 EDT on Saturday 31 October 2026: their windows are open all night.
		await world.contacts(6, { lastMessageHoursAgo: hoursBeforeNow(new Date('2026-11-01T03:00:00Z')) });

		const edt0115 = new Date('2026-11-01T05:15:00Z');
		const edt0150 = new Date('2026-11-01T05:50:00Z');
		const est0150 = new Date('2026-11-01T06:50:00Z');
		expect(await sendAt(ruleId, 'fall-0115-edt', edt0115)).toBe(2);
		expect(await sendAt(ruleId, 'fall-0150-edt', edt0150)).toBe(0);
		expect(await monitorStats(ruleId, edt0150)).toMatchObject({ used_today: 2, sent_today_count: 2, in_active_hours: true });
		// The day began at 01:30 EDT on the 31st and ends at the second 01:30, 01:30 EST (06:30 Z).
		expect(await dayOf('01:45', '01:30', edt0150)).toEqual(['2026-10-31T05:30:00.000Z', '2026-11-01T06:30:00.000Z']);
		expect(await dayOf('01:45', '01:30', est0150)).toEqual(['2026-11-01T06:30:00.000Z', '2026-11-02T06:30:00.000Z']);
		expect(await sendAt(ruleId, 'fall-0150-est', est0150)).toBe(2);
	});

	it('spring, 02:45-02:30: two sent at 01:00 EST, none at 03:10 EDT (the same day of the limit), two at 03:40 EDT', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2, minHours: 24, maxFollowUps: 1, activeHours: { start: '02:45', end: '02:30', timeZone: NEW_YORK } });
		// Six wrote at 23:00 EST on Saturday 7 March 2026.
		await world.contacts(6, { lastMessageHoursAgo: hoursBeforeNow(new Date('2026-03-08T04:00:00Z')) });

		const est0100 = new Date('2026-03-08T06:00:00Z');
		const edt0310 = new Date('2026-03-08T07:10:00Z');
		const edt0340 = new Date('2026-03-08T07:40:00Z');
		expect(await sendAt(ruleId, 'spring-0100-est', est0100)).toBe(2);
		expect(await sendAt(ruleId, 'spring-0310-edt', edt0310)).toBe(0);
		expect(await monitorStats(ruleId, edt0310)).toMatchObject({ used_today: 2, sent_today_count: 2, in_active_hours: true });
		// 02:30 does not exist that night: read in standard time, 02:30 EST is 03:30 EDT (07:30 Z).
		expect(await dayOf('02:45', '02:30', edt0310)).toEqual(['2026-03-07T07:30:00.000Z', '2026-03-08T07:30:00.000Z']);
		expect(await sendAt(ruleId, 'spring-0340-edt', edt0340)).toBe(2);
	});

	it('around every clock change of 2026 in six zones, every 5 minutes: the day begins at or before the instant, the next after it', async () => {
		// The hours whose UTC offset differs from the next hour's: each zone's two changes of 2026
		// (Havana's at midnight, Troll's of two hours, Lord Howe's of half an hour), each judged from a
		// day before to a day after, under active hours that pass midnight and two that do not.
		const { rows } = await withDb((db) =>
			db.query<{ changes: number; judged: number; starts_after: number; next_not_after: number; next_not_a_start: number }>(
				`with zones (z) as (select unnest(array['Europe/London', 'America/New_York', 'America/St_Johns', 'Australia/Lord_Howe', 'America/Havana', 'Antarctica/Troll'])),
				 changes as (
				   select z, h from zones, generate_series(timestamptz '2026-01-01 00:00+00', timestamptz '2026-12-31 00:00+00', interval '1 hour') h
				    where (h at time zone z) - (h at time zone 'UTC')
				          <> ((h + interval '1 hour') at time zone z) - ((h + interval '1 hour') at time zone 'UTC')
				 ),
				 hours (s, e) as (values (time '22:00', time '00:30'), (time '22:00', time '01:30'), (time '01:45', time '01:30'),
				                         (time '22:00', time '02:00'), (time '02:45', time '02:30'), (time '09:00', time '17:00'), (time '00:00', time '00:00')),
				 judged as (
				   select c.z, h.s, h.e, t,
				          leadflow_private.automation_limit_day_start(c.z, h.s, h.e, t, 0) as day_start,
				          leadflow_private.automation_limit_day_start(c.z, h.s, h.e, t, 1) as next_start
				     from changes c cross join hours h
				    cross join generate_series(c.h - interval '24 hours', c.h + interval '24 hours', interval '5 minutes') t
				 )
				 select (select count(*)::int from changes) as changes, count(*)::int as judged,
				        (count(*) filter (where day_start > t))::int as starts_after,
				        (count(*) filter (where next_start <= t))::int as next_not_after,
				        (count(*) filter (where leadflow_private.automation_limit_day_start(z, s, e, next_start, 0) <> next_start))::int as next_not_a_start
				   from judged`,
			),
		);
		// 12 changes x 7 kinds of hours x 577 instants.
		expect(rows[0]).toEqual({ changes: 12, judged: 12 * 7 * 577, starts_after: 0, next_not_after: 0, next_not_a_start: 0 });
	});
});
