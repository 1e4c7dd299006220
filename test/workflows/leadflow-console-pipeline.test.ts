// The Pipeline endpoint of workflows/leadflow-console.json through n8n's engine in-process against the
// local stack: the board equals console_pipeline_board's answer at the database's clock; a stage is
// paged, several stages at once with offsets; an unknown pipeline is a 404 with the pipelines to pick from; bad input is a 400 naming
// it, with the hint; without the key, 403 and nothing runs. Moving a card goes through contact-move.json with the
// same key (its own tests: test/workflows/contact-move.test.ts): here, a move through it is what
// the board shows next.
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient, testStack } from '../helpers/stack';
import { analysis, assign, createPipelineWorld } from '../db/pipelines/fixtures';
import type { PipelineBoard } from '../../nodes/shared/contract';

const WORKFLOW = 'workflows/leadflow-console.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;

beforeAll(() => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
});

const withKey = { [KEY.name]: KEY.value };
const board = (query: Record<string, string>, headers: Record<string, string> = withKey) =>
	runWorkflow(WORKFLOW, { startNode: 'Pipeline Request', webhook: { method: 'GET', headers, query }, credentials });

/** The same call straight to the database, at the clock the workflow's call ran at. */
async function direct(args: Record<string, unknown>, now: string): Promise<PipelineBoard> {
	const { data, error } = await serviceClient().rpc('console_pipeline_board', { ...args, p_now: now });
	expect(error).toBeNull();
	return data as PipelineBoard;
}

test('the board is the database\'s: stages, counts and cards; a stage is paged', async () => {
	const world = await createPipelineWorld();
	const contacts = await world.contacts(5);
	await assign(contacts.map((id, index) => analysis(id, index < 3 ? 30 : 60)));

	const result = await board({ pipelineId: world.pipeline.id, limit: '2' });
	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	const body = result.response?.body as PipelineBoard;
	// The picker lists every pipeline, other test files' too (they run beside this one): the board is
	// compared whole, the picker by this world's pipeline and its count.
	const { pipelines, ...shown } = body;
	const { pipelines: directPipelines, ...expected } = await direct({ p_pipeline_id: world.pipeline.id, p_limit: 2 }, body.generatedAt);
	expect(shown).toEqual(expected);
	expect(pipelines.find((pipeline) => pipeline.id === world.pipeline.id)).toEqual(directPipelines.find((pipeline) => pipeline.id === world.pipeline.id));
	expect(pipelines.find((pipeline) => pipeline.id === world.pipeline.id)).toMatchObject({ contact_count: 5 });
	expect(body.stages.map((stage) => [stage.name, stage.contact_count, stage.cards.length])).toEqual([
		['New Lead', 0, 0], ['Contacted', 3, 2], ['Qualified', 2, 2], ['Proposal', 0, 0], ['Won', 0, 0], ['Lost', 0, 0],
	]);

	// Asked again with the version it shows: unchanged, in a few bytes.
	const again = await board({ pipelineId: world.pipeline.id, limit: '2', known: body.version! });
	expect(again.response?.statusCode).toBe(200);
	expect(again.response?.body).toEqual({ unchanged: true, version: body.version, generatedAt: expect.any(String), pipelines: expect.any(Array) });

	const paged = await board({ pipelineId: world.pipeline.id, limit: '2', stageId: world.pipeline.stages.Contacted, offset: '2' });
	expect(paged.response?.statusCode).toBe(200);
	const contacted = (paged.response?.body as PipelineBoard).stages[1];
	expect(contacted).toMatchObject({ offset: 2, contact_count: 3 });
	expect(contacted.cards).toHaveLength(1);
	const seen = [...body.stages[1].cards, ...contacted.cards].map((card) => card.conversation_id).sort();
	expect(seen).toEqual(contacts.slice(0, 3).sort());
});

