// Record Objective run by n8n's engine in-process against the local stack: a Value expression that
// gives nothing is refused (never recorded as true) and an explicit null is recorded as null; one
// event key (a message id) reports several objectives, and the same key and objective with another
// value is refused on the Invalid output, nothing written.
import type { INode } from 'n8n-workflow';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { createTestUser, testStack, withDb } from '../../helpers/stack';
import { seedLaunch } from '../../helpers/campaign';
import { CREDENTIAL, node } from './workflow-node';
import { startRpcCounter } from '../FacebookSend/support/rpc-counter';

const OURS = 'n8n-nodes-leadflow.campaignSessionCreate';
const record = (name: string, x: number, owner: string, parameters: INode['parameters']) =>
	node(name, x, OURS, 1, { operation: 'recordObjective', ownerUserId: owner, sessionId: '={{ $json.session }}', source: 'whatsapp', ...parameters }, CREDENTIAL);

/** Start → a launch body → Create Sessions → the given Record Objective nodes, each on the previous one's Recorded output. */
function workflow(owner: string, records: INode[], body = seedLaunch()): WorkflowJson {
	const nodes = [
		node('Start', 1, 'n8n-nodes-base.manualTrigger', 1, {}),
		node('Launch Body', 2, 'n8n-nodes-base.set', 3.4, { mode: 'raw', jsonOutput: JSON.stringify({ body }), options: {} }),
		node('Create Sessions', 3, OURS, 1, { operation: 'create', ownerUserId: owner, requestBodyField: 'body', defaultCountry: 'GB', options: {} }, CREDENTIAL),
		...records,
	];
	const connections: WorkflowJson['connections'] = {};
	for (let index = 0; index + 1 < nodes.length; index++) connections[nodes[index].name] = { main: [[{ node: nodes[index + 1].name, type: 'main', index: 0 }]] };
	return { name: 'record objective', nodes, connections, settings: { executionOrder: 'v1' } };
}

const credentials = (): TestCredentials => {
	const stack = testStack();
	return { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
};

const eventsOf = (owner: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ session_id: string; objective: string; value: unknown; event_key: string | null }>(
			`select s.session_id, e.objective, e.value, e.event_key from public.session_objective_events e
			   join public.session_info s on s.id = e.session_info_id where e.user_id = $1 order by s.phone_e164, e.objective`,
			[owner],
		);
		return rows;
	});

test('a Value that gives nothing is refused naming Value, nothing written; an explicit null is recorded as null, not reached', async () => {
	const owner = await createTestUser('recruiter');
	// The AI extraction left `interested` out of the first item; the second said null; the third true.
	const value = '={{ $json.task_index === 1 ? null : $json.task_index === 2 ? true : $json.interested }}';
	const result = await runWorkflow(workflow(owner, [record('Record Objective', 4, owner, { objective: 'interested', value })]), { credentials: credentials() });
	expect(result.error).toBeUndefined();
	const sessions = result.nodeBranches['Create Sessions'][0].map((item) => String(item.session));
	const [recorded, invalid] = result.nodeBranches['Record Objective'];
	expect(invalid).toEqual([
		expect.objectContaining({ status_code: 400, problems: [{ path: 'value', message: expect.stringMatching(/^\(Value\) is missing/) }] }),
	]);
	expect(recorded).toEqual([
		expect.objectContaining({ session: sessions[1], value: null, recorded: true, status: 'pending', objectives: { interested: null } }),
		expect.objectContaining({ session: sessions[2], value: true, recorded: true, status: 'interested', objectives: { interested: true } }),
	]);
	expect(await eventsOf(owner)).toEqual(
		expect.arrayContaining([
			{ session_id: sessions[1], objective: 'interested', value: null, event_key: null },
			{ session_id: sessions[2], objective: 'interested', value: true, event_key: null },
		]),
	);
	expect(await eventsOf(owner)).toHaveLength(2); // nothing for the first session
});

