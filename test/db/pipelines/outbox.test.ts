// Webhook and notify actions leave the database through pipeline_outbox: handed out with a lease,
// one holder at a time (two executions claiming at once never get the same item), again after the
// holder's lease ran out without a report (it crashed), never again once reported. Leases are
// judged at p_now.
// The claim serves every owner's items. Each test here creates its items at its own instant, years
// before the other suites' NOW, and claims at instants near it: an item is handed out only once
// its available_at has come, so these claims never see another suite's items. Each test reports
// every item it claimed before it ends, so none is left for another test to claim (and the later
// a test comes in this file, the earlier its instant), and nothing depends on today's date.
import type { ClaimedOutboxItem, CompleteOutboxResult, MoveResult } from '../../../nodes/shared/contract';
import { entriesRead } from '../../helpers/reads';
import { serviceClient, withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, minutesAfter, rpc } from './fixtures';

const claim = (execution: string, now: string, limit = 50, leaseSeconds = 300) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: limit, p_lease_seconds: leaseSeconds, p_now: now });
const complete = (execution: string, items: Array<Record<string, unknown>>, now: string) =>
	rpc<CompleteOutboxResult[]>('pipeline_complete_outbox', { p_execution_id: execution, p_items: items, p_now: now });

/** An owner whose `count` contacts, assigned at `at`, each queue one webhook item. */
async function queued(count: number, at: string) {
	const world = await createPipelineWorld();
	const automationId = await world.automation({
		name: 'new lead webhook',
		trigger_type: 'ENTERED_PIPELINE',
		actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }, { type: 'webhook', url: 'https://crm.example.test/leads', method: 'PUT', body: { source: 'leadflow' } }],
	});
	const contacts = await world.contacts(count);
	await assign(contacts.map((id) => analysis(id, 30)), at);
	return { world, automationId, contacts };
}

const statusOf = (ids: string[]) =>
	withDb(async (db) => (await db.query<{ status: string; n: number }>('select status, count(*)::int as n from public.pipeline_outbox where id = any ($1) group by 1 order by 1', [ids])).rows);

