// A contact whose 24 h messaging window closes before (or as) the reason it waits for ends is never
// sent by that wait: at that time it is outside_window, and nothing goes out until the person writes
// again. Explain (automation_evaluate) and the monitor's rows (automation_judge_contact) then give it
// no due time (due_at null), keeping the reason it waits for and its window_closes_at, instead of
// promising a send that cannot come (migration 20261201001830_follow_up_due_after_window_closes.sql).
// A contact whose window is still open at that time keeps its due time.
// A time outside the rule's active hours (the interval's end at 20:00 for a 09:00-17:00 rule, the daily
// limit's next midnight, a retry or a takeover's end in the evening) is moved to when the hours next
// begin before it is compared with the window's close: the claim takes nobody outside the hours, so
// before migration 20261201002310_follow_up_window_copy_and_due_in_hours.sql those contacts were shown
// due at a time nothing could go out, and those whose window closed before the next opening never got
// the follow-up promised.
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, localTime, NOW } from './fixtures';
import { beginSend, claim, generate, judgementOf, recordSend, rpc, runPipeline } from './stage-helpers';
import type { MonitorPage } from '../../../nodes/shared/contract/console';

const service = serviceClient({ now: NOW });
const plus = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);
const instant = (value: string | null | undefined) => (value ? new Date(value).toISOString() : value);

const monitorRows = async (ruleId: string, now: Date) =>
	(await rpc<MonitorPage>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_now: now.toISOString() })).contacts!.rows;

it('the interval ends after the window closes: no due time, the reason kept, never claimed at the interval\'s end', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ minHours: 4, maxFollowUps: 3 });
	// Wrote 21 h before NOW: follow-up #1 at NOW, the window closes at NOW + 3 h, the interval ends at NOW + 4 h.
	const late = await world.contact({ name: 'Late in the window', lastMessageHoursAgo: 21 });
	// Wrote 1 h before NOW: the interval ends at NOW + 4 h, the window closes at NOW + 23 h.
	const early = await world.contact({ name: 'Early in the window', lastMessageHoursAgo: 1 });
	const first = await runPipeline(service, ruleId, 'exec-window-first');
	expect(first.sent.map((row) => row.outcome)).toEqual(['sent', 'sent']);

	const lateNow = await judgementOf(service, ruleId, late, plus(1));
	expect(lateNow).toMatchObject({ reason: 'interval_not_elapsed', contact_status: 'recently_sent', due: false, due_at: null });
	expect(instant(lateNow.window_closes_at)).toBe(plus(3).toISOString());
	const earlyNow = await judgementOf(service, ruleId, early, plus(1));
	expect(earlyNow).toMatchObject({ reason: 'interval_not_elapsed', contact_status: 'recently_sent' });
	expect(instant(earlyNow.due_at)).toBe(plus(4).toISOString());

	// The monitor's rows (the console's list) say the same; the contact with a due time comes first.
	const rows = await monitorRows(ruleId, plus(1));
	expect(rows.map((row) => [row.conversation_id, row.status_reason, instant(row.due_at), instant(row.window_closes_at)])).toEqual([
		[early, 'interval_not_elapsed', plus(4).toISOString(), plus(23).toISOString()],
		[late, 'interval_not_elapsed', null, plus(3).toISOString()],
	]);

	// At the interval's end the late contact is outside the window and not claimed; the early one is.
	expect(await judgementOf(service, ruleId, late, plus(4))).toMatchObject({ reason: 'outside_window', due_at: null });
	expect((await claim(service, ruleId, 'exec-window-second', 10, plus(4))).map((row) => row.conversation_id)).toEqual([early]);
});

it('active hours begin after the window closes: no due time; a contact whose window is open then keeps 09:00', async () => {
	const world = await createWorld();
	// NOW (12:00 UTC, a Wednesday) is 07:00 in New York, 08:00 in summer time: the hours begin in 2 h, or 1 h.
	const ruleId = await world.rule({ activeHours: { start: '09:00', end: '17:00', timeZone: 'America/New_York' } });
	const nine = localTime('America/New_York', '09:00');
	// Wrote 23 h before NOW: the window closes at NOW + 1 h, before 09:00 (or as it strikes, in summer time).
	const closing = await world.contact({ lastMessageHoursAgo: 23 });
	const open = await world.contact({ lastMessageHoursAgo: 0.5 });

	const closingNow = await judgementOf(service, ruleId, closing);
	expect(closingNow).toMatchObject({ reason: 'outside_active_hours', contact_status: 'skipped', due_at: null });
	expect(instant(closingNow.window_closes_at)).toBe(plus(1).toISOString());
	expect(instant((await judgementOf(service, ruleId, open)).due_at)).toBe(nine.toISOString());
	const rows = await monitorRows(ruleId, NOW);
	expect(rows.map((row) => [row.conversation_id, row.status_reason, instant(row.due_at)])).toEqual([
		[open, 'outside_active_hours', nine.toISOString()],
		[closing, 'outside_active_hours', null],
	]);

	// At 09:00 only the open window's contact is due and claimed.
	expect(await judgementOf(service, ruleId, closing, nine)).toMatchObject({ reason: 'outside_window', due_at: null });
	expect((await claim(service, ruleId, 'exec-window-nine', 10, nine)).map((row) => row.conversation_id)).toEqual([open]);
});

