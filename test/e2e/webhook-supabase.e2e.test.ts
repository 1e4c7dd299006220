// The harness's webhook fixture in real n8n 2.41.1: Header Auth checked by n8n's Webhook node, the
// HTTP Request node authenticating with this package's Supabase credential (installed from the
// packed tarball as a community package), the answer from Respond to Webhook, and the execution
// as n8n recorded it.
import { fixtureWithSupabaseUrl } from '../harness/fixture-workflow';
import { createTestUser, testStack, withDb } from '../helpers/stack';
import { startN8n, type E2eWorkflow, type RunningN8n } from './support';

const HEADER = { name: 'X-Leadflow-Key', value: 'fixture-secret-1' };
const WEBHOOK_PATH = 'leadflow-fixture/tags';
let n8n: RunningN8n;
let owner: string;

beforeAll(async () => {
	const stack = testStack();
	owner = await createTestUser('e2e-owner');
	await withDb((db) => db.query(`insert into public.tags (user_id, name, color) values ($1, 'Hot lead', '#ff0000'), ($1, 'Asked price', null)`, [owner]));
	const workflow = JSON.parse(fixtureWithSupabaseUrl('webhook-supabase-tags.json', stack.supabaseUrl)) as E2eWorkflow;
	n8n = await startN8n({
		workflows: [workflow],
		credentials: {
			httpHeaderAuth: HEADER,
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		},
	});
	const setup = Object.entries(n8n.setupSeconds).map(([step, seconds]) => `${step} ${seconds.toFixed(1)} s`);
	process.stderr.write(`setup: ${setup.join(', ')}; n8n answered its webhook ${n8n.startSeconds.toFixed(1)} s after \`n8n start\`\n`);
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
});

test('answers 200 with the owner’s tags read through the stack', async () => {
	const answer = await n8n.callWebhook(WEBHOOK_PATH, { headers: { [HEADER.name]: HEADER.value }, query: { owner } });
	process.stderr.write(`webhook round trip: ${answer.ms.toFixed(0)} ms\n`);

	expect(answer.statusCode).toBe(200);
	expect(answer.body).toEqual([
		{ name: 'Asked price', color: null },
		{ name: 'Hot lead', color: '#ff0000' },
	]);
});

test('a wrong header value gets 403 and starts no execution', async () => {
	const before = await n8n.executions();
	const answer = await n8n.callWebhook(WEBHOOK_PATH, { headers: { [HEADER.name]: 'guess' }, query: { owner } });

	expect(answer.statusCode).toBe(403);
	expect(answer.body).toBe('Authorization data is wrong!');
	await new Promise((resolve) => setTimeout(resolve, 500));
	expect(await n8n.executions()).toHaveLength(before.length);
});

test('the execution is recorded with each node’s output', async () => {
	const [last] = (await n8n.executions()).slice(-1);
	const answer = await n8n.callWebhook(WEBHOOK_PATH, { headers: { [HEADER.name]: HEADER.value }, query: { owner } });
	expect(answer.statusCode).toBe(200);

	const execution = await n8n.waitForExecution((one) => one.id > (last?.id ?? 0));
	expect(execution).toMatchObject({ workflowId: 'LfFixtureTagsWf1', mode: 'webhook', status: 'success', finished: true });
	expect(execution.nodeOutputs['Tags Webhook'][0]).toMatchObject({ query: { owner } });
	expect(execution.nodeOutputs['Read Tags']).toEqual([
		{ name: 'Asked price', color: null },
		{ name: 'Hot lead', color: '#ff0000' },
	]);
	expect(execution.lastNodeExecuted).toBe('Respond With Tags');
});

test('keeps answering: ten calls in a row, all 200, each recorded', async () => {
	const [last] = (await n8n.executions()).slice(-1);
	const times: number[] = [];
	for (let call = 0; call < 10; call += 1) {
		const answer = await n8n.callWebhook(WEBHOOK_PATH, { headers: { [HEADER.name]: HEADER.value }, query: { owner } });
		expect(answer.statusCode).toBe(200);
		times.push(answer.ms);
	}
	times.sort((a, b) => a - b);
	process.stderr.write(`webhook latency over 10 calls: median ${times[5].toFixed(0)} ms, max ${times[9].toFixed(0)} ms\n`);
	await n8n.waitForExecution((one) => one.id >= (last?.id ?? 0) + 10);
	const recorded = await n8n.executions({ workflowId: 'LfFixtureTagsWf1', afterId: last?.id ?? 0 });
	expect(recorded.filter((one) => one.status === 'success')).toHaveLength(10);
});
