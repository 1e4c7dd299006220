// The upgrade repairs objective events an older version stored dated ahead of when they were
// recorded (migration …2550, review U): before …2420 / …2460 record_session_objective stored any
// occurred_at, so a report dated days ahead stayed its objective's latest event after the upgrade
// and every later report was `recorded: true` and changed nothing. The old rows are seeded as the
// old version stored them (direct inserts as postgres), then the migration file's own SQL is run.
// The repair reaches every owner's events: a stack of its own.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ukMobiles } from '../helpers/campaign';
import { createTestUser, serviceClient, useStackOfItsOwn, withDb } from '../helpers/stack';

const MIGRATION = path.resolve(__dirname, '..', '..', 'supabase', 'migrations', '20261201002550_campaign_objective_ahead_repaired.sql');

/** The migration's SQL, in one transaction as `npm run migrate` runs a file. */
const runMigration = () =>
	withDb(async (db) => {
		await db.query('begin');
		await db.query(readFileSync(MIGRATION, 'utf8'));
		await db.query('commit');
	});

interface Answer {
	outcome: string;
	recorded: boolean;
	status: string;
	objectives: Record<string, unknown>;
}

/** record_session_objective with the database's clock at `now` (fixed instants in 2020, all before any real created_at). */
const recordAt = (owner: string, session: string, objective: string, value: unknown, now: string) =>
	withDb(async (db) => {
		await db.query('begin');
		await db.query(`select set_config('leadflow.now', $1, true)`, [now]);
		const { rows } = await db.query<{ result: Answer }>(
			`select public.record_session_objective($1, $2, $3, $4::jsonb, 'whatsapp', null, $5) as result`,
			[owner, session, objective, JSON.stringify(value), `ev-${randomUUID()}`],
		);
		await db.query('commit');
		return rows[0].result;
	});

const sessionRow = (session: string) =>
	withDb(async (db) => (await db.query<{ status: string; objectives: Record<string, unknown>; updated_at: Date }>(
		'select status, objectives, updated_at from public.session_info where session_id = $1', [session])).rows[0]);

const events = (session: string) =>
	withDb(async (db) => (await db.query<{ objective: string; value: unknown; occurred_at: string; created_at: string }>(
		`select e.objective, e.value, to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') as occurred_at,
		        to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') as created_at
		   from public.session_objective_events e join public.session_info s on s.id = e.session_info_id
		  where s.session_id = $1 order by e.occurred_at, e.created_at`, [session])).rows);

/** An event as a version before …2420 stored it: any occurred_at, the session's objectives folded from it. */
const oldEvent = (owner: string, session: string, objective: string, value: unknown, occurredAt: string, createdAt: string) =>
	withDb(async (db) => {
		await db.query(
			`insert into public.session_objective_events (user_id, session_info_id, objective, value, source, event_key, occurred_at, created_at)
			 select $1, s.id, $3, $4::jsonb, 'call', $7, $5, $6 from public.session_info s where s.user_id = $1 and s.session_id = $2`,
			[owner, session, objective, JSON.stringify(value), occurredAt, createdAt, `old-${randomUUID()}`],
		);
		await db.query(
			`update public.session_info s set objectives = s.objectives || jsonb_build_object($3::text, $4::jsonb)
			  where s.user_id = $1 and s.session_id = $2`,
			[owner, session, objective, JSON.stringify(value)],
		);
	});

describe('the upgrade repairs objectives an older version stored dated in the future (migration …2550)', () => {
	useStackOfItsOwn();

	it('an event dated ahead of its recording is dated when it was recorded, the session folded again; the next report moves it; run again, nothing changes', async () => {
		const owner = await createTestUser('recruiter');
		const { data, error } = await serviceClient().rpc('create_campaign_sessions', {
			p_owner: owner,
			p_campaign: { name_uid: `repair_${randomUUID().slice(0, 8)}`, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } },
			p_tasks: ukMobiles(3, 7100).map((phone) => ({ phone })),
		});
		if (error) throw new Error(error.message);
		const [frozen, rejectedAhead, past] = (data as { sessions: Array<{ session: string }> }).sessions.map((s) => s.session);

		// Stored by the old version on 2020-03-01 12:00: "interested" dated three days ahead.
		await oldEvent(owner, frozen, 'interested', true, '2020-03-04T12:00:00Z', '2020-03-01T12:00:00Z');
		// "rejected: false" dated a year ahead (a model's wrong year): a later "rejected" never counted.
		await oldEvent(owner, rejectedAhead, 'rejected', false, '2021-03-01T12:00:00Z', '2020-03-01T12:00:00Z');
		// Dated before its recording (a report that arrived late): left as it is.
		await oldEvent(owner, past, 'interested', true, '2020-02-28T12:00:00Z', '2020-03-01T12:00:00Z');

		// As the upgraded database answered before the repair: recorded, and nothing changes.
		expect(await recordAt(owner, frozen, 'interested', false, '2020-03-01T13:00:00Z')).toMatchObject({ recorded: true, status: 'interested', objectives: { interested: true } });
		expect(await recordAt(owner, rejectedAhead, 'rejected', true, '2020-03-01T13:00:00Z')).toMatchObject({ recorded: true, status: 'pending', objectives: { rejected: false } });
		const pastBefore = await sessionRow(past);

		await runMigration();

		expect(await events(frozen)).toEqual([
			expect.objectContaining({ objective: 'interested', value: true, occurred_at: '2020-03-01T12:00Z', created_at: '2020-03-01T12:00Z' }),
			expect.objectContaining({ objective: 'interested', value: false, occurred_at: '2020-03-01T13:00Z' }),
		]);
		expect(await sessionRow(frozen)).toMatchObject({ status: 'pending', objectives: { interested: false } });
		expect(await sessionRow(rejectedAhead)).toMatchObject({ status: 'rejected', objectives: { rejected: true } });
		expect(await events(past)).toEqual([expect.objectContaining({ occurred_at: '2020-02-28T12:00Z', created_at: '2020-03-01T12:00Z' })]);
		expect(await sessionRow(past)).toEqual(pastBefore);

		// The next reports move the session again.
		expect(await recordAt(owner, frozen, 'interested', true, '2020-03-01T14:00:00Z')).toMatchObject({ recorded: true, status: 'interested' });
		expect(await recordAt(owner, frozen, 'interested', false, '2020-03-01T15:00:00Z')).toMatchObject({ recorded: true, status: 'pending', objectives: { interested: false } });

		// On a repaired database the migration changes nothing.
		const before = await Promise.all([frozen, rejectedAhead, past].map(async (session) => [await sessionRow(session), await events(session)]));
		await runMigration();
		expect(await Promise.all([frozen, rejectedAhead, past].map(async (session) => [await sessionRow(session), await events(session)]))).toEqual(before);
	});
});
