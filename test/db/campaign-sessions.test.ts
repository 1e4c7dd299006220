// The campaign-session functions and tables on the local stack, through supabase-js as n8n (service
// role) and the recruiter's app (a signed-in user) reach them: at-most-once creation even for two
// identical launches at the same moment, idempotency keys, the objectives → status mapping, live
// stats in one call, and row level security.
import { randomUUID } from 'node:crypto';
import { anonClient, createTestUser, serviceClient, userClient, withDb } from '../helpers/stack';
import { ukMobiles } from '../helpers/campaign';

interface CreateResult {
	outcome: string;
	campaign: { id: string; created: boolean };
	created: number;
	existing: number;
	sessions: Array<{ session: string; phone_number: string; created: boolean; status: string; task_index: number }>;
	conflicts: Array<{ task_index: number; phone_number: string }>;
}

const service = serviceClient();

async function create(owner: string, nameUid: string, tasks: Array<{ phone: string; session?: string; name?: string }>, key?: string) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } },
		p_tasks: tasks,
		p_idempotency_key: key ?? null,
	});
	if (error) throw new Error(`create_campaign_sessions: ${error.message}`);
	return data as CreateResult;
}

// Reports dated 2026-11-22 are judged on that day (the stack's X-Leadflow-Now): a report dated after
// the database's clock is recorded at it (more than 26 hours after, refused), so judged by the
// machine's clock they would depend on today's date.
const onNov22 = serviceClient({ now: new Date('2026-11-22T12:00:00Z') });

async function record(owner: string, session: string, objective: string, value: unknown = true, extra: Record<string, unknown> = {}, client = service) {
	const { data, error } = await client.rpc('record_session_objective', {
		p_owner: owner,
		p_session_id: session,
		p_objective: objective,
		p_value: value,
		p_source: 'whatsapp',
		...extra,
	});
	if (error) throw new Error(`record_session_objective: ${error.message}`);
	return data as { outcome: string; recorded: boolean; status: string; objectives: Record<string, unknown> };
}

const countSessions = (campaignId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ n: string }>(
			'select count(*) n from public.session_info s join public.campaign_info c on c.id = s.campaign_id where c.name_uid = $1',
			[campaignId],
		);
		return Number(rows[0].n);
	});

const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;

