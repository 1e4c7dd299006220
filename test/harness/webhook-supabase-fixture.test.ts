// The fixture workflow (Webhook with Header Auth → HTTP Request with the Leadflow Supabase
// credential → Respond to Webhook) run in-process against the run's local stack.
import { createTestUser, testStack, withDb } from '../helpers/stack';
import { fixtureWithSupabaseUrl } from './fixture-workflow';
import { runWorkflow, type TestCredentials } from '.';

const HEADER = { name: 'X-Leadflow-Key', value: 'fixture-secret-1' };
let workflow: string;
let credentials: TestCredentials;
let owner: string;
let stranger: string;

beforeAll(async () => {
	const stack = testStack();
	workflow = fixtureWithSupabaseUrl('webhook-supabase-tags.json', stack.supabaseUrl);
	credentials = {
		httpHeaderAuth: HEADER,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
	};
	owner = await createTestUser('harness-owner');
	stranger = await createTestUser('harness-stranger');
	await withDb((db) =>
		db.query(`insert into public.tags (user_id, name, color) values ($1, 'Hot lead', '#ff0000'), ($1, 'Asked price', null), ($2, 'Not mine', null)`, [
			owner,
			stranger,
		]),
	);
});

const call = (headers: Record<string, string>, ownerId = owner, overrides: TestCredentials = {}) =>
	runWorkflow(workflow, { webhook: { method: 'GET', headers, query: { owner: ownerId } }, credentials: { ...credentials, ...overrides } });

test('answers 200 with the owner’s tags read through the stack with the service role key', async () => {
	const result = await call({ [HEADER.name]: HEADER.value });

	expect(result.status).toBe('success');
	expect(result.response?.statusCode).toBe(200);
	expect(result.response?.body).toEqual([
		{ name: 'Asked price', color: null },
		{ name: 'Hot lead', color: '#ff0000' },
	]);
	expect(result.executedNodes).toEqual(['Tags Webhook', 'Read Tags', 'Respond With Tags']);
	expect(result.nodeOutputs['Tags Webhook'][0]).toMatchObject({ query: { owner }, headers: { 'x-leadflow-key': HEADER.value } });
	expect(result.nodeOutputs['Read Tags']).toHaveLength(2);
});

test('header names are matched case-insensitively, as HTTP does', async () => {
	const result = await call({ 'x-leadflow-key': HEADER.value }, stranger);
	expect(result.response?.statusCode).toBe(200);
	expect(result.response?.body).toEqual([{ name: 'Not mine', color: null }]);
});

test('a wrong header value is refused with 403 before anything runs, like n8n', async () => {
	const result = await call({ [HEADER.name]: 'guess' });
	expect(result.response).toMatchObject({ statusCode: 403, body: 'Authorization data is wrong!' });
	expect(result.executedNodes).toEqual([]);
});

test('a missing header is refused with 403 too', async () => {
	const result = await call({});
	expect(result.response?.statusCode).toBe(403);
	expect(result.executedNodes).toEqual([]);
});

test('a wrong service role key makes the HTTP Request fail and the webhook answer 500, as n8n does', async () => {
	const result = await call({ [HEADER.name]: HEADER.value }, owner, {
		leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: 'not-a-key' },
	});
	expect(result.status).toBe('error');
	expect(result.error?.node).toBe('Read Tags');
	expect(result.error?.message).toMatch(/401|Authorization failed|Invalid API key/i);
	expect(result.response).toMatchObject({ statusCode: 500, body: { message: 'Error in workflow' } });
});

test('a request for another path or method gets n8n’s 404', async () => {
	const wrongPath = await runWorkflow(workflow, { webhook: { method: 'GET', path: 'leadflow-fixture/other', headers: {} }, credentials });
	expect(wrongPath.response?.statusCode).toBe(404);
	const wrongMethod = await runWorkflow(workflow, { webhook: { method: 'POST', headers: {} }, credentials });
	expect(wrongMethod.response?.statusCode).toBe(404);
	expect(wrongMethod.response?.body).toMatchObject({ message: expect.stringContaining('POST') });
});

test('missing test credentials are named in the error', async () => {
	const result = await runWorkflow(workflow, {
		webhook: { method: 'GET', headers: { [HEADER.name]: HEADER.value }, query: { owner } },
		credentials: { httpHeaderAuth: HEADER },
	});
	expect(result.status).toBe('error');
	expect(result.error?.message).toContain('leadflowSupabaseApi');
});