test('one event key records each objective it reports; the same key and objective with another value goes to Invalid, nothing written', async () => {
	const owner = await createTestUser('recruiter');
	const eventKey = { eventKey: '={{ "msg-" + $json.session }}' };
	const result = await runWorkflow(
		workflow(owner, [
			record('Record Interested', 4, owner, { objective: 'interested', value: 'true', options: eventKey }),
			record('Record Rejected', 5, owner, { objective: 'rejected', value: 'true', options: eventKey }),
			record('Record Rejected Again', 6, owner, { objective: 'rejected', value: 'true', options: eventKey }),
			record('Record Rejected Changed', 7, owner, { objective: 'rejected', value: 'false', options: eventKey }),
		]),
		{ credentials: credentials() },
	);
	expect(result.error).toBeUndefined();
	const sessions = result.nodeBranches['Create Sessions'][0].map((item) => String(item.session));
	expect(result.nodeBranches['Record Rejected'][0]).toEqual(
		sessions.map((session) => expect.objectContaining({ session, objective: 'rejected', recorded: true, status: 'rejected', objectives: { interested: true, rejected: true } })),
	);
	// A retry with the same value: recorded once, answered as recorded before.
	expect(result.nodeBranches['Record Rejected Again'][0]).toEqual(sessions.map((session) => expect.objectContaining({ session, recorded: false, status: 'rejected' })));
	const [changed, refused] = result.nodeBranches['Record Rejected Changed'];
	expect(changed ?? []).toEqual([]);
	expect(refused).toEqual(
		sessions.map((session) =>
			expect.objectContaining({
				status_code: 422,
				problems: [{ path: 'event_key', message: `(Event Key) "msg-${session}" already recorded rejected = true on this session; another value (false) is a new report: send it with a new event key, or the same value to retry` }],
			}),
		),
	);
	const events = await eventsOf(owner);
	expect(events).toHaveLength(6);
	expect(events.every((event) => event.value === true && event.event_key === `msg-${event.session_id}`)).toBe(true);
});

test('an Occurred At ahead of now is recorded as now, saying so (a time without an offset from a sender east of the workflow\'s zone); more than 26 hours ahead is refused naming Occurred At, nothing written', async () => {
	const owner = await createTestUser('recruiter');
	// Five candidates; all relative to the clock the node judges by, in a workflow in New York (n8n's default zone).
	const body = seedLaunch();
	body.tasks.push({ session: `${body.tasks[0].session}-4`, phone_number: '+61491570158' }, { session: `${body.tasks[0].session}-5`, phone_number: '+61491570159' });
	const occurredAt =
		'={{ [' +
		// 0: a wrong year; 1: UTC now without an offset (Python's utcnow().isoformat()), read in New York: hours ahead;
		"$now.plus({ years: 1 }).toISO(), $now.toUTC().toFormat(\"yyyy-MM-dd'T'HH:mm:ss\"), " +
		// 2: 25 hours ahead (UTC+14 read at UTC-11); 3: 27 hours ahead, no zone explains it; 4: 10 minutes ago.
		'$now.plus({ hours: 25 }).toISO(), $now.plus({ hours: 27 }).toISO(), $now.minus({ minutes: 10 }).toISO()' +
		'][$json.task_index] }}';
	const run = workflow(owner, [record('Record Objective', 4, owner, { objective: 'rejected', value: 'true', options: { occurredAt } })], body);
	run.settings = { ...run.settings, timezone: 'America/New_York' };
	const started = Date.now();
	const result = await runWorkflow(run, { credentials: credentials() });
	expect(result.error).toBeUndefined();
	const sessions = result.nodeBranches['Create Sessions'][0].map((item) => String(item.session));
	expect(sessions).toHaveLength(5);
	const [recorded, invalid] = result.nodeBranches['Record Objective'];
	const tooFar = expect.objectContaining({
		status_code: 400,
		problems: [
			{
				path: 'occurred_at',
				message: expect.stringMatching(/^\(Occurred At\) \S+Z is more than 26 hours ahead of now \(now is \S+Z\): no time zone explains it; give the time the objective was reached \(check its year and date\), or leave it empty for now$/),
			},
		],
	});
	expect(invalid).toEqual([tooFar, tooFar]);
	expect(recorded).toEqual(sessions.slice(1, 3).concat(sessions[4]).map((session) => expect.objectContaining({ session, recorded: true, status: 'rejected' })));
	// Recorded as now, saying which time was given: the naive UTC time read in New York (4 or 5 hours ahead), and 25 hours ahead.
	const ahead = (item: Record<string, unknown>) => (Date.parse(String(item.occurred_at_adjusted)) - started) / 3600_000;
	expect(ahead(recorded[0])).toBeGreaterThan(3.9);
	expect(ahead(recorded[0])).toBeLessThan(5.1);
	expect(ahead(recorded[1])).toBeGreaterThan(24.9);
	expect(ahead(recorded[1])).toBeLessThan(25.1);
	expect(recorded[2]).not.toHaveProperty('occurred_at_adjusted');
	const { rows } = await withDb((db) =>
		db.query<{ session_id: string; occurred_at: Date; created_at: Date }>(
			`select s.session_id, e.occurred_at, e.created_at from public.session_objective_events e
			   join public.session_info s on s.id = e.session_info_id where e.user_id = $1 order by s.session_id`,
			[owner],
		),
	);
	expect(rows.map((row) => row.session_id)).toEqual([sessions[1], sessions[2], sessions[4]].sort());
	for (const row of rows) {
		// The two ahead: at the database's now (the transaction's, the event's created_at); the past one as given.
		if (row.session_id === sessions[4]) expect(row.created_at.getTime() - row.occurred_at.getTime()).toBeGreaterThan(9 * 60_000);
		else expect(row.occurred_at).toEqual(row.created_at);
	}
});

