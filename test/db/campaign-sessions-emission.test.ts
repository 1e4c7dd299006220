// create_campaign_sessions hands each session to the outreach once (`emitted`): two deliveries of a
// launch at the same moment, or one after the other within the lease, never both hand a session
// out; after the lease a session never contacted and without objectives is handed out again, a
// contacted one or one with an objective never. Real Postgres through PostgREST, fixed instants
// (p_now), never the machine's clock.
import { randomUUID } from 'node:crypto';
import { createTestUser, serviceClient, withDb } from '../helpers/stack';

interface Launched {
	outcome: string;
	created: number;
	existing: number;
	outreach_started: number;
	emitted: number;
	already_emitted: number;
	sessions: Array<{ session: string; phone_number: string; created: boolean; outreach_started: boolean; emitted: boolean }>;
}

const service = serviceClient();
const T0 = '2026-11-25T09:00:00.000Z';
const after = (minutes: number, from = T0) => new Date(Date.parse(from) + minutes * 60_000).toISOString();
const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const phones = (count: number) => Array.from({ length: count }, (_, i) => `+447853${String(200_000 + i).padStart(6, '0')}`);

async function launch(owner: string, nameUid: string, tasks: string[], options: { key?: string; now: string; leaseSeconds?: number; holder?: string }) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } },
		p_tasks: tasks.map((phone) => ({ phone })),
		p_idempotency_key: options.key ?? null,
		p_now: options.now,
		p_emit_lease_seconds: options.leaseSeconds ?? 3600,
		p_holder: options.holder ?? null,
	});
	if (error) throw new Error(`create_campaign_sessions: ${error.message}`);
	return data as Launched;
}

const handedOut = (result: Launched) => result.sessions.filter((s) => s.emitted).map((s) => s.session);

describe('create_campaign_sessions hands each session out once', () => {
	let owner: string;
	beforeAll(async () => {
		owner = await createTestUser('recruiter');
	});

	it.each([
		['with the same Idempotency-Key', true],
		['without a key', false],
	])('two deliveries of a 50-phone launch at the same moment (%s): 50 handed out in all, each session once', async (_label, withKey) => {
		const campaign = newCampaignId();
		const tasks = phones(50);
		const key = withKey ? `launch-${randomUUID()}` : undefined;
		const answers = await Promise.all([1, 2].map((n) => launch(owner, campaign, tasks, { key, now: T0, holder: `worker-${n}` })));
		expect(answers.map((a) => a.created).sort((a, b) => a - b)).toEqual([0, 50]);
		expect(answers.map((a) => a.emitted).sort((a, b) => a - b)).toEqual([0, 50]);
		const all = answers.flatMap(handedOut);
		expect(all).toHaveLength(50);
		expect(new Set(all).size).toBe(50);
		const second = answers.find((a) => a.created === 0)!;
		expect(second).toMatchObject({ existing: 50, outreach_started: 0, emitted: 0, already_emitted: 50 });
	});

	it('a replay within the lease hands out nothing; after it, only sessions never contacted and without objectives, once', async () => {
		const campaign = newCampaignId();
		const tasks = phones(4);
		const key = `launch-${randomUUID()}`;
		const first = await launch(owner, campaign, tasks, { key, now: T0, holder: 'run-1' });
		expect(first).toMatchObject({ created: 4, emitted: 4, already_emitted: 0 });
		const [contacted, objective, untouched] = first.sessions.map((s) => s.session);

		// Same key, same body, 30 minutes later (a caller's retry): nothing to contact.
		const retry = await launch(owner, campaign, tasks, { key, now: after(30), holder: 'run-2' });
		expect(retry).toMatchObject({ created: 0, existing: 4, emitted: 0, already_emitted: 4, outreach_started: 0 });
		expect(handedOut(retry)).toEqual([]);

		// Run 1 reached two of them, then died: one contacted, one with an objective; two never touched.
		await withDb((db) =>
			db.query(
				`insert into public.chat_history (user_id, session_info_id, direction, body, sent_at)
				 select s.user_id, s.id, 'outbound', 'Hello', $3 from public.session_info s where s.user_id = $1 and s.session_id = $2`,
				[owner, contacted, after(10)],
			),
		);
		const { error } = await service.rpc('record_session_objective', { p_owner: owner, p_session_id: objective, p_objective: 'answered_screening', p_source: 'whatsapp' });
		expect(error).toBeNull();

		// Just inside the lease of the first hand-out: still nothing.
		expect(await launch(owner, campaign, tasks, { key, now: after(59) })).toMatchObject({ emitted: 0, already_emitted: 2, outreach_started: 2 });

		// After the lease: the two untouched sessions, once.
		const late = await launch(owner, campaign, tasks, { key, now: after(61), holder: 'run-3' });
		expect(late).toMatchObject({ created: 0, emitted: 2, already_emitted: 0, outreach_started: 2 });
		expect(handedOut(late)).toEqual([untouched, first.sessions[3].session]);
		const stored = await withDb(async (db) => (await db.query(
			`select session_id, outreach_emitted_at, outreach_emitted_by from public.session_info where user_id = $1 and session_id = any ($2) order by session_id`,
			[owner, [contacted, untouched]],
		)).rows);
		expect(stored).toEqual(
			[
				{ session_id: contacted, outreach_emitted_at: new Date(T0), outreach_emitted_by: 'run-1' },
				{ session_id: untouched, outreach_emitted_at: new Date(after(61)), outreach_emitted_by: 'run-3' },
			].sort((a, b) => (a.session_id < b.session_id ? -1 : 1)),
		);

		// Two deliveries at once after that lease too: each untouched session once.
		const both = await Promise.all([1, 2].map(() => launch(owner, campaign, tasks, { now: after(200) })));
		expect(both.map((a) => a.emitted).sort()).toEqual([0, 2]);
		expect(both.flatMap(handedOut).sort()).toEqual([untouched, first.sessions[3].session].sort());

		// A contacted session or one with an objective is never handed out again, however late.
		const much = await launch(owner, campaign, tasks, { now: after(60 * 24 * 30) });
		expect(handedOut(much).sort()).toEqual([untouched, first.sessions[3].session].sort());
	});

	it('a lease out of range is refused naming it', async () => {
		const { error } = await service.rpc('create_campaign_sessions', {
			p_owner: owner,
			p_campaign: { name_uid: newCampaignId(), name: 'X' },
			p_tasks: [],
			p_now: T0,
			p_emit_lease_seconds: 0,
		});
		expect(error).toMatchObject({ code: '22023', message: expect.stringContaining('p_emit_lease_seconds') });
	});
});
