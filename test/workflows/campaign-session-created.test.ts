// The shipped workflow workflows/campaign-session-created.json run with n8n's engine in-process
// (test/harness) against the local stack: the example launch (fixtures.ts), its replay, a bad
// request, the missing header, and the stats path; both answer {status, error, hint} when Supabase
// fails (out of reach, a refused key, a 503).
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../harness';
import { createTestUser, serviceClient, testStack, withDb } from '../helpers/stack';
import { seedLaunch } from '../helpers/campaign';
import { expectFailureAnswer, failingSupabase, POOL_TIMEOUT } from './support/failing-supabase';

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

/** The campaign's sessions' names, in the example launch's task order (by session id). */
const sessionsNamed = (campaign: string) =>
	withDb(async (db) => (await db.query<{ display_name: string | null }>(
		`select s.display_name from public.session_info s join public.campaign_info c on c.id = s.campaign_id
		 where c.name_uid = $1 order by s.session_id`,
		[campaign],
	)).rows);

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
	expect(stored.map((row) => row.phone_e164)).toEqual(['+442079460958', '+61491570156', '+61491570157']);

	const again = await launch(body);
	expect(again.response?.statusCode).toBe(201);
	expect(again.response?.body).toMatchObject({ created: 0, existing: 3 });
	expect(await sessionsOf(body.campaign)).toEqual(stored);
});

// Outreach started on a session: an objective recorded (interested; or one of the campaign's own,
// which leaves the status pending), or an outbound message sent.
async function startOutreach(sessions: string[]) {
	const service = serviceClient();
	for (const [session, objective] of [
		[sessions[0], 'interested'],
		[sessions[1], 'answered_screening'],
	]) {
		const { error } = await service.rpc('record_session_objective', { p_owner: owner, p_session_id: session, p_objective: objective, p_source: 'whatsapp' });
		if (error) throw new Error(error.message);
	}
	await withDb((db) =>
		db.query(
			`insert into public.chat_history (user_id, session_info_id, direction, body, sent_at)
			 select s.user_id, s.id, 'outbound', 'Hello', '2026-07-01T09:00:00Z' from public.session_info s where s.user_id = $1 and s.session_id = $2`,
			[owner, sessions[2]],
		),
	);
}

const emitted = (result: Awaited<ReturnType<typeof launch>>) => (result.nodeBranches['Create Sessions'][0] ?? []).map((item) => item.phone_number);

test('a replayed launch emits nothing on Sessions for sessions whose outreach started; a new phone emits only itself', async () => {
	const key = `launch-${randomUUID()}`;
	const body = seedLaunch();
	const first = await launch(body, { 'Idempotency-Key': key });
	expect(emitted(first)).toEqual(['+61491570156', '+61491570157', '+442079460958']);
	await startOutreach(first.nodeBranches['Create Sessions'][0].map((item) => String(item.session)));

	for (const headers of [{ 'Idempotency-Key': key }, {}] as Array<Record<string, string>>) {
		const replay = await launch(body, headers);
		expect(replay.response?.statusCode).toBe(201);
		expect(emitted(replay)).toEqual([]);
		expect(replay.response?.body).toMatchObject({
			created: 0,
			existing: 3,
			emitted: 0,
			sessions: body.tasks.map(() => ({ created: false, outreach_started: true })),
		});
	}

	const more = { ...body, tasks: [...body.tasks, { phone_number: '0061 491 570 158' }] };
	const added = await launch(more);
	expect(added.response?.body).toMatchObject({ created: 1, existing: 3, emitted: 1 });
	expect(emitted(added)).toEqual(['+61491570158']);
	expect(added.nodeBranches['Create Sessions'][0]).toEqual([expect.objectContaining({ created: true, outreach_started: false, task_index: 3 })]);
});

test('a replay within the lease emits nothing; after it, a first run that wrote the sessions but reached no outreach has them emitted again', async () => {
	const body = seedLaunch();
	const first = await launch(body);
	expect(emitted(first)).toHaveLength(3);
	const soon = await launch(body);
	expect(soon.response?.body).toMatchObject({ created: 0, existing: 3, emitted: 0, already_emitted: 3 });
	expect(emitted(soon)).toEqual([]);

	// The lease (Re-Emit After, an hour) ran out: the hand-outs are moved two hours back.
	await withDb((db) =>
		db.query(
			`update public.session_info s set outreach_emitted_at = s.outreach_emitted_at - interval '2 hours'
			   from public.campaign_info c where c.id = s.campaign_id and c.name_uid = $1`,
			[body.campaign],
		),
	);
	const replay = await launch(body);
	expect(replay.response?.body).toMatchObject({ created: 0, existing: 3, emitted: 3, already_emitted: 0 });
	expect(replay.nodeBranches['Create Sessions'][0]).toEqual(
		first.nodeBranches['Create Sessions'][0].map((item) => ({ ...item, created: false, outreach_started: false })),
	);
});

