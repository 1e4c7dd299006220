// create_campaign_sessions after review (migration 20261201001350): a launch of which no task gets
// a session writes nothing (all_conflict), so a corrected retry creates its campaign with its own
// details, even under the same Idempotency-Key; a session on the Queue Ledger is never handed out
// again; the answer says when an already handed-out, unconfirmed session may be handed out again
// (emit_again_after); a lead inserted already contacted marks its session contacted. Real Postgres
// through PostgREST, fixed instants (p_now), never the machine's clock.
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../helpers/stack';
import { addLeads, createOwner } from './queue/fixtures';

interface Launched {
	outcome: string;
	campaign?: { id: string; created: boolean };
	created: number;
	existing: number;
	outreach_started: number;
	emitted: number;
	already_emitted: number;
	emit_again_after: string | null;
	sessions: Array<{ session: string; phone_number: string; created: boolean; outreach_started: boolean; emitted: boolean; status: string }>;
	conflicts: Array<{ task_index: number; phone_number: string }>;
}

const service = serviceClient();
const T0 = '2026-11-25T09:00:00.000Z';
const after = (minutes: number, from = T0) => new Date(Date.parse(from) + minutes * 60_000).toISOString();
const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const phones = (count: number, offset: number) => Array.from({ length: count }, (_, i) => `+447853${String(offset + i).padStart(6, '0')}`);
const instant = (value: string | null) => (value === null ? null : new Date(value).toISOString());

async function launch(
	owner: string,
	nameUid: string,
	tasks: Array<{ phone: string; session?: string }>,
	options: { key?: string; now: string; leaseSeconds?: number; campaign?: Record<string, unknown> },
) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} }, ...options.campaign },
		p_tasks: tasks,
		p_idempotency_key: options.key ?? null,
		p_now: options.now,
		p_emit_lease_seconds: options.leaseSeconds ?? 3600,
	});
	if (error) throw new Error(`create_campaign_sessions: ${error.message}`);
	return data as Launched;
}

const written = (owner: string, nameUid: string, key: string, tasks: string[]) =>
	withDb(async (db) => {
		const count = async (sql: string, args: unknown[]) => Number((await db.query<{ n: string }>(sql, args)).rows[0].n);
		return {
			campaigns: await count('select count(*) as n from public.campaign_info where user_id = $1 and name_uid = $2', [owner, nameUid]),
			keys: await count('select count(*) as n from public.campaign_session_requests where user_id = $1 and idempotency_key = $2', [owner, key]),
			numbers: await count('select count(*) as n from public.numbers where user_id = $1 and phone_e164 = any ($2)', [owner, tasks]),
		};
	});

