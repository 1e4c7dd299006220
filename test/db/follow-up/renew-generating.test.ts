// automation_renew_generating, the heartbeat of a generating batch (GenerateFollowUp renews its
// short lease with it while Gemini works): one call extends the leases the holder still has on its
// still-generating contacts, by the database's clock, never earlier than they ended; every other
// contact (another execution's, one taken over after the lease ran out, one already recorded) is
// answered lease_lost and left exactly as it was. Bad arguments are refused naming them.
import { anonClient, serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { claim, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plusSeconds = (seconds: number) => new Date(NOW.getTime() + seconds * 1_000);

interface Renewal {
	state_id: string;
	outcome: 'generating' | 'lease_lost';
	locked_until: string | null;
}

const renew = (executionId: string | null, stateIds: string[] | null, leaseSeconds: number | null, now: Date | null = NOW, client = service) =>
	rpc<Renewal[]>(client, 'automation_renew_generating', {
		p_execution_id: executionId,
		p_state_ids: stateIds,
		p_lease_seconds: leaseSeconds,
		p_now: now === null ? null : now.toISOString(),
	});

const markGenerating = (executionId: string, stateIds: string[], leaseSeconds: number, now = NOW) =>
	rpc<Array<{ state_id: string; outcome: string }>>(service, 'automation_mark_generating', {
		p_execution_id: executionId,
		p_state_ids: stateIds,
		p_lease_seconds: leaseSeconds,
		p_now: now.toISOString(),
	});

/** Every column of the states, as text, by id: what a renewal must leave alone. */
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

const lockedUntil = async (stateId: string) => new Date(String((await rowsOf([stateId])).get(stateId)?.locked_until)).getTime();

function eventCount(stateIds: string[]): Promise<number> {
	return withDb(async (db) => (await db.query(`select count(*)::int as n from public.ai_automation_stage_events where state_id = any ($1::uuid[])`, [stateIds])).rows[0].n);
}

const without = (row: Record<string, string | null> | undefined, ...columns: string[]) =>
	Object.fromEntries(Object.entries(row ?? {}).filter(([column]) => !columns.includes(column)));

it('extends the holder\'s generating contacts to p_lease_seconds from p_now in one call, and never shortens a lease', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(3);
	const claimed = await claim(service, ruleId, 'exec-renew', 10, NOW, 60);
	const ids = claimed.map((contact) => contact.state_id);
	expect(await markGenerating('exec-renew', ids, 30)).toHaveLength(3);
	const events = await eventCount(ids);

	const renewed = await renew('exec-renew', ids, 30, plusSeconds(50));
	expect(renewed.map((row) => row.outcome)).toEqual(['generating', 'generating', 'generating']);
	expect(new Set(renewed.map((row) => row.state_id))).toEqual(new Set(ids));
	for (const row of renewed) expect(new Date(String(row.locked_until)).getTime()).toBe(plusSeconds(80).getTime());
	for (const id of ids) expect(await lockedUntil(id)).toBe(plusSeconds(80).getTime());

	// A shorter lease, or an earlier instant, leaves the later end as it is.
	const shorter = await renew('exec-renew', ids, 5, plusSeconds(51));
	for (const row of shorter) expect(new Date(String(row.locked_until)).getTime()).toBe(plusSeconds(80).getTime());
	// Same stage: no event is written.
	expect(await eventCount(ids)).toBe(events);
	expect((await rowsOf(ids)).get(ids[0])).toMatchObject({ current_stage: 'generating', locked_by: 'exec-renew' });
});

it('reads the database\'s clock when p_now is left out', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contact();
	const [held] = await claim(service, ruleId, 'exec-clock', 10, NOW, 5);
	await markGenerating('exec-clock', [held.state_id], 5);
	// The client judges at NOW (leadflow_private.now() reads it): the lease ends 120 s after NOW.
	const renewed = await rpc<Renewal[]>(service, 'automation_renew_generating', { p_execution_id: 'exec-clock', p_state_ids: [held.state_id], p_lease_seconds: 120 });
	expect(renewed).toEqual([{ state_id: held.state_id, outcome: 'generating', locked_until: expect.any(String) }]);
	expect(new Date(String(renewed[0].locked_until)).getTime()).toBe(plusSeconds(120).getTime());
});

