// A contact whose 24 h messaging window closes before (or as) the reason it waits for ends is never
// sent by that wait: at that time it is outside_window, and nothing goes out until the person writes
// again. Explain (automation_evaluate) and the monitor's rows (automation_judge_contact) then give it
// no due time (due_at null), keeping the reason it waits for and its window_closes_at, instead of
// promising a send that cannot come (migration 20261201001830_follow_up_due_after_window_closes.sql).
// A contact whose window is still open at that time keeps its due time.
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, localTime, NOW } from './fixtures';
import { claim, judgementOf, rpc, runPipeline } from './stage-helpers';
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
	// automation_judge_contact passes the next active start as a call: read once, so the planner still
	// inlines automation_due_at_of rather than calling it for each contact.
	const plan = await withDb(async (db) => {
		await db.query('begin');
		try {
			await db.query('set local role service_role');
			const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
				`explain (verbose, format json)
				 select leadflow_private.automation_due_at_of(
				          'outside_active_hours', $1, null, s.retry_at, s.last_follow_up_at, 4,
				          leadflow_private.automation_next_active_start('09:00', '17:00', '{1,2,3,4,5}', 'UTC', $1),
				          leadflow_private.automation_next_local_day_start('UTC', $1), s.claimed_at + interval '24 hours')
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
