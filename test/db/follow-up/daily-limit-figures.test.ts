// The daily limit as the monitor shows it: a contact held by the limit is due at the rule's next
// local midnight, also on the days the clocks change (23- and 25-hour days), unless the person's 24 h
// window closes first (then no due time: migration …1830), and the monitor's
// used_today is what the limit counts (sends in progress or uncertain, contacts claimed and not yet
// sending), beside sent_today_count (what was sent). Every instant here is fixed (p_now), never
// the machine's clock or time zone.
import { DateTime } from 'luxon';
import type { AutomationSnapshot, ClaimExplained } from '../../../nodes/shared/contract';
import type { MonitorPage } from '../../../nodes/shared/contract/console';
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, explain, generate, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const monitorPage = (ruleId: string, now: Date) =>
	rpc<MonitorPage>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_now: now.toISOString() });

describe('daily_limit_reached is due at the rule\'s next local midnight', () => {
	// [what the day is, the zone, p_now, the next local midnight as an instant, the due time Explain
	// gives a contact who wrote 15 minutes before p_now: that midnight, or null when it comes after the
	// window closes (p_now + 23 h 45 min)]
	const cases: Array<[string, string, string, string, string | null]> = [
		['23:30 before the 23-hour day (spring forward)', 'Europe/Berlin', '2026-03-28T22:30:00Z', '2026-03-28T23:00:00.000Z', '2026-03-28T23:00:00.000Z'],
		// The midnight is 24 h 30 min away: the window closes first, so nothing is sent by waiting for it.
		['00:30 on the 25-hour day (fall back)', 'Europe/Berlin', '2026-10-24T22:30:00Z', '2026-10-25T23:00:00.000Z', null],
		['an ordinary summer day, 12:00', 'Europe/Berlin', '2026-06-15T10:00:00Z', '2026-06-15T22:00:00.000Z', '2026-06-15T22:00:00.000Z'],
		['23:30 before New York\'s 23-hour day', 'America/New_York', '2026-03-08T04:30:00Z', '2026-03-08T05:00:00.000Z', '2026-03-08T05:00:00.000Z'],
	];

	it.each(cases)('%s (%s): Explain and the monitor say the next midnight, unless the window closes first', async (_day, zone, nowIso, midnight, dueAt) => {
		const now = new Date(nowIso);
		// The expected instant is the next local midnight by the calendar (luxon), and after now.
		expect(DateTime.fromJSDate(now, { zone }).startOf('day').plus({ days: 1 }).toUTC().toISO()).toBe(midnight);
		// The judgement's next local day (where the limit starts counting again) is that midnight.
		const { rows } = await withDb((db) =>
			db.query<{ next: Date }>('select leadflow_private.automation_next_local_day_start($1, $2) as next', [zone, nowIso]),
		);
		expect(rows[0].next.toISOString()).toBe(midnight);

		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 1, activeHours: { start: '00:00', end: '00:00', timeZone: zone } });
		// Both wrote 15 minutes before p_now: their windows are open then.
		await world.contacts(2, { lastMessageHoursAgo: (NOW.getTime() - now.getTime()) / 3_600_000 + 0.25 });
		// One claimed at p_now uses the day's limit of 1; the other is held by the limit.
		const [claimed] = await claim(service, ruleId, 'exec-limit', 10, now);
		expect(claimed).toBeDefined();

		const explained = await explain(service, ruleId, now);
		const held = explained.filter((row) => row.conversation_id !== claimed.conversation_id);
		const instant = (value: string | null) => (value === null ? null : new Date(value).toISOString());
		expect(held.map((row) => [row.reason, instant(row.due_at)])).toEqual([['daily_limit_reached', dueAt]]);

		// The monitor's page of contacts (each judged one at a time, as the claim judges) says the same.
		const page = await monitorPage(ruleId, now);
		const onPage = page.contacts!.rows.find((row) => row.conversation_id === held[0].conversation_id)!;
		expect([onPage.status_reason, instant(onPage.due_at)]).toEqual(['daily_limit_reached', dueAt]);
	});
});

describe('the monitor\'s used_today is what the daily limit counts', () => {
	it('a send reaped to send_uncertain and a contact claimed and not yet sending are used, not sent', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 2 });
		await world.contacts(3);
		const later = new Date(NOW.getTime() + 5 * 60_000);

		// One contact sent by an execution that died: the reaper makes it failed send_uncertain.
		const [uncertain] = await claim(service, ruleId, 'exec-died', 1);
		await generate(service, 'exec-died', [uncertain.state_id]);
		expect((await beginSend(service, 'exec-died', [uncertain.state_id], NOW, 30))[0].outcome).toBe('send');
		await rpc(service, 'automation_reap', { p_now: later.toISOString(), p_rule_id: ruleId });
		// Another claimed, not yet at the send step: the day's limit of 2 is used.
		const [pending] = await claim(service, ruleId, 'exec-now', 1, later);
		expect(pending).toBeDefined();

		const claimSays = await rpc<ClaimExplained>(service, 'automation_claim_explained', {
			p_rule_id: ruleId, p_limit: 1, p_execution_id: 'exec-more', p_now: later.toISOString(),
		});
		expect(claimSays.summary.rules[0]).toMatchObject({ status: 'daily_limit_reached', usedToday: 2, dailyLimit: 2 });

		const figures = { sent_today_count: 0, used_today: 2, daily_limit: 2, skipped_by_reason: { daily_limit_reached: 1, failed: 1 } };
		const snapshot = await rpc<AutomationSnapshot>(service, 'automation_snapshot', { p_rule_id: ruleId, p_now: later.toISOString() });
		expect(snapshot.stats).toMatchObject(figures);
		expect((await monitorPage(ruleId, later)).stats).toMatchObject(figures);
		const { data, error } = await userClient(world.userId, { now: later }).from('automation_monitor_summary').select('*').eq('rule_id', ruleId);
		expect(error).toBeNull();
		expect(data).toEqual([expect.objectContaining(figures)]);
	});
});