it('touches nothing but its holder\'s generating contacts: another execution\'s, an eligible one and a recorded one are lease_lost and unchanged', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(5);
	const mine = (await claim(service, ruleId, 'exec-mine', 4, NOW, 60)).map((contact) => contact.state_id);
	const [theirs] = (await claim(service, ruleId, 'exec-theirs', 1, NOW, 60)).map((contact) => contact.state_id);
	const [generating, eligible, recorded, failed] = mine;
	await markGenerating('exec-mine', [generating, recorded, failed], 60);
	await markGenerating('exec-theirs', [theirs], 60);
	await rpc(service, 'automation_record_generation', {
		p_execution_id: 'exec-mine',
		p_items: [
			{ state_id: recorded, message: 'Hi again', generation_ms: 900, model: 'gemini-test' },
			{ state_id: failed, error_code: 'blocked', error_message: 'blocked' },
		],
		p_now: NOW.toISOString(),
	});
	const all = [...mine, theirs];
	const before = await rowsOf(all);
	const events = await eventCount(all);
	const unknown = '00000000-0000-4000-8000-000000000000';

	const renewed = await renew('exec-mine', [generating, eligible, recorded, failed, theirs, unknown, generating], 300, plusSeconds(30));
	const outcomes = Object.fromEntries(renewed.map((row) => [row.state_id, [row.outcome, row.locked_until === null ? null : new Date(row.locked_until).getTime()]]));
	expect(renewed).toHaveLength(6);
	expect(outcomes).toEqual({
		[generating]: ['generating', plusSeconds(330).getTime()],
		[eligible]: ['lease_lost', null],
		[recorded]: ['lease_lost', null],
		[failed]: ['lease_lost', null],
		[theirs]: ['lease_lost', null],
		[unknown]: ['lease_lost', null],
	});

	const after = await rowsOf(all);
	for (const id of [eligible, recorded, failed, theirs]) expect(after.get(id)).toEqual(before.get(id));
	expect(without(after.get(generating), 'locked_until', 'updated_at')).toEqual(without(before.get(generating), 'locked_until', 'updated_at'));
	expect(await eventCount(all)).toBe(events);
});

it('a contact another execution took over after the lease ran out is not taken back; its own lease that nobody took is renewed', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(2);
	const ids = (await claim(service, ruleId, 'exec-crashed', 2, NOW, 60)).map((contact) => contact.state_id);
	await markGenerating('exec-crashed', ids, 60);
	// Two minutes later the lease has run out; another run claims one of the two (it reaps both).
	const [takenId] = (await claim(service, ruleId, 'exec-next', 1, plusSeconds(120), 60)).map((contact) => contact.state_id);
	expect(ids).toContain(takenId);
	await markGenerating('exec-next', [takenId], 60, plusSeconds(120));
	const taken = (await rowsOf([takenId])).get(takenId);
	expect(taken).toMatchObject({ current_stage: 'generating', locked_by: 'exec-next' });

	// The first run wakes up and renews: the taken contact stays the other run's; the other one was
	// requeued by the reaper, so it is not the first run's either.
	const late = await renew('exec-crashed', ids, 60, plusSeconds(121));
	expect(late.map((row) => row.outcome)).toEqual(['lease_lost', 'lease_lost']);
	expect((await rowsOf([takenId])).get(takenId)).toEqual(taken);

	// Its own lease that ran out while nobody took the contact over (no claim ran): still its own.
	await world.contact();
	const [own] = (await claim(service, ruleId, 'exec-slow', 1, plusSeconds(200), 60)).map((contact) => contact.state_id);
	await markGenerating('exec-slow', [own], 60, plusSeconds(200));
	const renewed = await renew('exec-slow', [own], 60, plusSeconds(290));
	expect(renewed.map((row) => [row.outcome, new Date(String(row.locked_until)).getTime()])).toEqual([['generating', plusSeconds(350).getTime()]]);
});

it('refuses bad arguments naming them (22023), and is the service role\'s only', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contact();
	const ids = (await claim(service, ruleId, 'exec-args', 1, NOW, 60)).map((contact) => contact.state_id);
	await markGenerating('exec-args', ids, 60);
	const before = await rowsOf(ids);
	const refusal = async (call: Promise<unknown>) => (await call.then(() => 'accepted', (error: Error) => error.message)) as string;

	expect(await refusal(renew(null, ids, 60))).toMatch(/^automation_renew_generating: p_execution_id must be the execution id that holds the contacts \(got null\) \(22023\)$/);
	expect(await refusal(renew('  ', ids, 60))).toMatch(/p_execution_id must be .* \(got ' {2}'\) \(22023\)$/);
	expect(await refusal(renew('exec-args', null, 60))).toMatch(/p_state_ids must be an array of contact state ids \(got null\) \(22023\)$/);
	for (const lease of [null, 0, 4, 86_401]) {
		expect(await refusal(renew('exec-args', ids, lease))).toMatch(new RegExp(`p_lease_seconds must be between 5 and 86400 \\(got ${lease ?? 'null'}\\) \\(22023\\)$`));
	}
	expect(await refusal(renew('exec-args', ids, 60, null))).toMatch(/p_now must be an instant \(got null\) \(22023\)$/);
	expect(await rowsOf(ids)).toEqual(before);

	// An empty batch renews nothing.
	expect(await renew('exec-args', [], 60)).toEqual([]);
	// Not callable by the API's other roles.
	const { error } = await anonClient().rpc('automation_renew_generating', { p_execution_id: 'exec-args', p_state_ids: ids, p_lease_seconds: 60 });
	expect(error?.code).toBe('42501');
	expect(await rowsOf(ids)).toEqual(before);
});