describe('create_campaign_sessions', () => {
	let owner: string;
	beforeAll(async () => {
		owner = await createTestUser('recruiter');
	});

	it('creates the campaign and its sessions, and the same call again creates none and returns the same sessions', async () => {
		const campaign = newCampaignId();
		const tasks = [{ phone: '+61491570156', session: `s-${randomUUID()}`, name: 'Alice' }, { phone: '+61491570157' }];
		const first = await create(owner, campaign, tasks);
		expect(first).toMatchObject({ outcome: 'ok', campaign: { id: campaign, created: true }, created: 2, existing: 0, conflicts: [] });
		expect(first.sessions.map((s) => s.status)).toEqual(['pending', 'pending']);

		const again = await create(owner, campaign, tasks);
		expect(again).toMatchObject({ campaign: { created: false }, created: 0, existing: 2 });
		// The session made up for the task without one is found again by its phone.
		expect(again.sessions.map((s) => s.session)).toEqual(first.sessions.map((s) => s.session));
		expect(await countSessions(campaign)).toBe(2);
		const links = await withDb((db) => db.query('select 1 from public.campaigns l join public.campaign_info c on c.id = l.campaign_id where c.name_uid = $1', [campaign]));
		expect(links.rowCount).toBe(2);
	});

	it('creates one set of sessions when two identical launches arrive at the same moment', async () => {
		for (let round = 0; round < 5; round++) {
			const campaign = newCampaignId();
			const tasks = ukMobiles(200, round * 1000).map((phone) => ({ phone }));
			const results = await Promise.all([create(owner, campaign, tasks), create(owner, campaign, tasks), create(owner, campaign, tasks)]);
			expect(results.map((r) => r.created).reduce((a, b) => a + b)).toBe(200);
			expect(results.map((r) => r.campaign.created).filter(Boolean)).toHaveLength(1);
			for (const result of results) expect(result.sessions).toHaveLength(200);
			expect(await countSessions(campaign)).toBe(200);
		}
	});

	it('answers a reused idempotency key with the first sessions, and refuses it for different phones', async () => {
		const campaign = newCampaignId();
		const key = `key-${randomUUID()}`;
		const first = await create(owner, campaign, [{ phone: '+61491570156' }], key);
		const retry = await create(owner, campaign, [{ phone: '+61491570156' }], key);
		expect(retry).toMatchObject({ created: 0, existing: 1 });
		expect(retry.sessions[0].session).toBe(first.sessions[0].session);
		const misuse = await create(owner, campaign, [{ phone: '+447853723699' }], key);
		// The refusal names the campaign the key launched, so the caller can relaunch that one by its id.
		expect(misuse).toEqual({ outcome: 'idempotency_key_reused', campaign: { id: campaign, name: expect.any(String), same_campaign: true } });
		expect(await countSessions(campaign)).toBe(1);
		// The key sent for another campaign: the refusal still names the key's, and says it is not this one.
		const elsewhere = await create(owner, newCampaignId(), [{ phone: '+61491570156' }], key);
		expect(elsewhere).toEqual({ outcome: 'idempotency_key_reused', campaign: { id: campaign, name: expect.any(String), same_campaign: false } });
	});

	it('reports a task whose session id another session already has, and creates the rest', async () => {
		const taken = `s-${randomUUID()}`;
		await create(owner, newCampaignId(), [{ phone: '+61491570156', session: taken }]);
		const campaign = newCampaignId();
		const result = await create(owner, campaign, [{ phone: '+447853723610', session: taken }, { phone: '+447853723611' }]);
		expect(result.conflicts).toEqual([{ task_index: 0, phone_number: '+447853723610' }]);
		expect(result.sessions.map((s) => s.phone_number)).toEqual(['+447853723611']);
	});

	it('refuses what the node would have refused (the database mirrors the checks)', async () => {
		await expect(create(owner, newCampaignId(), [{ phone: '0491570156' }])).rejects.toThrow(/check constraint/);
		await expect(create(owner, 'Not An Id', [{ phone: '+61491570156' }])).rejects.toThrow(/check constraint/);
		expect(await create(randomUUID(), newCampaignId(), [{ phone: '+61491570156' }])).toEqual({ outcome: 'owner_not_found' });
	});
});