test('offsets pages two stages in one call, each where it was asked, through the shipped workflow (migration …2250)', async () => {
	const world = await createPipelineWorld();
	const contacts = await world.contacts(6);
	await assign(contacts.map((id, index) => analysis(id, index < 3 ? 30 : 60)));
	const { Contacted, Qualified } = world.pipeline.stages;
	const first = (await board({ pipelineId: world.pipeline.id, limit: '2' })).response?.body as PipelineBoard;

	const result = await board({ pipelineId: world.pipeline.id, limit: '2', offsets: `${Contacted}:2,${Qualified}:2` });
	expect(result.response?.statusCode).toBe(200);
	const body = result.response?.body as PipelineBoard;
	const expected = await direct({ p_pipeline_id: world.pipeline.id, p_limit: 2, p_offsets: { [Contacted]: 2, [Qualified]: 2 } }, body.generatedAt);
	expect(body.stages).toEqual(expected.stages);
	expect(body.version).toBe(expected.version);
	for (const id of [Contacted, Qualified]) {
		const stage = body.stages.find((row) => row.id === id)!;
		expect(stage).toMatchObject({ offset: 2, contact_count: 3 });
		const before = first.stages.find((row) => row.id === id)!;
		expect([...before.cards, ...stage.cards].map((card) => card.conversation_id).sort()).toEqual(contacts.slice(id === Contacted ? 0 : 3, id === Contacted ? 3 : 6).sort());
	}
	expect(body.stages.filter((row) => row.id !== Contacted && row.id !== Qualified).every((row) => row.offset === 0)).toBe(true);

	// offsets and the older stageId together: one of them.
	const both = await board({ pipelineId: world.pipeline.id, offsets: `${Contacted}:2`, stageId: Qualified, offset: '2' });
	expect(both.response?.statusCode).toBe(400);
	expect(both.response?.body).toEqual({ status: 400, error: 'offsets and stageId are two ways to page: send one of them', hint: expect.stringMatching(/^Put the stage's offset into offsets/) });
});

test('without a pipeline: the list; an unknown pipeline: 404 with the list to pick from', async () => {
	const world = await createPipelineWorld();
	const list = await board({});
	expect(list.response?.statusCode).toBe(200);
	const listed = list.response?.body as PipelineBoard;
	expect(listed.pipeline).toBeNull();
	expect(listed.pipelines.map((pipeline) => pipeline.id)).toContain(world.pipeline.id);

	const gone = await board({ pipelineId: '00000000-0000-4000-8000-000000000000' });
	expect(gone.response?.statusCode).toBe(404);
	expect(gone.response?.body).toMatchObject({ not_found: true, pipeline: null, error: expect.stringMatching(/no pipeline with ID 00000000-0000-4000-8000-000000000000/) });
	expect((gone.response?.body as PipelineBoard).pipelines.map((pipeline) => pipeline.id)).toContain(world.pipeline.id);
});

// The hint is the node's description of the problem (nodes/LeadflowConsole): what to do.
test.each([
	['pipelineId=pipe-1', { pipelineId: 'pipe-1' }, /pipeline ID "pipe-1" is not a UUID/, 'Use the id of one of the pipelines the board lists (GET …/api/pipeline without pipelineId), or leave it out for the list.', 'pipelineId'],
	['limit=0', { limit: '0' }, /cards per stage \(limit\) must be a whole number from 1 to 200/, 'Pass limit=20 or another whole number in that range.', 'limit'],
	['limit=201', { limit: '201' }, /cards per stage \(limit\) must be a whole number from 1 to 200/, 'Pass limit=20 or another whole number in that range.', 'limit'],
	['offset=x', { offset: 'x' }, /offset must be a whole number from 0 to 1000000/, 'Pass offset=0 or another whole number in that range.', 'offset'],
	['stageId=stage', { stageId: 'stage' }, /paged stage ID "stage" is not a UUID/, 'Use the id of one of the pipeline\'s stages, as the board answers them (GET …/api/pipeline?pipelineId=…), or leave it out.', 'stageId'],
	['a search of 201 characters', { search: 'x'.repeat(201) }, /search must be at most 200 characters/, 'Send a shorter search, at most 200 characters: a part of a name or an id finds it.', 'search'],
	['offsets=stage:20', { offsets: 'stage:20' }, /offsets: "stage:20" is not a <stage ID>:<offset> pair/, 'Send offsets as <stage ID>:<offset> pairs separated by commas, each stage an id of the board\'s stages and each offset a whole number from 0 to 1000000 (e.g. offsets=<stage ID>:20).', 'offsets'],
	['offsets=<id>:-1', { offsets: '6f1d2c3b-0000-4000-8000-000000000001:-1' }, /is not a <stage ID>:<offset> pair/, 'Send offsets as <stage ID>:<offset> pairs separated by commas, each stage an id of the board\'s stages and each offset a whole number from 0 to 1000000 (e.g. offsets=<stage ID>:20).', 'offsets'],
	['offsets naming a stage twice', { offsets: '6f1d2c3b-0000-4000-8000-000000000001:20,6F1D2C3B-0000-4000-8000-000000000001:40' }, /offsets names the stage 6f1d2c3b-0000-4000-8000-000000000001 twice/, 'Send offsets as <stage ID>:<offset> pairs separated by commas, each stage an id of the board\'s stages and each offset a whole number from 0 to 1000000 (e.g. offsets=<stage ID>:20).', 'offsets'],
	['known=v1', { known: 'v1' }, /known version "v1" is not a version of the board/, 'Send back the version of the last answer, or leave known out for the whole board.', 'known'],
])('bad input (%s) answers 400 naming it, with the hint', async (_label, query, message, hint, field) => {
	const result = await board(query);
	expect(result.response?.statusCode).toBe(400);
	// Every refusal of a parameter names its field (`field`): an id that is not a UUID, a page size, offsets, known.
	expect(result.response?.body).toEqual({ status: 400, error: expect.stringMatching(message), field, hint });
});

test('the database\'s refusal is a 400 with its message: an offset without its stage, a stage of another pipeline', async () => {
	const world = await createPipelineWorld();
	const other = await world.addPipeline('Elsewhere', [{ name: 'Only' }]);
	const offset = await board({ pipelineId: world.pipeline.id, offset: '20' });
	expect(offset.response?.statusCode).toBe(400);
	const refusedHint = 'A value was rejected by the database: check the fields named in the message.';
	expect(offset.response?.body).toEqual({ status: 400, error: expect.stringMatching(/p_offset needs p_stage_id/), hint: refusedHint });
	const foreign = await board({ pipelineId: world.pipeline.id, stageId: other.stages.Only });
	expect(foreign.response?.statusCode).toBe(400);
	expect(foreign.response?.body).toEqual({ status: 400, error: expect.stringMatching(/is not a stage of pipeline/), hint: refusedHint });
});

test('without the key, or with a wrong one, n8n refuses (403) and nothing runs', async () => {
	const world = await createPipelineWorld();
	for (const headers of [{}, { [KEY.name]: 'guess' }]) {
		const result = await board({ pipelineId: world.pipeline.id }, headers);
		expect(result.response?.statusCode).toBe(403);
		expect(result.executedNodes).toEqual([]);
	}
});

test('a move through contact-move.json with the same key is what the board shows next, with what it logged', async () => {
	const world = await createPipelineWorld();
	const [contact] = await world.contacts(1);
	await assign([analysis(contact, 30)]);
	const moved = await runWorkflow('workflows/contact-move.json', {
		webhook: { method: 'POST', headers: { ...withKey, 'content-type': 'application/json' }, body: { conversationId: contact, stage: world.pipeline.stages.Won, reason: 'Signed' } },
		credentials,
	});
	expect(moved.response?.statusCode).toBe(200);
	expect(moved.response?.body).toMatchObject({ outcome: 'moved', stage: { id: world.pipeline.stages.Won, name: 'Won' }, from_stage: { name: 'Contacted' } });

	const after = (await board({ pipelineId: world.pipeline.id })).response?.body as PipelineBoard;
	const won = after.stages.find((stage) => stage.name === 'Won')!;
	expect(won.contact_count).toBe(1);
	expect(won.cards[0]).toMatchObject({ conversation_id: contact, last_activity: { type: 'MANUAL_MOVE', description: 'Signed', actor: 'user' } });
	expect(after.stages.find((stage) => stage.name === 'Contacted')!.contact_count).toBe(0);
});