// A launch of 50 phones (07853 724000 …).
const bigLaunch = () => ({ ...seedLaunch(), tasks: Array.from({ length: 50 }, (_, i) => ({ phone_number: `+447853${String(724_000 + i)}` })) });

test('the same launch delivered twice at the same moment (a trigger firing twice, two workers): each session on Sessions once, 50 in all', async () => {
	for (const headers of [{ 'Idempotency-Key': `launch-${randomUUID()}` }, {}] as Array<Record<string, string>>) {
		const body = bigLaunch();
		const answers = await Promise.all([launch(body, headers), launch(body, headers)]);
		expect(answers.map((a) => a.response?.statusCode)).toEqual([201, 201]);
		const bodies = answers.map((a) => a.response?.body as { created: number; emitted: number; already_emitted: number });
		expect(bodies.map((b) => b.created).sort((a, b) => a - b)).toEqual([0, 50]);
		expect(bodies.map((b) => b.emitted).sort((a, b) => a - b)).toEqual([0, 50]);
		expect(bodies.map((b) => b.already_emitted).sort((a, b) => a - b)).toEqual([0, 50]);
		const sessions = answers.flatMap((a) => (a.nodeBranches['Create Sessions'][0] ?? []).map((item) => String(item.session)));
		expect(sessions).toHaveLength(50);
		expect(new Set(sessions).size).toBe(50);
	}
});

test('the same launch again with the same Idempotency-Key (a caller retrying after a timeout): nothing on Sessions, the answer says why', async () => {
	const key = `launch-${randomUUID()}`;
	const body = bigLaunch();
	const first = await launch(body, { 'Idempotency-Key': key });
	expect(first.response?.body).toMatchObject({ created: 50, emitted: 50, already_emitted: 0 });
	const again = await launch(body, { 'Idempotency-Key': key });
	expect(again.response?.statusCode).toBe(201);
	expect(again.response?.body).toMatchObject({ created: 0, existing: 50, outreach_started: 0, emitted: 0, already_emitted: 50 });
	expect((again.response?.body as { sessions: Array<{ emitted: boolean }> }).sessions.every((s) => s.emitted === false)).toBe(true);
	expect(emitted(again)).toEqual([]);
	// If the first run failed after its hand-out, the answer says when a replay gets the sessions
	// back: the first hand-out plus Re-Emit After (an hour).
	const handedOutAt = await withDb(async (db) => (await db.query<{ at: Date }>(
		`select min(s.outreach_emitted_at) as at from public.session_info s join public.campaign_info c on c.id = s.campaign_id where c.name_uid = $1`,
		[body.campaign],
	)).rows[0].at);
	expect(first.response?.body).toMatchObject({ emit_again_after: null });
	const againAfter = (again.response?.body as { emit_again_after: string }).emit_again_after;
	expect(new Date(againAfter).toISOString()).toBe(new Date(handedOutAt.getTime() + 3600_000).toISOString());
});

