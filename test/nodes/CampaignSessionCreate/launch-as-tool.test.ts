// Create Sessions where its launch request is not a webhook's body: as an AI agent's tool (through
// n8n-core's own tool path, test/harness/agent.ts), whose item holds only what $fromAI asked, it reads
// the request from Launch Request (Launch Request From: JSON), an object or JSON text; an item without
// the field Request Body Field names is refused saying so and what to do, not "got a undefined".
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { seedLaunch } from '../../helpers/campaign';
import { createTestUser, testStack, withDb } from '../../helpers/stack';
import { CREDENTIAL, node } from './workflow-node';

const credentials = (): TestCredentials => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject[]> {
	const run = await runWorkflow(agentWorkflow('campaignSessionCreate', { operation: 'create', ...parameters }, CREDENTIAL, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const { answer, thrown } = run.nodeOutputs.Agent[0];
	expect(thrown).toBeUndefined();
	return JSON.parse(answer as string) as IDataObject[];
}

const sessionsOf = (owner: string) =>
	withDb(async (db) => (await db.query<{ session_id: string }>('select session_id from public.session_info where user_id = $1 order by session_id', [owner])).rows.map((row) => row.session_id));

test('as a tool, Launch Request From JSON: the launch the model gives (an object, or JSON text) creates its sessions, and the agent reads them', async () => {
	for (const type of ['json', 'string'] as const) {
		const owner = await createTestUser('campaign-tool');
		const launch = seedLaunch();
		const answer = await asTool(
			{ ownerUserId: owner, launchRequestSource: 'json', launchRequest: `={{ $fromAI('launch_request', 'The campaign launch', '${type}') }}` },
			{ launch_request: type === 'json' ? launch : JSON.stringify(launch) },
		);
		const sessions = launch.tasks.map((task) => task.session);
		expect([type, answer.filter((item) => 'campaign_session_id' in item).map((item) => item.session)]).toEqual([type, sessions]);
		expect([type, answer.find((item) => 'sessions' in item)]).toEqual([type, expect.objectContaining({ requested: 3, created: 3, emitted: 3 })]);
		expect(await sessionsOf(owner)).toEqual([...sessions].sort());
	}
});

test('as a tool, an empty or unreadable Launch Request is one problem naming launchRequest; nothing is written', async () => {
	const owner = await createTestUser('campaign-tool');
	const parameters = { ownerUserId: owner, launchRequestSource: 'json', launchRequest: "={{ $fromAI('launch_request', 'The campaign launch as JSON', 'string') }}" };
	expect(await asTool(parameters, { launch_request: '' })).toEqual([
		expect.objectContaining({ status_code: 400, problems: [{ path: 'launchRequest', message: expect.stringMatching(/^is empty: give the launch request as a JSON object/) }] }),
	]);
	expect(await asTool(parameters, { launch_request: 'Plumbers London, Ann +61491570156' })).toEqual([
		expect.objectContaining({ status_code: 400, problems: [{ path: 'launchRequest', message: expect.stringMatching(/^is not JSON: give the launch request as a JSON object/) }] }),
	]);
	expect(await sessionsOf(owner)).toEqual([]);
});

test('Request Body Field naming a field the item does not have: the problem says so and what to do, not "must be a JSON object, got a undefined"', async () => {
	const owner = await createTestUser('campaign-field');
	const workflow: WorkflowJson = {
		name: 'launch without body',
		nodes: [
			node('Start', 1, 'n8n-nodes-base.manualTrigger', 1, {}),
			// The launch under another name than the node reads (its default, "body").
			node('Launch', 2, 'n8n-nodes-base.set', 3.4, { mode: 'raw', jsonOutput: JSON.stringify({ launch: seedLaunch() }), options: {} }),
			// A workflow saved before Launch Request From existed: no launchRequestSource, so the field.
			node('Create Sessions', 3, 'n8n-nodes-leadflow.campaignSessionCreate', 1, { operation: 'create', ownerUserId: owner, requestBodyField: 'body', defaultCountry: 'GB', options: {} }, CREDENTIAL),
		],
		connections: {
			Start: { main: [[{ node: 'Launch', type: 'main', index: 0 }]] },
			Launch: { main: [[{ node: 'Create Sessions', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
	const result = await runWorkflow(workflow, { credentials: credentials() });
	expect(result.error).toBeUndefined();
	const [sessions, summary, invalid] = result.nodeBranches['Create Sessions'];
	expect([sessions, summary]).toEqual([[], []]);
	expect(invalid).toEqual([
		expect.objectContaining({
			status_code: 400,
			problems: [{ path: 'body', message: expect.stringMatching(/^the item has no field "body" \(Request Body Field\): feed the node a Webhook node's output .*set Launch Request From to JSON/) }],
		}),
	]);
	expect(await sessionsOf(owner)).toEqual([]);
});
