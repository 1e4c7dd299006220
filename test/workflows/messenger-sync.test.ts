// workflows/messenger-sync.json through n8n's engine in-process, against the local stack and the
// Graph simulator: the webhook (header auth) answers the sync's counts, the owner header connects
// the Page, a second call is incremental, `{"mode": "full"}` reads everything again, a refused token
// answers 502 with why; the manual trigger runs the same sync; while another run's sync of the Page
// runs, an incremental and a full sync are both answered 409 with who holds it, and it is untouched;
// a Page not connected (or another owner's) answers 404 and an Owner ID that is no user 400, each
// naming the problem without a stack trace or a secret, and nothing is synced; a mode other than
// "full" or "incremental" ("Full", "ful"), another body key or a query parameter (?mode=full)
// answers 400 naming it, nothing synced. A database error mid-sync fails the job with it, so the
// next sync resumes it; the answer says what to do.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { testStack, withDb } from '../helpers/stack';
import { createWorld, type World } from '../db/follow-up/fixtures';
import { connectPage, counts } from '../db/messenger/fixtures';
import { failingSupabase, POOL_TIMEOUT } from './support/failing-supabase';

const WORKFLOW = 'workflows/messenger-sync.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const TOKEN = 'sync-workflow-token';
let sims: RunningSimulators;
let world: World;

beforeAll(async () => {
	sims = await startSimulators();
	world = await createWorld();
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	// Three syncs one after the other: the Page's rate would throttle the next run's first call
	// (pacing is per run; the node tests cover throttling).
	await sims.graph.control.setConversationRate(0);
	await sims.graph.control.generateConversations({ pageId: world.pageId, count: 30, messagesPerConversation: 4, newest: Date.now() - 60_000, stepMs: 60_000, psidStart: 8_300_000_000 + (Date.now() % 1_000_000) });
});

afterAll(async () => {
	await sims.stop();
});

function credentials(token = TOKEN, pageId = world.pageId): TestCredentials {
	const stack = testStack();
	return {
		httpHeaderAuth: KEY,
		leadflowFacebookPageApi: { pageId, accessToken: token, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
	};
}

const request = (body: unknown, headers: Record<string, string> = {}, token = TOKEN, pageId = world.pageId) =>
	runWorkflow(WORKFLOW, { startNode: 'Sync Request', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body }, credentials: credentials(token, pageId) });

/** A problem answer: the status, what went wrong and what to do, and nothing else (no stack trace, no secret). */
function expectProblem(body: unknown, status: number): { error: string; description: string | null } {
	// field: only for the caller's own X-Leadflow-Owner refused (the header the node reads).
	expect([['description', 'error', 'status'], ['description', 'error', 'field', 'status']]).toContainEqual(Object.keys(body as object).sort());
	expect(body).toMatchObject({ status });
	for (const value of Object.values(body as object)) if (typeof value === 'string') expect(value).not.toMatch(/\bat \S+\.(js|ts):\d+|\n\s*at /);
	const text = JSON.stringify(body);
	for (const secret of [TOKEN, KEY.value, testStack().serviceRoleKey]) expect(text).not.toContain(secret);
	return body as { error: string; description: string | null };
}

test('POST /webhook/leadflow/sync: the first sync connects the Page to the owner header and answers the counts; the next is incremental; full reads again', async () => {
	const first = await request({}, { 'X-Leadflow-Owner': world.userId });
	expect(first.error).toBeUndefined();
	expect(first.response?.statusCode).toBe(200);
	expect(first.response?.body).toMatchObject({ page_id: world.pageId, status: 'completed', resumed: false, since: null, pages_read: 1, conversations: 30, messages: 120, duplicates: 0, errors: 0 });
	expect(await counts(world.pageId)).toMatchObject({ conversations: 30, messages: 120 });

	// Nothing changed: only the first sync's newest conversation is read again (its second, in case
	// another was updated in it: Graph's times are whole seconds), its messages duplicates.
	const second = await request({});
	expect(second.response?.body).toMatchObject({ status: 'completed', since: expect.any(String), conversations: 1, messages: 0, duplicates: 4 });

	const full = await request({ mode: 'full' });
	expect(full.response?.body).toMatchObject({ status: 'completed', since: null, conversations: 30, messages: 0, duplicates: 120 });
	expect((full.response?.body as IDataObject).this_run).toMatchObject({ calls: 1, throttled: 0 });
});