test('a launch whose every session id belongs to another campaign answers 409 naming each task; one with some left answers 201 and lists the rest', async () => {
	const first = seedLaunch();
	expect((await launch(first)).response?.statusCode).toBe(201);
	// Another campaign, other phones, the first campaign's session ids.
	const other = seedLaunch();
	const taken = {
		...other,
		tasks: [
			{ session: first.tasks[0].session, phone_number: '+447853729001' },
			{ session: first.tasks[2].session, phone_number: '+447853729002' },
		],
	};
	const refused = await launch(taken);
	expect(refused.response?.statusCode).toBe(409);
	expect(refused.response?.body).toMatchObject({
		status_code: 409,
		problem_count: 2,
		problems: [{ path: 'tasks[0].session' }, { path: 'tasks[1].session' }],
	});
	expect(refused.executedNodes).toEqual(['Session Created', 'Create Sessions', 'Respond With Problems']);
	expect(refused.nodeBranches['Create Sessions'][0] ?? []).toEqual([]);
	expect(await sessionsOf(other.campaign)).toEqual([]);

	// The refused launch wrote nothing: a corrected retry with the same Idempotency-Key and other
	// phones is a new launch, and its campaign has the retry's details.
	const key = `launch-${randomUUID()}`;
	const refusedWithKey = await launch(taken, { 'Idempotency-Key': key });
	expect(refusedWithKey.response?.statusCode).toBe(409);
	const written = await withDb(async (db) => ({
		campaigns: (await db.query('select 1 from public.campaign_info where user_id = $1 and name_uid = $2', [owner, other.campaign])).rowCount,
		keys: (await db.query('select 1 from public.campaign_session_requests where user_id = $1 and idempotency_key = $2', [owner, key])).rowCount,
		numbers: (await db.query(`select 1 from public.numbers where user_id = $1 and phone_e164 in ('+447853729001', '+447853729002')`, [owner])).rowCount,
	}));
	expect(written).toEqual({ campaigns: 0, keys: 0, numbers: 0 });
	const corrected = await launch(
		{ ...taken, job_description: 'Plumber, Leeds, corrected', tasks: [{ phone_number: '+447853729011' }, { phone_number: '+447853729012' }] },
		{ 'Idempotency-Key': key },
	);
	expect(corrected.response?.statusCode).toBe(201);
	expect(corrected.response?.body).toMatchObject({ campaign: other.campaign, campaign_created: true, created: 2, emitted: 2 });
	const details = await withDb(async (db) => (await db.query('select job_description from public.campaign_info where user_id = $1 and name_uid = $2', [owner, other.campaign])).rows);
	expect(details).toEqual([{ job_description: 'Plumber, Leeds, corrected' }]);

	const some = await launch({ ...seedLaunch(), tasks: [...taken.tasks, { phone_number: '+447853729003' }] });
	expect(some.response?.statusCode).toBe(201);
	expect(some.response?.body).toMatchObject({ created: 1, emitted: 1, dropped: [{ path: 'tasks[0]', reason: 'session_taken' }, { path: 'tasks[1]', reason: 'session_taken' }] });
	// The two tasks refused as conflicts wrote nothing, not even their numbers; the created one has its number.
	const numbers = await withDb(async (db) => (await db.query<{ phone_e164: string }>(
		`select phone_e164 from public.numbers where user_id = $1 and phone_e164 in ('+447853729001', '+447853729002', '+447853729003') order by 1`, [owner])).rows);
	expect(numbers).toEqual([{ phone_e164: '+447853729003' }]);
});

test('a task whose name is blank ("" or spaces, a spreadsheet\'s empty cell) is launched without a name, as one without a name: 201, not 400', async () => {
	const body = seedLaunch();
	body.tasks[0].name = '';
	body.tasks[1].name = '   ';
	const result = await launch(body);
	expect(result.response?.statusCode).toBe(201);
	expect(result.response?.body).toMatchObject({ created: 3, dropped: [] });
	expect(emitted(result)).toEqual(['+61491570156', '+61491570157', '+442079460958']);
	expect(result.nodeBranches['Create Sessions'][0].map((item) => item.name)).toEqual([null, null, null]);
	const names = await withDb(async (db) => (await db.query<{ display_name: string | null }>(
		`select s.display_name from public.session_info s join public.campaign_info c on c.id = s.campaign_id where c.name_uid = $1`, [body.campaign])).rows);
	expect(names).toEqual([{ display_name: null }, { display_name: null }, { display_name: null }]);
});