it('the next local day begins after the window closes: no due time for the daily limit either', async () => {
	const world = await createWorld();
	// Kiritimati is UTC+14 all year: NOW is 02:00 there, and its next midnight is NOW + 22 h.
	const ruleId = await world.rule({ dailyLimit: 1, activeHours: { start: '00:00', end: '00:00', timeZone: 'Pacific/Kiritimati' } });
	const midnight = plus(22).toISOString();
	// The soonest-closing window is claimed first: the one who wrote 5 h ago takes today's one send.
	const sent = await world.contact({ lastMessageHoursAgo: 5 });
	const closing = await world.contact({ lastMessageHoursAgo: 4 }); // closes at NOW + 20 h
	const open = await world.contact({ lastMessageHoursAgo: 1 }); // closes at NOW + 23 h
	expect((await runPipeline(service, ruleId, 'exec-window-limit')).claimed.map((row) => row.conversation_id)).toEqual([sent]);

	expect(await judgementOf(service, ruleId, closing, plus(1))).toMatchObject({ reason: 'daily_limit_reached', due_at: null });
	expect(instant((await judgementOf(service, ruleId, open, plus(1))).due_at)).toBe(midnight);
	const rows = await monitorRows(ruleId, plus(1));
	expect(rows.filter((row) => row.status_reason === 'daily_limit_reached').map((row) => [row.conversation_id, instant(row.due_at)])).toEqual([
		[open, midnight],
		[closing, null],
	]);
});

it('is still inlined into its callers\' statements (the planner writes it out), a call among its arguments', async () => {
	// automation_judge_contact passes the next active start and the rule's openings as calls: each read
	// once, so the planner still inlines automation_due_at_of rather than calling it for each contact.
	const plan = await withDb(async (db) => {
		await db.query('begin');
		try {
			await db.query('set local role service_role');
			const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
				`explain (verbose, format json)
				 select leadflow_private.automation_due_at_of(
				          s.skip_reason, $1, null, s.retry_at, s.last_follow_up_at, 4,
				          leadflow_private.automation_next_active_start('09:00', '17:00', '{1,2,3,4,5}', 'UTC', $1),
				          leadflow_private.automation_next_local_day_start('UTC', $1), s.claimed_at + interval '24 hours',
				          '09:00', '17:00', '{1,2,3,4,5}', 'UTC',
				          leadflow_private.automation_active_starts('09:00', '17:00', '{1,2,3,4,5}', 'UTC', $1))
				   from public.ai_automation_contact_states s`,
				[NOW.toISOString()],
			);
			return JSON.stringify(rows[0]['QUERY PLAN']);
		} finally {
			await db.query('rollback');
		}
	});
	expect(plan).toContain('-infinity');
	expect(plan).not.toContain('automation_due_at_of');
});