test("the database's refusal of one item's Occurred At (its clock behind n8n's) puts that item on Invalid naming Occurred At; the others are recorded", async () => {
	const owner = await createTestUser('recruiter');
	// The database's clock 30 hours behind n8n's: every request judged at that instant (the test stack's X-Leadflow-Now).
	const databaseNow = new Date(Date.now() - 30 * 3600_000);
	const behind = await startRpcCounter(testStack().supabaseUrl, { headers: { 'X-Leadflow-Now': databaseNow.toISOString() } });
	try {
		// 0: n8n's now, 30 hours after the database's (the node passes it, the database refuses it); 1: none (the database's now);
		// 2: 5 hours ago by n8n, 25 hours ahead of the database: recorded at its now, saying so.
		const occurredAt = '={{ [$now.toISO(), "", $now.minus({ hours: 5 }).toISO()][$json.task_index] }}';
		const run = workflow(owner, [record('Record Objective', 4, owner, { objective: 'rejected', value: 'true', options: { occurredAt } })]);
		const result = await runWorkflow(run, { credentials: { leadflowSupabaseApi: { url: behind.url, serviceRoleKey: testStack().serviceRoleKey } } });
		expect(result.error).toBeUndefined();
		const sessions = result.nodeBranches['Create Sessions'][0].map((item) => String(item.session));
		const [recorded, invalid] = result.nodeBranches['Record Objective'];
		expect(invalid).toEqual([
			{
				status_code: 400,
				message: 'The request has 1 problem',
				problem_count: 1,
				problems: [
					{
						path: 'occurred_at',
						message: expect.stringMatching(
							/^\(Occurred At\) refused by the database: \S+Z is more than 26 hours after now \(\S+Z\): no time zone explains it; give the time the objective was reached \(check its year and date, and that n8n's clock and the database's agree\), or leave it empty for now$/,
						),
					},
				],
			},
		]);
		expect(recorded).toEqual([
			expect.objectContaining({ session: sessions[1], recorded: true, status: 'rejected' }),
			expect.objectContaining({ session: sessions[2], recorded: true, status: 'rejected', occurred_at_adjusted: expect.any(String) }),
		]);
		expect(recorded[0]).not.toHaveProperty('occurred_at_adjusted');
		const { rows } = await withDb((db) =>
			db.query<{ session_id: string; occurred_at: Date }>(
				`select s.session_id, e.occurred_at from public.session_objective_events e
				   join public.session_info s on s.id = e.session_info_id where e.user_id = $1 order by s.session_id`,
				[owner],
			),
		);
		expect(rows).toEqual([sessions[1], sessions[2]].sort().map((session_id) => ({ session_id, occurred_at: databaseNow })));
	} finally {
		await behind.stop();
	}
});