// A relaunch: the campaign again (its id), with a candidate more and the details changed in the app.
test('a relaunch of a campaign updates its name, job description and objectives (campaign_updated); a replay of its Idempotency-Key changes nothing', async () => {
	const key = `launch-${randomUUID()}`;
	const body = { ...seedLaunch(), campaign_name: 'Plumbers, London' };
	const first = await launch(body, { 'Idempotency-Key': key });
	expect(first.response?.body).toMatchObject({ campaign_name: 'Plumbers, London', campaign_created: true, campaign_updated: false });
	const details = async () => (await withDb((db) => db.query(
		'select name, job_description, objectives from public.campaign_info where user_id = $1 and name_uid = $2', [owner, body.campaign]))).rows;

	const changed = { campaign_name: 'Plumbers, Leeds', job_description: 'Plumber, Leeds, £42k.', objectives: { interested: { weight: 1 }, booked_call: { weight: 2 } } };
	// The same key with other details: a replay of the first launch, answered as it was; nothing changes.
	const replay = await launch({ ...body, ...changed }, { 'Idempotency-Key': key });
	expect(replay.response?.statusCode).toBe(201);
	expect(replay.response?.body).toMatchObject({ campaign_name: 'Plumbers, London', campaign_created: false, campaign_updated: false, created: 0 });
	expect(await details()).toEqual([{ name: 'Plumbers, London', job_description: body.job_description, objectives: body.objectives }]);

	const relaunch = await launch({ ...body, ...changed, tasks: [...body.tasks, { phone_number: '0061 491 570 158' }] }, { 'Idempotency-Key': `launch-${randomUUID()}` });
	expect(relaunch.response?.statusCode).toBe(201);
	expect(await details()).toEqual([{ name: 'Plumbers, Leeds', job_description: changed.job_description, objectives: changed.objectives }]);
	expect(relaunch.response?.body).toMatchObject({ campaign_name: 'Plumbers, Leeds', campaign_created: false, campaign_updated: true, created: 1, existing: 3 });
	expect(emitted(relaunch)).toEqual(['+61491570158']);
	expect(relaunch.nodeBranches['Create Sessions'][0]).toEqual([expect.objectContaining({ campaign_name: 'Plumbers, Leeds' })]);

	// Its id alone (no campaign_name), no key: the stored name stays, the rest is the launch's.
	const byId = await launch({ ...body, campaign_name: undefined, job_description: 'Plumber, Leeds, £45k.' });
	expect(byId.response?.body).toMatchObject({ campaign_name: 'Plumbers, Leeds', campaign_updated: true });
	expect(await details()).toEqual([{ name: 'Plumbers, Leeds', job_description: 'Plumber, Leeds, £45k.', objectives: body.objectives }]);
});

test('a relaunch with corrected candidate names gives the sessions the new names (names_updated); no name leaves one, a key replay renames nothing', async () => {
	const key = `launch-${randomUUID()}`;
	const body = seedLaunch();
	expect((await launch(body, { 'Idempotency-Key': key })).response?.statusCode).toBe(201);
	const corrected = { ...body, tasks: [{ ...body.tasks[0], name: undefined }, { ...body.tasks[1], name: 'Robert Doyle' }, { ...body.tasks[2], name: 'Carol Evans' }] };
	const names = async () => (await sessionsNamed(body.campaign)).map((row) => row.display_name);

	const replay = await launch(corrected, { 'Idempotency-Key': key });
	expect(replay.response?.body).toMatchObject({ names_updated: 0 });
	expect(await names()).toEqual(['Alice Carter', 'Bob Doyle', null]);

	const relaunch = await launch(corrected, { 'Idempotency-Key': `launch-${randomUUID()}` });
	expect(relaunch.response?.statusCode).toBe(201);
	expect(relaunch.response?.body).toMatchObject({
		names_updated: 2,
		sessions: [
			{ name: 'Alice Carter', name_updated: false },
			{ name: 'Robert Doyle', name_updated: true },
			{ name: 'Carol Evans', name_updated: true },
		],
	});
	expect(await names()).toEqual(['Alice Carter', 'Robert Doyle', 'Carol Evans']);
});

