// A waiting webhook / notify action goes out as its automation says at the time it is handed out:
// the current URL after an edit, not at all once the automation is switched off or its action is
// no longer of that kind (cancelled, with the reason), not after the owner cancelled it, and not
// after 10 attempts (failed for good, with its last error). Every claim here names its items
// (p_outbox_ids), so none reaches another test's or file's items.
import type { ClaimedOutboxItem, CompleteOutboxResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, minutesAfter, NOW, rpc } from './fixtures';

const claimIds = (execution: string, ids: string[], now = NOW, leaseSeconds = 300) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: 1000, p_lease_seconds: leaseSeconds, p_now: now, p_outbox_ids: ids });
const complete = (execution: string, items: Array<Record<string, unknown>>, now = NOW) =>
	rpc<CompleteOutboxResult[]>('pipeline_complete_outbox', { p_execution_id: execution, p_items: items, p_now: now });
const cancel = (userId: string, ids: string[], now = NOW) =>
	rpc<Array<{ outbox_id: string; outcome: string }>>('pipeline_cancel_outbox', { p_user_id: userId, p_outbox_ids: ids, p_now: now });
const stateOf = (ids: string[]) =>
	withDb(async (db) => (await db.query<{ status: string; attempts: number; last_error: string | null }>(
		'select status, attempts, last_error from public.pipeline_outbox where id = any ($1) order by id', [ids])).rows);

/** An owner with one automation whose actions are `actions`, fired for `count` contacts: their outbox ids. */
async function queued(actions: Array<Record<string, unknown>>, count = 1) {
	const world = await createPipelineWorld();
	const automationId = await world.automation({ name: 'Entered: billing', trigger_type: 'ENTERED_PIPELINE', actions });
	const contacts = await world.contacts(count);
	const rows = await assign(contacts.map((id) => analysis(id, 10)));
	const ids = rows.flatMap((row) => row.outbox_ids);
	const setActions = (next: Array<Record<string, unknown>>) =>
		withDb((db) => db.query('update public.pipeline_automations set actions = $2 where id = $1', [automationId, JSON.stringify(next)]));
	const setActive = (active: boolean) => withDb((db) => db.query('update public.pipeline_automations set is_active = $2 where id = $1', [automationId, active]));
	return { world, automationId, ids, setActions, setActive };
}

