// automation_release, what a node that failed as a node (Generate Follow-Up without a key, Facebook
// Send before any send began) calls to give back the contacts it was handed: in one call, those the
// execution still holds before their send began go back to queued, their lease ended, the reason in
// the stage history, no longer counted in the day's use, claimable again at once. A contact in
// sending, one another execution took over, one already released or unknown is not_held and left
// exactly as it was, so a second call changes nothing. Every instant is fixed (p_now).
import type { AutomationSnapshot, ClaimExplained, ReleaseResult } from '../../../nodes/shared/contract';
import { anonClient, serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plusSeconds = (seconds: number) => new Date(NOW.getTime() + seconds * 1_000);

const release = (executionId: string | null, stateIds: string[] | null, reason: string | null = 'generation_setup_failed', now: Date | null = NOW, client = service) =>
	rpc<ReleaseResult[]>(client, 'automation_release', {
		p_execution_id: executionId,
		p_state_ids: stateIds,
		p_reason: reason,
		p_now: now === null ? null : now.toISOString(),
	});

const byState = (rows: ReleaseResult[]) => Object.fromEntries(rows.map((row) => [row.state_id, [row.outcome, row.stage]]));

/** Every column of the states, as text, by id: what a release must leave alone. */
function rowsOf(stateIds: string[]): Promise<Map<string, Record<string, string | null>>> {
	return withDb(async (db) => {
		const { rows } = await db.query<{ id: string; row: Record<string, string | null> }>(
			`select s.id, (select jsonb_object_agg(key, value #>> '{}') from jsonb_each(to_jsonb(s))) as row
			   from public.ai_automation_contact_states s where s.id = any ($1::uuid[])`,
			[stateIds],
		);
		return new Map(rows.map((row) => [row.id, row.row]));
	});
}

interface StageEventRow {
	state_id: string;
	from_stage: string | null;
	to_stage: string;
	occurred_at: Date;
	execution_id: string | null;
	detail: Record<string, unknown> | null;
}

function eventsOf(stateIds: string[]): Promise<StageEventRow[]> {
	return withDb(async (db) =>
		(
			await db.query<StageEventRow>(
				`select state_id, from_stage, to_stage, occurred_at, execution_id, detail from public.ai_automation_stage_events
				  where state_id = any ($1::uuid[]) order by state_id, id`,
				[stateIds],
			)
		).rows,
	);
}

const usedToday = async (ruleId: string, now: Date) =>
	(await rpc<AutomationSnapshot>(service, 'automation_snapshot', { p_rule_id: ruleId, p_now: now.toISOString() })).stats.used_today;

it('gives back, in one call, the eligible, generating and ready_to_send contacts the execution holds: queued, lease ended, the reason in the history, the day\'s use freed, claimed again at once; a send under way is left to its sender', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ dailyLimit: 4 });
	await world.contacts(4);
	const claimed = await claim(service, ruleId, 'exec-failed', 10);
	expect(claimed).toHaveLength(4);
	const [eligible, generating, ready, sending] = claimed.map((contact) => contact.state_id);
	await rpc(service, 'automation_mark_generating', { p_execution_id: 'exec-failed', p_state_ids: [generating], p_now: NOW.toISOString() });
	await generate(service, 'exec-failed', [ready, sending]);
	expect((await beginSend(service, 'exec-failed', [sending]))[0].outcome).toBe('send');
	// The day's limit of 4 is used: three held, one sending.
	const later = plusSeconds(30);
	expect(await usedToday(ruleId, later)).toBe(4);
	const before = await rowsOf([sending]);
	const unknown = '00000000-0000-4000-8000-000000000001';

	const answer = await release('exec-failed', [eligible, generating, ready, sending, unknown], 'generation_setup_failed', later);

	expect(answer).toHaveLength(5);
	expect(byState(answer)).toEqual({
		[eligible]: ['released', 'eligible'],
		[generating]: ['released', 'generating'],
		[ready]: ['released', 'ready_to_send'],
		[sending]: ['not_held', 'sending'],
		[unknown]: ['not_held', null],
	});
	const rows = await rowsOf([eligible, generating, ready]);
	for (const id of [eligible, generating, ready]) {
		expect(rows.get(id)).toMatchObject({ current_stage: 'queued', locked_by: null, locked_until: null, generated_message: null, execution_id: 'exec-failed' });
		expect(new Date(String(rows.get(id)?.stage_entered_at)).getTime()).toBe(later.getTime());
	}
	// The send that began may have gone out: exactly as it was.
	expect(await rowsOf([sending])).toEqual(before);
	// One history row each, from the stage it left, saying why and whose lease it was.
	const released = (await eventsOf([eligible, generating, ready])).filter((event) => event.to_stage === 'queued' && event.from_stage !== null);
	expect(released.map((event) => [event.state_id, event.from_stage]).sort()).toEqual(
		[
			[eligible, 'eligible'],
			[generating, 'generating'],
			[ready, 'ready_to_send'],
		].sort(),
	);
	for (const event of released) {
		expect(event).toMatchObject({ execution_id: 'exec-failed', detail: { reason: 'generation_setup_failed', held_by: 'exec-failed', lease_until: expect.any(String) } });
		expect(event.occurred_at.getTime()).toBe(later.getTime());
	}
	// Only the send under way still counts; the next claim takes the three at once.
	expect(await usedToday(ruleId, later)).toBe(1);
	const again = await rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: 10,
		p_execution_id: 'exec-next',
		p_now: later.toISOString(),
	});
	expect(again.contacts.map((contact) => contact.state_id).sort()).toEqual([eligible, generating, ready].sort());
	expect(again.summary).toMatchObject({ claimed: 3, notClaimed: { in_progress: 1 } });
});

