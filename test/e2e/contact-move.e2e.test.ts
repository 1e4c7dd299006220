// workflows/contact-move.json in real n8n 2.41.1 (this package installed from its tarball) against
// the local stack: a move answers 200 with the new stage, who moved it (movedBy, kept in the history)
// and the automation it fired, bad input 400 (a number as the stage among it)
// (a conversationId that is a list holding the id among it; a snake_case field or a query parameter,
// refused before the node runs), an unknown stage 404, each with a hint saying what to do, no key
// 403, and a refused request writes nothing; a caller's id whose refusal
// holds a refused option's words is still the caller's 400, and a copy whose Move Contact refuses its
// own Delivery (an expression's "Confirm") answers 500 "fix it in the workflow", told by the failed
// item's `setting` as the installed package builds it.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { testStack } from '../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';
import { startN8n, type E2eWorkflow, type RunningN8n } from './support';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const headers = { [KEY.name]: KEY.value };
const SHIPPED = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'workflows', 'contact-move.json'), 'utf8')) as E2eWorkflow;
/** The shipped workflow on another path, its Move Contact's Delivery an expression's "Confirm" (not one of its choices). */
const REFUSING_COPY: E2eWorkflow = {
	...SHIPPED,
	id: 'LfContactMoveBad',
	name: `${SHIPPED.name} (Delivery refused)`,
	nodes: SHIPPED.nodes.map((node) => {
		if (node.type === 'n8n-nodes-base.webhook') return { ...node, webhookId: randomUUID(), parameters: { ...node.parameters, path: 'leadflow/contacts/move-refused' } };
		if (node.name === 'Move Contact') return { ...node, parameters: { ...node.parameters, automationDelivery: '={{ "Confirm" }}' } };
		return node;
	}),
};
let n8n: RunningN8n;
let world: PipelineWorld;

