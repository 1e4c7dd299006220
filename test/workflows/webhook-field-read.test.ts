// The shipped webhooks blame a refused value on the caller (400 / 404 naming the request's field) only
// when the node reads that value from the request: its own parameter is an expression reading the
// header or body field (as CampaignSessionCreate's ownerPath tells it), and the request gave it. A
// value set in the node itself (picked from a list, typed, an expression of anything else) and
// refused is the workflow's 500 "fix it in the workflow", whatever the request sent.
// Before, the workflows tested only whether the request sent the field: a node's own bad or deleted
// value with a valid header / body answered 400 / 404 naming the caller's field (review S4).
import { randomUUID } from 'node:crypto';
import type { INodeParameters } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { uniquePageId, withDb } from '../helpers/stack';
import { everyWorkflowCredentials, graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;
let credentials: TestCredentials;
beforeAll(async () => {
	sims = await startSimulators();
	credentials = everyWorkflowCredentials(sims, KEY);
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.gemini.control.reset();
	await sims.graph.control.reset();
});

async function statesOf(ruleId: string) {
	const { rows } = await withDb((db) => db.query<{ n: number }>('select count(*)::int as n from public.ai_automation_contact_states where rule_id = $1', [ruleId]));
	return rows[0].n;
}

/** tag-monitor-send.json with Claim Due Contacts' Rule picked in the node (and its Page ID, when given). */
function withRuleInNode(rule: string, pageId?: string): WorkflowJson {
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((n) => (n.name === 'Claim Due Contacts' ? { ...n, parameters: { ...n.parameters, ...(pageId && { pageId }), ruleId: { __rl: true, mode: 'list', value: rule } } } : n)),
	};
}

const NOT_READ = {
	status: 400,
	error: 'This copy of the workflow does not read ruleId: its Claim Due Contacts has its own Rule',
	field: 'ruleId',
	hint: expect.stringMatching(/^This copy runs the Rule picked in Claim Due Contacts: send \{\} \(or no body\) to run it\./),
};

// Before: Claim ran the Rule picked in the node and the answer reported it under the asked ruleId
// (200, ruleId: the asked rule, sent: 2, rules: [the picked rule]).
test('Trigger Now: a body ruleId, with a Rule picked in Claim Due Contacts, is refused 400 before anything is claimed, not run as the picked rule', async () => {
	const picked = await dueContacts(2, 500, 'read-picked');
	const asked = await dueContacts(2, 500, 'read-asked');

	const { result } = await triggerNow(pipelineCredentials(sims, picked.owner.pageId), { ruleId: asked.ruleId }, withRuleInNode(picked.ruleId));

	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual(NOT_READ);
	expect(await graphSends(sims)).toEqual([]);
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await statesOf(picked.ruleId)).toBe(0);
	expect(await statesOf(asked.ruleId)).toBe(0);
});

// Before: 400 "The rule … sends as Page …" and 404 "automation rule … does not exist", each naming
// ruleId: the node's own rule blamed on the caller's valid one.
test.each([
	['of another Page', async (mine: { owner: { pageId: string } }) => ({ rule: (await dueContacts(1, 500, 'read-other')).ruleId, pageId: mine.owner.pageId })],
	['that no longer exists', async () => ({ rule: randomUUID(), pageId: undefined })],
])("Trigger Now: a Rule picked in Claim Due Contacts %s, with a caller's valid ruleId, is not the caller's 400 / 404 about that rule", async (_case, node) => {
	const mine = await dueContacts(1, 500, 'read-mine');
	const { rule, pageId } = await node(mine);

	const { result } = await triggerNow(pipelineCredentials(sims, mine.owner.pageId), { ruleId: mine.ruleId }, withRuleInNode(rule, pageId));

	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual(NOT_READ);
	expect(JSON.stringify(result.response?.body)).not.toContain(rule);
	expect(await statesOf(mine.ruleId)).toBe(0);
});

test('Trigger Now: the shipped Claim Due Contacts reads the body, so a body ruleId runs that rule and the answer names it', async () => {
	const seed = await dueContacts(1, 500, 'read-shipped');

	const { result, summary } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: seed.ruleId });

	expect(result.response?.statusCode).toBe(200);
	expect(summary).toMatchObject({ ruleId: seed.ruleId, claimed: 1, sent: 1 });
	expect(summary.rules.map((rule) => rule.ruleId)).toEqual([seed.ruleId]);
});