test('a refused token answers 502 with why the sync stopped; no key is refused by n8n (403)', async () => {
	const refused = await request({}, {}, 'revoked-token');
	expect(refused.response?.statusCode).toBe(502);
	expect(refused.response?.body).toMatchObject({
		status: 502,
		error: 'The Page token is invalid or expired: reconnect the credential',
		description: expect.stringContaining('the next sync of the Page resumes there'),
	});
	expect(JSON.stringify(refused.response?.body)).not.toMatch(/at \S+\.(js|ts):\d+/);

	const noKey = await runWorkflow(WORKFLOW, { startNode: 'Sync Request', webhook: { method: 'POST', body: {} }, credentials: credentials() });
	expect(noKey.response?.statusCode).toBe(403);
	expect(noKey.executedNodes).toEqual([]);
});

test('the manual trigger runs the same sync (it resumes the one the refused token stopped)', async () => {
	const result = await runWorkflow(WORKFLOW, { trigger: 'manual', credentials: credentials() });
	expect(result.error).toBeUndefined();
	expect(result.nodeOutputs['Messenger Sync']).toEqual([expect.objectContaining({ status: 'completed', resumed: true })]);
});

test('while a sync of the Page held by another run is running, an incremental and a full sync are answered 409 with who holds it; that sync is untouched', async () => {
	// Another run holds the Page's job (the database's clock, as the workflow's calls; a lease of 10 minutes).
	const held = await withDb((db) => db.query("select job_id from public.messenger_sync_begin($1, 'other-run', null, false, 600)", [world.pageId]));
	const jobId: string = held.rows[0].job_id;
	try {
		const answers = [
			[{}, `messenger_sync_begin failed: a sync of Page ${world.pageId} is already running (held by other-run until `],
			[{ mode: 'full' }, `messenger_sync_begin failed: a full sync of Page ${world.pageId} cannot start: a sync of it is running (held by other-run until `],
		] as const;
		for (const [body, error] of answers) {
			const refused = await request(body);
			expect(refused.response?.statusCode).toBe(409);
			expect(refused.response?.body).toMatchObject({ status: 409, error: expect.stringContaining(error), description: expect.stringContaining('Wait for') });
		}
		const job = await withDb((db) => db.query('select status, holder, finished_at from public.messenger_sync_jobs where id = $1', [jobId]));
		expect(job.rows[0]).toEqual({ status: 'running', holder: 'other-run', finished_at: null });
	} finally {
		await withDb((db) => db.query("select public.messenger_sync_fail($1, 'other-run', 'test over')", [jobId]));
	}
});

test('a Page not connected answers 404, an Owner ID that is no user 400, another owner’s Page 404: each names the problem, and nothing is synced', async () => {
	const lone = await createWorld(); // its Page is connected to no one
	const taken = await createWorld();
	await connectPage(taken.pageId, taken.userId);
	const unknownUser = randomUUID();
	await sims.graph.control.clearRequests();

	const notConnected = await request({}, {}, TOKEN, lone.pageId);
	expect(notConnected.response?.statusCode).toBe(404);
	expect(expectProblem(notConnected.response?.body, 404)).toEqual({
		status: 404,
		error: expect.stringContaining(`Page ${lone.pageId} cannot be synced: it is not connected to an owner`),
		description: expect.stringContaining('Give the owner'),
	});

	const notAnId = await request({}, { 'X-Leadflow-Owner': 'someone' }, TOKEN, lone.pageId);
	expect(notAnId.response?.statusCode).toBe(400);
	expect(expectProblem(notAnId.response?.body, 400)).toEqual({
		status: 400,
		error: 'The Owner ID "someone" is not a user id',
		field: 'X-Leadflow-Owner',
		description: expect.stringContaining('Supabase Auth user id'),
	});

	const noSuchUser = await request({}, { 'X-Leadflow-Owner': unknownUser }, TOKEN, lone.pageId);
	expect(noSuchUser.response?.statusCode).toBe(400);
	// The database's refusal of the owner names the node's Owner ID (`field: owner` on the failed item),
	// which the workflow answers as the header it read; before, it carried no field.
	expect(expectProblem(noSuchUser.response?.body, 400)).toMatchObject({ error: expect.stringContaining(`p_owner: ${unknownUser} is not a user of this project`), field: 'X-Leadflow-Owner' });

	const anotherOwner = await request({}, { 'X-Leadflow-Owner': lone.userId }, TOKEN, taken.pageId);
	expect(anotherOwner.response?.statusCode).toBe(404);
	expect(expectProblem(anotherOwner.response?.body, 404)).toMatchObject({ error: expect.stringContaining(`Page ${taken.pageId} cannot be synced: it is connected to another owner`) });

	// Refused before Facebook was called or anything was written.
	expect(await sims.graph.control.requests()).toEqual([]);
	const rows = await withDb((db) =>
		db.query(
			`select (select count(*)::int from public.messenger_pages where page_id = $1) as lone_pages,
			        (select user_id from public.messenger_pages where page_id = $2) as taken_owner,
			        (select count(*)::int from public.messenger_sync_jobs where page_id in ($1, $2)) as jobs`,
			[lone.pageId, taken.pageId],
		),
	);
	expect(rows.rows[0]).toEqual({ lone_pages: 0, taken_owner: taken.userId, jobs: 0 });
});

