// workflows/messenger-sync.json in real n8n 2.41.1 (this package installed from its tarball)
// against the local stack and the Graph simulator's Conversations endpoint at 2 calls a second: the
// webhook answers the sync's counts with everything recorded, the next call is incremental, no key
// is 403, a refused token is 502 with why, and a database error mid-sync 502 saying the next sync
// resumes, which it does.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testStack, withDb } from '../helpers/stack';
import { createWorld, type World } from '../db/follow-up/fixtures';
import { failingSupabase, POOL_TIMEOUT, type FailingSupabase } from '../workflows/support/failing-supabase';
import { startN8n, type RunningN8n } from './support';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const TOKEN = 'e2e-sync-token';
let n8n: RunningN8n;
let sims: RunningSimulators;
let world: World;
/** The stack's Supabase, whose messenger_sync_record_page fails when told to. */
let supabase: FailingSupabase;

beforeAll(async () => {
	const stack = testStack();
	sims = await startSimulators();
	supabase = await failingSupabase(['messenger_sync_record_page'], 503, POOL_TIMEOUT, 0);
	world = await createWorld();
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	await sims.graph.control.generateConversations({ pageId: world.pageId, count: 250, messagesPerConversation: 3, newest: Date.now() - 60_000, stepMs: 1000, psidStart: 8_500_000_000 + (Date.now() % 1_000_000) });
	n8n = await startN8n({
		workflows: ['workflows/messenger-sync.json'],
		credentials: {
			httpHeaderAuth: KEY,
			leadflowFacebookPageApi: { pageId: world.pageId, accessToken: TOKEN, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
			leadflowSupabaseApi: { url: supabase.url, serviceRoleKey: stack.serviceRoleKey },
		},
	});
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
	await sims?.stop();
	await supabase?.stop();
});

const sync = (body: unknown = {}, headers: Record<string, string> = { [KEY.name]: KEY.value }) => n8n.callWebhook('leadflow/sync', { method: 'POST', headers, body });

test('in real n8n: POST /webhook/leadflow/sync reads 3 pages at the Page’s rate and answers the counts; the next call reads only what changed', async () => {
	const first = await sync({}, { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId });
	expect(first.statusCode).toBe(200);
	expect(first.body).toMatchObject({ page_id: world.pageId, status: 'completed', pages_read: 3, conversations: 250, messages: 750, duplicates: 0, errors: 0, this_run: { calls: 3, throttled: 0 } });
	// Three calls at 2 a second: the run cannot be faster than the pacing.
	expect(first.ms).toBeGreaterThanOrEqual(1000);
	const stored = await withDb((db) =>
		db.query(`select count(distinct c.id)::int as conversations, count(*)::int as messages from public.messenger_conversations c join public.messenger_messages m on m.conversation_id = c.id where c.page_id = $1 and c.user_id = $2`, [world.pageId, world.userId]),
	);
	expect(stored.rows[0]).toEqual({ conversations: 250, messages: 750 });

	await new Promise((resolve) => setTimeout(resolve, 1100));
	const second = await sync();
	expect(second.statusCode).toBe(200);
	// Only the first sync's newest conversation is read again (its second: Graph's times are whole seconds).
	expect(second.body).toMatchObject({ status: 'completed', conversations: 1, messages: 0, duplicates: 3, this_run: { calls: 1 } });
});

test('in real n8n: no key 403 and nothing runs; a refused token 502 with why, resumable', async () => {
	const before = (await n8n.executions()).length;
	expect((await sync({}, {})).statusCode).toBe(403);
	expect((await n8n.executions()).length).toBe(before);

	await sims.graph.control.configure({ pageTokens: { [world.pageId]: 'rotated-token' } });
	const refused = await sync({ mode: 'full' });
	expect(refused.statusCode).toBe(502);
	expect(refused.body).toMatchObject({ status: 502, error: 'The Page token is invalid or expired: reconnect the credential' });
	expect(JSON.stringify(refused.body)).not.toMatch(/at \S+\.(js|ts):\d+/);
	const job = await withDb((db) => db.query(`select status from public.messenger_sync_jobs where page_id = $1 order by started_at desc limit 1`, [world.pageId]));
	expect(job.rows).toEqual([{ status: 'failed' }]);
});

test('in real n8n: a database error mid-sync (PostgREST out of connections) answers 502 saying the next sync resumes; the job is failed with it; the next sync resumes and completes', async () => {
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	supabase.failNext(1);
	const failed = await sync({});
	expect(failed.statusCode).toBe(502);
	expect(failed.body).toEqual({
		status: 502,
		error: 'messenger_sync_record_page failed: Timed out acquiring connection from connection pool.',
		description: expect.stringContaining('the job is marked failed with this error, and the next sync of the Page resumes there.'),
	});
	const job = await withDb((db) => db.query(`select status, holder, last_error from public.messenger_sync_jobs where page_id = $1 order by started_at desc limit 1`, [world.pageId]));
	expect(job.rows).toEqual([{ status: 'failed', holder: null, last_error: 'messenger_sync_record_page failed: Timed out acquiring connection from connection pool.' }]);

	const next = await sync({});
	expect(next.statusCode).toBe(200);
	expect(next.body).toMatchObject({ status: 'completed', resumed: true });
});