describe('pipeline_outbox', () => {
	it('holds what the receiver needs: the action, the automation, the contact, the change', async () => {
		const at = '2004-01-01T00:00:00.000Z';
		const { world, automationId, contacts } = await queued(1, at);
		const [item] = await claim('exec-payload', minutesAfter(1, at));
		expect(item).toMatchObject({ kind: 'webhook', attempt: 1, automation_id: automationId, conversation_id: contacts[0] });
		expect(new Date(item.lease_expires_at).toISOString()).toBe(minutesAfter(6, at));
		expect(item.payload).toEqual({
			outbox_id: item.outbox_id,
			user_id: world.userId,
			action: { type: 'webhook', url: 'https://crm.example.test/leads', method: 'PUT', body: { source: 'leadflow' } },
			automation: { id: automationId, name: 'new lead webhook' },
			contact: { conversation_id: contacts[0], page_id: world.pageId, sender_id: expect.stringMatching(/^[0-9]+$/), sender_name: 'Contact 0' },
			pipeline: { id: world.pipeline.id, name: 'Sales' },
			change: {
				trigger_type: 'ENTERED_PIPELINE',
				depth: 0,
				from_stage: null,
				to_stage: { id: world.pipeline.stages.Contacted, name: 'Contacted' },
				from_score: null,
				to_score: 30,
				from_status: null,
				to_status: 'CONTACTED',
				// An analysis placed it: the model, and its reasoning as the reason.
				actor: 'ai',
				actor_id: 'gemini-3-flash',
				reason: 'Score 30: engaged, asked concrete questions.',
			},
			occurred_at: expect.stringMatching(/^2004-01-01T00:00:00/),
		});
		expect(await complete('exec-payload', [{ outbox_id: item.outbox_id, outcome: 'delivered' }], minutesAfter(2, at))).toEqual([
			{ outbox_id: item.outbox_id, outcome: 'delivered' },
		]);
	});

	it('hands each item to one of two executions claiming at the same moment', async () => {
		const at = '2003-01-01T00:00:00.000Z';
		const { contacts } = await queued(30, at);
		const claimAt = minutesAfter(1, at);
		// Execution A has claimed 20 and not committed yet; B claims meanwhile, over the Data API.
		const [fromA, fromB] = await withDb(async (db) => {
			await db.query('begin');
			const a = await db.query<{ outbox_id: string }>('select outbox_id from public.pipeline_claim_outbox($1, $2, $3, $4)', ['exec-A', 20, 300, claimAt]);
			const b = await claim('exec-B', claimAt, 20);
			await db.query('commit');
			return [a.rows.map((row) => row.outbox_id), b.map((row) => row.outbox_id)];
		});
		expect(fromA).toHaveLength(20);
		expect(fromB).toHaveLength(10);
		expect(fromA.filter((id) => fromB.includes(id))).toEqual([]);
		// And two claims racing through the Data API: every item once.
		const later = minutesAfter(30, at); // both leases ran out: all 30 are claimable again
		const [c, d] = await Promise.all([
			serviceClient().rpc('pipeline_claim_outbox', { p_execution_id: 'exec-C', p_limit: 30, p_lease_seconds: 300, p_now: later }),
			serviceClient().rpc('pipeline_claim_outbox', { p_execution_id: 'exec-D', p_limit: 30, p_lease_seconds: 300, p_now: later }),
		]);
		const raced = [...(c.data as ClaimedOutboxItem[]), ...(d.data as ClaimedOutboxItem[])].map((row) => row.outbox_id);
		expect(raced).toHaveLength(30);
		expect(new Set(raced).size).toBe(30);
		expect(new Set(raced)).toEqual(new Set([...fromA, ...fromB]));
		expect(contacts).toHaveLength(30);
		for (const [execution, claimed] of [['exec-C', c.data], ['exec-D', d.data]] as const) {
			const reports = await complete(execution, (claimed as ClaimedOutboxItem[]).map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })), minutesAfter(31, at));
			expect(reports.every((row) => row.outcome === 'delivered')).toBe(true);
		}
		expect(await statusOf(raced)).toEqual([{ status: 'delivered', n: 30 }]);
	});

	it('hands an item out again only after its holder\'s lease ran out, and never once it was delivered', async () => {
		const at = '2002-01-01T00:00:00.000Z';
		await queued(3, at);
		const first = await claim('exec-crashed', minutesAfter(1, at), 50, 600);
		expect(first.map((item) => item.attempt)).toEqual([1, 1, 1]);
		const ids = first.map((item) => item.outbox_id);
		// The execution dies without a report. Until its lease ends (10 minutes), nobody gets them.
		expect(await claim('exec-next', minutesAfter(10, at))).toEqual([]);
		const again = await claim('exec-next', minutesAfter(11.5, at));
		expect(again.map((item) => [item.outbox_id, item.attempt]).sort()).toEqual(ids.map((id) => [id, 2]).sort());
		// The crashed execution's late report is refused; the holder's is taken.
		expect(await complete('exec-crashed', [{ outbox_id: ids[0], outcome: 'delivered' }], minutesAfter(12, at))).toEqual([{ outbox_id: ids[0], outcome: 'lease_lost' }]);
		const reports = await complete(
			'exec-next',
			[
				{ outbox_id: ids[0], outcome: 'delivered' },
				{ outbox_id: ids[1], outcome: 'failed', error: 'HTTP 410 Gone' },
				{ outbox_id: ids[2], outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 120 },
				{ outbox_id: '00000000-0000-4000-8000-000000000000', outcome: 'delivered' },
			],
			minutesAfter(12, at),
		);
		expect(new Map(reports.map((row) => [row.outbox_id, row.outcome]))).toEqual(
			new Map([
				[ids[0], 'delivered'],
				[ids[1], 'failed'],
				[ids[2], 'retrying'],
				['00000000-0000-4000-8000-000000000000', 'not_found'],
			]),
		);
		// Another report of an item its holder completed changes nothing, and says so.
		expect(await complete('exec-next', [{ outbox_id: ids[0], outcome: 'failed' }], minutesAfter(13, at))).toEqual([{ outbox_id: ids[0], outcome: 'already_completed' }]);
		// The retry waits its 120 s; delivered and failed ones never come back.
		expect(await claim('exec-retry', minutesAfter(13.9, at))).toEqual([]);
		const retried = await claim('exec-retry', minutesAfter(14.1, at));
		expect(retried.map((item) => [item.outbox_id, item.attempt])).toEqual([[ids[2], 3]]);
		expect(await complete('exec-retry', [{ outbox_id: ids[2], outcome: 'delivered' }], minutesAfter(15, at))).toEqual([{ outbox_id: ids[2], outcome: 'delivered' }]);
		expect(await claim('exec-later', minutesAfter(60 * 24 * 30, at))).toEqual([]);
		expect(await statusOf(ids)).toEqual([
			{ status: 'delivered', n: 2 },
			{ status: 'failed', n: 1 },
		]);
		const lastError = await withDb((db) => db.query<{ last_error: string }>('select last_error from public.pipeline_outbox where id = $1', [ids[1]]));
		expect(lastError.rows[0].last_error).toBe('HTTP 410 Gone');
	});

	it('refuses malformed calls, naming what is wrong, and writes nothing', async () => {
		const at = '2001-01-01T00:00:00.000Z';
		await queued(1, at);
		expect((await failure(claim('', minutesAfter(1, at)))).message).toMatch(/p_execution_id is required/);
		expect((await failure(claim('exec', minutesAfter(1, at), 0))).message).toMatch(/p_limit must be between 1 and 1000 \(got 0\)/);
		const [item] = await claim('exec-bad', minutesAfter(1, at));
		const bad = await failure(
			complete('exec-bad', [{ outbox_id: item.outbox_id, outcome: 'delivered' }, { outbox_id: item.outbox_id, outcome: 'sent' }], minutesAfter(2, at)),
		);
		expect(bad).toMatchObject({ code: '22023', message: 'p_items[1].outcome: required, delivered or failed (got "sent")' });
		expect((await failure(complete('exec-bad', [{ outbox_id: 'abc', outcome: 'delivered' }], minutesAfter(2, at)))).message).toBe(
			'p_items[0].outbox_id: required, an outbox item id (uuid)',
		);
		expect(await statusOf([item.outbox_id])).toEqual([{ status: 'claimed', n: 1 }]);
		await complete('exec-bad', [{ outbox_id: item.outbox_id, outcome: 'delivered' }], minutesAfter(3, at));
	});

	it('reads only the items of the contacts or the owner it claims for, however many others wait', async () => {
		const at = '2000-01-01T00:00:00.000Z';
		const many = await queued(300, at);
		const few = await queued(3, at);
		// The table's statistics as autovacuum keeps them (it analyses a table that grew): whether it
		// had run since the items above were queued, or since other test files filled the table, made
		// the planner choose a sequential scan now and then (every item read).
		await withDb((db) => db.query('analyze public.pipeline_outbox'));
		/** One claim, with the index entries and rows it read on pipeline_outbox (the difference around it, in one transaction). */
		const claimReading = (execution: string, conversationIds: string[] | null, userId: string | null, limit: number) =>
			withDb(async (db) => {
				const read = () => entriesRead(db, ['public.pipeline_outbox']);
				await db.query('begin');
				try {
					const before = await read();
					const { rows } = await db.query<{ outbox_id: string; conversation_id: string }>(
						'select outbox_id, conversation_id from public.pipeline_claim_outbox($1, $2, 300, $3, $4::uuid[], $5)',
						[execution, limit, minutesAfter(1, at), conversationIds, userId],
					);
					const entries = (await read()) - before;
					await db.query('commit');
					return { claimed: rows, entries };
				} catch (error) {
					await db.query('rollback');
					throw error;
				}
			});

		// The Assign operation's claim: the contacts of its batch. 303 items wait before it.
		const byContacts = await claimReading('exec-contacts', many.contacts.slice(0, 2), many.world.userId, 50);
		expect(byContacts.claimed.map((item) => item.conversation_id).sort()).toEqual(many.contacts.slice(0, 2).sort());
		expect(byContacts.entries).toBeLessThan(2 * 10); // was every due item: over 300
		// A sweep of one owner: the 3 of the owner with few, never the 298 of the other.
		const byOwner = await claimReading('exec-owner', null, few.world.userId, 50);
		expect(byOwner.claimed.map((item) => item.conversation_id).sort()).toEqual([...few.contacts].sort());
		expect(byOwner.entries).toBeLessThan(3 * 10);

		// Everything else, delivered, so no later claim sees this test's items.
		const rest = await claim('exec-rest', minutesAfter(2, at), 1000);
		expect(rest).toHaveLength(298);
		const reports = [...byContacts.claimed, ...byOwner.claimed, ...rest].map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' }));
		for (const execution of ['exec-contacts', 'exec-owner', 'exec-rest']) await complete(execution, reports, minutesAfter(3, at));
		expect(await claim('exec-none', minutesAfter(60 * 24 * 365, at), 1000)).toEqual([]);
	});

	it('answers the items each call queued (outbox_ids), and p_outbox_ids claims exactly those', async () => {
		const at = '1999-01-01T00:00:00.000Z';
		const world = await createPipelineWorld();
		await world.automation({ name: 'entered', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads' }] });
		await world.automation({
			name: 'qualified',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: world.pipeline.stages.Qualified },
			actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }, { type: 'notify', message: 'Qualified' }, { type: 'webhook', url: 'https://crm.example.test/qualified' }],
		});
		const [contact, quiet] = await world.contacts(2);
		// The first call queues the webhook of entering; nobody hands it out.
		const [placed, other] = await assign([analysis(contact, 30), analysis(quiet, 10)], at);
		expect(placed.outbox_ids).toHaveLength(1);
		expect(other.outbox_ids).toHaveLength(1);
		// The second queues the notify and the webhook of Qualified (the tag is done in the database).
		const [moved] = await rpc<MoveResult[]>('pipeline_move', { p_items: [{ conversation_id: contact, stage_name: 'Qualified' }], p_now: minutesAfter(1, at) });
		expect(moved.outbox_ids).toHaveLength(2);
		const [kept] = await rpc<MoveResult[]>('pipeline_move', { p_items: [{ conversation_id: contact, stage_name: 'Qualified' }], p_now: minutesAfter(1, at) });
		expect(kept).toMatchObject({ outcome: 'kept', outbox_ids: [] });

		const own = await rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', {
			p_execution_id: 'exec-own',
			p_limit: 10,
			p_now: minutesAfter(2, at),
			p_outbox_ids: moved.outbox_ids,
		});
		expect(own.map((item) => item.outbox_id).sort()).toEqual([...moved.outbox_ids].sort());
		expect(own.map((item) => item.kind).sort()).toEqual(['notify', 'webhook']);
		expect(await statusOf(placed.outbox_ids)).toEqual([{ status: 'pending', n: 1 }]);
		// Claimed already: not again within the lease, though asked for by id.
		expect(await rpc('pipeline_claim_outbox', { p_execution_id: 'exec-again', p_now: minutesAfter(3, at), p_outbox_ids: moved.outbox_ids })).toEqual([]);

		const rest = await rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: 'exec-rest', p_now: minutesAfter(2, at), p_outbox_ids: [...placed.outbox_ids, ...other.outbox_ids] });
		expect(rest.map((item) => item.conversation_id).sort()).toEqual([contact, quiet].sort());
		await complete('exec-own', own.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })), minutesAfter(3, at));
		await complete('exec-rest', rest.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })), minutesAfter(3, at));
	});

	// n8n retries Complete Automations (Retry On Fail, a network cut) after a call that committed but
	// whose answer was lost: the same reports again, from the same holder.
	it('answers a report its holder sends again as the first time, writing nothing; another report of a completed item is already_completed; another holder\'s item stays lease_lost', async () => {
		const at = '1998-01-01T00:00:00.000Z';
		await queued(4, at);
		const claimed = await claim('holder-A', minutesAfter(1, at));
		expect(claimed).toHaveLength(4);
		const ids = claimed.map((item) => item.outbox_id);
		const answers = (rows: CompleteOutboxResult[]) => new Map(rows.map((row) => [row.outbox_id, row.outcome]));
		const rows = () =>
			withDb(async (db) =>
				(
					await db.query(
						'select id, status, available_at, completed_at, claimed_by, claimed_at, attempts, last_error from public.pipeline_outbox where id = any ($1) order by id',
						[ids],
					)
				).rows,
			);
		const reports = [
			{ outbox_id: ids[0], outcome: 'delivered' },
			{ outbox_id: ids[1], outcome: 'failed', error: 'HTTP 410 Gone' },
			{ outbox_id: ids[2], outcome: 'failed', error: 'HTTP 503', retry_after_seconds: 120 },
		];
		const first = new Map([
			[ids[0], 'delivered'],
			[ids[1], 'failed'],
			[ids[2], 'retrying'],
		]);
		expect(answers(await complete('holder-A', reports, minutesAfter(2, at)))).toEqual(first);
		const recorded = await rows();

		// The same call again, twice: the first answer, nothing written (no new time, no retry moved).
		expect(answers(await complete('holder-A', reports, minutesAfter(3, at)))).toEqual(first);
		expect(answers(await complete('holder-A', reports, minutesAfter(3.5, at)))).toEqual(first);
		// A retry repeated with another delay keeps the first report's time.
		expect(await complete('holder-A', [{ ...reports[2], retry_after_seconds: 600 }], minutesAfter(3.5, at))).toEqual([{ outbox_id: ids[2], outcome: 'retrying' }]);
		expect(await rows()).toEqual(recorded);

		// Another report of an item the holder completed: refused as already_completed, the first kept
		// (delivered never becomes failed, nor failed delivered). One it gave back for a retry is no
		// longer its own: lease_lost, as before.
		expect(
			answers(
				await complete(
					'holder-A',
					[
						{ outbox_id: ids[0], outcome: 'failed', error: 'HTTP 500' },
						{ outbox_id: ids[1], outcome: 'delivered' },
						{ outbox_id: ids[2], outcome: 'delivered' },
					],
					minutesAfter(4, at),
				),
			),
		).toEqual(
			new Map([
				[ids[0], 'already_completed'],
				[ids[1], 'already_completed'],
				[ids[2], 'lease_lost'],
			]),
		);
		expect(
			answers(
				await complete(
					'holder-A',
					[
						{ outbox_id: ids[0], outcome: 'failed', retry_after_seconds: 60 },
						{ outbox_id: ids[1], outcome: 'failed', error: 'Timeout' },
					],
					minutesAfter(4, at),
				),
			),
		).toEqual(
			new Map([
				[ids[0], 'already_completed'],
				[ids[1], 'already_completed'],
			]),
		);
		expect(await complete('holder-A', [{ ...reports[1], retry_after_seconds: 60 }], minutesAfter(4, at))).toEqual([
			{ outbox_id: ids[1], outcome: 'already_completed' },
		]);
		expect(await rows()).toEqual(recorded);

		// Really taken by another holder: the retry once its time came, the fourth item once A's lease
		// ran out. A's reports, repeated or late, are lease_lost, before B reports and after.
		const taken = await claim('holder-B', minutesAfter(7, at));
		expect(taken.map((item) => [item.outbox_id, item.attempt]).sort()).toEqual(
			[
				[ids[2], 2],
				[ids[3], 2],
			].sort(),
		);
		const late = [reports[2], { outbox_id: ids[3], outcome: 'delivered' }];
		const lost = new Map([
			[ids[2], 'lease_lost'],
			[ids[3], 'lease_lost'],
		]);
		expect(answers(await complete('holder-A', late, minutesAfter(7.5, at)))).toEqual(lost);
		const byB = taken.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' }));
		const delivered = new Map(taken.map((item) => [item.outbox_id, 'delivered']));
		expect(answers(await complete('holder-B', byB, minutesAfter(8, at)))).toEqual(delivered);
		expect(answers(await complete('holder-A', late, minutesAfter(9, at)))).toEqual(lost);
		expect(answers(await complete('holder-B', byB, minutesAfter(9, at)))).toEqual(delivered);
		expect(await statusOf(ids)).toEqual([
			{ status: 'delivered', n: 3 },
			{ status: 'failed', n: 1 },
		]);
	});
});
