// Campaign Session Create's Re-Emit After (Minutes) (an option of the node, not of the request) in the
// shipped workflows/campaign-session-created.json, read by the shared checked-options reader as the
// node's other options are. Its own check before refused the figures of an expression ("120", which
// an expression reading a text field gives) as it refused 0, and its message showed no value: "must
// be a whole number of minutes from 1 to 43200 (30 days)". Now text of figures is the number, and a
// refusal names the option and what it got; every value taken before is taken as before (whole
// minutes from 1 to 43,200; a fraction is still refused, as it always was).
import { randomUUID } from 'node:crypto';
import type { INodeParameters } from 'n8n-workflow';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { seedLaunch } from '../helpers/campaign';
import { createTestUser, testStack, withDb } from '../helpers/stack';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;
let owner: string;

beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	owner = await createTestUser('recruiter');
});

/** The shipped workflow with Create Sessions' Options set to `options`, launching `body` under `idempotencyKey`. */
function launch(options: INodeParameters, body: unknown, idempotencyKey = `launch-${randomUUID()}`) {
	const shipped = loadWorkflow('workflows/campaign-session-created.json');
	expect(shipped.nodes.some((node) => node.name === 'Create Sessions')).toBe(true);
	const workflow = { ...shipped, nodes: shipped.nodes.map((node) => (node.name === 'Create Sessions' ? { ...node, parameters: { ...node.parameters, options } } : node)) };
	return runWorkflow(workflow, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner, 'Idempotency-Key': idempotencyKey }, body },
		credentials,
	});
}

test('Re-Emit After given as text of figures by an expression ("120") is 120 minutes: the launch is created, and a replay is told the sessions come back 2 hours after their hand-out', async () => {
	const body = seedLaunch();
	const key = `launch-${randomUUID()}`;
	const first = await launch({ emitLeaseMinutes: '={{ "120" }}' }, body, key);
	expect(first.response?.statusCode).toBe(201);
	expect(first.response?.body).toMatchObject({ created: 3, emitted: 3 });

	const again = await launch({ emitLeaseMinutes: '={{ "120" }}' }, body, key);
	expect(again.response?.statusCode).toBe(201);
	expect(again.response?.body).toMatchObject({ created: 0, emitted: 0, already_emitted: 3 });
	const handedOutAt = await withDb(async (db) => (await db.query<{ at: Date }>(
		`select min(s.outreach_emitted_at) as at from public.session_info s join public.campaign_info c on c.id = s.campaign_id where c.name_uid = $1`,
		[body.campaign],
	)).rows[0].at);
	const againAfter = (again.response?.body as { emit_again_after: string }).emit_again_after;
	expect(new Date(againAfter).toISOString()).toBe(new Date(handedOutAt.getTime() + 120 * 60_000).toISOString());
});

test.each([
	['={{ 0 }}', '0'],
	['={{ 43201 }}', '43201'],
	['={{ "an hour" }}', '"an hour"'],
	['={{ 1.5 }}', '1.5'],
])('Re-Emit After %s is the workflow’s 500 naming the option and what it got, not the caller’s 400', async (emitLeaseMinutes, got) => {
	const run = await launch({ emitLeaseMinutes }, seedLaunch());

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toMatchObject({
		status: 500,
		error: `Re-Emit After (Minutes) must be a whole number from 1 to 43200 (got ${got})`,
		hint: expect.stringMatching(
			/^The workflow's node Create Sessions refuses its own setting: fix it in the workflow \(the request is not at fault\)\. It is how long a session handed to the outreach waits before a replayed launch may hand it out again \(at most 30 days\)\. Set Re-Emit After \(Minutes\) in the node's Options to a whole number from 1 to 43200 \(an expression must give one\), or remove it to use the default, 60\./,
		),
	});
	expect(run.executedNodes).not.toContain('Respond Created');
});
