// workflows/auto-assign.json through n8n's engine in-process ("Analyse Now", Max Conversations 3)
// against the local stack and the Gemini simulator: on an UPDATE_EXISTING Page, three placed
// contacts whose new messages the model keeps refusing (blocked) no longer hold every run's three
// places: the run after their failed tries analyses the new customer first and places it, and they
// stay due, placed by the model once it answers (migration …2140). Before, every run analysed the
// same three again and the new customer was never placed.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { testStack, withDb } from '../helpers/stack';
import { createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;
let credentials: TestCredentials;
let world: PipelineWorld;

const reply = (score: number) =>
	JSON.stringify({ lead_status: 'CONTACTED', lead_score: score, confidence: 80, recommended_stage: null, summary: 'Asked the price.', reasoning: 'Engaged.' });

/** The shipped workflow with Max Conversations 3 (three stuck contacts stand for its 200). */
function withMaxConversations(max: number): WorkflowJson {
	const shipped = loadWorkflow('workflows/auto-assign.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((node) => (node.name === 'Analyze Due Conversations' ? { ...node, parameters: { ...node.parameters, maxConversations: max } } : node)),
	};
}

beforeAll(async () => {
	sims = await startSimulators();
	const stack = testStack();
	credentials = {
		httpHeaderAuth: KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: `key-a-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	};
	world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
});

afterAll(async () => {
	await sims.stop();
});

/** A customer message `secondsAgo` before the database's now (relative, never a date). */
const customerWrites = (conversationId: string, text: string, secondsAgo: number) =>
	withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, now() - make_interval(secs => $4))`, [
			world.userId,
			conversationId,
			text,
			secondsAgo,
		]),
	);

test('contacts the model keeps failing on do not hold back a new customer, and are placed once the model answers', async () => {
	const workflow = withMaxConversations(3);
	const analyseNow = () =>
		runWorkflow(workflow, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} }, credentials });
	const analysed = (run: Awaited<ReturnType<typeof analyseNow>>) =>
		((run.nodeOutputs['Analyze Due Conversations'] ?? []) as IDataObject[]).map((item) => [item.conversation_id, item.fallback]);
	const stageOf = async (contact: string) => (await places(world.userId)).find((place) => place.conversation_id === contact)?.stage_id;

	const stuck = await world.contacts(3);
	for (const contact of stuck) await customerWrites(contact, 'Hi, what does the course cost?', 7200);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	expect((await analyseNow()).response?.body).toMatchObject({ analysed: 3, fallback: 0, assigned: 3 });

	// Each writes again, and the model blocks these messages every time; then a new customer writes.
	for (const contact of stuck) await customerWrites(contact, 'you are all idiots', 3600);
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ match: { prompt: 'idiots' }, effect: { kind: 'blocked' } });
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(80) } });
	const [fresh] = await world.contacts(1);
	await customerWrites(fresh, 'Can I pay by card today?', 60);

	// The three waited longest: tried first, kept where the model put them.
	const second = await analyseNow();
	expect(second.response?.body).toMatchObject({ analysed: 3, fallback: 3, assigned: 0, kept: 3 });
	expect(analysed(second).map(([contact]) => contact).sort()).toEqual([...stuck].sort());

	// The next run: the new customer first (placed by the model), then two of the three, tried again.
	const third = await analyseNow();
	expect(third.response?.body).toMatchObject({ analysed: 3, fallback: 2, assigned: 1, kept: 2 });
	expect(analysed(third)[0]).toEqual([fresh, false]);
	expect(await stageOf(fresh)).toBe(world.pipeline.stages.Proposal);
	for (const contact of stuck) expect(await stageOf(contact)).toBe(world.pipeline.stages.Qualified);

	// The model answers them at last: still due, each is placed by its analysis.
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(80) } });
	expect((await analyseNow()).response?.body).toMatchObject({ analysed: 3, fallback: 0, moved: 3 });
	for (const contact of stuck) expect(await stageOf(contact)).toBe(world.pipeline.stages.Proposal);
	expect((await analyseNow()).response?.body).toMatchObject({ analysed: 0 });
});