test('Trigger Now: an unknown body ruleId with the shipped Claim Due Contacts is still the caller\'s 404 naming ruleId', async () => {
	const { result } = await triggerNow(pipelineCredentials(sims, uniquePageId()), { ruleId: randomUUID() });

	expect(result.response?.statusCode).toBe(404);
	expect(result.response?.body).toMatchObject({ status: 404, field: 'ruleId' });
});

/** The shipped workflow with `node`'s parameters overridden (a value set in the node itself). */
function withParameters(workflow: string, node: string, parameters: INodeParameters): WorkflowJson {
	const shipped = loadWorkflow(`workflows/${workflow}.json`);
	expect(shipped.nodes.some((each) => each.name === node)).toBe(true);
	return { ...shipped, nodes: shipped.nodes.map((each) => (each.name === node ? { ...each, parameters: { ...each.parameters, ...parameters } } : each)) };
}

const call = (workflow: string | WorkflowJson, startNode: string, headers: Record<string, string>) =>
	runWorkflow(typeof workflow === 'string' ? loadWorkflow(`workflows/${workflow}.json`) : workflow, {
		startNode,
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body: {} },
		credentials,
	});

const fixIt = (node: string) => `The workflow's node ${node} refuses its own setting: fix it in the workflow (the request is not at fault).`;

// Before: 400 naming X-Leadflow-Owner (A1: the caller's valid header blamed for the node's "abc";
// P1-P3: 400 / 404 for the node's own owner, header or not).
test.each([
	['auto-assign', 'Analyse Now', 'Analyze Due Conversations', '"abc", a valid X-Leadflow-Owner sent', 'abc', { 'X-Leadflow-Owner': randomUUID() }, 'The owner user ID "abc" is not a UUID'],
	['queue-prepare', 'Prepare Now', 'Prepare Tomorrow', '"abc", no header', 'abc', {}, 'The owner user ID "abc" is not a UUID'],
	['queue-prepare', 'Prepare Now', 'Prepare Tomorrow', '"abc", a valid X-Leadflow-Owner sent', 'abc', { 'X-Leadflow-Owner': randomUUID() }, 'The owner user ID "abc" is not a UUID'],
	['queue-prepare', 'Prepare Now', 'Prepare Tomorrow', 'a UUID of no owner, no header', randomUUID(), {}, /^Owner User ID: user .* does not exist$/],
])("%s (%s): %s's own Owner User ID refused (%s) is the workflow's 500 (fix it in the workflow), not the caller's", async (workflow, startNode, node, _case, owner, headers, error) => {
	const run = await call(withParameters(workflow, node, { ownerUserId: owner }), startNode, headers);

	expect(run.response?.statusCode).toBe(500);
	const answer = run.response?.body as Record<string, unknown>;
	expect(answer).toMatchObject({ status: 500, error: typeof error === 'string' ? error : expect.stringMatching(error), hint: expect.stringContaining(fixIt(node)) });
	expect(answer.field ?? null).toBeNull();
	expect(await sims.gemini.control.requests()).toEqual([]);
});

test('queue-prepare: a malformed X-Leadflow-Owner, which the shipped Prepare Tomorrow reads, is the caller\'s 400 naming the header and speaking of it', async () => {
	const run = await call('queue-prepare', 'Prepare Now', { 'X-Leadflow-Owner': 'abc' });

	expect(run.response?.statusCode).toBe(400);
	expect(run.response?.body).toEqual({
		status: 400,
		error: 'The owner user ID "abc" is not a UUID',
		field: 'X-Leadflow-Owner',
		hint: 'Send X-Leadflow-Owner as the Supabase user id (auth.users) whose queue this is, or leave the header out for every owner.',
	});
});

