// What became of a webhook / notify action shows on its automation's run (migration …1800): the run's
// entry for that action says delivered, failed with its error, or cancelled with why, whichever of
// pipeline_complete_outbox, pipeline_claim_outbox and pipeline_cancel_outbox settled the item; the
// contact's AUTOMATION_FIRED history row stays as it was written (append-only), and the console's
// board answers the run's results as they are now beside it. Every claim here names its items
// (p_outbox_ids), so none reaches another test's or file's items.
import type { ClaimedOutboxItem, CompleteOutboxResult, PipelineBoard } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, minutesAfter, move, NOW, rpc } from './fixtures';

const claimIds = (execution: string, ids: string[], now = NOW, leaseSeconds = 300) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: 1000, p_lease_seconds: leaseSeconds, p_now: now, p_outbox_ids: ids });
const complete = (execution: string, items: Array<Record<string, unknown>>, now = NOW) =>
	rpc<CompleteOutboxResult[]>('pipeline_complete_outbox', { p_execution_id: execution, p_items: items, p_now: now });
const cancel = (userId: string, ids: string[], now = NOW) =>
	rpc<Array<{ outbox_id: string; outcome: string }>>('pipeline_cancel_outbox', { p_user_id: userId, p_outbox_ids: ids, p_now: now });

type Entry = Record<string, unknown> & { index: number; type: string; status: string };

/** Each contact's runs' results (in firing order) and its AUTOMATION_FIRED history rows' results. */
const seen = (conversationId: string) =>
	withDb(async (db) => ({
		runs: (await db.query<{ results: Entry[] }>('select results from public.pipeline_automation_runs where conversation_id = $1 order by id', [conversationId])).rows
			.map((row) => row.results),
		history: (await db.query<{ results: Entry[] }>(
			`select metadata -> 'results' as results from public.contact_activities where conversation_id = $1 and type = 'AUTOMATION_FIRED' order by run_id`,
			[conversationId])).rows.map((row) => row.results),
	}));

/** An owner with one automation of these actions, fired for `count` contacts. */
async function fired(actions: Array<Record<string, unknown>>, count = 1) {
	const world = await createPipelineWorld({ tags: ['lead'] });
	const automationId = await world.automation({
		name: 'Entered: CRM', trigger_type: 'ENTERED_PIPELINE',
		actions: actions.map((action) => (action.type === 'add_tag' ? { ...action, tag_id: world.tags.lead } : action)),
	});
	const contacts = await world.contacts(count);
	const rows = await assign(contacts.map((id) => analysis(id, 10)));
	const ids = rows.map((row) => row.outbox_ids);
	return { world, automationId, contacts, ids };
}

const at = (iso: string) => new Date(iso).toISOString();

