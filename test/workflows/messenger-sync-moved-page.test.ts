// workflows/messenger-sync.json for a Page connected to another owner than the request's
// X-Leadflow-Owner (review M): the 404 says how to move the Page to that owner, as the Messenger
// Trigger's refusal does (delete its row of messenger_pages, then sync with the new owner), not to
// connect it (it is connected); and doing what it says works. Nothing is read from Facebook for the
// refused request.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { createTestUser, testStack, withDb } from '../helpers/stack';
import { createWorld } from '../db/follow-up/fixtures';
import { connectPage } from '../db/messenger/fixtures';

const WORKFLOW = 'workflows/messenger-sync.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const TOKEN = 'sync-moved-page-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
	await sims.graph.control.setConversationRate(0);
});
afterAll(async () => {
	await sims.stop();
});

function credentials(pageId: string): TestCredentials {
	const stack = testStack();
	return {
		httpHeaderAuth: KEY,
		leadflowFacebookPageApi: { pageId, accessToken: TOKEN, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
	};
}

const request = (pageId: string, owner: string) =>
	runWorkflow(WORKFLOW, { startNode: 'Sync Request', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials(pageId) });

const pageOwner = async (pageId: string) => (await withDb((db) => db.query<{ user_id: string }>('select user_id from public.messenger_pages where page_id = $1', [pageId]))).rows;

test('a Page synced by another owner: 404 with how to move it (not how to connect it), and moving it that way works', async () => {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	await sims.graph.control.generateConversations({ pageId: world.pageId, count: 3, messagesPerConversation: 2, newest: Date.now() - 60_000, stepMs: 60_000, psidStart: 8_700_000_000 + (Date.now() % 1_000_000) });
	// The old owner's sync: its job refers to the Page's row, so changing the row's owner is refused.
	expect((await request(world.pageId, world.userId)).response).toMatchObject({ statusCode: 200, body: { status: 'completed', conversations: 3 } });
	const newOwner = await createTestUser('new-owner');
	await sims.graph.control.clearRequests();

	const refused = await request(world.pageId, newOwner);
	expect(refused.response?.statusCode).toBe(404);
	expect(refused.response?.body).toMatchObject({
		status: 404,
		error: expect.stringContaining(`Page ${world.pageId} cannot be synced: it is connected to another owner`),
		description: expect.stringMatching(/To move the Page to this owner, delete its row of messenger_pages \(its Messenger Sync jobs go with it; the conversations recorded stay the old owner.s\), then sync again with the new owner: the sync connects the Page to it\./),
	});
	// Leaving the owner out is said for the webhook's caller too, who gives it in a header, not an Owner ID (migration …2570).
	expect(refused.response?.body).toMatchObject({
		description: expect.stringContaining('Give no owner to sync the Page for the owner it is connected to (Messenger Sync: leave Owner ID empty; the messenger-sync webhook: send no X-Leadflow-Owner header).'),
	});
	// Not the advice for a Page connected to nobody.
	expect(refused.response?.body).not.toMatchObject({ description: expect.stringMatching(/to connect the Page|insert it into messenger_pages/) });
	// The owner the Page is connected to is not told to the caller.
	expect(JSON.stringify(refused.response?.body)).not.toContain(world.userId);
	expect(await sims.graph.control.requests()).toEqual([]);
	expect(await pageOwner(world.pageId)).toEqual([{ user_id: world.userId }]);
	await expect(withDb((db) => db.query('update public.messenger_pages set user_id = $1 where page_id = $2', [newOwner, world.pageId]))).rejects.toThrow(/messenger_sync_jobs/);

	// What it says: the row goes (its sync jobs with it), and the new owner's sync connects the Page to them.
	await withDb((db) => db.query('delete from public.messenger_pages where page_id = $1', [world.pageId]));
	const moved = await request(world.pageId, newOwner);
	expect(moved.response).toMatchObject({ statusCode: 200, body: { status: 'completed', resumed: false, since: null, conversations: 3 } });
	expect(await pageOwner(world.pageId)).toEqual([{ user_id: newOwner }]);
	const conversations = await withDb((db) =>
		db.query<{ user_id: string; n: number }>('select user_id, count(*)::int as n from public.messenger_conversations where page_id = $1 group by user_id order by n', [world.pageId]),
	);
	// The old owner's conversations stay theirs; the new owner has their own.
	expect(conversations.rows.map((row) => [row.user_id, row.n]).sort()).toEqual([[world.userId, 3], [newOwner, 3]].sort());
});