describe('pipeline_outbox: the automation as it is now', () => {
	it('hands a retry out with the automation\'s current action: a URL fixed after a 404 is the one it goes to', async () => {
		const { ids, setActions } = await queued([{ type: 'webhook', url: 'https://billing.example.test/hook?token=OLD-LEAKED-TOKEN' }]);
		const first = await claimIds('edit-1', ids);
		expect(first.map((item) => item.payload.action.url)).toEqual(['https://billing.example.test/hook?token=OLD-LEAKED-TOKEN']);
		expect(await complete('edit-1', [{ outbox_id: ids[0], outcome: 'failed', error: 'HTTP 404', retry_after_seconds: 0 }])).toEqual([{ outbox_id: ids[0], outcome: 'retrying' }]);
		await setActions([{ type: 'webhook', url: 'https://billing.example.test/v2/hook?token=NEW-TOKEN', method: 'PUT' }]);
		const second = await claimIds('edit-2', ids, minutesAfter(1));
		expect(second.map((item) => item.payload.action)).toEqual([{ type: 'webhook', url: 'https://billing.example.test/v2/hook?token=NEW-TOKEN', method: 'PUT' }]);
		expect(second[0].attempt).toBe(2);
		// The item records what went out.
		const [stored] = await withDb(async (db) => (await db.query<{ url: string }>(`select payload #>> '{action,url}' as url from public.pipeline_outbox where id = $1`, [ids[0]])).rows);
		expect(stored.url).toBe('https://billing.example.test/v2/hook?token=NEW-TOKEN');
		await complete('edit-2', [{ outbox_id: ids[0], outcome: 'delivered' }], minutesAfter(1));
	});

	it('never hands out an action of an automation switched off: cancelled, with why; switching it on again does not bring it back', async () => {
		const { ids, setActive } = await queued([{ type: 'webhook', url: 'https://billing.example.test/hook' }, { type: 'notify', message: 'New lead' }], 2);
		expect(ids).toHaveLength(4);
		// One is held (its lease runs out later), the others wait; a retry among them.
		const held = await claimIds('off-1', [ids[0], ids[1]]);
		await complete('off-1', [{ outbox_id: ids[1], outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 0 }]);
		await setActive(false);
		expect(await claimIds('off-2', ids, minutesAfter(10))).toEqual([]);
		const state = await stateOf(ids);
		expect(state.map((row) => row.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
		for (const row of state) expect(row.last_error).toBe('automation_inactive: the automation was switched off before this action was delivered');
		// The holder whose lease ran out reports late: told it was cancelled, nothing written.
		expect(await complete('off-1', [{ outbox_id: held.find((item) => item.outbox_id === ids[0])!.outbox_id, outcome: 'delivered' }], minutesAfter(11))).toEqual([{ outbox_id: ids[0], outcome: 'cancelled' }]);
		await setActive(true);
		expect(await claimIds('off-3', ids, minutesAfter(20))).toEqual([]);
		expect((await stateOf(ids)).map((row) => row.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
	});

	it('cancels an item whose action is gone or of another type now, saying so; hands out the other', async () => {
		const { ids, setActions } = await queued([{ type: 'webhook', url: 'https://crm.example.test/a' }, { type: 'notify', message: 'Old text' }, { type: 'webhook', url: 'https://crm.example.test/c' }]);
		await setActions([{ type: 'notify', message: 'Now a notification' }, { type: 'notify', message: 'New text', channel: 'email' }]);
		const items = await claimIds('changed', ids);
		expect(items.map((item) => item.payload.action)).toEqual([{ type: 'notify', message: 'New text', channel: 'email' }]);
		const state = await withDb(async (db) => (await db.query<{ action_index: number; status: string; last_error: string | null }>(
			'select action_index, status, last_error from public.pipeline_outbox where id = any ($1) order by action_index', [ids])).rows);
		expect(state).toEqual([
			{ action_index: 0, status: 'cancelled', last_error: 'action_changed: the automation\'s action 1 is now notify, no longer this webhook' },
			{ action_index: 1, status: 'claimed', last_error: null },
			{ action_index: 2, status: 'cancelled', last_error: 'action_changed: the automation\'s action 3 is gone, no longer this webhook' },
		]);
		await complete('changed', items.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })));
	});

	it('lets its owner cancel waiting actions (pending, or a lease that ran out), not one being delivered now nor another owner\'s', async () => {
		const { world, ids } = await queued([{ type: 'webhook', url: 'https://gone.example.test/x' }], 4);
		const other = await queued([{ type: 'webhook', url: 'https://other.example.test/x' }]);
		// ids[0] retrying, ids[1] held under a live lease, ids[2] held whose lease ran out, ids[3] delivered.
		await claimIds('cancel-a', [ids[0], ids[1], ids[3]]);
		await complete('cancel-a', [{ outbox_id: ids[0], outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 600 }, { outbox_id: ids[3], outcome: 'delivered' }]);
		await claimIds('cancel-b', [ids[2]], NOW, 5);
		const answer = await cancel(world.userId, [...ids, other.ids[0]], minutesAfter(1));
		const expected = [
			{ outbox_id: ids[0], outcome: 'cancelled' },
			{ outbox_id: ids[1], outcome: 'held' },
			{ outbox_id: ids[2], outcome: 'cancelled' },
			{ outbox_id: ids[3], outcome: 'already_completed' },
			{ outbox_id: other.ids[0], outcome: 'not_found' },
		];
		expect(answer).toEqual([...expected].sort((a, b) => a.outbox_id.localeCompare(b.outbox_id)));
		expect((await stateOf([ids[0]]))[0]).toEqual({ status: 'cancelled', attempts: 1, last_error: 'cancelled: by the owner before it was delivered' });
		expect((await stateOf(other.ids))[0].status).toBe('pending');
		// Nothing cancelled is handed out again, however late; the one being delivered is its holder's to report.
		expect((await claimIds('cancel-c', ids, minutesAfter(60))).map((item) => item.outbox_id)).toEqual([ids[1]]);
		await complete('cancel-c', [{ outbox_id: ids[1], outcome: 'delivered' }], minutesAfter(60));
		await complete('cancel-o', (await claimIds('cancel-o', other.ids)).map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })));
		// Bad calls name what is wrong.
		expect((await failure(rpc('pipeline_cancel_outbox', { p_user_id: null, p_outbox_ids: ids }))).message).toMatch(/^p_user_id is required/);
		expect((await failure(rpc('pipeline_cancel_outbox', { p_user_id: world.userId, p_outbox_ids: [] }))).message).toMatch(/^p_outbox_ids: give from 1 to 1000/);
	});

	it('fails an item for good after 10 attempts, with its last error: a retry asked at the 10th, or a 10th lease that ran out', async () => {
		const { ids } = await queued([{ type: 'webhook', url: 'https://down.example.test/x' }], 2);
		const outcomes: string[] = [];
		for (let attempt = 1; attempt <= 10; attempt++) {
			const now = minutesAfter(attempt);
			const items = await claimIds(`cap-${attempt}`, [ids[0]], now);
			expect(items.map((item) => item.attempt)).toEqual([attempt]);
			const [report] = await complete(`cap-${attempt}`, [{ outbox_id: ids[0], outcome: 'failed', error: `HTTP 503 (${attempt})`, retry_after_seconds: 0 }], now);
			outcomes.push(report.outcome);
		}
		expect(outcomes).toEqual([...Array(9).fill('retrying'), 'failed']);
		expect(await stateOf([ids[0]])).toEqual([{ status: 'failed', attempts: 10, last_error: 'HTTP 503 (10)' }]);
		// The same report again: the first answer.
		expect(await complete('cap-10', [{ outbox_id: ids[0], outcome: 'failed', error: 'HTTP 503 (10)', retry_after_seconds: 0 }], minutesAfter(10))).toEqual([{ outbox_id: ids[0], outcome: 'failed' }]);
		expect(await claimIds('cap-11', [ids[0]], minutesAfter(100))).toEqual([]);

		// A holder that crashes each time: handed out 10 times, then failed.
		for (let attempt = 1; attempt <= 10; attempt++) {
			expect((await claimIds(`crash-${attempt}`, [ids[1]], minutesAfter(attempt * 10), 5)).map((item) => item.attempt)).toEqual([attempt]);
		}
		expect(await claimIds('crash-11', [ids[1]], minutesAfter(200))).toEqual([]);
		expect(await stateOf([ids[1]])).toEqual([{ status: 'failed', attempts: 10, last_error: 'gave up after 10 attempts: the last lease ran out without a report' }]);
	});
});
