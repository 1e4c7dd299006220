// auto-assign.json with settings of its own nodes an expression or a saved workflow gives:
// - Assign Stages' Delivery ={{ "Confirm" }} is refused before anything is written; the node has an
//   error output, so a thrown refusal made n8n pass the analyses on to Collect Outcomes (Analyse Now
//   answered a bare 500 "Error in workflow", a scheduled run "has no branch with index 1"). Every item
//   now fails with the refusal on the error output: Analyse Now answers 500 with it and a hint that
//   the workflow's node must be fixed; a scheduled run ends in error with it.
// - an Analyze option refused answers 500 naming the option, never X-Leadflow-Owner (400 is only for
//   the owner the caller sent).
// - Analyze's Timeout (Ms) 900,000, saved before it had a maximum, still works.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { testStack, withDb } from '../helpers/stack';
import { createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';

const WORKFLOW = 'workflows/auto-assign.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;
let credentials: TestCredentials;
let world: PipelineWorld;
const reply = (score: number) =>
	JSON.stringify({ lead_status: 'CONTACTED', lead_score: score, confidence: 80, recommended_stage: null, summary: 'Asked the price.', reasoning: 'Engaged.' });

beforeAll(async () => {
	sims = await startSimulators();
	const stack = testStack();
	credentials = {
		httpHeaderAuth: KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: `k-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	};
	world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads' }] });
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.gemini.control.reset();
});

const customerWrites = (conversationId: string, text: string, secondsAgo: number) =>
	withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, now() - make_interval(secs => $4))`, [
			world.userId,
			conversationId,
			text,
			secondsAgo,
		]),
	);

/** The shipped workflow with `changes` merged into nodes' parameters; a scheduled run kept to this test's owner. */
function withParameters(changes: Record<string, Record<string, unknown>>, ownerOnly = false): WorkflowJson {
	const shipped = loadWorkflow(WORKFLOW);
	return {
		...shipped,
		nodes: shipped.nodes.map((node) => {
			const owner = ownerOnly && (node.name === 'Analyze Due Conversations' || node.name === 'Claim Waiting Automations') ? { ownerUserId: world.userId } : {};
			return { ...node, parameters: { ...node.parameters, ...owner, ...(changes[node.name] ?? {}) } };
		}),
	};
}

const analyseNow = (workflow: WorkflowJson) =>
	runWorkflow(workflow, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} }, credentials });

const placedOf = async (conversationId: string) => ((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).filter((p) => p.conversation_id === conversationId).length;

const DELIVERY_REFUSED = 'Delivery must be one of onHandOut, confirm (got "Confirm")';

test('Assign Stages Delivery ={{ "Confirm" }}: Analyse Now answers 500 with the refusal and the node to fix; a scheduled run ends in error with it; nothing is placed', async () => {
	const [a] = await world.contacts(1);
	await customerWrites(a, 'How much?', 60);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });

	const run = await analyseNow(withParameters({ 'Assign Stages': { automationDelivery: '={{ "Confirm" }}' } }));

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({
		status: 500,
		error: DELIVERY_REFUSED,
		field: null,
		hint: expect.stringMatching(/^The workflow's node Assign Stages refuses its own setting: fix it in the workflow .*Set Delivery to one of onHandOut, confirm/),
	});
	expect(await placedOf(a)).toBe(0);

	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	const scheduled = await runWorkflow(withParameters({ 'Assign Stages': { automationDelivery: '={{ "Confirm" }}' } }, true), { trigger: 'schedule', credentials });

	expect(scheduled.status).toBe('error');
	expect(scheduled.error?.message).toContain(DELIVERY_REFUSED);
	expect(await placedOf(a)).toBe(0);
});

test('an Analyze option refused answers 500 naming the option, not X-Leadflow-Owner; a scheduled run ends in error with it', async () => {
	const [a] = await world.contacts(1);
	await customerWrites(a, 'How much?', 60);
	const refused = { 'Analyze Due Conversations': { options: { concurrency: '={{ 150 }}' } } };

	const run = await analyseNow(withParameters(refused));

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({
		status: 500,
		error: 'Concurrency must be a whole number from 1 to 50 (got 150)',
		field: null,
		hint: expect.stringMatching(/^The workflow's node Analyze Due Conversations refuses its own setting: fix it in the workflow .*Set Concurrency in the node's Options/),
	});
	expect(await sims.gemini.control.requests()).toEqual([]);

	const scheduled = await runWorkflow(withParameters(refused, true), { trigger: 'schedule', credentials });
	expect(scheduled.status).toBe('error');
	expect(scheduled.error?.message).toContain('Concurrency must be a whole number from 1 to 50 (got 150)');
});

test('Analyse Now with Analyze Timeout (Ms) 900,000, saved before it had a maximum, analyses and places', async () => {
	const [a] = await world.contacts(1);
	await customerWrites(a, 'How much?', 60);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });

	const run = await analyseNow(withParameters({ 'Analyze Due Conversations': { options: { timeoutMs: 900000 } } }));

	expect(run.response?.statusCode).toBe(200);
	// The conversations the tests above left due are analysed with it.
	expect(run.response?.body).toMatchObject({ analysed: 3 });
	expect(await placedOf(a)).toBe(1);
});
