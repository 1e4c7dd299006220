// The Queue endpoint of workflows/leadflow-console.json (GET …/console/api/queue) through n8n's
// engine in-process against the local stack: an owner's queue day counted by status with one page
// of its messages, the database's answer; filters and paging pass through; bad input is a 400
// naming it, an unknown owner a 404, each with its hint; without the key a 403 and nothing runs. The day is named in
// the query (the prepared day of the queue fixtures), so nothing depends on today's date.
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient, testStack } from '../helpers/stack';
import { claim, preparedOwner, TOMORROW } from '../db/queue/fixtures';
import type { QueuePage } from '../../nodes/shared/contract';

const WORKFLOW = 'workflows/leadflow-console.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;

beforeAll(() => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
});

const call = (query: Record<string, string>, headers: Record<string, string> = { [KEY.name]: KEY.value }) =>
	runWorkflow(WORKFLOW, { startNode: 'Queue Request', webhook: { method: 'GET', headers, query }, credentials });

test('the queue endpoint answers the database\'s counts and one page of rows, filtered and paged', async () => {
	const { userId } = await preparedOwner(6);
	const [claimed] = await claim('w-console-workflow', userId, `${TOMORROW}T10:00:00.000Z`, 1);

	const result = await call({ userId, day: TOMORROW, limit: '4' });
	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	expect(result.response?.headers?.['cache-control']).toBe('no-store');
	const body = result.response?.body as QueuePage;
	const { data, error } = await serviceClient().rpc('console_queue_page', { p_user_id: userId, p_day: TOMORROW, p_limit: 4 });
	expect(error).toBeNull();
	const expected = data as QueuePage;
	expect(body).toMatchObject({ owner: userId, day: TOMORROW, counts: expected.counts, rows: expected.rows });
	expect(body.counts).toMatchObject({ total: 6, queued: 5, claimed: 1 });
	expect(body.rows?.rows).toHaveLength(4);

	const filtered = (await call({ userId, day: TOMORROW, status: 'claimed' })).response?.body as QueuePage;
	expect(filtered.rows?.rows.map((row) => row.item_id)).toEqual([claimed.item_id]);
	const second = (await call({ userId, day: TOMORROW, limit: '4', offset: '4' })).response?.body as QueuePage;
	expect(second.rows).toMatchObject({ total: 6, offset: 4 });
	expect(second.rows?.rows).toHaveLength(2);
	expect(body.owners).toContain(userId);
	const lean = (await call({ userId, day: TOMORROW, limit: '4', owners: '0' })).response?.body as QueuePage;
	expect(lean).not.toHaveProperty('owners');
	expect(lean).toMatchObject({ owner: userId, counts: body.counts, rows: body.rows });
	const found = (await call({ userId, day: TOMORROW, search: body.rows!.rows[2].phone })).response?.body as QueuePage;
	expect(found.rows?.rows.map((row) => row.item_id)).toEqual([body.rows!.rows[2].item_id]);
});

test('without the key, or with a wrong one, n8n refuses (403) and nothing runs', async () => {
	for (const headers of [{}, { [KEY.name]: 'guess' }]) {
		const result = await call({}, headers);
		expect(result.response?.statusCode).toBe(403);
		expect(result.executedNodes).toEqual([]);
	}
});

// The hint is the node's (or the database's) description of the problem, or null when it has none
// (the search's length).
test.each([
	[{ userId: 'owner-1' }, 400, /owner ID "owner-1" is not a UUID/, 'Use an owner ID from the answer\'s owners: ask without one (no userId) to get them.'],
	// The example day is the owner's today: only its shape is the test's.
	[{ day: '2026-02-30' }, 400, /day "2026-02-30" is not a date as YYYY-MM-DD/, expect.stringMatching(/^Pass day=\d{4}-\d{2}-\d{2}, or leave it out for today in the owner's time zone\.$/)],
	// A day the database cannot hold (year 0): refused by the database, whose answer says nothing of
	// the project's address.
	[{ day: '0000-01-01' }, 400, /date\/time field value out of range/, 'A value was rejected by the database: check the fields named in the message.'],
	[{ status: 'sending' }, 400, /status "sending" is not one of queued, claimed, sent, failed, cancelled, dead/, 'Leave status out for every status.'],
	[{ limit: '501' }, 400, /page size \(limit\) must be a whole number from 1 to 500/, 'Pass limit=50 or another whole number in that range.'],
	[{ offset: '-3' }, 400, /offset must be a whole number/, 'Pass offset=0 or another whole number in that range.'],
	[{ search: 'x'.repeat(201) }, 400, /search must be at most 200 characters/, 'Send a shorter search, at most 200 characters: a part of a name or an id finds it.'],
	[
		{ userId: '00000000-0000-4000-8000-000000000000' },
		404,
		/^Owner ID: user 00000000-0000-4000-8000-000000000000 does not exist$/,
		'Use an owner ID from the answer\'s owners: ask without one (no userId) to get them.',
	],
])('bad input %j answers %i naming it, with the hint', async (query, status, message, hint) => {
	const result = await call(query);
	expect(result.response?.statusCode).toBe(status);
	const body = result.response?.body as { status: number; error: string; hint: string | null };
	expect(body.status).toBe(status);
	expect(body.error).toMatch(message);
	expect(body.hint).toEqual(hint);
	expect(JSON.stringify(body)).not.toMatch(/stack|at .*\.ts/);
});