it('leaves a contact another execution took over after the lease ran out exactly as it is, with no history row', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(1);
	const [first] = await claim(service, ruleId, 'exec-slow', 10, NOW, 60);
	// The slow run's lease ended; another run's claim reaped and took the contact.
	const [taken] = await claim(service, ruleId, 'exec-other', 10, plusSeconds(120), 600);
	expect(taken.state_id).toBe(first.state_id);
	const before = await rowsOf([first.state_id]);
	const events = (await eventsOf([first.state_id])).length;

	expect(await release('exec-slow', [first.state_id], 'generation_setup_failed', plusSeconds(130))).toEqual([
		{ state_id: first.state_id, outcome: 'not_held', stage: 'eligible' },
	]);
	expect(await rowsOf([first.state_id])).toEqual(before);
	expect((await rowsOf([first.state_id])).get(first.state_id)).toMatchObject({ current_stage: 'eligible', locked_by: 'exec-other' });
	expect(await eventsOf([first.state_id])).toHaveLength(events);
});

it('is harmless twice: the second call answers not_held, writes nothing', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(2);
	const ids = (await claim(service, ruleId, 'exec-twice', 10)).map((contact) => contact.state_id);
	expect((await release('exec-twice', ids, 'send_setup_failed')).map((row) => row.outcome)).toEqual(['released', 'released']);
	const after = await rowsOf(ids);
	const events = await eventsOf(ids);

	const second = await release('exec-twice', [...ids, ids[0]], 'send_setup_failed', plusSeconds(5));
	expect(byState(second)).toEqual({ [ids[0]]: ['not_held', 'queued'], [ids[1]]: ['not_held', 'queued'] });
	expect(await rowsOf(ids)).toEqual(after);
	expect(await eventsOf(ids)).toEqual(events);
	expect(events.filter((event) => event.to_stage === 'queued' && event.from_stage !== null).map((event) => event.detail?.reason)).toEqual(['send_setup_failed', 'send_setup_failed']);
});

it('refuses bad arguments naming them (22023), and is not callable without the service role', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(1);
	const ids = (await claim(service, ruleId, 'exec-args', 10)).map((contact) => contact.state_id);
	const refusals: Array<[Parameters<typeof release>, RegExp]> = [
		[[null, ids], /p_execution_id must be the execution id .*\(22023\)/],
		[['  ', ids], /p_execution_id must be the execution id .*\(22023\)/],
		[['exec-args', null], /p_state_ids must be an array .*got null.*\(22023\)/],
		[['exec-args', Array.from({ length: 1001 }, () => ids[0])], /p_state_ids must be an array of at most 1000 .*got 1001 ids.*\(22023\)/],
		[['exec-args', ids, null], /p_reason must be a short lower-case word .*\(22023\)/],
		[['exec-args', ids, 'Generation failed!'], /p_reason must be a short lower-case word .*\(22023\)/],
		[['exec-args', ids, 'generation_setup_failed', null], /p_now must be an instant .*\(22023\)/],
	];
	for (const [args, message] of refusals) await expect(release(...args)).rejects.toThrow(message);
	await expect(release('exec-args', ids, 'generation_setup_failed', NOW, anonClient())).rejects.toThrow(/automation_release/);
	// Nothing was written by any of them.
	expect((await rowsOf(ids)).get(ids[0])).toMatchObject({ current_stage: 'eligible', locked_by: 'exec-args' });
});