describe('record_session_objective and the status', () => {
	let owner: string;
	let sessions: string[];
	beforeAll(async () => {
		owner = await createTestUser('recruiter');
		const result = await create(owner, newCampaignId(), ukMobiles(4, 5000).map((phone) => ({ phone })));
		sessions = result.sessions.map((s) => s.session);
	});

	it('derives the session status from its objectives: interested, started work, rejected', async () => {
		expect(await record(owner, sessions[0], 'interested')).toMatchObject({ recorded: true, status: 'interested', objectives: { interested: true } });
		expect((await record(owner, sessions[0], 'rejected')).status).toBe('rejected');
		expect((await record(owner, sessions[0], 'started_work')).status).toBe('started_work');
		expect((await record(owner, sessions[0], 'started_work', false)).status).toBe('rejected');
		expect((await record(owner, sessions[0], 'rejected', false)).status).toBe('interested');
		expect((await record(owner, sessions[1], 'salary_expectation', 45000)).objectives).toEqual({ salary_expectation: 45000 });
		expect((await record(owner, sessions[1], 'salary_expectation', 45000)).status).toBe('pending');
	});

	it('records a report once per event key, and the latest event of an objective wins even out of order', async () => {
		const first = await record(owner, sessions[2], 'interested', true, { p_event_key: 'msg-1', p_occurred_at: '2026-11-22T10:00:00Z' }, onNov22);
		const retried = await record(owner, sessions[2], 'interested', true, { p_event_key: 'msg-1', p_occurred_at: '2026-11-22T10:00:00Z' }, onNov22);
		expect([first.recorded, retried.recorded]).toEqual([true, false]);
		const late = await record(owner, sessions[2], 'interested', false, { p_event_key: 'msg-0', p_occurred_at: '2026-11-22T09:00:00Z' }, onNov22);
		expect(late).toMatchObject({ recorded: true, status: 'interested', objectives: { interested: true } });
		const events = await withDb((db) => db.query('select 1 from public.session_objective_events e join public.session_info s on s.id = e.session_info_id where s.session_id = $1', [sessions[2]]));
		expect(events.rowCount).toBe(2);
	});

	const eventRows = (session: string) =>
		withDb(async (db) => {
			const { rows } = await db.query<{ objective: string; value: unknown; event_key: string | null }>(
				`select e.objective, e.value, e.event_key from public.session_objective_events e
				   join public.session_info s on s.id = e.session_info_id where s.session_id = $1 order by e.created_at, e.objective`,
				[session],
			);
			return rows;
		});

	it('records an explicit null as null (not reached), never as true', async () => {
		const [session] = (await create(owner, newCampaignId(), ukMobiles(1, 5100).map((phone) => ({ phone })))).sessions.map((s) => s.session);
		expect(await record(owner, session, 'interested', null)).toMatchObject({ recorded: true, status: 'pending', objectives: { interested: null } });
		expect(await eventRows(session)).toEqual([{ objective: 'interested', value: null, event_key: null }]);
		// Omitting the value is the argument's default, true (the node never omits it).
		const { data } = await service.rpc('record_session_objective', { p_owner: owner, p_session_id: session, p_objective: 'interested', p_source: 'manual' });
		expect(data).toMatchObject({ status: 'interested', objectives: { interested: true } });
	});

	it('records each objective one event key reports; the same key and objective with another value is refused, writing nothing', async () => {
		const [session] = (await create(owner, newCampaignId(), ukMobiles(1, 5200).map((phone) => ({ phone })))).sessions.map((s) => s.session);
		const at = { p_event_key: 'msg-1', p_occurred_at: '2026-11-22T10:00:00Z' };
		expect(await record(owner, session, 'interested', true, at, onNov22)).toMatchObject({ recorded: true, status: 'interested' });
		expect(await record(owner, session, 'rejected', true, at, onNov22)).toMatchObject({ recorded: true, status: 'rejected', objectives: { interested: true, rejected: true } });
		// A retry of either: recorded once.
		expect(await record(owner, session, 'rejected', true, at, onNov22)).toMatchObject({ outcome: 'ok', recorded: false, status: 'rejected' });
		expect(await record(owner, session, 'interested', true, at, onNov22)).toMatchObject({ outcome: 'ok', recorded: false });
		// The same key and objective with another value: not a retry, not silently dropped.
		expect(await record(owner, session, 'rejected', false, at, onNov22)).toEqual({
			outcome: 'event_key_reused',
			session,
			objective: 'rejected',
			event_key: 'msg-1',
			recorded_value: true,
		});
		expect(await record(owner, session, 'interested', null, at, onNov22)).toMatchObject({ outcome: 'event_key_reused', recorded_value: true });
		expect(await eventRows(session)).toEqual([
			{ objective: 'interested', value: true, event_key: 'msg-1' },
			{ objective: 'rejected', value: true, event_key: 'msg-1' },
		]);
		const { rows } = await withDb((db) => db.query('select status, objectives from public.session_info where session_id = $1', [session]));
		expect(rows).toEqual([{ status: 'rejected', objectives: { interested: true, rejected: true } }]);
	});

	it('records an occurred_at after now at now, saying so (a time zone mix-up must not freeze the objective); one more than 26 hours after now is refused, writing nothing; a missing one is now', async () => {
		const [session] = (await create(owner, newCampaignId(), ukMobiles(1, 5300).map((phone) => ({ phone })))).sessions.map((s) => s.session);
		// With the database's clock at `now` (leadflow.now, for this transaction only).
		const recordAt = (now: string, value: boolean, occurredAt: string | null) =>
			withDb(async (db) => {
				await db.query('begin');
				try {
					await db.query(`select set_config('leadflow.now', $1, true)`, [now]);
					const { rows } = await db.query(`select public.record_session_objective($1, $2, 'rejected', $3::jsonb, 'manual', $4::timestamptz) as result`, [owner, session, JSON.stringify(value), occurredAt]);
					await db.query('commit');
					return rows[0].result as { recorded: boolean; status: string; objectives: Record<string, unknown>; occurred_at_adjusted?: string };
				} catch (error) {
					await db.query('rollback');
					throw error;
				}
			});
		const NOW = '2026-07-01T12:00:00Z';
		// A wrong year, and 26 hours and a second ahead: no time zone explains them.
		await expect(recordAt(NOW, true, '2027-07-01T12:00:00Z')).rejects.toMatchObject({
			code: '22023',
			message: 'p_occurred_at: 2027-07-01T12:00:00Z is more than 26 hours after now (2026-07-01T12:00:00Z): no time zone explains it',
			detail: '{"field": "p_occurred_at", "reason": "too_far_ahead"}',
			hint: 'Send the time the objective was reached (check its year and date), or leave p_occurred_at null for now.',
		});
		await expect(recordAt(NOW, true, '2026-07-02T14:00:01Z')).rejects.toMatchObject({ code: '22023' });
		expect(await eventRows(session)).toEqual([]);
		// Five hours ahead (naive UTC read in New York): recorded at now, saying what was given.
		const ahead = await recordAt(NOW, true, '2026-07-01T17:00:00.123Z');
		expect(ahead).toEqual(expect.objectContaining({ recorded: true, status: 'rejected', objectives: { rejected: true }, occurred_at_adjusted: '2026-07-01T17:00:00.123Z' }));
		// A correction ten minutes later wins (the first report did not stay the latest until 17:00); a time not ahead is kept, unflagged.
		const correction = await recordAt('2026-07-01T12:10:00Z', false, null);
		expect(correction).toMatchObject({ recorded: true, status: 'pending', objectives: { rejected: false } });
		expect(correction).not.toHaveProperty('occurred_at_adjusted');
		const past = await recordAt('2026-07-01T12:20:00Z', false, '2026-07-01T12:15:00Z');
		expect(past).not.toHaveProperty('occurred_at_adjusted');
		// 26 hours ahead (UTC+14 read at UTC-12): still recorded, at now.
		expect(await recordAt('2026-07-01T12:30:00Z', true, '2026-07-02T14:30:00Z')).toMatchObject({ recorded: true, status: 'rejected', occurred_at_adjusted: '2026-07-02T14:30:00.000Z' });
		const { rows } = await withDb((db) =>
			db.query(`select e.value, e.occurred_at from public.session_objective_events e join public.session_info s on s.id = e.session_info_id where s.session_id = $1 order by e.occurred_at`, [session]),
		);
		expect(rows).toEqual([
			{ value: true, occurred_at: new Date('2026-07-01T12:00:00Z') },
			{ value: false, occurred_at: new Date('2026-07-01T12:10:00Z') },
			{ value: false, occurred_at: new Date('2026-07-01T12:15:00Z') },
			{ value: true, occurred_at: new Date('2026-07-01T12:30:00Z') },
		]);
	});

	it('answers session_not_found for another owner\'s session', async () => {
		const stranger = await createTestUser('stranger');
		expect((await record(stranger, sessions[0], 'interested')).outcome).toBe('session_not_found');
	});

	it('keeps the status consistent even when a client writes it directly', async () => {
		await withDb((db) => db.query(`update public.session_info set status = 'started_work' where session_id = $1`, [sessions[3]]));
		const { rows } = await withDb((db) => db.query('select status from public.session_info where session_id = $1', [sessions[3]]));
		expect(rows[0].status).toBe('pending');
	});
});

