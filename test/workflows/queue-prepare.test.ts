// workflows/queue-prepare.json through n8n's engine in-process against the local stack, from its
// "Prepare Now" webhook for one owner (the app's Prepare Tomorrow's Queue button): 200 with tomorrow's
// numbers, the same queue when called again, 400 for a malformed owner, 403 without the key; for
// every owner where nobody has queue settings (a stack of its own) 200 with no owners. (The
// hourly schedule runs the same node for every owner; it is not fired here, since it would prepare
// the queues of every other test's owners too: its instants, from the shipped rule as n8n turns it
// into cron, are replayed as queue_prepare's p_now for one owner instead.)
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { IDataObject } from 'n8n-workflow';
import { toCronExpression, withIntervalDefaults } from 'n8n-nodes-base/dist/nodes/Schedule/GenericFunctions';
import type { RawScheduleInterval } from 'n8n-nodes-base/dist/nodes/Schedule/SchedulerInterface';
import { OWNER_ELSEWHERE, ownerElsewhere } from './support/owner-elsewhere';
import { runWorkflow, type TestCredentials } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { startStack } from '../../stack';
import { createTestUser, serviceClient, testStack, withDb } from '../helpers/stack';
import { leadsOf, messagesOf, queueOwner, supabaseCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-prepare.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials() });

const prepare = (headers: Record<string, string>) =>
	runWorkflow(WORKFLOW, { startNode: 'Prepare Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body: {} }, credentials: credentials() });

test('Prepare Now answers 200 with the owner\'s tomorrow; called again, the same queue', async () => {
	const owner = await queueOwner({ daily_capacity: 3 });
	await leadsOf(owner, 4);
	const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
	const before = tomorrow();
	const first = await prepare({ 'X-Leadflow-Owner': owner });
	expect(first.error).toBeUndefined();
	expect(first.response?.statusCode).toBe(200);
	const [prepared] = (first.response?.body as { owners: IDataObject[] }).owners;
	expect(prepared).toMatchObject({ user_id: owner, time_zone: 'UTC', capacity: 3, queued: 3, already_queued: 0, skipped: expect.objectContaining({ over_capacity: 1 }) });
	expect([before, tomorrow()]).toContain(prepared.day);
	const queue = await messagesOf(owner);
	expect(queue).toHaveLength(3);

	const again = await prepare({ 'X-Leadflow-Owner': owner });
	expect(again.response?.statusCode).toBe(200);
	expect((again.response?.body as { owners: IDataObject[] }).owners).toEqual([expect.objectContaining({ queued: 0, already_queued: 3 })]);
	expect(await messagesOf(owner)).toEqual(queue);
});

test('an owner without queue settings answers 404 saying what to do', async () => {
	const owner = await createTestUser('no-settings');
	const answer = await prepare({ 'X-Leadflow-Owner': owner });
	expect(answer.response).toMatchObject({ statusCode: 404, body: { status: 404, error: expect.stringMatching(/has no queue settings/), hint: expect.stringMatching(/user_queue_settings/) } });
});

// Every owner (no X-Leadflow-Owner) on an installation where nobody has queue settings yet: Prepare
// Tomorrow prepares nobody, and the webhook still answers, with no owners (it answered 200 with an
// empty body: no item reached Respond Prepared). Every owner is the whole database, so this test
// starts a stack of its own, with no queue settings, and stops it.
test('Prepare Now with no owner who has queue settings answers 200 {owners: []}', async () => {
	const empty = await startStack({ fast: true });
	try {
		const answer = await runWorkflow(WORKFLOW, {
			startNode: 'Prepare Now',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: {} },
			credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: empty.supabaseUrl, serviceRoleKey: empty.serviceRoleKey } },
		});
		expect(answer.error).toBeUndefined();
		expect(answer.response).toMatchObject({ statusCode: 200, body: { owners: [] } });
	} finally {
		await empty.stop();
	}
}, 180_000);

// Prepare Tomorrow always outputs an item (so that nobody prepared is answered too): a failure sends
// one to the error output and an empty one to Respond Prepared's branch, which must not answer 200.
test('a failed Prepare Tomorrow is answered by Respond With Problem alone', async () => {
	const failed = await runWorkflow(WORKFLOW, {
		startNode: 'Prepare Now',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: {} },
		credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: 'http://127.0.0.1:9', serviceRoleKey: testStack().serviceRoleKey } },
	});
	expect(failed.response?.statusCode).toBe(500);
	expect(failed.executedNodes).toContain('Respond With Problem');
	expect(failed.executedNodes).not.toContain('Respond Prepared');
});