test('a mode other than "full" or "incremental" ("Full", "ful", null), or another body key, answers 400 naming it and the allowed values; nothing is synced', async () => {
	const other = await createWorld();
	await connectPage(other.pageId, other.userId);
	await sims.graph.control.clearRequests();
	const refusals: Array<[unknown, string, RegExp]> = [
		[{ mode: 'Full' }, 'mode', /^mode must be "full" or "incremental" \(lower case\), not "Full"$/],
		[{ mode: 'ful' }, 'mode', /^mode must be "full" or "incremental" \(lower case\), not "ful"$/],
		[{ mode: null }, 'mode', /^mode must be "full" or "incremental" \(lower case\), not null$/],
		[{ Mode: 'full' }, 'Mode', /^Unknown field "Mode": the body takes mode only$/],
		[{ mode: 'full', since: '2026-01-01' }, 'since', /^Unknown field "since": the body takes mode only$/],
		[{ [JSON.stringify({ mode: 'full' })]: '' }, '{"mode":"full"}', /^Unknown field/],
	];
	for (const [body, field, error] of refusals) {
		const refused = await request(body, {}, TOKEN, other.pageId);
		expect({ body, status: refused.response?.statusCode }).toEqual({ body, status: 400 });
		expect(refused.response?.body).toEqual({ status: 400, error: expect.stringMatching(error), field, description: expect.stringMatching(/\{"mode": "full"\}.*\{"mode": "incremental"\}/) });
		expect(refused.executedNodes).not.toContain('Messenger Sync');
	}
	expect(await sims.graph.control.requests()).toEqual([]);
	const jobs = await withDb((db) => db.query('select count(*)::int as jobs from public.messenger_sync_jobs where page_id = $1', [other.pageId]));
	expect(jobs.rows[0]).toEqual({ jobs: 0 });

	// {"mode": "incremental"}, as documented, is the default sync.
	const incremental = await request({ mode: 'incremental' });
	expect(incremental.response?.body).toMatchObject({ page_id: world.pageId, status: 'completed', since: expect.any(String) });
	expect(incremental.response?.statusCode).toBe(200);
});

// POST /webhook/leadflow/sync?mode=full read nothing from the query: it ran an incremental sync. A
// query parameter is refused, naming it, before anything is synced.
test('a query parameter (?mode=full, with or without a body) answers 400 naming it and saying to send it in the JSON body; nothing is synced', async () => {
	const other = await createWorld();
	await connectPage(other.pageId, other.userId);
	await sims.graph.control.clearRequests();
	const requests: Array<{ query: Record<string, string>; body?: IDataObject; field: string }> = [
		{ query: { mode: 'full' }, field: 'mode' },
		{ query: { mode: 'full' }, body: { mode: 'full' }, field: 'mode' },
		{ query: { since: '2026-01-01' }, body: {}, field: 'since' },
	];
	for (const { query, body, field } of requests) {
		const refused = await runWorkflow(WORKFLOW, {
			startNode: 'Sync Request',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, query, ...(body !== undefined && { body }) },
			credentials: credentials(TOKEN, other.pageId),
		});
		expect({ query, status: refused.response?.statusCode }).toEqual({ query, status: 400 });
		expect(refused.response?.body).toEqual({
			status: 400,
			error: `Query parameter "${field}": this webhook reads only the JSON body; send it there`,
			field,
			description: expect.stringMatching(/\{"mode": "full"\}.*as JSON/),
		});
		expect(refused.executedNodes).not.toContain('Messenger Sync');
	}
	expect(await sims.graph.control.requests()).toEqual([]);
	const jobs = await withDb((db) => db.query('select count(*)::int as jobs from public.messenger_sync_jobs where page_id = $1', [other.pageId]));
	expect(jobs.rows[0]).toEqual({ jobs: 0 });
});

const jobOf = async (pageId: string) =>
	(
		await withDb((db) =>
			db.query<{ id: string; status: string; holder: string | null; held: boolean; last_error: string | null }>(
				`select id, status, holder, held_until > now() as held, last_error from public.messenger_sync_jobs
				  where page_id = $1 and status in ('running', 'failed')`,
				[pageId],
			),
		)
	).rows;

