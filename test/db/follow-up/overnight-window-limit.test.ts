// The daily limit of a rule whose active hours pass midnight (22:00-02:00): one night's window is one
// day of the limit, whatever side of midnight its sends are on. Its day begins at the window's end,
// local time (automation_limit_day_start); a rule whose hours stay inside one day keeps local
// midnight. Every instant is fixed (p_now), never the machine's clock or time zone.
import { DateTime } from 'luxon';
import type { ClaimExplained } from '../../../nodes/shared/contract';
import type { MonitorPage } from '../../../nodes/shared/contract/console';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, localTime, NOW } from './fixtures';
import { explain, rpc, runPipeline } from './stage-helpers';

const service = serviceClient({ now: NOW });
const LONDON = 'Europe/London';

const monitorStats = async (ruleId: string, now: Date) =>
	(await rpc<MonitorPage>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_now: now.toISOString() })).stats!;

/** Claims, generates and sends every due contact at `now`: how many were sent. */
const sendAt = async (ruleId: string, executionId: string, now: Date) =>
	(await runPipeline(service, ruleId, executionId, now)).sent.filter((item) => item.outcome === 'completed' || item.outcome === 'sent').length;

/** Hours before NOW of an instant, for a contact's last message. */
const hoursBeforeNow = (instant: Date) => (NOW.getTime() - instant.getTime()) / 3_600_000;

describe('an active window past midnight is one day of the daily limit', () => {
	it('22:00-02:00 on Wednesdays, limit 2: two in the whole night, and the monitor says 2 of 2 after midnight', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2, minHours: 24, maxFollowUps: 1, activeHours: { start: '22:00', end: '02:00', timeZone: LONDON, days: [3] } });
		// Six wrote at 21:00 on Wednesday: their 24 h windows are open all night.
		await world.contacts(6, { lastMessageHoursAgo: hoursBeforeNow(localTime(LONDON, '21:00')) });

		const sent: number[] = [];
		sent.push(await sendAt(ruleId, 'night-2230', localTime(LONDON, '22:30')));
		sent.push(await sendAt(ruleId, 'night-2330', localTime(LONDON, '23:30')));
		sent.push(await sendAt(ruleId, 'night-0030', localTime(LONDON, '00:30', 1)));
		sent.push(await sendAt(ruleId, 'night-0130', localTime(LONDON, '01:30', 1)));
		expect(sent).toEqual([2, 0, 0, 0]);

		// After midnight the claim says why: the night's limit is used.
		const afterMidnight = localTime(LONDON, '00:45', 1);
		const claimed = await rpc<ClaimExplained>(service, 'automation_claim_explained', {
			p_rule_id: ruleId, p_limit: 10, p_execution_id: 'night-0045', p_lease_seconds: 600, p_now: afterMidnight.toISOString(), p_page_id: null,
		});
		expect(claimed.summary.rules[0]).toMatchObject({ status: 'daily_limit_reached', usedToday: 2, dailyLimit: 2, inActiveHours: true });

		// The night's day ends at the window's end (02:00), not at midnight; then the hours are closed
		// until next Wednesday's 22:00, after the held contacts' windows close (21:00 on Thursday): no
		// due time (before migration …2310 they were shown due at 02:00, when nothing goes out).
		const held = (await explain(service, ruleId, localTime(LONDON, '23:30'))).filter((row) => row.reason === 'daily_limit_reached');
		expect(held.map((row) => row.due_at)).toEqual([null, null, null, null]);

		expect(await monitorStats(ruleId, localTime(LONDON, '01:45', 1))).toMatchObject({ sent_today_count: 2, used_today: 2, daily_limit: 2 });
	});

	it('every night 22:00-02:00: the next night is a new day, counted from 02:00', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2, minHours: 24, maxFollowUps: 1, activeHours: { start: '22:00', end: '02:00', timeZone: LONDON } });
		await world.contacts(4, { lastMessageHoursAgo: hoursBeforeNow(localTime(LONDON, '21:00')) });
		expect(await sendAt(ruleId, 'every-wed-2330', localTime(LONDON, '23:30'))).toBe(2);
		expect(await sendAt(ruleId, 'every-thu-0030', localTime(LONDON, '00:30', 1))).toBe(0);

		// Thursday night: others wrote at 21:00 on Thursday; Wednesday night's sends no longer count.
		await world.contacts(3, { lastMessageHoursAgo: hoursBeforeNow(localTime(LONDON, '21:00', 1)) });
		expect((await monitorStats(ruleId, localTime(LONDON, '21:30', 1))).used_today).toBe(0);
		expect(await sendAt(ruleId, 'every-thu-2230', localTime(LONDON, '22:30', 1))).toBe(2);
		expect(await monitorStats(ruleId, localTime(LONDON, '23:00', 1))).toMatchObject({ sent_today_count: 2, used_today: 2 });
	});
});

