// Record Objective run by n8n's engine in-process against the local stack: a Value expression that
// gives nothing is refused (never recorded as true) and an explicit null is recorded as null; one
// event key (a message id) reports several objectives, and the same key and objective with another
// value is refused on the Invalid output, nothing written.
import type { INode } from 'n8n-workflow';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { createTestUser, testStack, withDb } from '../../helpers/stack';
import { seedLaunch } from '../../helpers/campaign';
import { CREDENTIAL, node } from './workflow-node';

const OURS = 'n8n-nodes-leadflow.campaignSessionCreate';
const record = (name: string, x: number, owner: string, parameters: INode['parameters']) =>
	node(name, x, OURS, 1, { operation: 'recordObjective', ownerUserId: owner, sessionId: '={{ $json.session }}', source: 'whatsapp', ...parameters }, CREDENTIAL);

/** Start → a launch body → Create Sessions → the given Record Objective nodes, each on the previous one's Recorded output. */
function workflow(owner: string, records: INode[]): WorkflowJson {
	const nodes = [
		node('Start', 1, 'n8n-nodes-base.manualTrigger', 1, {}),
		node('Launch Body', 2, 'n8n-nodes-base.set', 3.4, { mode: 'raw', jsonOutput: JSON.stringify({ body: seedLaunch() }), options: {} }),
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

test('an Occurred At more than 5 minutes ahead of now (a wrong year) is refused naming Occurred At, nothing written; within 5 minutes it is recorded', async () => {
	const owner = await createTestUser('recruiter');
	// Relative to the clock the node judges by: a year ahead for the first session, 2 minutes for the others.
	const occurredAt = '={{ $json.task_index === 0 ? $now.plus({ years: 1 }).toISO() : $now.plus({ minutes: 2 }).toISO() }}';
	const result = await runWorkflow(workflow(owner, [record('Record Objective', 4, owner, { objective: 'rejected', value: 'true', options: { occurredAt } })]), { credentials: credentials() });
	expect(result.error).toBeUndefined();
	const sessions = result.nodeBranches['Create Sessions'][0].map((item) => String(item.session));
	const [recorded, invalid] = result.nodeBranches['Record Objective'];
	expect(invalid).toEqual([
		expect.objectContaining({
			status_code: 400,
			problems: [
				{
					path: 'occurred_at',
					message: expect.stringMatching(/^\(Occurred At\) \S+Z is in the future \(now is \S+Z\); give the time the objective was reached, at most 5 minutes ahead of now \(check its year and time zone\), or leave it empty for now$/),
				},
			],
		}),
	]);
	expect(recorded).toEqual(sessions.slice(1).map((session) => expect.objectContaining({ session, recorded: true, status: 'rejected' })));
	expect((await eventsOf(owner)).map((event) => event.session_id).sort()).toEqual(sessions.slice(1).sort());
});
