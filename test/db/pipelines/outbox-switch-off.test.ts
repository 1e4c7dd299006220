// Switching an automation off, or inserting, removing or reordering its actions, cancels its waiting
// webhook / notify actions in the same transaction (migration …2400), not at the next claim: "off,
// edit the actions, on" between two sweeps must never hand a waiting action out to the action now at
// its place (another receiver). An action being delivered at that moment (claimed, lease not ended)
// is left to its holder; a retry it asks for, or its lease running out, cancels it then. Every claim
// here names its items (p_outbox_ids), so none reaches another test's or file's items; the database's
// clock for the triggers (leadflow.now) is set to the test's instant on the connection that writes.
import type { ClaimedOutboxItem, CompleteOutboxResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, minutesAfter, NOW, rpc } from './fixtures';

const claimIds = (execution: string, ids: string[], now = NOW, leaseSeconds = 300) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: 1000, p_lease_seconds: leaseSeconds, p_now: now, p_outbox_ids: ids });
const complete = (execution: string, items: Array<Record<string, unknown>>, now = NOW) =>
	rpc<CompleteOutboxResult[]>('pipeline_complete_outbox', { p_execution_id: execution, p_items: items, p_now: now });

interface Row {
	id: string;
	action_index: number;
	status: string;
	attempts: number;
	last_error: string | null;
	cancel_on_retry: string | null;
}
const rowsOf = (ids: string[]) =>
	withDb(async (db) => (await db.query<Row>(
		`select id, action_index, status, attempts, last_error, to_jsonb(o) ->> 'cancel_on_retry' as cancel_on_retry
		   from public.pipeline_outbox o where id = any ($1) order by action_index, id`, [ids])).rows);
const runResults = (automationId: string) =>
	withDb(async (db) => (await db.query<{ results: Array<Record<string, unknown>> }>(
		'select results from public.pipeline_automation_runs where automation_id = $1 order by id', [automationId])).rows.map((row) => row.results));

const A = { type: 'webhook', url: 'https://a.example.test/hot' };
const B = { type: 'webhook', url: 'https://b.example.test/crm' };
const C = { type: 'webhook', url: 'https://c.example.test/new' };
const INACTIVE = 'automation_inactive: the automation was switched off before this action was delivered';
const moved = (place: number) =>
	`action_changed: the automation's actions were inserted, removed or reordered: action ${place} is now another webhook, not the one this was queued for`;

/** "Hot alert" with `actions`, fired for one contact entering the pipeline: its outbox ids by action. */
async function hotAlert(actions: Array<Record<string, unknown>>) {
	const world = await createPipelineWorld();
	const automationId = await world.automation({ name: 'Hot alert', trigger_type: 'ENTERED_PIPELINE', actions });
	const [contact] = await world.contacts(1);
	const [row] = await assign([analysis(contact, 10)]);
	/** Writes the automation as the owner's app does, the database's clock at `now`. */
	const update = (set: string, value: unknown, now = NOW) =>
		withDb(async (db) => {
			await db.query(`select set_config('leadflow.now', $1, false)`, [now]);
			await db.query(`update public.pipeline_automations set ${set} = $2 where id = $1`, [automationId, value]);
		});
	return {
		world,
		automationId,
		ids: row.outbox_ids,
		setActive: (active: boolean, now = NOW) => update('is_active', active, now),
		setActions: (next: Array<Record<string, unknown>>, now = NOW) => update('actions', JSON.stringify(next), now),
	};
}

describe('switching an automation off cancels its waiting actions at once', () => {
	it('off then on, nothing edited: the waiting actions stay cancelled, the next sweep hands out nothing, the run says why', async () => {
		const { automationId, ids, setActive } = await hotAlert([A, B]);
		expect(ids).toHaveLength(2);
		await setActive(false);
		expect((await rowsOf(ids)).map((row) => [row.status, row.last_error])).toEqual([['cancelled', INACTIVE], ['cancelled', INACTIVE]]);
		await setActive(true);
		expect(await claimIds('sweep', ids, minutesAfter(15))).toEqual([]);
		expect((await runResults(automationId))[0].map((entry) => [entry.status, entry.reason])).toEqual([['cancelled', 'automation_inactive'], ['cancelled', 'automation_inactive']]);
	});

	it('the docs\' procedure, off, a new first action C, on: nothing goes to C, nor B\'s event to A', async () => {
		const { ids, setActive, setActions } = await hotAlert([A, B]);
		await setActive(false);
		await setActions([C, A, B]);
		await setActive(true);
		expect(await claimIds('sweep', ids, minutesAfter(15))).toEqual([]);
		expect((await rowsOf(ids)).map((row) => [row.status, row.last_error])).toEqual([['cancelled', INACTIVE], ['cancelled', INACTIVE]]);
	});

	it('off, action A removed, on: A\'s event is not handed out to B', async () => {
		const { ids, setActive, setActions } = await hotAlert([A, B]);
		await setActive(false);
		await setActions([B]);
		await setActive(true);
		expect(await claimIds('sweep', ids, minutesAfter(15))).toEqual([]);
		expect((await rowsOf(ids)).map((row) => row.status)).toEqual(['cancelled', 'cancelled']);
	});

	it('an action being delivered is left to its holder: delivered as reported; a retry it asks for, or its lease running out, cancels it then', async () => {
		const { ids, setActive, setActions } = await hotAlert([A, B, { type: 'notify', message: 'A hot lead' }]);
		const [a, b, notify] = ids;
		await claimIds('holder', ids);
		// Switched off a minute later, under the lease (300 s): nothing cancelled yet, each marked.
		await setActive(false, minutesAfter(1));
		expect((await rowsOf(ids)).map((row) => [row.status, row.cancel_on_retry])).toEqual([['claimed', INACTIVE], ['claimed', INACTIVE], ['claimed', INACTIVE]]);
		// Edited and on again while they are being delivered (A and B swapped; the notify stays third).
		await setActions([B, A, { type: 'notify', message: 'A hot lead' }], minutesAfter(2));
		await setActive(true, minutesAfter(2));
		expect(await complete('holder', [
			{ outbox_id: a, outcome: 'delivered' },
			{ outbox_id: b, outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 0 },
		], minutesAfter(3))).toEqual([{ outbox_id: a, outcome: 'delivered' }, { outbox_id: b, outcome: 'cancelled' }].sort((x, y) => (x.outbox_id < y.outbox_id ? -1 : 1)));
		// The notify's holder crashed: its lease ends, and the next sweep does not hand it out again.
		expect(await claimIds('sweep', ids, minutesAfter(10))).toEqual([]);
		expect((await rowsOf(ids)).map((row) => [row.status, row.attempts, row.last_error, row.cancel_on_retry])).toEqual([
			['delivered', 1, null, INACTIVE],
			['cancelled', 1, `${INACTIVE}; its last delivery failed: HTTP 503`, null],
			['cancelled', 1, INACTIVE, null],
		]);
		// Its holder's late report is told so, nothing written.
		expect(await complete('holder', [{ outbox_id: notify, outcome: 'delivered' }], minutesAfter(11))).toEqual([{ outbox_id: notify, outcome: 'cancelled' }]);
	});
});

