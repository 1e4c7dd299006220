// auto-assign.json (Analyse Now) and queue-run.json (Run Now) tell their caller's malformed
// X-Leadflow-Owner (400 naming it) from a failure of their own by the failed item's `field`
// (`ownerUserId`: Auto Assign Stage's and Queue Ledger's owner refusal names its parameter,
// nodes/shared/per-item.ts), and only when the request sent that header: an Owner User ID set in
// the workflow's node itself, not from the request, and refused is the workflow's 500 "fix it in the
// workflow", as a refused setting is. Before, both matched the message's words ("The owner user ID
// "…" is not a UUID"), so the node's own owner answered 400 naming a header the caller never sent,
// and Run Now's 400 did not name the header (`field`).
import { randomUUID } from 'node:crypto';
import type { INodeParameters } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { everyWorkflowCredentials } from './support/pipeline';

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
	await sims.graph.control.clearWhatsAppMessages();
});

/** The shipped workflow with `node`'s parameters overridden. */
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

test.each([
	['auto-assign', 'Analyse Now', /^Send X-Leadflow-Owner as the Supabase user id/],
	['queue-run', 'Run Now', /^Send X-Leadflow-Owner as the Supabase user id \(auth\.users\) whose queue this is, or leave the header out for every owner\.$/],
])("%s (%s): a malformed X-Leadflow-Owner is the caller's 400 naming the header", async (workflow, startNode, hint) => {
	const run = await call(workflow, startNode, { 'X-Leadflow-Owner': 'someone' });

	expect(run.response?.statusCode).toBe(400);
	expect(run.response?.body).toEqual({ status: 400, error: 'The owner user ID "someone" is not a UUID', field: 'X-Leadflow-Owner', hint: expect.stringMatching(hint) });
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
});

test.each([
	['auto-assign', 'Analyse Now', 'Analyze Due Conversations', 'someone', 'The owner user ID "someone" is not a UUID'],
	['auto-assign', 'Analyse Now', 'Analyze Due Conversations', '={{ 42 }}', 'Owner user ID must be text (got 42)'],
	['queue-run', 'Run Now', 'Claim Due Messages', 'someone', 'The owner user ID "someone" is not a UUID'],
])("%s (%s): %s's own Owner User ID %j refused, with no X-Leadflow-Owner sent, is the workflow's 500 (fix it in the workflow), not the caller's 400", async (workflow, startNode, node, owner, message) => {
	const run = await call(withParameters(workflow, node, { ownerUserId: owner }), startNode, {});

	expect(run.response?.statusCode).toBe(500);
	const answer = run.response?.body as Record<string, unknown>;
	expect(answer).toMatchObject({
		status: 500,
		error: message,
		hint: expect.stringMatching(new RegExp(`^The workflow's node ${node} refuses its own setting: fix it in the workflow \\(the request is not at fault\\)\\. Use the id of the Supabase`)),
	});
	expect(answer.field ?? null).toBeNull();
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
});