// A database error mid-sync (PostgREST out of connections while recording a page): the job is failed
// with it, so the next sync resumes it at once; it used to stay held by the finished run for its
// lease (5 minutes), last_error null, every sync meanwhile answered 409 "already running". When
// marking it failed fails too (the database is what failed), the answer says the job stays held
// until its lease runs out.
test('a database error mid-sync fails the job with it and answers 502 saying the next sync resumes; the next sync does', async () => {
	const failing = await failingSupabase(['messenger_sync_record_page'], 503, POOL_TIMEOUT);
	try {
		const run = await runWorkflow(WORKFLOW, {
			startNode: 'Sync Request',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: {} },
			credentials: { ...credentials(), leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } },
		});
		expect(run.response?.statusCode).toBe(502);
		expect(expectProblem(run.response?.body, 502)).toEqual({
			status: 502,
			error: 'messenger_sync_record_page failed: Timed out acquiring connection from connection pool.',
			description: expect.stringContaining('The sync stopped at page 1; the job is marked failed with this error, and the next sync of the Page resumes there.'),
		});
	} finally {
		await failing.stop();
	}
	expect(await jobOf(world.pageId)).toEqual([
		expect.objectContaining({ status: 'failed', holder: null, last_error: 'messenger_sync_record_page failed: Timed out acquiring connection from connection pool.' }),
	]);

	const next = await request({});
	expect(next.response?.statusCode).toBe(200);
	expect(next.response?.body).toMatchObject({ status: 'completed', resumed: true });
	expect(await jobOf(world.pageId)).toEqual([]);
});

test('when marking the job failed fails too, the answer says it stays held until its lease runs out', async () => {
	const failing = await failingSupabase(['messenger_sync_record_page', 'messenger_sync_fail'], 503, POOL_TIMEOUT);
	try {
		const run = await runWorkflow(WORKFLOW, {
			startNode: 'Sync Request',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: {} },
			credentials: { ...credentials(), leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } },
		});
		expect(run.response?.statusCode).toBe(502);
		expect(expectProblem(run.response?.body, 502).description).toContain(
			'The sync stopped at page 1. Marking the job failed failed too, so it stays this run\'s until its lease runs out (Lease (Seconds): 300 from its last renewal): a sync started before then is answered 409; the next one after resumes there.',
		);
		expect(failing.failed()).toBe(2);
	} finally {
		await failing.stop();
		const held = await jobOf(world.pageId);
		expect(held).toEqual([expect.objectContaining({ status: 'running', held: true, last_error: null })]);
		await withDb((db) => db.query("select public.messenger_sync_fail($1, $2, 'test over')", [held[0].id, held[0].holder]));
	}
});

// Meta quotes the token in some errors ("Malformed access token EAAG…"). Whoever holds the webhook
// key reads the answer, and the console the job's last_error: Meta's words stay, the token does not.
test('a Graph error that quotes the Page token answers 502 and fails the job with what Meta said, without the token', async () => {
	const said = 'Facebook refused the Conversations request (Graph 100: Malformed access token [access token])';
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 100, message: `Malformed access token ${TOKEN}` } });
	try {
		const run = await request({});
		expect(run.response?.statusCode).toBe(502);
		expect(expectProblem(run.response?.body, 502)).toMatchObject({ error: said });
	} finally {
		await sims.graph.control.clearFaults();
	}
	expect(await jobOf(world.pageId)).toEqual([expect.objectContaining({ status: 'failed', last_error: said })]);
	const rows = await withDb((db) => db.query<{ t: string }>('select row_to_json(j)::text t from public.messenger_sync_jobs j where page_id = $1', [world.pageId]));
	expect(rows.rows.map((row) => row.t).join('\n')).not.toContain(TOKEN);
});

// The sync sends the Page token, never the credential's Webhook Verify Token: a short one ("token")
// is one of Meta's words, and looking for it pointed the answer at the wrong field ("Error
// validating access [verify token]"). Meta's words stay as they are; a token they quote does not.
test('a Verify Token that is one of Meta’s words ("token") leaves what Meta said as it said it, and a Page token quoted is still removed', async () => {
	const meta = 'Error validating access token: The session has been invalidated because the user changed their password.';
	const withVerifyToken = { ...credentials(), leadflowFacebookPageApi: { ...credentials().leadflowFacebookPageApi, verifyToken: 'token' } };
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 100, message: `${meta} (${TOKEN})` } });
	try {
		const run = await runWorkflow(WORKFLOW, { startNode: 'Sync Request', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: {} }, credentials: withVerifyToken });
		expect(run.response?.statusCode).toBe(502);
		expect(expectProblem(run.response?.body, 502)).toMatchObject({ error: `Facebook refused the Conversations request (Graph 100: ${meta} ([access token]))` });
	} finally {
		await sims.graph.control.clearFaults();
	}
	expect(await jobOf(world.pageId)).toEqual([expect.objectContaining({ status: 'failed', last_error: `Facebook refused the Conversations request (Graph 100: ${meta} ([access token]))` })]);
});