describe('a rule whose hours stay inside one day keeps local midnight', () => {
	it('09:00-17:00, limit 2: the day is the calendar day, and the held are due when the hours begin on the next', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2, minHours: 24, maxFollowUps: 1, activeHours: { start: '09:00', end: '17:00', timeZone: LONDON } });
		// They wrote at 09:15: their windows are open until 09:15 tomorrow.
		await world.contacts(4, { lastMessageHoursAgo: hoursBeforeNow(localTime(LONDON, '09:15')) });
		expect(await sendAt(ruleId, 'day-0930', localTime(LONDON, '09:30'))).toBe(2);
		expect(await sendAt(ruleId, 'day-1630', localTime(LONDON, '16:30'))).toBe(0);
		// The limit's next day begins at midnight, the hours at 09:00 (due at midnight before migration …2310).
		const nine = localTime(LONDON, '09:00', 1).toISOString();
		const held = (await explain(service, ruleId, localTime(LONDON, '16:30'))).filter((row) => row.reason === 'daily_limit_reached');
		expect(held.map((row) => new Date(row.due_at!).toISOString())).toEqual([nine, nine]);
		expect(await monitorStats(ruleId, localTime(LONDON, '16:45'))).toMatchObject({ sent_today_count: 2, used_today: 2 });
	});

	it('no hours, all day, a day window, one ending at midnight: the same instants as local midnight, all year', async () => {
		// Every 37 minutes of 2026 in zones of every kind of offset, against the calendar-day helpers.
		const { rows } = await withDb((db) =>
			db.query<{ judged: number; differ: number }>(
				`select count(*)::int as judged,
				        (count(*) filter (
				          where leadflow_private.automation_limit_day_start(z, h.s, h.e, t, 0) is distinct from leadflow_private.automation_local_day_start(z, t)
				             or leadflow_private.automation_limit_day_start(z, h.s, h.e, t, 1) is distinct from leadflow_private.automation_next_local_day_start(z, t)))::int as differ
				   from unnest(array['UTC', 'Europe/London', 'America/New_York', 'Asia/Kathmandu', 'America/St_Johns', 'Australia/Lord_Howe']) z,
				        (values (time '00:00', time '00:00'), (time '09:00', time '09:00'), (time '09:00', time '17:00'),
				                (time '22:00', time '00:00'), (time '00:00', time '02:00')) h (s, e),
				        generate_series(timestamptz '2026-01-01 00:00+00', timestamptz '2027-01-01 00:00+00', interval '37 minutes') t`,
			),
		);
		// 14,206 instants (0 to 525,600 minutes by 37) in 6 zones under 5 kinds of hours: none differs.
		expect(rows[0]).toEqual({ judged: 6 * 5 * 14_206, differ: 0 });
	});
});

describe('an overnight window on the nights the clocks change (Europe/London, Saturdays 22:00-02:00, limit 2)', () => {
	// [the night, Saturday 22:30 local, Sunday 00:30 local, a time before 02:00 local, the night's
	//  day's start (Saturday 02:00) and end (Sunday 02:00), and the day's length in hours]
	const nights: Array<[string, string, string, string, string, string, number]> = [
		['spring forward (23-hour day)', '2026-03-28T22:30:00Z', '2026-03-29T00:30:00Z', '2026-03-29T00:45:00Z', '2026-03-28T02:00:00.000Z', '2026-03-29T01:00:00.000Z', 23],
		// 01:30 Z is 01:30 GMT, the second 01:30 of the night: still Saturday's window.
		['fall back (25-hour day)', '2026-10-24T21:30:00Z', '2026-10-24T23:30:00Z', '2026-10-25T01:30:00Z', '2026-10-24T01:00:00.000Z', '2026-10-25T02:00:00.000Z', 25],
	];

	it.each(nights)('%s: two in the night, the day ending at 02:00 local', async (_night, evening, afterMidnight, late, dayStart, dayEnd, hours) => {
		// The expected instants are the calendar's (luxon): Saturday and Sunday 02:00 in London.
		const saturday = DateTime.fromISO(evening, { zone: LONDON });
		expect([saturday.weekday, saturday.hour]).toEqual([6, 22]);
		expect(saturday.set({ hour: 2, minute: 0 }).toUTC().toISO()).toBe(dayStart);
		expect(saturday.plus({ days: 1 }).set({ hour: 2, minute: 0 }).toUTC().toISO()).toBe(dayEnd);
		expect((Date.parse(dayEnd) - Date.parse(dayStart)) / 3_600_000).toBe(hours);

		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2, minHours: 24, maxFollowUps: 1, activeHours: { start: '22:00', end: '02:00', timeZone: LONDON, days: [6] } });
		// They wrote an hour before the window opened.
		await world.contacts(5, { lastMessageHoursAgo: hoursBeforeNow(new Date(Date.parse(evening) - 90 * 60_000)) });

		expect(await sendAt(ruleId, 'dst-evening', new Date(evening))).toBe(2);
		expect(await sendAt(ruleId, 'dst-after-midnight', new Date(afterMidnight))).toBe(0);
		expect(await sendAt(ruleId, 'dst-late', new Date(late))).toBe(0);

		// The day ends at 02:00 (the helper's day, below); the hours then open next Saturday, after the
		// held contacts' windows close: no due time (02:00, when nothing goes out, before migration …2310).
		const held = (await explain(service, ruleId, new Date(late))).filter((row) => row.reason === 'daily_limit_reached');
		expect(held.map((row) => row.due_at)).toEqual([null, null, null]);
		expect(await monitorStats(ruleId, new Date(late))).toMatchObject({ sent_today_count: 2, used_today: 2, in_active_hours: true });

		// The helper's day, from the rule's zone and hours.
		const { rows } = await withDb((db) =>
			db.query<{ start: Date; next: Date }>(
				`select leadflow_private.automation_limit_day_start($1, '22:00', '02:00', $2, 0) as start,
				        leadflow_private.automation_limit_day_start($1, '22:00', '02:00', $2, 1) as next`,
				[LONDON, late],
			),
		);
		expect([rows[0].start.toISOString(), rows[0].next.toISOString()]).toEqual([dayStart, dayEnd]);
	});
});