describe('campaign_session_stats', () => {
	it('counts sessions, contacted, messages, calls and objectives reached, in one call', async () => {
		const owner = await createTestUser('recruiter');
		const campaign = newCampaignId();
		const { sessions } = await create(owner, campaign, ukMobiles(3, 7000).map((phone) => ({ phone })));
		const ids = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.session_info where session_id = any($1) order by phone_e164', [sessions.map((s) => s.session)])).rows.map((r) => r.id));
		await withDb(async (db) => {
			await db.query(`insert into public.chat_history (user_id, session_info_id, direction, body) values ($1, $2, 'outbound', 'Hi'), ($1, $2, 'inbound', 'Hello'), ($1, $3, 'outbound', 'Hi')`, [owner, ids[0], ids[1]]);
			await db.query(`insert into public.call_info (user_id, session_info_id, direction, duration_seconds, outcome) values ($1, $2, 'outbound', 95, 'completed'), ($1, $2, 'outbound', 0, 'no_answer')`, [owner, ids[0]]);
		});
		await record(owner, sessions[0].session, 'interested');
		await record(owner, sessions[1].session, 'rejected');

		const { data, error } = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: campaign });
		expect(error).toBeNull();
		expect(data).toMatchObject({
			campaign: { id: campaign },
			sessions: 3,
			contacted: 2,
			statuses: { pending: 1, contacted: 0, interested: 1, rejected: 1, started_work: 0 },
			messages: { total: 3, outbound: 2, inbound: 1 },
			calls: { total: 2, completed: 1, total_duration_seconds: 95 },
			objectives: { interested: 1, rejected: 1 },
		});
		const missing = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: newCampaignId() });
		expect(missing.error).toBeNull();
		expect(missing.data).toBeNull();
	});
});

