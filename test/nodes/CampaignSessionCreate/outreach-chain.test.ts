// The node's three operations chained the way an outreach workflow uses them, run by n8n's engine
// in-process: Edit Fields makes a launch body → create (one item per session on "Sessions") →
// recordObjective per session item (parameters read per item, pairedItem kept) → stats.
import type { INode } from 'n8n-workflow';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { createTestUser, testStack, withDb } from '../../helpers/stack';
import { seedLaunch } from '../../helpers/campaign';
import { CREDENTIAL, node } from './workflow-node';


function chain(owner: string, body: unknown): WorkflowJson {
	const ours = 'n8n-nodes-leadflow.campaignSessionCreate';
	return {
		name: 'outreach chain',
		nodes: [
			node('Start', 1, 'n8n-nodes-base.manualTrigger', 1, {}),
			node('Launch Body', 2, 'n8n-nodes-base.set', 3.4, { mode: 'raw', jsonOutput: JSON.stringify({ body }), options: {} }),
			node('Create Sessions', 3, ours, 1, { operation: 'create', ownerUserId: owner, requestBodyField: 'body', defaultCountry: 'GB', options: {} }, CREDENTIAL),
			node(
				'Record Objective',
				4,
				ours,
				1,
				{
					operation: 'recordObjective',
					ownerUserId: owner,
					sessionId: '={{ $json.session }}',
					objective: '={{ ["interested", "rejected", "started_work"][$json.task_index] }}',
					value: 'true',
					source: 'call',
					options: { eventKey: '={{ "call-" + $json.session }}' },
				},
				CREDENTIAL,
			),
			node('Stats', 5, ours, 1, { operation: 'stats', ownerUserId: owner, campaignId: '={{ $("Create Sessions").first().json.campaign }}' }, CREDENTIAL),
		],
		connections: {
			Start: { main: [[{ node: 'Launch Body', type: 'main', index: 0 }]] },
			'Launch Body': { main: [[{ node: 'Create Sessions', type: 'main', index: 0 }]] },
			'Create Sessions': { main: [[{ node: 'Record Objective', type: 'main', index: 0 }]] },
			'Record Objective': { main: [[{ node: 'Stats', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

test('sessions flow into recordObjective item by item, and stats see the result', async () => {
	const stack = testStack();
	const credentials: TestCredentials = { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	const owner = await createTestUser('recruiter');
	const body = seedLaunch();
	const result = await runWorkflow(chain(owner, body), { credentials });
	expect(result.error).toBeUndefined();

	const sessions = result.nodeBranches['Create Sessions'];
	expect(sessions[0].map((item) => item.phone_number)).toEqual(['+61491570156', '+61491570157', '+442079460958']);
	expect(sessions[1]).toEqual([expect.objectContaining({ campaign: body.campaign, created: 3 })]);
	expect(sessions[2] ?? []).toEqual([]);

	expect(result.nodeOutputs['Record Objective']).toEqual([
		expect.objectContaining({ objective: 'interested', recorded: true, status: 'interested' }),
		expect.objectContaining({ objective: 'rejected', recorded: true, status: 'rejected' }),
		expect.objectContaining({ objective: 'started_work', recorded: true, status: 'started_work' }),
	]);
	const recordRun = result.run?.data.resultData.runData['Record Objective'][0];
	expect(recordRun?.data?.main[0]?.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);

	// Stats runs once per incoming item (three sessions → three identical answers), as n8n nodes do.
	expect(result.nodeOutputs.Stats).toHaveLength(3);
	expect(result.nodeOutputs.Stats[2]).toEqual(
		expect.objectContaining({
			sessions: 3,
			statuses: { pending: 0, contacted: 0, interested: 1, rejected: 1, started_work: 1 },
			objectives: { interested: 1, rejected: 1, started_work: 1 },
		}),
	);
});

test('an unknown session goes to the Invalid output with 404; a bad objective key with 400', async () => {
	const stack = testStack();
	const credentials: TestCredentials = { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	const owner = await createTestUser('recruiter');
	const workflow = chain(owner, seedLaunch());
	const record = workflow.nodes.find((one) => one.name === 'Record Objective') as INode;
	record.parameters.sessionId = '={{ $json.task_index === 0 ? "no-such-session" : $json.session }}';
	record.parameters.objective = '={{ $json.task_index === 1 ? "Not A Key" : "interested" }}';
	const result = await runWorkflow(workflow, { credentials });
	const [recorded, invalid] = result.nodeBranches['Record Objective'];
	expect(recorded).toEqual([expect.objectContaining({ objective: 'interested', status: 'interested' })]);
	expect(invalid).toEqual([
		expect.objectContaining({ status_code: 404, problems: [expect.objectContaining({ path: 'session' })] }),
		expect.objectContaining({ status_code: 400, problems: [expect.objectContaining({ path: 'objective' })] }),
	]);
});

describe('Occurred At without an offset', () => {
	const storedEvents = (sessions: string[]) =>
		withDb(async (db) => {
			const { rows } = await db.query<{ session_id: string; occurred_at: Date }>(
				`select s.session_id, e.occurred_at from public.session_objective_events e
				   join public.session_info s on s.id = e.session_info_id
				  where s.session_id = any($1) order by s.session_id`,
				[sessions],
			);
			return rows.map((row) => ({ session: row.session_id, at: row.occurred_at.toISOString() }));
		});

	// Two workflow zones far apart, neither with daylight saving time (UTC+9, UTC-7): whatever zone the
	// machine running the test is in, reading the value in the process's zone instead of the
	// workflow's gets at least one of them wrong. The day is two days before the machine's (UTC): a
	// fixed date would be ahead of now on a machine whose clock is earlier (recorded as now, or refused).
	const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
	test.each([
		['Asia/Tokyo', `${day}T00:00:00.000Z`],
		['America/Phoenix', `${day}T16:00:00.000Z`],
	])("is read in the workflow's time zone (%s); with an offset it is that instant; an invalid one is refused naming it", async (timezone, nineInZone) => {
		const stack = testStack();
		const credentials: TestCredentials = { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
		const owner = await createTestUser('recruiter');
		const workflow = chain(owner, seedLaunch());
		workflow.settings = { ...workflow.settings, timezone };
		const record = workflow.nodes.find((one) => one.name === 'Record Objective') as INode;
		record.parameters.options = {
			eventKey: '={{ "call-" + $json.session }}',
			occurredAt: `={{ ["${day}T09:00:00", "${day}T09:00:00+01:00", "not a date"][$json.task_index] }}`,
		};
		const result = await runWorkflow(workflow, { credentials });
		expect(result.error).toBeUndefined();
		const sessions = result.nodeBranches['Create Sessions'][0].map((item) => String(item.session));
		expect(await storedEvents(sessions)).toEqual(
			[
				{ session: sessions[0], at: nineInZone }, // 09:00 in the workflow's zone
				{ session: sessions[1], at: `${day}T08:00:00.000Z` }, // 09:00 at UTC+1, whatever the zone
			].sort((a, b) => a.session.localeCompare(b.session)),
		);
		const [recorded, invalid] = result.nodeBranches['Record Objective'];
		expect(recorded).toHaveLength(2);
		expect(invalid).toEqual([
			expect.objectContaining({ status_code: 400, problems: [{ path: 'occurred_at', message: expect.stringMatching(/Occurred At.*not a date/) }] }),
		]);
	});
});