// A relaunch renames sessions, not Queue Ledger leads (queue_claim fills {{name}} from leads.name):
// the answer says so when a renamed candidate may be on the queue (its outreach started).
test('a relaunch renaming a candidate already added to the Queue Ledger says the lead keeps its name (names_updated_note); the lead is unchanged', async () => {
	// An owner of its own: the example's phones have objectives under the shared owner, so Add Leads would skip them.
	const recruiter = await createTestUser('recruiter');
	const as = { 'X-Leadflow-Owner': recruiter };
	const body = seedLaunch();
	const first = await launch(body, as);
	expect(first.response?.body).toMatchObject({ names_updated: 0, names_updated_note: null });
	// Bob is added to the queue (Add Leads with his campaign_session_id, as the outreach wires it); Alice is not.
	const bob = (first.response?.body as { sessions: Array<{ campaign_session_id: string }> }).sessions[1].campaign_session_id;
	const { data: added, error } = await serviceClient().rpc('queue_add_leads', { p_items: [{ user_id: recruiter, campaign_session_id: bob, source: 'test' }] });
	expect(error).toBeNull();
	expect(added).toEqual([expect.objectContaining({ outcome: 'created', name: 'Bob Doyle', phone: '+61491570157' })]);

	const renamed = await launch({ ...body, tasks: [body.tasks[0], { ...body.tasks[1], name: 'Robert Doyle' }, body.tasks[2]] }, as);
	expect(renamed.response?.body).toMatchObject({
		names_updated: 1,
		names_updated_note: expect.stringContaining("A candidate already added to the queue keeps its lead's name"),
		sessions: [{ name_updated: false }, { name: 'Robert Doyle', name_updated: true, outreach_started: true }, { name_updated: false }],
	});
	const leadName = await withDb(async (db) => (await db.query<{ name: string }>(
		`select name from public.leads where user_id = $1 and phone = '+61491570157'`, [recruiter])).rows);
	expect(leadName).toEqual([{ name: 'Bob Doyle' }]);
	// A renamed candidate not on the queue (outreach not started): nothing to say.
	const alice = await launch({ ...body, tasks: [{ ...body.tasks[0], name: 'Alice Carter-Evans' }] }, as);
	expect(alice.response?.body).toMatchObject({ names_updated: 1, names_updated_note: null, sessions: [{ name_updated: true, outreach_started: false }] });
});

// A name that shows nothing (only invisible characters: U+200B zero width space, U+2060 word joiner,
// U+00AD soft hyphen, with spaces) is blank: never stored, and on a relaunch it never replaces a name.
test('a task whose name is only invisible characters (U+200B, U+2060, U+00AD) is no name: a launch stores none, a relaunch keeps the session\'s name', async () => {
	const body = seedLaunch();
	const invisible = { ...body, tasks: [{ ...body.tasks[0], name: '\u200b' }, { ...body.tasks[1], name: ' \u2060\u00ad ' }, body.tasks[2]] };
	const first = await launch(invisible);
	expect(first.response?.statusCode).toBe(201);
	expect((await sessionsNamed(body.campaign)).map((row) => row.display_name)).toEqual([null, null, null]);

	expect((await launch(body)).response?.body).toMatchObject({ names_updated: 2 });
	const relaunch = await launch({ ...invisible, tasks: [...invisible.tasks.slice(0, 2), { ...body.tasks[2], name: '\u200b\u200b' }] });
	expect(relaunch.response?.statusCode).toBe(201);
	expect(relaunch.response?.body).toMatchObject({
		names_updated: 0,
		sessions: [
			{ name: 'Alice Carter', name_updated: false },
			{ name: 'Bob Doyle', name_updated: false },
			{ name: null, name_updated: false },
		],
	});
	expect((await sessionsNamed(body.campaign)).map((row) => row.display_name)).toEqual(['Alice Carter', 'Bob Doyle', null]);
});

// The app made new session ids for a relaunch, also for candidates already in the campaign: a phone
// keeps its session, so the answer lists each task whose id was not used, with the id kept.
test('a relaunch whose tasks carry new session ids for phones already in the campaign: 201, each listed in sessions_kept with the id given and the id kept', async () => {
	const body = seedLaunch();
	const first = await launch(body, { 'Idempotency-Key': `launch-${randomUUID()}` });
	const firstIds = (first.response?.body as { sessions: Array<{ session: string }> }).sessions.map((s) => s.session);
	expect(first.response?.body).toMatchObject({ sessions_kept: [], sessions_kept_note: null });
	const run = randomUUID().slice(0, 6);
	const relaunch = {
		...body,
		tasks: [
			...body.tasks.map((task, i) => ({ ...task, session: `new-${run}-${i}` })),
			{ phone_number: '0061 491 570 158', name: 'Dan', session: `new-${run}-3` },
		],
	};
	const again = await launch(relaunch);
	expect(again.response?.statusCode).toBe(201);
	const answer = again.response?.body as { sessions_kept: unknown[]; sessions: Array<{ session: string }>; dropped: unknown[] };
	expect(answer).toMatchObject({ created: 1, existing: 3, dropped: [] });
	expect(answer.sessions.map((s) => s.session)).toEqual([...firstIds, `new-${run}-3`]);
	// Four fields an entry; what they mean is said once, in sessions_kept_note (a relaunch may list
	// 100,000 tasks: a sentence in each entry made the 201 about 2.8 times as big).
	expect(answer.sessions_kept).toEqual(
		[0, 1, 2].map((i) => ({ path: `tasks[${i}].session`, session_given: `new-${run}-${i}`, session: firstIds[i], reason: 'phone_has_session' })),
	);
	expect(again.response?.body).toMatchObject({ sessions_kept_note: expect.stringContaining('Use the session kept (session) for that candidate') });
	const text = JSON.stringify(again.response?.body);
	expect(text.split('its phone already has a session in the campaign')).toHaveLength(2);
	// The id kept is the one the database knows: an objective on it is recorded.
	const { data } = await serviceClient().rpc('record_session_objective', { p_owner: owner, p_session_id: firstIds[0], p_objective: 'interested', p_source: 'whatsapp' });
	expect(data).toMatchObject({ outcome: 'ok', recorded: true });
	// A task that repeats its session's id, or gives none, is not listed.
	const same = await launch({ ...body, tasks: [body.tasks[0], { phone_number: body.tasks[1].phone_number }] });
	expect(same.response?.body).toMatchObject({ sessions_kept: [], sessions_kept_note: null });
});