describe('a run says what became of its webhook / notify actions', () => {
	it('delivered: the run\'s entry says so; a retry before it leaves it queued; the history row keeps what was queued', async () => {
		const { contacts: [contact], ids: [[webhook]] } = await fired([{ type: 'webhook', url: 'https://crm.example.test/x' }]);
		const queued = { index: 0, type: 'webhook', status: 'queued', outbox_id: webhook };
		expect(await seen(contact)).toEqual({ runs: [[queued]], history: [[queued]] });

		await claimIds('res-1', [webhook]);
		expect((await seen(contact)).runs).toEqual([[queued]]);
		expect(await complete('res-1', [{ outbox_id: webhook, outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 0 }])).toEqual([{ outbox_id: webhook, outcome: 'retrying' }]);
		expect((await seen(contact)).runs).toEqual([[queued]]);

		await claimIds('res-2', [webhook], minutesAfter(1));
		expect(await complete('res-2', [{ outbox_id: webhook, outcome: 'delivered' }], minutesAfter(2))).toEqual([{ outbox_id: webhook, outcome: 'delivered' }]);
		const after = await seen(contact);
		expect(after.runs).toEqual([[{ ...queued, status: 'delivered', attempts: 2, completed_at: expect.any(String) }]]);
		expect(at(after.runs[0][0].completed_at as string)).toBe(minutesAfter(2));
		expect(after.history).toEqual([[queued]]);
		// The same report again writes nothing: the run stays as the first one left it.
		expect(await complete('res-2', [{ outbox_id: webhook, outcome: 'delivered' }], minutesAfter(3))).toEqual([{ outbox_id: webhook, outcome: 'delivered' }]);
		expect((await seen(contact)).runs).toEqual(after.runs);
	});

	it('failed for good: the receiver\'s error, or the 10 attempts given up, on the run', async () => {
		const { contacts: [first, second], ids: [[gone], [silent]] } = await fired([{ type: 'webhook', url: 'https://crm.example.test/x' }], 2);
		await claimIds('dead-1', [gone]);
		await complete('dead-1', [{ outbox_id: gone, outcome: 'failed', error: 'HTTP 410 Gone' }]);
		expect((await seen(first)).runs).toEqual([[{ index: 0, type: 'webhook', status: 'failed', outbox_id: gone, error: 'HTTP 410 Gone', attempts: 1, completed_at: expect.any(String) }]]);

		// Ten leases that run out without a report: the claim fails it for good.
		for (let attempt = 1; attempt <= 10; attempt++) {
			expect(await claimIds(`dead-lease-${attempt}`, [silent], minutesAfter(attempt * 10), 60)).toHaveLength(1);
		}
		expect((await seen(second)).runs[0][0].status).toBe('queued');
		expect(await claimIds('dead-lease-11', [silent], minutesAfter(110), 60)).toEqual([]);
		const { runs, history } = await seen(second);
		expect(runs).toEqual([[{
			index: 0, type: 'webhook', status: 'failed', outbox_id: silent,
			error: 'gave up after 10 attempts: the last lease ran out without a report', attempts: 10, completed_at: expect.any(String),
		}]]);
		expect(history[0][0].status).toBe('queued');
	});

	it('cancelled: switched off, action edited away, or by the owner, each with why; the other actions of the run stay as they were', async () => {
		const off = await fired([{ type: 'add_tag' }, { type: 'webhook', url: 'https://crm.example.test/x' }, { type: 'notify', message: 'New lead' }]);
		const [[webhook, notify]] = off.ids;
		await withDb((db) => db.query('update public.pipeline_automations set is_active = false where id = $1', [off.automationId]));
		expect(await claimIds('off-1', [webhook, notify])).toEqual([]);
		const [results] = (await seen(off.contacts[0])).runs;
		const inactive = 'automation_inactive: the automation was switched off before this action was delivered';
		expect(results).toEqual([
			{ index: 0, type: 'add_tag', status: 'applied', tag_id: off.world.tags.lead },
			{ index: 1, type: 'webhook', status: 'cancelled', outbox_id: webhook, reason: 'automation_inactive', error: inactive, attempts: 0, completed_at: expect.any(String) },
			{ index: 2, type: 'notify', status: 'cancelled', outbox_id: notify, reason: 'automation_inactive', error: inactive, attempts: 0, completed_at: expect.any(String) },
		]);

		const edited = await fired([{ type: 'webhook', url: 'https://crm.example.test/x' }]);
		await withDb((db) => db.query('update public.pipeline_automations set actions = $2 where id = $1', [edited.automationId, JSON.stringify([{ type: 'notify', message: 'Hi' }])]));
		expect(await claimIds('edit-1', edited.ids[0])).toEqual([]);
		expect((await seen(edited.contacts[0])).runs[0][0]).toMatchObject({ status: 'cancelled', reason: 'action_changed', error: 'action_changed: the automation\'s action 1 is now notify, no longer this webhook' });

		// The owner cancels a retry waiting after a failure: its error gives way to why it stopped.
		const owner = await fired([{ type: 'webhook', url: 'https://crm.example.test/x' }]);
		const [[item]] = owner.ids;
		await claimIds('own-1', [item]);
		await complete('own-1', [{ outbox_id: item, outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 600 }]);
		expect(await cancel(owner.world.userId, [item], minutesAfter(1))).toEqual([{ outbox_id: item, outcome: 'cancelled' }]);
		expect((await seen(owner.contacts[0])).runs).toEqual([[{
			index: 0, type: 'webhook', status: 'cancelled', outbox_id: item, reason: 'cancelled_by_owner',
			error: 'cancelled: by the owner before it was delivered', attempts: 1, completed_at: expect.any(String),
		}]]);
	});

	it('one report settling several actions of the same runs rewrites each run once, every action in it', async () => {
		const { contacts, ids } = await fired([{ type: 'webhook', url: 'https://crm.example.test/a' }, { type: 'notify', message: 'New' }, { type: 'webhook', url: 'https://crm.example.test/b' }], 3);
		const all = ids.flat();
		expect(await claimIds('many-1', all)).toHaveLength(9);
		const report = ids.flatMap(([a, n, b]) => [
			{ outbox_id: a, outcome: 'delivered' }, { outbox_id: n, outcome: 'failed', error: 'no channel' }, { outbox_id: b, outcome: 'delivered' },
		]);
		await complete('many-1', report);
		for (const [k, contact] of contacts.entries()) {
			const [results] = (await seen(contact)).runs;
			expect(results.map((entry) => [entry.index, entry.outbox_id, entry.status, entry.error ?? null])).toEqual([
				[0, ids[k][0], 'delivered', null], [1, ids[k][1], 'failed', 'no channel'], [2, ids[k][2], 'delivered', null],
			]);
		}
	});

	it('the board answers an AUTOMATION_FIRED card with its run\'s results as they are now; other activities without them', async () => {
		const { world, contacts: [contact], ids: [[webhook]] } = await fired([{ type: 'webhook', url: 'https://crm.example.test/x' }]);
		// Another contact, moved by hand after its automation fired: its last activity is the move.
		const [other] = await world.contacts(1);
		await assign([analysis(other, 10)]);
		await move([{ conversation_id: other, stage_id: world.pipeline.stages.Won, reason: 'Signed' }], minutesAfter(1));
		await claimIds('board-1', [webhook]);
		await complete('board-1', [{ outbox_id: webhook, outcome: 'failed', error: 'HTTP 410 Gone' }]);
		const answer = (await rpc<PipelineBoard>('console_pipeline_board', { p_pipeline_id: world.pipeline.id, p_now: minutesAfter(2) }))!;
		const cards = answer.stages.flatMap((stage) => stage.cards);
		const card = cards.find((row) => row.conversation_id === contact)!;
		expect(card.last_activity).toMatchObject({
			type: 'AUTOMATION_FIRED',
			metadata: { results: [{ index: 0, type: 'webhook', status: 'queued', outbox_id: webhook }] },
			run_results: [{ index: 0, type: 'webhook', status: 'failed', outbox_id: webhook, error: 'HTTP 410 Gone', attempts: 1 }],
		});
		// No other activity gets the key.
		const moved = cards.find((row) => row.conversation_id === other)!.last_activity!;
		expect(moved.type).toBe('MANUAL_MOVE');
		expect(Object.keys(moved)).not.toContain('run_results');
	});
});