describe('create_campaign_sessions: a refused launch, the Queue Ledger, a replay after a failed run, an imported contacted lead', () => {
	let owner: string;
	beforeAll(async () => {
		owner = await createOwner({});
	});

	it('every task conflicts: all_conflict, nothing written; the corrected retry with the same key creates its campaign with its details', async () => {
		const firstCampaign = newCampaignId();
		const taken = await launch(owner, firstCampaign, phones(2, 400_000).map((phone) => ({ phone })), { now: T0 });
		const [s1, s2] = taken.sessions.map((s) => s.session);

		const campaign = newCampaignId();
		const key = `launch-${randomUUID()}`;
		const refusedPhones = phones(2, 400_100);
		const refused = await launch(owner, campaign, [{ phone: refusedPhones[0], session: s1 }, { phone: refusedPhones[1], session: s2 }], {
			key,
			now: T0,
			campaign: { job_description: 'Wrong', objectives: { wrong: {} } },
		});
		expect(refused).toEqual({
			outcome: 'all_conflict',
			conflicts: [
				{ task_index: 0, phone_number: refusedPhones[0] },
				{ task_index: 1, phone_number: refusedPhones[1] },
			],
		});
		expect(await written(owner, campaign, key, refusedPhones)).toEqual({ campaigns: 0, keys: 0, numbers: 0 });

		// Same key, other phones, no session ids: a new launch with ITS details.
		const fixedPhones = phones(2, 400_200);
		const retry = await launch(owner, campaign, fixedPhones.map((phone) => ({ phone })), {
			key,
			now: after(1),
			campaign: { job_description: 'Plumber, corrected', objectives: { started_work: {} } },
		});
		expect(retry).toMatchObject({ outcome: 'ok', campaign: { id: campaign, created: true }, created: 2, emitted: 2, conflicts: [] });
		const stored = await withDb(async (db) => (await db.query(
			'select job_description, objectives from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows);
		expect(stored).toEqual([{ job_description: 'Plumber, corrected', objectives: { started_work: {} } }]);
		expect(await written(owner, campaign, key, fixedPhones)).toEqual({ campaigns: 1, keys: 1, numbers: 2 });

		// Same key, the same phones as the refused launch, other session ids: not a reused key either.
		const other = newCampaignId();
		const key2 = `launch-${randomUUID()}`;
		expect((await launch(owner, other, [{ phone: refusedPhones[0], session: s1 }], { key: key2, now: T0 })).outcome).toBe('all_conflict');
		const corrected = await launch(owner, other, [{ phone: refusedPhones[0], session: `sess-${randomUUID()}` }], { key: key2, now: T0 });
		expect(corrected).toMatchObject({ outcome: 'ok', campaign: { created: true }, created: 1 });

		// No task at all is not a conflict: the campaign is created, as before.
		expect(await launch(owner, newCampaignId(), [], { now: T0 })).toMatchObject({ outcome: 'ok', created: 0, conflicts: [] });
	});

	it('a session with a Queue Ledger lead is never handed out again, even after the lease, and counts as outreach_started', async () => {
		const campaign = newCampaignId();
		const tasks = phones(2, 400_300).map((phone) => ({ phone }));
		const first = await launch(owner, campaign, tasks, { now: T0 });
		const sessionIds = await withDb(async (db) => (await db.query<{ id: string; session_id: string }>(
			'select id, session_id from public.session_info where user_id = $1 and session_id = any ($2)', [owner, first.sessions.map((s) => s.session)])).rows);
		const queued = sessionIds.find((row) => row.session_id === first.sessions[0].session)!;
		// The outreach put the first session on the Queue Ledger; it has not been sent yet.
		await addLeads([{ user_id: owner, name: 'Alice', phone: tasks[0].phone, campaign_session_id: queued.id, source: 'campaign' }]);

		const late = await launch(owner, campaign, tasks, { now: after(60 * 24) });
		expect(late).toMatchObject({ emitted: 1, outreach_started: 1, already_emitted: 0 });
		expect(late.sessions.map((s) => [s.session, s.outreach_started, s.emitted])).toEqual([
			[first.sessions[0].session, true, false],
			[first.sessions[1].session, false, true],
		]);
	});

	it('a retry after a run that failed after its hand-out: emitted 0, emit_again_after = its hand-out + the lease; a replay then gets them back', async () => {
		const campaign = newCampaignId();
		const tasks = phones(3, 400_400).map((phone) => ({ phone }));
		const key = `launch-${randomUUID()}`;
		const first = await launch(owner, campaign, tasks, { key, now: T0, leaseSeconds: 1800 });
		expect(first).toMatchObject({ emitted: 3, emit_again_after: null });
		// The first run died after the hand-out; the caller retries 10 minutes later.
		const retry = await launch(owner, campaign, tasks, { key, now: after(10), leaseSeconds: 1800 });
		expect(retry).toMatchObject({ emitted: 0, already_emitted: 3 });
		expect(instant(retry.emit_again_after)).toBe(after(30));
		// Just before it: still nothing; at it: all three, and nothing pending any more.
		expect(await launch(owner, campaign, tasks, { key, now: after(29), leaseSeconds: 1800 })).toMatchObject({ emitted: 0, already_emitted: 3 });
		const replay = await launch(owner, campaign, tasks, { key, now: after(30), leaseSeconds: 1800 });
		expect(replay).toMatchObject({ emitted: 3, already_emitted: 0, emit_again_after: null });
		// A later delivery: the earliest of this launch's unconfirmed hand-outs, here the replay's.
		const more = await launch(owner, campaign, [...tasks, { phone: phones(1, 400_450)[0] }], { now: after(40), leaseSeconds: 1800 });
		expect(more).toMatchObject({ created: 1, emitted: 1, already_emitted: 3 });
		expect(instant(more.emit_again_after)).toBe(after(60));
	});

	it('a lead inserted already contacted with a campaign session marks the session contacted (and it is not handed out again)', async () => {
		const campaign = newCampaignId();
		const tasks = phones(2, 400_500).map((phone) => ({ phone }));
		const first = await launch(owner, campaign, tasks, { now: T0 });
		const at = after(5);
		await withDb((db) =>
			db.query(
				`insert into public.leads (user_id, name, phone, campaign_session_id, source, status, created_at, updated_at)
				 select s.user_id, 'Imported', s.phone_e164, s.id, 'import', 'contacted', $3, $3
				   from public.session_info s where s.user_id = $1 and s.session_id = $2`,
				[owner, first.sessions[0].session, at],
			),
		);
		// A lead inserted contacted without a campaign session changes nothing.
		await withDb((db) =>
			db.query(`insert into public.leads (user_id, name, phone, source, status, created_at, updated_at) values ($1, 'Other', '+14155550999', 'import', 'contacted', $2, $2)`, [owner, at]),
		);
		const sessions = await withDb(async (db) => (await db.query<{ session_id: string; status: string; contacted_at: Date | null }>(
			'select session_id, status, contacted_at from public.session_info where user_id = $1 and session_id = any ($2) order by phone_e164',
			[owner, first.sessions.map((s) => s.session)])).rows);
		expect(sessions).toEqual([
			{ session_id: first.sessions[0].session, status: 'contacted', contacted_at: new Date(at) },
			{ session_id: first.sessions[1].session, status: 'pending', contacted_at: null },
		]);
		const { data: stats, error } = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: campaign });
		expect(error).toBeNull();
		expect(stats).toMatchObject({ sessions: 2, contacted: 1 });
		const late = await launch(owner, campaign, tasks, { now: after(60 * 24) });
		expect(late.sessions.map((s) => s.emitted)).toEqual([false, true]);
	});
});