describe('an objective reached: one rule (value true) for the status and the stats', () => {
	it('counts only true as reached, as the status does: not 0, "no", "", false, null or an answer', async () => {
		const owner = await createTestUser('recruiter');
		const campaign = newCampaignId();
		const values: unknown[] = [true, 0, 'no', '', false, null, { answer: 'yes' }];
		const { sessions } = await create(owner, campaign, ukMobiles(values.length, 7100).map((phone) => ({ phone })));
		for (const [index, value] of values.entries()) await record(owner, sessions[index].session, 'interested', value);
		await record(owner, sessions[1].session, 'salary_expectation', 45000);
		const { data, error } = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: campaign });
		expect(error).toBeNull();
		expect(data.statuses).toEqual({ pending: values.length - 1, contacted: 0, interested: 1, rejected: 0, started_work: 0 });
		expect(data.objectives).toEqual({ interested: 1 });
	});
});

describe('row level security', () => {
	const tables = ['campaign_info', 'campaigns', 'session_info', 'numbers', 'chat_history', 'call_info', 'session_objective_events', 'campaign_session_requests'];
	let owner: string;
	let stranger: string;
	beforeAll(async () => {
		owner = await createTestUser('recruiter');
		stranger = await createTestUser('stranger');
		const { sessions } = await create(owner, newCampaignId(), [{ phone: '+61491570156' }], `key-${randomUUID()}`);
		await withDb((db) =>
			db.query(
				`insert into public.chat_history (user_id, session_info_id, direction, body)
				 select user_id, id, 'outbound', 'Hi' from public.session_info where session_id = $1`,
				[sessions[0].session],
			),
		);
		await withDb((db) =>
			db.query(
				`insert into public.call_info (user_id, session_info_id, direction, outcome)
				 select user_id, id, 'outbound', 'completed' from public.session_info where session_id = $1`,
				[sessions[0].session],
			),
		);
		await record(owner, sessions[0].session, 'interested');
	});

	it.each(tables)('%s: the owner reads their rows, another user\'s JWT sees none, anonymous gets nothing', async (table) => {
		const mine = await userClient(owner).from(table).select('*');
		expect(mine.error).toBeNull();
		expect(mine.data?.length).toBeGreaterThan(0);
		const theirs = await userClient(stranger).from(table).select('*');
		expect(theirs.error).toBeNull();
		expect(theirs.data).toEqual([]);
		const anonymous = await anonClient().from(table).select('*');
		expect(anonymous.data ?? []).toEqual([]);
	});

	it('lets only the service role call the functions that take an owner', async () => {
		for (const client of [userClient(stranger), anonClient()]) {
			const { error } = await client.rpc('create_campaign_sessions', { p_owner: stranger, p_campaign: { name_uid: newCampaignId() }, p_tasks: [] });
			expect(error?.code).toBe('42501');
			const stats = await client.rpc('campaign_session_stats', { p_owner: owner, p_campaign: newCampaignId() });
			expect(stats.error?.code).toBe('42501');
		}
	});

	it('does not let a user file a session under another owner\'s campaign', async () => {
		const [campaign] = (await userClient(owner).from('campaign_info').select('id')).data ?? [];
		const { error } = await userClient(stranger).from('numbers').insert({ user_id: stranger, phone_e164: '+61491570156' });
		expect(error).toBeNull();
		const attempt = await userClient(stranger).from('session_info').insert({ user_id: stranger, session_id: `x-${randomUUID()}`, campaign_id: campaign.id, phone_e164: '+61491570156' });
		expect(attempt.error?.code).toBe('23503');
	});
});