test('a duplicate phone is dropped and the answer says so', async () => {
	const body = seedLaunch();
	body.tasks.push({ phone_number: '0061 491 570 156' });
	const result = await launch(body);
	expect(result.response?.statusCode).toBe(201);
	expect(result.response?.body).toMatchObject({ created: 3, dropped: [{ path: 'tasks[3]', reason: 'duplicate_phone' }] });
});

test('an invalid body answers 400 with every problem, and creates nothing', async () => {
	const body = { ...seedLaunch(), tasks: [{ phone_number: '12' }, { phone_number: '+61491570156', colour: 'red' }] };
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

test('a missing, malformed or unknown owner header is a 400 problem naming the X-Leadflow-Owner header, not a crash', async () => {
	const result = await runWorkflow(WORKFLOW, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: seedLaunch() },
		credentials,
	});
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toMatchObject({ problems: [{ path: 'headers.x-leadflow-owner', message: expect.stringContaining('got ""') }] });
	const malformed = await launch(seedLaunch(), { 'X-Leadflow-Owner': 'bob' });
	expect(malformed.response?.body).toEqual(expect.objectContaining({ status_code: 400, problems: [{ path: 'headers.x-leadflow-owner', message: expect.stringContaining('"bob"') }] }));
	const unknown = await launch(seedLaunch(), { 'X-Leadflow-Owner': randomUUID() });
	expect(unknown.response?.body).toEqual(expect.objectContaining({ status_code: 400, problems: [{ path: 'headers.x-leadflow-owner', message: 'is not a user of this Supabase project' }] }));
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

// A campaign launched by name with a key has an id made from the name and the key (the same name
// with another key is another campaign). Its relaunch by name under a new key, as the 422 used to
// advise, made a second campaign and handed every candidate out again; the answers now give the id
// to relaunch it by.
test('a campaign launched by name with an Idempotency-Key: the 201 gives its id to keep; the key reused with more phones answers 422 naming it, and its advice adds only the new candidate', async () => {
	const name = `Plumber ${randomUUID().slice(0, 6)} London`;
	const body = { ...seedLaunch(), campaign: name };
	const key = `launch-${randomUUID()}`;
	const first = await launch(body, { 'Idempotency-Key': key });
	expect(first.response?.statusCode).toBe(201);
	const id = (first.response?.body as { campaign: string }).campaign;
	expect(first.response?.body).toMatchObject({
		campaign: id,
		campaign_id: id,
		campaign_name: name,
		relaunch: expect.stringContaining(`"campaign": "${id}"`),
	});

	const more = { ...body, tasks: [...body.tasks, { phone_number: '0061 491 570 158', name: 'Dan' }] };
	const reused = await launch(more, { 'Idempotency-Key': key });
	expect(reused.response?.statusCode).toBe(422);
	expect(reused.response?.body).toMatchObject({
		problems: [
			{
				path: 'headers.idempotency-key',
				message: expect.stringContaining(`add candidates to this campaign, send "campaign": "${id}" with a new key`),
			},
		],
	});
	// Its advice followed: the same campaign, only the new candidate created and handed out.
	const relaunched = await launch({ ...more, campaign: id }, { 'Idempotency-Key': `launch-${randomUUID()}` });
	expect(relaunched.response?.statusCode).toBe(201);
	expect(relaunched.response?.body).toMatchObject({ campaign: id, campaign_created: false, created: 1, existing: 3 });
	expect(emitted(relaunched)).toEqual(['+61491570158']);
	const campaigns = await withDb(async (db) => (await db.query<{ name_uid: string }>(
		'select name_uid from public.campaign_info where user_id = $1 and name = $2', [owner, name])).rows);
	expect(campaigns).toEqual([{ name_uid: id }]);
	// A launch by id needs no such note: it already names the campaign.
	expect(relaunched.response?.body).toMatchObject({ campaign_id: id, relaunch: null });
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

// Supabase out of reach, refusing the key, or PostgREST answering 503: the launch and the stats
// answer {status, error, hint} (500; what to do, never a stack or a key), not n8n's bare
// "Error in workflow"; nothing goes to Sessions; the launch is one database call, so the same
// request again once Supabase answers creates the sessions, once.
describe('when Supabase fails', () => {
	const failures: Array<[string, () => Promise<{ url: string; serviceRoleKey: string; stop?: () => Promise<void> }>, RegExp]> = [
		['is out of reach', async () => ({ url: 'http://127.0.0.1:9', serviceRoleKey: testStack().serviceRoleKey }), /fetch failed/],
		['refuses the key', async () => ({ url: testStack().supabaseUrl, serviceRoleKey: 'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.wrong-SECRET' }), /Invalid API key|JW/],
		[
			'answers 503 (PostgREST without a connection)',
			async () => {
				const failing = await failingSupabase(['create_campaign_sessions', 'campaign_session_stats'], 503, POOL_TIMEOUT);
				return { url: failing.url, serviceRoleKey: testStack().serviceRoleKey, stop: failing.stop };
			},
			/Timed out acquiring connection/,
		],
	];

	test.each(failures)('a launch when Supabase %s answers 500 {status, error, hint} saying a retry is safe; nothing on Sessions; the retry creates the sessions', async (_case, supabase, message) => {
		const broken = await supabase();
		const body = seedLaunch();
		const key = `launch-${randomUUID()}`;
		try {
			const failed = await runWorkflow(WORKFLOW, {
				startNode: 'Session Created',
				webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner, 'Idempotency-Key': key }, body },
				credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: broken.url, serviceRoleKey: broken.serviceRoleKey } },
			});
			expect(failed.status).toBe('success');
			expect(failed.response?.statusCode).toBe(500);
			const answer = expectFailureAnswer(failed.response?.body, 500, [KEY.value, broken.serviceRoleKey, testStack().serviceRoleKey]);
			expect(answer.error).toMatch(/^create_campaign_sessions failed: /);
			expect(answer.error).toMatch(message);
			expect(answer.hint).toMatch(/same request again \(the same Idempotency-Key\).*creates nobody twice and contacts nobody twice/);
			expect(failed.executedNodes).toEqual(['Session Created', 'Create Sessions', 'Respond With Failure']);
			expect(failed.nodeBranches['Create Sessions'][0] ?? []).toEqual([]);
		} finally {
			await broken.stop?.();
		}
		expect(await sessionsOf(body.campaign)).toEqual([]);

		const retried = await launch(body, { 'Idempotency-Key': key });
		expect(retried.response?.statusCode).toBe(201);
		expect(retried.response?.body).toMatchObject({ created: 3, emitted: 3 });
		expect(await sessionsOf(body.campaign)).toHaveLength(3);
	});

	test.each(failures)('the stats when Supabase %s answer 500 {status, error, hint}', async (_case, supabase, message) => {
		const body = seedLaunch();
		await launch(body);
		const broken = await supabase();
		try {
			const failed = await runWorkflow(WORKFLOW, {
				startNode: 'Campaign Stats',
				webhook: { method: 'GET', path: `${body.campaign}/stats`, headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner } },
				credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: broken.url, serviceRoleKey: broken.serviceRoleKey } },
			});
			expect(failed.response?.statusCode).toBe(500);
			const answer = expectFailureAnswer(failed.response?.body, 500, [KEY.value, broken.serviceRoleKey, testStack().serviceRoleKey]);
			expect(answer.error).toMatch(/^campaign_session_stats failed: /);
			expect(answer.error).toMatch(message);
			expect(answer.hint).toMatch(/ask for the stats again/);
			expect(failed.executedNodes).toEqual(['Campaign Stats', 'Read Stats', 'Respond With Failure']);
		} finally {
			await broken.stop?.();
		}
	});
});
