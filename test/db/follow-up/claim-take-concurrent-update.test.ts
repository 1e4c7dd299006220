// The claim's take (leadflow_private.automation_claim_take) claims a due contact whose state another
// transaction updated and committed after the take's statement began and before the take locked the
// row: the owner pressing Requeue (automation_requeue) at that moment. The lock follows the row to
// its new version; the update must too. Migration 20261201001870_follow_up_claim_faster.sql updated
// the locked rows by the ctid the lock answered, invisible to the statement's snapshot: the contact
// was locked but not claimed, stayed failed, and was counted in_progress though nobody held it.
// 20261201002020_follow_up_claim_take_follows_updated_rows.sql updates them by id again.
//
// The race made deterministic by a handshake, not by timing: a scratch trigger (dropped after) makes
// the take's update of its first contact wait for an advisory lock this test holds; meanwhile the
// test sees which contact the take has not locked yet, requeues it (committed), then lets the take go
// on. On a stack of its own: the trigger is on every rule's states, and the claim reaps every rule's
// expired leases.
import { Client } from 'pg';
import type { ClaimExplained, RequeueResult } from '../../../nodes/shared/contract';
import { serviceClient, testStack, useStackOfItsOwn, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, judgementOf, recordSend } from './stage-helpers';

/** The advisory lock the take's update of its first contact waits for while the test holds it. */
const HANDSHAKE_KEY = 2_026_120_102_020;
const TAKER = 'exec-take';

const plus = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

describe('the claim takes a contact whose state was updated while it ran', () => {
	useStackOfItsOwn();

	const connections: Client[] = [];
	async function connect(): Promise<Client> {
		const db = new Client({ connectionString: testStack().dbUrl });
		await db.connect();
		connections.push(db);
		return db;
	}

	afterEach(async () => {
		for (const db of connections.splice(0)) await db.end();
		await withDb(async (db) => {
			await db.query('drop trigger if exists zz_test_take_waits on public.ai_automation_contact_states');
			await db.query('drop function if exists leadflow_private.zz_test_take_waits()');
		});
	});

	/** Resolves once backend `pid` waits for an advisory lock (the handshake); throws after 30 s. */
	async function untilWaitingForHandshake(pid: number): Promise<void> {
		await withDb(async (db) => {
			for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 20))) {
				const { rows } = await db.query<{ wait_event_type: string | null; wait_event: string | null; state: string }>(
					'select wait_event_type, wait_event, state from pg_stat_activity where pid = $1',
					[pid],
				);
				if (rows[0]?.wait_event_type === 'Lock' && rows[0].wait_event === 'advisory') return;
				if (rows[0]?.state === 'idle') throw new Error('the claim ended without its take waiting at the handshake');
			}
			throw new Error(`the claim (backend ${pid}) never waited at the handshake`);
		});
	}

	it('a failed contact requeued after the take began, before the take locked it, is claimed, not counted in_progress', async () => {
		const service = serviceClient({ now: NOW });
		const world = await createWorld();
		const ruleId = await world.rule();
		// Two contacts whose send failed two hours ago for a temporary reason, retry due an hour ago.
		const contacts = await world.contacts(2, { lastMessageHoursAgo: 3 });
		const firstRun = await claim(service, ruleId, 'exec-first', 10, plus(-120));
		expect(firstRun.map((contact) => contact.conversation_id).sort()).toEqual([...contacts].sort());
		const stateIds = firstRun.map((contact) => contact.state_id);
		await generate(service, 'exec-first', stateIds, plus(-120));
		await beginSend(service, 'exec-first', stateIds, plus(-120));
		await recordSend(
			service,
			'exec-first',
			stateIds.map((id) => ({ state_id: id, outcome: 'failed', error_code: 'temporary', error_message: 'Graph 2: temporary', retry_after_seconds: 3600 })),
			plus(-120),
		);
		for (const contact of contacts) expect(await judgementOf(service, ruleId, contact, NOW)).toMatchObject({ due: true, current_stage: 'failed' });

		await withDb(async (db) => {
			await db.query(`create function leadflow_private.zz_test_take_waits() returns trigger language plpgsql as $$
			                begin perform pg_advisory_xact_lock_shared(${HANDSHAKE_KEY}); return new; end $$`);
			await db.query(`create trigger zz_test_take_waits before update on public.ai_automation_contact_states for each row
			                when (new.execution_id = '${TAKER}' and new.current_stage = 'eligible')
			                execute function leadflow_private.zz_test_take_waits()`);
		});
		const holder = await connect();
		const taker = await connect();
		const owner = await connect();
		await holder.query('select pg_advisory_lock($1)', [HANDSHAKE_KEY]);
		const takerPid = (await taker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
		const answer = taker
			.query<{ answer: ClaimExplained }>('select public.automation_claim_explained($1, 10, $2, 600, $3) as answer', [ruleId, TAKER, NOW.toISOString()])
			.then((result) => result.rows[0].answer);
		answer.catch(() => undefined); // awaited below; a failure before then must not be unhandled

		try {
			// The take has locked its first contact and waits in its update; the other is not locked yet.
			await untilWaitingForHandshake(takerPid);
			const requeued = await withDb(async (db) => {
				await db.query('begin');
				const { rows } = await db.query<{ conversation_id: string }>(
					'select conversation_id from public.ai_automation_contact_states where rule_id = $1 for update skip locked',
					[ruleId],
				);
				await db.query('rollback');
				return rows.map((row) => row.conversation_id);
			});
			expect(requeued).toHaveLength(1);
			// The owner presses Requeue on that contact: its state updated (retry_at, stage_detail) and committed.
			const { rows } = await owner.query<{ answer: RequeueResult[] }>("select public.automation_requeue($1, $2, 'leave', $3) as answer", [
				ruleId,
				requeued,
				NOW.toISOString(),
			]);
			expect(rows[0].answer).toMatchObject([{ conversation_id: requeued[0], outcome: 'requeued' }]);
		} finally {
			await holder.query('select pg_advisory_unlock($1)', [HANDSHAKE_KEY]);
		}

		// Before …2020: claimed only the first; the requeued one counted in_progress and left failed.
		const claimed = await answer;
		expect({ claimed: claimed.summary.claimed, notClaimed: claimed.summary.notClaimed }).toEqual({ claimed: 2, notClaimed: {} });
		expect(claimed.contacts.map((contact) => contact.conversation_id).sort()).toEqual([...contacts].sort());
		const states = await withDb(
			async (db) =>
				(
					await db.query<{ conversation_id: string; current_stage: string; locked_by: string | null; retry_at: Date | null }>(
						'select conversation_id, current_stage, locked_by, retry_at from public.ai_automation_contact_states where rule_id = $1 order by conversation_id',
						[ruleId],
					)
				).rows,
		);
		expect(states).toEqual(
			[...contacts].sort().map((conversationId) => ({ conversation_id: conversationId, current_stage: 'eligible', locked_by: TAKER, retry_at: null })),
		);
	});
});
