// workflows/messenger-sync.json with Messenger Sync's Options as a workflow saved before e9152f3 may
// have them: fractions the node took then (an expression's 100 / 3, a typed 50.5). Before its Options
// were read with readCheckedOptions the node rounded the page sizes, Retries and Lease (Seconds)
// down and used Backoff and Timeout (Ms) as given; e9152f3 refused each of them, and the webhook
// answered 500 "Conversations per Call must be a whole number from 1 to 100 (got
// 33.333333333333336)" on every sync of a workflow that synced the day before. They sync again, as
// they did; what failed then (0, text that is not a number) is still the workflow's 500, nothing read.
import { randomUUID } from 'node:crypto';
import type { INodeParameters } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { testStack } from '../helpers/stack';
import { createWorld, type World } from '../db/follow-up/fixtures';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const TOKEN = 'sync-options-token';
let sims: RunningSimulators;
let world: World;

beforeAll(async () => {
	sims = await startSimulators();
	world = await createWorld();
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	await sims.graph.control.setConversationRate(0);
	await sims.graph.control.generateConversations({ pageId: world.pageId, count: 5, messagesPerConversation: 3, newest: Date.now() - 60_000, stepMs: 60_000, psidStart: 8_500_000_000 + (Date.now() % 1_000_000) });
});

afterAll(async () => {
	await sims.stop();
});

function credentials(): TestCredentials {
	const stack = testStack();
	return {
		httpHeaderAuth: KEY,
		leadflowFacebookPageApi: { pageId: world.pageId, accessToken: TOKEN, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
	};
}

/** The shipped workflow with Messenger Sync's Options set to `options` (as a saved workflow has them). */
function withOptions(options: INodeParameters): WorkflowJson {
	const shipped = loadWorkflow('workflows/messenger-sync.json');
	expect(shipped.nodes.some((node) => node.name === 'Messenger Sync')).toBe(true);
	return { ...shipped, nodes: shipped.nodes.map((node) => (node.name === 'Messenger Sync' ? { ...node, parameters: { ...node.parameters, options } } : node)) };
}

const sync = (options: INodeParameters, body: unknown = { mode: 'full' }) =>
	runWorkflow(withOptions(options), {
		startNode: 'Sync Request',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body },
		credentials: credentials(),
	});

test.each([
	[{ pageSize: '={{ 100 / 3 }}' }, { limit: '33', messages: 100 }],
	[{ messagesPerConversation: 50.5 }, { limit: '100', messages: 50 }],
	[{ leaseSeconds: '={{ 300.5 }}' }, { limit: '100', messages: 100 }],
	[{ backoffMs: '={{ 5000 * 1.25 + 0.5 }}' }, { limit: '100', messages: 100 }],
	[{ timeoutMs: '={{ 45000.5 }}' }, { limit: '100', messages: 100 }],
	[{ pageSize: 20.5, messagesPerConversation: '={{ 10 / 4 }}', maxRetries: 2.5, leaseSeconds: 600.25, backoffMs: 100.5, timeoutMs: 5000.5, requestsPerSecond: 50 }, { limit: '20', messages: 2 }],
])('Messenger Sync options a saved workflow has, %j: the sync runs as before (200), asking Graph for %j', async (options, asked) => {
	await sims.graph.control.clearRequests();

	const run = await sync(options);

	expect(run.response?.statusCode).toBe(200);
	expect(run.response?.body).toMatchObject({ page_id: world.pageId, status: 'completed', conversations: 5 });
	const calls = (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/conversations'));
	expect(calls.length).toBeGreaterThan(0);
	for (const call of calls) {
		expect(call.query).toMatchObject({ limit: asked.limit, fields: expect.stringContaining(`messages.limit(${asked.messages})`) });
	}
});

test.each([
	[{ pageSize: '={{ 0 }}' }, 'Conversations per Call must be a whole number from 1 to 100 (got 0)'],
	[{ pageSize: '={{ "abc" }}' }, 'Conversations per Call must be a whole number from 1 to 100 (got "abc")'],
	[{ leaseSeconds: '={{ 9.5 }}' }, 'Lease (Seconds) must be a whole number from 10 to 86400 (got 9.5)'],
	[{ timeoutMs: '={{ 999.5 }}' }, 'Timeout (Ms) must be a number from 1000 to 300000 (got 999.5)'],
	// An expression's NaN is shown as NaN (before: "(got null)", as if the option were null).
	[{ pageSize: '={{ 0 / 0 }}' }, 'Conversations per Call must be a whole number from 1 to 100 (got NaN)'],
])('what failed before still fails: %j is the workflow’s 500 (%s), nothing read from Graph', async (options, message) => {
	await sims.graph.control.clearRequests();

	const run = await sync(options);

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({
		status: 500,
		error: message,
		description: expect.stringMatching(/^The workflow's node Messenger Sync refuses its own setting: fix it in the workflow \(the request is not at fault\)\. .*Set /),
	});
	expect(await sims.graph.control.requests()).toEqual([]);
});

// The Mode is checked like the Options. A workflow edited by hand (or an expression) that gives
// another value than incremental or full, such as "Full", was run as incremental (a 200 that read
// only what changed, where the workflow asked for everything again); it is the workflow's 500 naming
// Mode and its values, nothing read. (The shipped expression gives only those two: a caller's other
// mode is Check Sync Request's 400.)
test.each([
	["={{ $json.body?.mode === 'full' ? 'Full' : 'incremental' }}", 'Mode must be one of incremental, full (got "Full")'],
	['={{ "delta" }}', 'Mode must be one of incremental, full (got "delta")'],
])('a Mode that is not among its choices, %s, is the workflow’s 500 naming it, nothing read from Graph', async (mode, message) => {
	await sims.graph.control.clearRequests();
	const shipped = loadWorkflow('workflows/messenger-sync.json');
	const edited = { ...shipped, nodes: shipped.nodes.map((node) => (node.name === 'Messenger Sync' ? { ...node, parameters: { ...node.parameters, mode } } : node)) };

	const run = await runWorkflow(edited, {
		startNode: 'Sync Request',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: { mode: 'full' } },
		credentials: credentials(),
	});

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({
		status: 500,
		error: message,
		description: expect.stringMatching(/^The workflow's node Messenger Sync refuses its own setting: fix it in the workflow \(the request is not at fault\)\. It says which conversations .*Set Mode to one of incremental, full/),
	});
	expect(await sims.graph.control.requests()).toEqual([]);
});