// Before: 400 "The Owner ID \"abc\" is not a user id", with no header sent.
test("messenger-sync: Messenger Sync's own Owner ID refused is the workflow's 500; a malformed X-Leadflow-Owner it reads is the caller's 400 naming the header", async () => {
	const own = await call(withParameters('messenger-sync', 'Messenger Sync', { owner: 'abc' }), 'Sync Request', { 'X-Leadflow-Owner': randomUUID() });
	expect(own.response?.statusCode).toBe(500);
	expect(own.response?.body).toEqual({ status: 500, error: 'The Owner ID "abc" is not a user id', description: expect.stringMatching(new RegExp(`^${fixIt('Messenger Sync').replace(/[().]/g, '\\$&')} Give the Supabase Auth user id`)) });

	const caller = await call('messenger-sync', 'Sync Request', { 'X-Leadflow-Owner': 'abc' });
	expect(caller.response?.statusCode).toBe(400);
	expect(caller.response?.body).toEqual({ status: 400, error: 'The Owner ID "abc" is not a user id', field: 'X-Leadflow-Owner', description: expect.stringMatching(/^Give the Supabase Auth user id/) });

	// The database's refusal of an Owner ID that is no user names it too (`field: owner`): typed in the
	// node, the workflow's 500 (before: the caller's 400, the failed item carrying no field).
	const nobody = randomUUID();
	const ownNobody = await call(withParameters('messenger-sync', 'Messenger Sync', { owner: nobody }), 'Sync Request', { 'X-Leadflow-Owner': randomUUID() });
	expect(ownNobody.response?.statusCode).toBe(500);
	expect(ownNobody.response?.body).toEqual({ status: 500, error: expect.stringContaining(`p_owner: ${nobody} is not a user of this project`), description: expect.stringMatching(new RegExp(`^${fixIt('Messenger Sync').replace(/[().]/g, '\\$&')}`)) });
});

// Before: 404 "Add ?ruleId=…" naming ruleId, to a GET that sent no query.
test("automation-monitor: a Rule picked in Read Snapshot that no longer exists is the workflow's 500, not a 404 telling the caller to add ?ruleId=", async () => {
	const shipped = loadWorkflow('workflows/automation-monitor.json');
	const picked = { ...shipped, nodes: shipped.nodes.map((n) => (n.name === 'Read Snapshot' ? { ...n, parameters: { ...n.parameters, ruleId: { __rl: true, mode: 'list', value: randomUUID() } } } : n)) };

	const run = await runWorkflow(picked, { webhook: { method: 'GET', headers: { 'X-Leadflow-Key': 'pipeline-test-key' } }, credentials: pipelineCredentials(sims, uniquePageId()) });

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toMatchObject({ status: 500, field: null, hint: expect.stringContaining(fixIt('Read Snapshot')) });

	const shippedRun = await runWorkflow(shipped, { webhook: { method: 'GET', headers: { 'X-Leadflow-Key': 'pipeline-test-key' }, query: { ruleId: randomUUID() } }, credentials: pipelineCredentials(sims, uniquePageId()) });
	expect(shippedRun.response?.statusCode).toBe(404);
	expect(shippedRun.response?.body).toMatchObject({ status: 404, field: 'ruleId', hint: expect.stringMatching(/^Add \?ruleId=/) });
});

// Before: Q1 400 naming the caller's valid X-Leadflow-Owner for the node's "abc"; Q2 404 for the
// node's own owner with no header sent, its hint "… or leave it empty …".
test.each([
	['"abc", a valid X-Leadflow-Owner sent', 'abc', { 'X-Leadflow-Owner': randomUUID() }, 'The owner user ID "abc" is not a UUID'],
	['a UUID of no owner, no header', randomUUID(), {}, /^Owner User ID: user .* does not exist$/],
])("queue-run (Run Now): Claim Due Messages' own Owner User ID refused (%s) is the workflow's 500 (fix it in the workflow)", async (_case, owner, headers, error) => {
	const run = await call(withParameters('queue-run', 'Claim Due Messages', { ownerUserId: owner }), 'Run Now', headers);

	expect(run.response?.statusCode).toBe(500);
	const answer = run.response?.body as Record<string, unknown>;
	expect(answer).toMatchObject({ status: 500, error: typeof error === 'string' ? error : expect.stringMatching(error), hint: expect.stringContaining(fixIt('Claim Due Messages')) });
	expect(answer.field ?? null).toBeNull();
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
});

// Before: 404 with the node's hint "Set Owner User ID … or leave it empty …" for a header the caller sent.
test('queue-run (Run Now): an X-Leadflow-Owner of no owner, which the shipped Claim Due Messages reads, is the caller\'s 404 naming the header and speaking of it', async () => {
	const run = await call('queue-run', 'Run Now', { 'X-Leadflow-Owner': randomUUID() });

	expect(run.response?.statusCode).toBe(404);
	expect(run.response?.body).toEqual({
		status: 404,
		error: expect.stringMatching(/^Owner User ID: user .* does not exist$/),
		field: 'X-Leadflow-Owner',
		hint: expect.stringMatching(/^Send X-Leadflow-Owner as the Supabase user id \(auth\.users\) of an owner who has queue settings .* or leave the header out to claim every owner's messages\.$/),
	});
});
