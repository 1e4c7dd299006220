// The shipped workflow workflows/campaign-session-created.json run with n8n's engine in-process
// (test/harness) against the local stack: the example launch (fixtures.ts), its replay, a bad
// request, the missing header, and the stats path.
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../harness';
import { createTestUser, testStack, withDb } from '../helpers/stack';
import { seedLaunch } from '../helpers/campaign';

const WORKFLOW = 'workflows/campaign-session-created.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;
let owner: string;

beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	owner = await createTestUser('recruiter');
});

const launch = (body: unknown, headers: Record<string, string> = {}) =>
	runWorkflow(WORKFLOW, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner, ...headers }, body },
		credentials,
	});

const sessionsOf = (campaign: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ session_id: string; phone_e164: string }>(
			`select s.session_id, s.phone_e164 from public.session_info s join public.campaign_info c on c.id = s.campaign_id
			 where c.name_uid = $1 order by s.phone_e164`,
			[campaign],
		);
		return rows;
	});

test('the example launch creates its sessions and answers 201; the same POST again creates none', async () => {
	const body = seedLaunch();
	const first = await launch(body);
	expect(first.error).toBeUndefined();
	expect(first.response?.statusCode).toBe(201);
	expect(first.response?.body).toMatchObject({ campaign: body.campaign, campaign_created: true, created: 3, existing: 0, dropped: [] });
	expect(first.executedNodes).toEqual(['Session Created', 'Create Sessions', 'Respond Created']);
	expect(first.nodeBranches['Create Sessions'][0]).toHaveLength(3);
	const stored = await sessionsOf(body.campaign);
	expect(stored.map((row) => row.phone_e164)).toEqual(['+442079460958', '+447853723604', '+447853723605']);

	const again = await launch(body);
	expect(again.response?.statusCode).toBe(201);
	expect(again.response?.body).toMatchObject({ created: 0, existing: 3 });
	expect(await sessionsOf(body.campaign)).toEqual(stored);
});

test('a duplicate phone is dropped and the answer says so', async () => {
	const body = seedLaunch();
	body.tasks.push({ phone_number: '07853 723604' });
	const result = await launch(body);
	expect(result.response?.statusCode).toBe(201);
	expect(result.response?.body).toMatchObject({ created: 3, dropped: [{ path: 'tasks[3]', reason: 'duplicate_phone' }] });
});

test('an invalid body answers 400 with every problem, and creates nothing', async () => {
	const body = { ...seedLaunch(), tasks: [{ phone_number: '12' }, { phone_number: '+447853723604', colour: 'red' }] };
	const result = await launch(body);
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toMatchObject({
		status_code: 400,
		problem_count: 2,
		problems: [{ path: 'tasks[0].phone_number' }, { path: 'tasks[1].colour' }],
	});
	expect(result.executedNodes).toEqual(['Session Created', 'Create Sessions', 'Respond With Problems']);
	expect(await sessionsOf(body.campaign)).toEqual([]);
});

test('a missing owner header is a 400 problem, not a crash', async () => {
	const result = await runWorkflow(WORKFLOW, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: seedLaunch() },
		credentials,
	});
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toMatchObject({ problems: [{ path: 'owner' }] });
});

test('an Idempotency-Key reused for other phones answers 422', async () => {
	const key = `launch-${randomUUID()}`;
	const body = seedLaunch();
	expect((await launch(body, { 'Idempotency-Key': key })).response?.statusCode).toBe(201);
	const other = { ...body, tasks: [{ phone_number: '+447853723699' }] };
	const reused = await launch(other, { 'Idempotency-Key': key });
	expect(reused.response?.statusCode).toBe(422);
	expect(reused.response?.body).toMatchObject({ problems: [{ path: 'headers.idempotency-key' }] });
});

test('without the webhook key header n8n refuses (403) and nothing runs', async () => {
	const result = await runWorkflow(WORKFLOW, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { 'X-Leadflow-Owner': owner }, body: seedLaunch() },
		credentials,
	});
	expect(result.response?.statusCode).toBe(403);
	expect(result.executedNodes).toEqual([]);
});

test('GET campaigns/:campaignId/stats answers the live numbers, 404 for an unknown campaign', async () => {
	const body = seedLaunch();
	await launch(body);
	const stats = (campaign: string) =>
		runWorkflow(WORKFLOW, {
			startNode: 'Campaign Stats',
			webhook: { method: 'GET', path: `${campaign}/stats`, headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner } },
			credentials,
		});
	const found = await stats(body.campaign);
	expect(found.response?.statusCode).toBe(200);
	expect(found.response?.body).toMatchObject({ campaign: { id: body.campaign }, sessions: 3, contacted: 0, statuses: { pending: 3 } });
	const missing = await stats('nobody_abcdef123');
	expect(missing.response?.statusCode).toBe(404);
	const malformed = await stats('Not%20An%20Id');
	expect(malformed.response?.statusCode).toBe(400);
});
