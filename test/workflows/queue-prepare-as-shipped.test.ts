// workflows/queue-prepare.json as users run it: the JSON as shipped, on its hourly Schedule Trigger,
// with nothing set but the Supabase credential. queue-prepare.test.ts fires Prepare Now for one owner
// and replays the schedule's instants as queue_prepare's p_now for one owner; the schedule itself
// leaves the owner empty: every owner with queue settings, each in their own time zone. That commits
// for every owner of the database, so this file has a stack of its own; its Data API requests are
// judged at a fixed instant (the test stack's clock header, added by a pass-through the credential's
// URL points at), so the days expected do not depend on the date or the machine's time zone.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type TestCredentials } from '../harness';
import { createTestUser, serviceClient, testStack, useStackOfItsOwn, withDb } from '../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../nodes/FacebookSend/support/rpc-counter';
import { messagesOf, ukMobile } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-prepare.json';
// A Wednesday, 12:00 UTC: Thursday 26 November in Los Angeles' tomorrow, Friday 27 November in Auckland's (already Thursday there).
const NOW = '2026-11-25T12:00:00.000Z';

useStackOfItsOwn();

let atNow: RpcCounter;
beforeAll(async () => {
	atNow = await startRpcCounter(testStack().supabaseUrl, { headers: { 'X-Leadflow-Now': NOW } });
});
afterAll(async () => {
	await atNow.stop();
});

const credentials = (): TestCredentials => ({ leadflowSupabaseApi: { url: atNow.url, serviceRoleKey: testStack().serviceRoleKey } });

async function ownerIn(timeZone: string, capacity: number, leads: number): Promise<string> {
	const owner = await createTestUser('prepare-as-shipped');
	await withDb((db) =>
		db.query(
			`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, message)
			 values ($1, $2, '09:00', '17:00', $3, '{1,2,3,4,5,6,7}', '{"type": "text", "text": "Hi {{name}}"}'::jsonb)`,
			[owner, capacity, timeZone],
		),
	);
	if (leads > 0) {
		// Added at the instant the run is judged at, as the owner's app would have added them.
		const { error } = await serviceClient({ now: new Date(NOW) }).rpc('queue_add_leads', {
			p_items: Array.from({ length: leads }, (_, index) => ({ user_id: owner, name: `Lead ${index}`, phone: ukMobile(), source: 'test' })),
		});
		expect(error).toBeNull();
	}
	return owner;
}

test('the hourly schedule, as shipped: every owner\'s tomorrow in their own time zone, up to their capacity; the next hour\'s run queues nothing more', async () => {
	const owners = [
		{ id: await ownerIn('America/Los_Angeles', 3, 4), day: '2026-11-26', queued: 3 },
		{ id: await ownerIn('Pacific/Auckland', 5, 2), day: '2026-11-27', queued: 2 },
		{ id: await ownerIn('UTC', 2, 0), day: '2026-11-26', queued: 0 },
	];

	const run = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: credentials() });

	expect(run.error).toBeUndefined();
	expect(run.mode).toBe('trigger');
	expect(run.status).toBe('success');
	const prepared = (run.nodeOutputs['Prepare Tomorrow'] ?? []) as IDataObject[];
	expect(prepared.map((owner) => [owner.user_id, owner.day, owner.queued, owner.already_queued]).sort()).toEqual(
		owners.map((owner) => [owner.id, owner.day, owner.queued, 0]).sort(),
	);
	expect(run.nodeBranches['Prepare Tomorrow']?.[1] ?? []).toEqual([]);
	for (const owner of owners) {
		const queue = await messagesOf(owner.id);
		expect(queue.map((message) => [message.day, message.status])).toEqual(Array.from({ length: owner.queued }, () => [owner.day, 'queued']));
	}

	// The next hour (the same instant judged: the same tomorrows): nothing queued twice.
	const again = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: credentials() });
	expect(again.status).toBe('success');
	expect(((again.nodeOutputs['Prepare Tomorrow'] ?? []) as IDataObject[]).map((owner) => [owner.user_id, owner.queued, owner.already_queued]).sort()).toEqual(
		owners.map((owner) => [owner.id, 0, owner.queued]).sort(),
	);
	for (const owner of owners) expect(await messagesOf(owner.id)).toHaveLength(owner.queued);
});
