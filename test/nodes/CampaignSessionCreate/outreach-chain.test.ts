// The node's three operations chained the way an outreach workflow uses them, run by n8n's engine
// in-process: Edit Fields makes a launch body → create (one item per session on "Sessions") →
// recordObjective per session item (parameters read per item, pairedItem kept) → stats.
import type { INode } from 'n8n-workflow';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { createTestUser, testStack } from '../../helpers/stack';
import { seedLaunch } from '../../helpers/campaign';

const CREDENTIAL = { leadflowSupabaseApi: { id: 'LfSupabaseApi001', name: 'Leadflow Supabase' } };
const node = (name: string, x: number, type: string, typeVersion: number, parameters: INode['parameters'], credentials = {}): INode => ({
	id: `00000000-0000-4000-8000-00000000000${x}`,
	name,
	type,
	typeVersion,
	position: [x * 220, 0],
	parameters,
	credentials,
});

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
	expect(sessions[0].map((item) => item.phone_number)).toEqual(['+447853723604', '+447853723605', '+442079460958']);
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