describe('a due time outside the rule\'s active hours is moved to when they next begin', () => {
	const zone = 'America/New_York';
	const hours = { start: '09:00', end: '17:00', timeZone: zone };
	/** lastMessageHoursAgo for a message at `time` today in New York (negative: later than NOW). */
	const wroteAt = (time: string) => (NOW.getTime() - localTime(zone, time).getTime()) / 3_600_000;
	const nineTomorrow = localTime(zone, '09:00', 1);

	it('the interval ends at 20:00: due at 09:00 tomorrow, or none when the window closes before', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ minHours: 4, activeHours: hours });
		// Both followed up at 16:00 New York: the 4 h interval ends at 20:00, after the hours.
		const closing = await world.contact({ lastMessageHoursAgo: wroteAt('07:00') }); // the window closes at 07:00 tomorrow
		const open = await world.contact({ lastMessageHoursAgo: wroteAt('15:00') }); // at 15:00 tomorrow
		const first = await runPipeline(service, ruleId, 'exec-hours-interval', localTime(zone, '16:00'));
		expect(first.sent.map((row) => row.outcome)).toEqual(['sent', 'sent']);

		const after = localTime(zone, '16:05');
		expect(await judgementOf(service, ruleId, closing, after)).toMatchObject({ reason: 'interval_not_elapsed', due_at: null });
		expect(await judgementOf(service, ruleId, open, after)).toMatchObject({ reason: 'interval_not_elapsed' });
		expect(instant((await judgementOf(service, ruleId, open, after)).due_at)).toBe(nineTomorrow.toISOString());
		expect((await monitorRows(ruleId, after)).map((row) => [row.conversation_id, row.status_reason, instant(row.due_at)])).toEqual([
			[open, 'interval_not_elapsed', nineTomorrow.toISOString()],
			[closing, 'interval_not_elapsed', null],
		]);

		// At 20:00, when the interval ends, nobody is claimed: the hours are over.
		expect(await claim(service, ruleId, 'exec-hours-twenty', 10, localTime(zone, '20:00'))).toEqual([]);
		// At 09:00 tomorrow the open window's contact is claimed; the other one's window closed at 07:00.
		expect(await judgementOf(service, ruleId, closing, nineTomorrow)).toMatchObject({ reason: 'outside_window', due_at: null });
		expect((await claim(service, ruleId, 'exec-hours-nine', 10, nineTomorrow)).map((row) => row.conversation_id)).toEqual([open]);
	});

	it('the daily limit\'s next day begins at midnight: due at 09:00, or none when the window closes before', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 1, activeHours: hours });
		// At 10:00 New York the soonest-closing window takes the day's one send.
		const sent = await world.contact({ lastMessageHoursAgo: wroteAt('05:00') });
		const closing = await world.contact({ lastMessageHoursAgo: wroteAt('06:00') }); // the window closes at 06:00 tomorrow
		const open = await world.contact({ lastMessageHoursAgo: wroteAt('09:30') }); // at 09:30 tomorrow
		const ten = localTime(zone, '10:00');
		expect((await runPipeline(service, ruleId, 'exec-hours-limit', ten)).claimed.map((row) => row.conversation_id)).toEqual([sent]);

		const after = localTime(zone, '10:05');
		expect(await judgementOf(service, ruleId, closing, after)).toMatchObject({ reason: 'daily_limit_reached', due_at: null });
		expect(instant((await judgementOf(service, ruleId, open, after)).due_at)).toBe(nineTomorrow.toISOString());
		const rows = await monitorRows(ruleId, after);
		expect(rows.filter((row) => row.status_reason === 'daily_limit_reached').map((row) => [row.conversation_id, instant(row.due_at)])).toEqual([
			[open, nineTomorrow.toISOString()],
			[closing, null],
		]);
		// At midnight, when the limit's next day begins, nobody is claimed: the hours begin at 09:00.
		expect(await claim(service, ruleId, 'exec-hours-midnight', 10, localTime(zone, '00:00', 1))).toEqual([]);
		expect((await claim(service, ruleId, 'exec-hours-limit-nine', 10, nineTomorrow)).map((row) => row.conversation_id)).toEqual([open]);
	});

	it('a retry and a takeover\'s end at 18:00: due at 09:00 tomorrow, or none when the window closes before', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ activeHours: hours });
		const retrying = await world.contact({ lastMessageHoursAgo: wroteAt('15:00') });
		const retryClosing = await world.contact({ lastMessageHoursAgo: wroteAt('07:00') });
		const takenOver = await world.contact({ lastMessageHoursAgo: wroteAt('15:00') });
		const four = localTime(zone, '16:00');
		// Two sends fail at 16:00 for a temporary reason, to be retried in 2 h (18:00).
		const claimed = await claim(service, ruleId, 'exec-hours-retry', 10, four);
		const failing = claimed.filter((row) => row.conversation_id !== takenOver).map((row) => row.state_id);
		expect(failing).toHaveLength(2);
		await generate(service, 'exec-hours-retry', failing, four);
		await beginSend(service, 'exec-hours-retry', failing, four);
		await recordSend(
			service,
			'exec-hours-retry',
			failing.map((id) => ({ state_id: id, outcome: 'failed', error_code: 'temporary', error_message: 'Graph 2: temporary', retry_after_seconds: 7200 })),
			four,
		);
		// A person answered the third from the Page inbox at 16:00; the rule resumes 2 h after (18:00).
		await withDb(async (db) => {
			await db.query('update public.ai_automation_rules set resume_after_takeover_hours = 2 where id = $1', [ruleId]);
			await db.query(
				`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, last_human_message_at) values ($1, $2, null, 'human_takeover', $3)`,
				[world.userId, takenOver, four.toISOString()],
			);
		});

		const after = localTime(zone, '16:30');
		expect(await judgementOf(service, ruleId, retrying, after)).toMatchObject({ reason: 'failed' });
		expect(instant((await judgementOf(service, ruleId, retrying, after)).due_at)).toBe(nineTomorrow.toISOString());
		expect(await judgementOf(service, ruleId, retryClosing, after)).toMatchObject({ reason: 'failed', due_at: null });
		expect(await judgementOf(service, ruleId, takenOver, after)).toMatchObject({ reason: 'stopped' });
		expect(instant((await judgementOf(service, ruleId, takenOver, after)).due_at)).toBe(nineTomorrow.toISOString());
		const rows = await monitorRows(ruleId, after);
		expect(Object.fromEntries(rows.map((row) => [row.conversation_id, instant(row.due_at)]))).toEqual({
			[retrying]: nineTomorrow.toISOString(),
			[retryClosing]: null,
			[takenOver]: nineTomorrow.toISOString(),
		});
		// At 18:00 nobody is claimed; at 09:00 tomorrow both whose window is open are.
		expect(await claim(service, ruleId, 'exec-hours-eighteen', 10, localTime(zone, '18:00'))).toEqual([]);
		expect((await claim(service, ruleId, 'exec-hours-retry-nine', 10, nineTomorrow)).map((row) => row.conversation_id).sort()).toEqual(
			[retrying, takenOver].sort(),
		);
	});
});