describe('editing the actions of an active automation', () => {
	it('removing the first action cancels the waiting actions it moved (A\'s is not sent to B, B\'s place is gone); a new firing goes as it says now', async () => {
		const { world, automationId, ids, setActions } = await hotAlert([A, B]);
		await setActions([B]);
		expect((await rowsOf(ids)).map((row) => [row.status, row.last_error])).toEqual([
			['cancelled', moved(1)],
			['cancelled', "action_changed: the automation's action 2 is gone, no longer this webhook"],
		]);
		expect(await claimIds('sweep', ids, minutesAfter(15))).toEqual([]);
		expect((await runResults(automationId))[0].map((entry) => entry.reason)).toEqual(['action_changed', 'action_changed']);
		const [contact] = await world.contacts(1);
		const [row] = await assign([analysis(contact, 10)], minutesAfter(20));
		expect((await claimIds('next', row.outbox_ids, minutesAfter(20))).map((item) => item.payload.action)).toEqual([B]);
	});

	it('inserting a first action or swapping two cancels every waiting action whose place now holds another one', async () => {
		const inserted = await hotAlert([A, B]);
		await inserted.setActions([C, A, B]);
		expect((await rowsOf(inserted.ids)).map((row) => [row.status, row.last_error])).toEqual([['cancelled', moved(1)], ['cancelled', moved(2)]]);

		const swapped = await hotAlert([A, B, { type: 'notify', message: 'A hot lead' }]);
		await swapped.setActions([B, A, { type: 'notify', message: 'A hot lead' }]);
		expect((await rowsOf(swapped.ids)).map((row) => [row.status, row.last_error])).toEqual([['cancelled', moved(1)], ['cancelled', moved(2)], ['pending', null]]);
		expect((await claimIds('sweep', swapped.ids)).map((item) => item.payload.action)).toEqual([{ type: 'notify', message: 'A hot lead' }]);
	});

	it('an edit in place (a URL fixed) or an action added at the end cancels nothing: each goes out as it says now', async () => {
		const { ids, setActions } = await hotAlert([A, B]);
		const fixed = { type: 'webhook', url: 'https://a.example.test/v2/hot' };
		await setActions([fixed, B, C]);
		expect((await rowsOf(ids)).map((row) => row.status)).toEqual(['pending', 'pending']);
		expect((await claimIds('sweep', ids)).map((item) => item.payload.action)).toEqual([fixed, B]);
	});

	// Migration …2450: before it, an action equal to the edited one at a place that did not change
	// counted as "found at another place", and the edited action's waiting item was cancelled as
	// inserted, removed or reordered, although nothing moved.
	it('an edit in place that makes an action equal to another cancels nothing: each goes out as it says now', async () => {
		const email = { type: 'notify', message: 'A hot lead', channel: 'email' };
		const slack = { type: 'notify', message: 'A hot lead', channel: 'slack' };
		const channel = await hotAlert([email, slack]);
		await channel.setActions([slack, slack]);
		expect((await rowsOf(channel.ids)).map((row) => [row.status, row.last_error])).toEqual([['pending', null], ['pending', null]]);
		expect((await claimIds('sweep', channel.ids)).map((item) => item.payload.action)).toEqual([slack, slack]);

		// Two equal actions, the second's URL fixed.
		const fixed = { type: 'webhook', url: 'https://a.example.test/v2/hot' };
		const twins = await hotAlert([A, A, B]);
		await twins.setActions([A, fixed, B]);
		expect((await rowsOf(twins.ids)).map((row) => row.status)).toEqual(['pending', 'pending', 'pending']);
		expect((await claimIds('sweep', twins.ids)).map((item) => item.payload.action)).toEqual([A, fixed, B]);

		// B's URL set to A's.
		const same = await hotAlert([A, B]);
		await same.setActions([A, A]);
		expect((await rowsOf(same.ids)).map((row) => row.status)).toEqual(['pending', 'pending']);

		// A removed from between its twins is still a move: B's event is not handed out to A.
		const removed = await hotAlert([A, B, A]);
		await removed.setActions([A, A]);
		expect((await rowsOf(removed.ids)).map((row) => [row.status, row.last_error])).toEqual([
			['pending', null],
			['cancelled', moved(2)],
			['cancelled', "action_changed: the automation's action 3 is gone, no longer this webhook"],
		]);
	});
});