beforeAll(async () => {
	const stack = testStack();
	world = await createPipelineWorld();
	await world.automation({ trigger_type: 'STAGE_CHANGED', trigger_conditions: {}, actions: [{ type: 'notify', message: 'A lead changed stage' }] });
	n8n = await startN8n({
		workflows: ['workflows/contact-move.json', REFUSING_COPY],
		credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
});

async function placedContact(): Promise<string> {
	const contact = await world.contact();
	await assign([analysis(contact, 10)]);
	return contact;
}

const stageOf = async (contact: string) =>
	((await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>).find((place) => place.conversation_id === contact)?.stage_id;

const move = (body: unknown, withKey = true) =>
	n8n.callWebhook('leadflow/contacts/move', { method: 'POST', headers: withKey ? headers : {}, body });

test('in real n8n: a move by stage name answers 200 with the new stage, who moved it and the automation it fired', async () => {
	const contact = await placedContact();
	const answer = await move({ conversationId: contact, stage: 'qualified', reason: 'Booked a demo', movedBy: 'user-7' });
	expect(answer.statusCode).toBe(200);
	expect(answer.body).toMatchObject({
		conversation_id: contact,
		outcome: 'moved',
		stage: { id: world.pipeline.stages.Qualified, name: 'Qualified' },
		from_stage: { name: 'New Lead' },
		automations_fired: 1,
		moved_by: 'user-7',
		automations: [expect.objectContaining({ kind: 'notify' })],
	});
	expect(await stageOf(contact)).toBe(world.pipeline.stages.Qualified);
	expect((await activities(contact)).filter((entry) => entry.type === 'MANUAL_MOVE')).toEqual([
		expect.objectContaining({ actor: 'user', actor_id: 'user-7', description: 'Booked a demo' }),
	]);
	// A number with a fraction is neither a stage's id nor its name: 400 naming Stage, not 404.
	const numeric = await move({ conversationId: contact, stage: 12.5 });
	expect(numeric.statusCode).toBe(400);
	expect(numeric.body).toMatchObject({ status: 400, error: 'Stage must be text or a whole number (got 12.5)' });
});

test('in real n8n: bad input 400, an unknown stage 404, no key 403, and nothing written', async () => {
	const contact = await placedContact();
	const noId = await move({ stage: 'Qualified' });
	expect(noId.statusCode).toBe(400);
	expect(noId.body).toEqual({
		status: 400,
		error: expect.stringMatching(/conversation ID "" is not a UUID/),
		field: 'conversationId',
		hint: 'Give the contact\'s id (the id column of messenger_conversations): a webhook caller sends it as {"conversationId": "…"}, a workflow maps it, e.g. {{ $json.conversationId }}.',
	});
	const listed = await move({ conversationId: [contact], stage: 'Won' });
	expect(listed.statusCode).toBe(400);
	expect(listed.body).toEqual({
		status: 400,
		error: 'Conversation ID must be text (got an array of 1)',
		field: 'conversationId',
		hint: expect.stringContaining('Send one contact\'s id as text, e.g. {"conversationId": "'),
	});
	const unknownStage = await move({ conversationId: contact, stage: 'Nowhere' });
	expect(unknownStage.statusCode).toBe(404);
	expect(unknownStage.body).toEqual({
		status: 404,
		error: expect.stringMatching(/no stage named "Nowhere"/),
		hint: "Use an id or name that exists: the one the message names is not in the database (mistyped, deleted meanwhile, or another owner's).",
	});
	const noKey = await move({ conversationId: contact, stage: 'Won' }, false);
	expect(noKey.statusCode).toBe(403);
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
	for (const answer of [noId, listed, unknownStage]) expect(JSON.stringify(answer.body)).not.toMatch(/at \S+\.(js|ts):\d+/);
});

test('in real n8n: a snake_case body field or a query parameter answers 400 naming it, nothing moved; the console\'s body still moves', async () => {
	const contact = await placedContact();
	const snake = await move({ conversationId: contact, stage: 'Won', pipeline_id: world.pipeline.id });
	expect(snake.statusCode).toBe(400);
	expect(snake.body).toEqual({
		status: 400,
		error: 'Unknown field "pipeline_id": the body takes conversationId, stage, pipelineId, fromPipelineId, reason and movedBy (did you mean "pipelineId"?)',
		field: 'pipeline_id',
		hint: expect.stringMatching(/^POST a JSON body \{"conversationId": .*these six fields only, named in camelCase\.$/),
	});
	const queried = await n8n.callWebhook('leadflow/contacts/move', { method: 'POST', headers, query: { pipelineId: world.pipeline.id }, body: { conversationId: contact, stage: 'Won' } });
	expect(queried.statusCode).toBe(400);
	expect(queried.body).toMatchObject({ status: 400, error: 'Query parameter "pipelineId": this webhook reads only the JSON body; send it there', field: 'pipelineId' });
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);

	const moved = await move({ conversationId: contact, stage: 'Won', reason: "Moved to Won on the console's board" });
	expect(moved.statusCode).toBe(200);
	expect(await stageOf(contact)).toBe(world.pipeline.stages.Won);
});

test("in real n8n: a caller's id in a refused option's words is the caller's 400; Move Contact refusing its own Delivery is the workflow's 500", async () => {
	const contact = await placedContact();
	const worded = await move({ conversationId: 'x must be one of a, b (got c)', stage: 'Qualified' });
	expect(worded.statusCode).toBe(400);
	expect(worded.body).toEqual({
		status: 400,
		error: 'The conversation ID "x must be one of a, b (got c)" is not a UUID',
		field: 'conversationId',
		hint: expect.stringMatching(/^Give the contact's id/),
	});

	const refused = await n8n.callWebhook('leadflow/contacts/move-refused', { method: 'POST', headers, body: { conversationId: contact, stage: 'Qualified' } });
	expect(refused.statusCode).toBe(500);
	expect(refused.body).toEqual({
		status: 500,
		error: 'Delivery must be one of onHandOut, confirm (got "Confirm")',
		hint: expect.stringMatching(/^The workflow's node Move Contact refuses its own setting: fix it in the workflow \(the request is not at fault\)\. .*Set Delivery to one of onHandOut, confirm/),
	});
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
});
