// automation_begin_send called again with the same begin key (Facebook Send repeats the call when its
// answer was lost, though the database had committed it): the contacts that key began get the first
// answer again (send, skipped) and nothing more is written; another key, no key, or another holder
// is refused as before (duplicate, lease_lost).
import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import type { BeginSendResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { claim, generate, recordSend, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
// Message ids unique to this run: the clock projects run this file on one database, where a
// message id is unique.
const RUN = randomUUID().slice(0, 8);
const plus = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const begin = (executionId: string, ids: string[], key: string | null, now: Date) =>
	rpc<BeginSendResult[]>(service, 'automation_begin_send', {
		p_execution_id: executionId,
		p_state_ids: ids,
		p_lease_seconds: 120,
		p_now: now.toISOString(),
		...(key !== null && { p_begin_key: key }),
	});

/** Three contacts of a new rule, ready to send for `executionId`; the third stopped by a person (the begin skips it). */
async function ready(executionId: string) {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(3);
	const claimed = await claim(service, ruleId, executionId);
	const sorted = [...claimed].sort((a, b) => a.state_id.localeCompare(b.state_id));
	const ids = sorted.map((contact) => contact.state_id);
	await generate(service, executionId, ids);
	await withDb((db) =>
		db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, 'manual')`, [
			world.userId,
			sorted[2].conversation_id,
			ruleId,
		]),
	);
	return { ruleId, ids, conversationIds: sorted.map((contact) => contact.conversation_id) };
}

/** Everything the begin writes: the contacts, their stage history, the guard rows, the stops (as `db` sees them). */
async function writtenIn(db: Client, ruleId: string, ids: string[], conversationIds: string[]) {
	return {
		states: (await db.query('select * from public.ai_automation_contact_states where id = any ($1::uuid[]) order by id', [ids])).rows,
		events: (await db.query('select count(*)::int as n from public.ai_automation_stage_events where state_id = any ($1::uuid[])', [ids])).rows[0].n,
		guards: (await db.query('select * from public.ai_automation_executions where rule_id = $1 order by id', [ruleId])).rows,
		stops: (await db.query('select * from public.ai_automation_stops where conversation_id = any ($1::uuid[]) order by id', [conversationIds])).rows,
	};
}
const written = (ruleId: string, ids: string[], conversationIds: string[]) => withDb((db) => writtenIn(db, ruleId, ids, conversationIds));

const outcomes = (rows: BeginSendResult[]) => rows.map((row) => [row.outcome, row.reason]);

it('the same begin repeated with its key: the contacts it began are answered send again, the one it skipped skipped, and nothing more is written', async () => {
	const { ruleId, ids, conversationIds } = await ready('exec-begin-lost');
	const key = randomUUID();
	const first = await begin('exec-begin-lost', ids, key, plus(0.5));
	expect(outcomes(first)).toEqual([
		['send', null],
		['send', null],
		['skipped', 'stopped'],
	]);
	const before = await written(ruleId, ids, conversationIds);
	expect(before.guards.map((guard) => [guard.state_id, guard.status, guard.begin_key])).toEqual(
		expect.arrayContaining([
			[ids[0], 'sending', key],
			[ids[1], 'sending', key],
		]),
	);
	expect(before.guards).toHaveLength(2);

	// The answer was lost; the node calls again a moment later, with the same key.
	const again = await begin('exec-begin-lost', ids, key, plus(1));

	expect(again).toEqual(first);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});

it('another key, no key, or the same key from another holder: duplicate / lease_lost as before, nothing written', async () => {
	const { ruleId, ids, conversationIds } = await ready('exec-begin-first');
	const key = randomUUID();
	const first = await begin('exec-begin-first', ids, key, plus(0.5));
	const before = await written(ruleId, ids, conversationIds);
	const refused = [
		['duplicate', 'sending'],
		['duplicate', 'sending'],
		['lease_lost', 'skipped'],
	];

	// Another begin of the same holder (a second sub-execution of the run, a duplicated one).
	const other = await begin('exec-begin-first', ids, randomUUID(), plus(1));
	expect(outcomes(other)).toEqual(refused);
	expect(other.slice(0, 2).map((row) => row.attempt_id)).toEqual(first.slice(0, 2).map((row) => row.attempt_id));
	expect(outcomes(await begin('exec-begin-first', ids, null, plus(1)))).toEqual(refused);
	expect(outcomes(await begin('exec-begin-other', ids, key, plus(1)))).toEqual(refused);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});

it('once recorded, or once its lease ran out, the same key no longer answers send', async () => {
	const { ruleId, ids, conversationIds } = await ready('exec-begin-late');
	const key = randomUUID();
	await begin('exec-begin-late', ids, key, plus(0.5));
	await recordSend(service, 'exec-begin-late', [{ state_id: ids[0], outcome: 'sent', facebook_message_id: `m_begin_${RUN}` }], plus(1));
	const before = await written(ruleId, ids, conversationIds);

	// The first recorded sent; the second's lease of 120 s (from 0.5 min) ran out at 2.5 min.
	expect(outcomes(await begin('exec-begin-late', ids.slice(0, 2), key, plus(1.5)))).toEqual([
		['duplicate', 'sent'],
		['send', null],
	]);
	expect(outcomes(await begin('exec-begin-late', ids.slice(0, 2), key, plus(3)))).toEqual([
		['duplicate', 'sent'],
		['duplicate', 'sending'],
	]);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});

it('the repeat arriving while the first call still runs waits for it, then answers send: the contact row is read after the wait, not the guard', async () => {
	const { ruleId, ids, conversationIds } = await ready('exec-begin-slow');
	const key = randomUUID();
	const [first, before, again] = await withDb(async (db) => {
		// The first call, its transaction not yet committed (the database still working when the gateway gave up).
		await db.query('begin');
		const { rows } = await db.query<BeginSendResult>('select * from public.automation_begin_send($1, $2, 120, $3, $4)', ['exec-begin-slow', ids, plus(0.5), key]);
		const inside = await writtenIn(db, ruleId, ids, conversationIds);
		const { rows: self } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
		const repeat = begin('exec-begin-slow', ids, key, plus(0.6)).then(
			(value) => ({ value }),
			(error: unknown) => ({ error }),
		);
		for (let waited = 0; ; waited += 20) {
			const blocked = await withDb(async (other) => (await other.query('select count(*)::int as n from pg_stat_activity where $1 = any (pg_blocking_pids(pid))', [self[0].pid])).rows[0].n);
			if (blocked > 0) break;
			if (waited > 10_000) throw new Error('the repeat never waited for the first call');
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		await db.query('commit');
		const outcome = await repeat;
		if ('error' in outcome) throw outcome.error;
		return [rows, inside, outcome.value] as const;
	});
	expect(outcomes(first)).toEqual([
		['send', null],
		['send', null],
		['skipped', 'stopped'],
	]);
	expect(again.map((row) => ({ ...row, window_closes_at: new Date(row.window_closes_at!).toISOString() }))).toEqual(
		first.map((row) => ({ ...row, window_closes_at: new Date(row.window_closes_at!).toISOString() })),
	);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});