test('a malformed owner answers 400 naming it; without the key 403; nothing is prepared', async () => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	const malformed = await prepare({ 'X-Leadflow-Owner': 'me' });
	expect(malformed.response?.statusCode).toBe(400);
	expect(malformed.response?.body).toEqual({ status: 400, error: 'The owner user ID "me" is not a UUID', field: 'X-Leadflow-Owner', hint: expect.stringMatching(/^Send X-Leadflow-Owner as .*auth\.users.*leave the header out/) });
	const noKey = await runWorkflow(WORKFLOW, { startNode: 'Prepare Now', webhook: { method: 'POST', headers: { 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });
	expect(noKey.response?.statusCode).toBe(403);
	expect(noKey.executedNodes).toEqual([]);
	expect(await messagesOf(owner)).toEqual([]);
});

// The webhook's one input is the X-Leadflow-Owner header; without it every owner is prepared. So an
// owner sent anywhere else (a query parameter, the body), or a header left empty, is refused with
// what to do, before anything is prepared: it would otherwise prepare every owner's tomorrow.
test.each(OWNER_ELSEWHERE)('%s answers 400 naming it, and nobody is prepared', async (_case, where, field, error) => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	const refused = await runWorkflow(WORKFLOW, {
		startNode: 'Prepare Now',
		webhook: ownerElsewhere(where, KEY, owner),
		credentials: credentials(),
	});
	expect(refused.response?.statusCode).toBe(400);
	expect(refused.response?.body).toEqual({ status: 400, field, error: expect.stringMatching(error), hint: expect.stringMatching(/X-Leadflow-Owner/) });
	expect(refused.executedNodes).not.toContain('Prepare Tomorrow');
	expect(await messagesOf(owner)).toEqual([]);
});

/** The shipped workflow's schedule: its trigger node and the cron expressions n8n runs it by. */
function shippedSchedule() {
	const trigger = loadWorkflow(WORKFLOW).nodes.find((node) => node.type === 'n8n-nodes-base.scheduleTrigger');
	if (!trigger) throw new Error(`${WORKFLOW} has no Schedule Trigger`);
	const intervals = (trigger.parameters.rule as { interval: RawScheduleInterval[] }).interval;
	return { trigger, intervals, crons: intervals.map((interval) => toCronExpression(withIntervalDefaults(interval), trigger.id)) };
}

// Whether a cron field (a number, an asterisk, or an asterisk and "/n": every n) matches a value.
const fieldMatches = (field: string, value: number) => field === '*' || (field.startsWith('*/') ? value % Number(field.slice(2)) === 0 : Number(field) === value);

/** The minutes in [from, to) at which the cron expressions (second minute hour, every day) fire on a clock in `zone`. */
function firings(crons: string[], zone: string, from: string, to: string): string[] {
	const fired: string[] = [];
	for (let at = Date.parse(from); at < Date.parse(to); at += 60_000) {
		const local = DateTime.fromMillis(at, { zone });
		const due = crons.some((cron) => {
			const [, minute, hour, dayOfMonth, month, dayOfWeek] = cron.split(' ');
			if ([dayOfMonth, month, dayOfWeek].some((field) => field !== '*')) throw new Error(`Not a daily-or-finer cron: ${cron}`);
			return fieldMatches(minute, local.minute) && fieldMatches(hour, local.hour);
		});
		if (due) fired.push(new Date(at).toISOString());
	}
	return fired;
}

test('the schedule runs every hour', () => {
	const { trigger, intervals } = shippedSchedule();
	expect(trigger.name).toBe('Every Hour');
	expect(intervals).toEqual([{ field: 'hours', hoursInterval: 1, triggerAtMinute: 0 }]);
});

test('the schedule prepares every day of an owner whose clocks change on another day than n8n\'s: Berlin\'s Monday 2 November 2026 with n8n in New York', async () => {
	// n8n (GENERIC_TIMEZONE) in New York; the owner in Berlin, whose clocks went back on 25 October,
	// New York's on 1 November: from then on New York's 18:00 is Berlin's midnight.
	const fired = firings(shippedSchedule().crons, 'America/New_York', '2026-10-30T04:00:00Z', '2026-11-03T05:00:00Z');
	expect(fired.length).toBeGreaterThan(0);
	const owner = await queueOwner({ daily_capacity: 1 });
	await withDb((db) => db.query(`update public.user_queue_settings set time_zone = 'Europe/Berlin' where user_id = $1`, [owner]));
	await leadsOf(owner, 8);

	const prepared: string[] = [];
	for (const now of fired) {
		const { data, error } = await serviceClient().rpc('queue_prepare', { p_user_id: owner, p_now: now });
		if (error) throw new Error(`queue_prepare at ${now}: ${error.message}`);
		prepared.push((data as Array<{ day: string }>)[0].day);
	}

	// Every Berlin day from the first prepared to the last has its queue, each lead queued once.
	const days = [...new Set(prepared)].sort();
	const everyDay = Array.from({ length: DateTime.fromISO(days.at(-1)!).diff(DateTime.fromISO(days[0]), 'days').days + 1 }, (_, index) =>
		DateTime.fromISO(days[0]).plus({ days: index }).toISODate(),
	);
	expect(days).toEqual(everyDay);
	expect(days).toContain('2026-11-02');
	const queue = await messagesOf(owner);
	expect(queue.map((row) => row.day).sort()).toEqual(everyDay);
	expect(new Set(queue.map((row) => row.lead_id)).size).toBe(queue.length);
});
