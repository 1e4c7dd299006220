// Auto Assign Stage's Analyze kept to one owner as an AI agent's tool (docs/nodes.md, "One owner per
// tool"). The node reads with the service role, so before 6 December 2026 Analyze as a tool read any
// owner's conversation the model named (From the Input) and, with Source due and an empty Owner User
// ID, every owner's due conversations, and sent their messages to Gemini. Now, as a tool, Owner User
// ID must be given (refused naming the field, nothing read or sent), another owner's conversation is
// answered exactly as a missing one (pipeline_conversation_messages' p_user_id), and a Pipeline of
// another owner lists no stage names (pipeline_stage_names' p_user_id, migration …2780). In a
// workflow an empty Owner User ID is every owner's, as before.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import type { GeminiRequestBody, LoggedRequest, RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { createPipelineWorld, minutesAfter, type PipelineWorld } from '../../db/pipelines/fixtures';
import { startSimulatorsProcess } from '../../helpers/simulators-process';
import { testStack, withDb } from '../../helpers/stack';
import { runStage } from './support/workflow';

let sims: RunningSimulators;
let mine: PipelineWorld;
let theirs: PipelineWorld;

beforeAll(async () => {
	[sims, mine, theirs] = await Promise.all([startSimulatorsProcess(), createPipelineWorld(), createPipelineWorld()]);
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });
});

const VALID = JSON.stringify({ lead_status: 'qualified', lead_score: 72, confidence: 85, recommended_stage: 'Qualified', summary: 'Wants the premium plan.', reasoning: 'Asked the price.' });

const credentials = () => ({
	leadflowGeminiApi: { apiKeys: `test-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});
const node = { leadflowGeminiApi: { id: 'gemini', name: 'Gemini' }, leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject = {}): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('autoAssignStage', { operation: 'analyze', ...parameters }, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

/** A conversation of `world` with a sender name and customer messages (due: its Page's auto-assignment is on, it is in no pipeline). */
async function conversationOf(world: PipelineWorld, name: string): Promise<string> {
	const id = await world.contact();
	await withDb(async (db) => {
		await db.query('update public.messenger_conversations set sender_name = $2 where id = $1', [id, name]);
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, $4::timestamptz)`,
			[world.userId, id, `${name}: how much is the premium plan?`, minutesAfter(-30)],
		);
	});
	return id;
}

/** The requests Gemini was sent this test, whole (the prompt and the system instruction, which lists the stage names). */
const prompts = async (): Promise<string[]> =>
	(await sims.gemini.control.requests())
		.filter((request: LoggedRequest) => request.path.endsWith(':generateContent'))
		.map((call) => JSON.stringify(call.body as GeminiRequestBody));

const REFUSED = (field: string) => `Analyze as an AI agent's tool needs the user ID of the owner whose conversations to analyse (${field}), and none was given`;
const BUILDER_ADVICE =
	"Owner User ID (ownerUserId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose conversations to analyse (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('ownerUserId', 'the user ID of the owner whose conversations to analyse') }}. This tool analyses no conversation without it.";
const AGENT_ADVICE = (key: string) =>
	`Give the user ID of the owner whose conversations to analyse as ${key}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool analyses no conversation without it.`;

test("Analyze From the Input as a tool: another owner's conversation is answered as a missing one, nothing of it read or sent to Gemini; the owner's own is analysed", async () => {
	const [myContact, theirContact] = [await conversationOf(mine, 'Ana Mine'), await conversationOf(theirs, 'Bruno Theirs')];
	const tool = { source: 'input', ownerUserId: mine.userId, conversationId: ai('contact') };

	const other = await asTool(tool, { contact: theirContact });
	const nobody = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';
	const none = await asTool(tool, { contact: nobody });
	expect(other.thrown).toBe(String(none.thrown).replace(nobody, theirContact));
	expect(other.thrown).toMatch(/^Conversation ID "[0-9a-f-]{36}" does not exist/);
	expect(await prompts()).toEqual([]);

	const own = await asTool(tool, { contact: myContact });
	expect(JSON.parse(own.answer as string)).toEqual([expect.objectContaining({ conversation_id: myContact, analysed: true, lead_score: 72 })]);
	expect((await prompts()).join('\n')).toContain('Ana Mine');
	expect((await prompts()).join('\n')).not.toContain('Bruno Theirs');
});

test("Analyze as a tool with no owner is refused naming the field, for whoever fills it, in either source: nothing read or sent to Gemini", async () => {
	const theirContact = await conversationOf(theirs, 'Carla Theirs');
	for (const parameters of [{ source: 'due' }, { source: 'due', ownerUserId: ' ' }, { source: 'input', conversationId: theirContact }]) {
		expect({ parameters, out: await asTool(parameters) }).toEqual({ parameters, out: { thrown: `${REFUSED('Owner User ID, ownerUserId')}\n\nDetails: ${BUILDER_ADVICE}` } });
	}
	for (const owner of ['', 'null', ' Undefined ']) {
		expect(await asTool({ source: 'due', ownerUserId: ai('owner') }, { owner })).toEqual({ thrown: `${REFUSED('owner')}\n\nDetails: ${AGENT_ADVICE('owner')}` });
	}
	expect(await prompts()).toEqual([]);
});

test("Analyze Due for Analysis as a tool analyses only the owner's due conversations", async () => {
	const [myContact] = [await conversationOf(mine, 'Dario Mine'), await conversationOf(theirs, 'Elena Theirs')];
	const out = await asTool({ source: 'due', ownerUserId: ai('owner'), maxConversations: 1000 }, { owner: mine.userId });
	const analysed = JSON.parse(out.answer as string) as Array<{ conversation_id: string }>;
	expect(analysed.map((row) => row.conversation_id)).toContain(myContact);
	const owners = await withDb(async (db) => (await db.query<{ user_id: string }>('select distinct user_id from public.messenger_conversations where id = any($1)', [analysed.map((row) => row.conversation_id)])).rows);
	expect(owners).toEqual([{ user_id: mine.userId }]);
	expect((await prompts()).join('\n')).not.toContain('Elena Theirs');
});

test("Analyze as a tool with another owner's Pipeline lists none of its stage names, as for an unknown pipeline", async () => {
	const myContact = await conversationOf(mine, 'Fabio Mine');
	const secret = await theirs.addPipeline('Their secret', [{ name: 'Secret Stage Alpha' }]);
	const own = await mine.addPipeline('My own', [{ name: 'Own Stage Beta' }]);
	// The owner's own pipeline: its stage names are listed (the check's control).
	await asTool({ source: 'input', ownerUserId: mine.userId, conversationId: myContact, pipelineId: { __rl: true, mode: 'id', value: own.id } });
	expect((await prompts()).join('\n')).toContain('Own Stage Beta');
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });
	const out = await asTool({ source: 'input', ownerUserId: mine.userId, conversationId: myContact, pipelineId: { __rl: true, mode: 'id', value: secret.id } });
	expect(JSON.parse(out.answer as string)).toEqual([expect.objectContaining({ conversation_id: myContact, analysed: true })]);
	expect((await prompts()).join('\n')).not.toContain('Secret Stage Alpha');
});

test("Analyze in a workflow: an empty Owner User ID reads any owner's conversation, as before; one given keeps it to that owner's", async () => {
	const theirContact = await conversationOf(theirs, 'Gina Theirs');
	const anyOwner = await runStage([{ conversation_id: theirContact }], { operation: 'analyze', options: { retryDelayMs: 10 } }, credentials());
	expect(anyOwner.contacts).toEqual([expect.objectContaining({ conversation_id: theirContact, analysed: true })]);
	const scoped = await runStage([{ conversation_id: theirContact }], { operation: 'analyze', ownerUserId: mine.userId, options: { retryDelayMs: 10 } }, credentials(), { continueOnFail: true });
	expect(scoped.contacts).toEqual([{ error: expect.objectContaining({ code: 'not_found', message: `Conversation ID "${theirContact}" does not exist` }) }]);
});

test("Analyze as a tool: a conversation not found within the owner is advised to whoever fills Conversation ID and Owner User ID, never with the builder's {{ $json.conversation_id }}", async () => {
	const theirContact = await conversationOf(theirs, 'Hana Theirs');
	const notFound = `Conversation ID "${theirContact}" does not exist\n\nDetails: `;
	const cases: Array<[IDataObject, IDataObject, string]> = [
		[
			{ ownerUserId: ai('owner'), conversationId: ai('contact') },
			{ owner: mine.userId, contact: theirContact },
			"Give the id of one of this owner's conversations as contact; if that conversation is the one you mean, check the owner you gave as owner.",
		],
		[
			{ ownerUserId: mine.userId, conversationId: ai('contact') },
			{ contact: theirContact },
			"This tool analyses only the conversations of the owner set in its settings: give the id of one of them as contact. Another owner's conversation cannot be analysed with this tool.",
		],
		[
			{ ownerUserId: ai('owner'), conversationId: theirContact },
			{ owner: mine.userId },
			"The conversation is set in this tool's settings (Conversation ID), not given by you: check the owner you gave as owner; if it is right, this conversation cannot be analysed with this tool.",
		],
		[
			{ ownerUserId: mine.userId, conversationId: theirContact },
			{},
			"The conversation (Conversation ID) and its owner (Owner User ID) are both set in this tool's settings, and the conversation is not that owner's or does not exist: this tool cannot analyse it. Set Conversation ID or Owner User ID in the tool's settings so they agree, or let the model give the conversation with $fromAI.",
		],
	];
	for (const [parameters, args, advice] of cases) {
		expect({ parameters, out: await asTool({ source: 'input', ...parameters }, args) }).toEqual({ parameters, out: { thrown: `${notFound}${advice}` } });
	}
	expect(await prompts()).toEqual([]);
});

test('Analyze with an owner, one batch: an item bringing its own messages and one reading the same conversation; the second is analysed on its full Max Messages, never on the one-message owner check', async () => {
	const contact = await mine.contact();
	await withDb(async (db) => {
		for (const [text, minutes] of [['Early question about delivery', -50], ['Middle question about colours', -40], ['Late question about the price', -30]] as const) {
			await db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, $4::timestamptz)`, [mine.userId, contact, text, minutesAfter(minutes)]);
		}
	});
	const own = { conversation_id: contact, sender_name: 'Imported', messages: [{ direction: 'inbound', text: 'Brought along by the item', sent_at: minutesAfter(-5) }] };
	// Both orders: the item reading its conversation before and after the one bringing its messages.
	for (const entries of [[own, { conversation_id: contact }], [{ conversation_id: contact }, own]]) {
		await sims.gemini.control.reset();
		await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });
		const run = await runStage(entries, { operation: 'analyze', ownerUserId: mine.userId, options: { retryDelayMs: 10, maxMessages: 20 } }, credentials());
		expect(run.contacts).toEqual([expect.objectContaining({ analysed: true }), expect.objectContaining({ analysed: true })]);
		const sent = await prompts();
		expect(sent).toHaveLength(2);
		const full = sent.filter((prompt) => !prompt.includes('Brought along by the item'));
		expect(full).toHaveLength(1);
		for (const text of ['Early question about delivery', 'Middle question about colours', 'Late question about the price']) expect(full[0]).toContain(text);
	}
});

test('Analyze as a tool: a Conversation ID that is not a UUID is advised to whoever fills it: the model by its key (the id as a listing shows it), else the builder; never the builder\'s {{ $json.conversation_id }} to the model', async () => {
	const notUuid = (value: string) => `The conversation ID "${value}" is not a UUID\n\nDetails: `;
	const model =
		"Give the id of the conversation to analyse as contact: one UUID (e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f), the conversation's conversation_id exactly as the listing you found it in shows it, not its name or its Facebook id. If you have no such id, find the conversation in a listing first or ask for it: this tool analyses no conversation without it.";
	const builder =
		"Conversation ID (conversationId) is set in this tool's settings, not given by the model: set it there to the id of the conversation to analyse (a UUID, the id column of messenger_conversations), or let the model give it with {{ $fromAI('conversationId', 'the id of the conversation to analyse', 'string') }}. This tool analyses no conversation until then.";
	const cases: Array<[IDataObject, IDataObject, string]> = [
		[{ ownerUserId: mine.userId, conversationId: ai('contact') }, { contact: 'Hana Theirs' }, `${notUuid('Hana Theirs')}${model}`],
		[{ ownerUserId: ai('owner'), conversationId: ai('contact') }, { owner: mine.userId, contact: '2419' }, `${notUuid('2419')}${model}`],
		[{ ownerUserId: mine.userId, conversationId: 'Hana Theirs' }, {}, `${notUuid('Hana Theirs')}${builder}`],
	];
	for (const [parameters, args, thrown] of cases) {
		expect({ parameters, out: await asTool({ source: 'input', ...parameters }, args) }).toEqual({ parameters, out: { thrown } });
	}
	expect(await prompts()).toEqual([]);
});

test("Analyze as a tool: the Conversation ID's $fromAI type, not the value, says who is told (review RC2b): typed 'string', a list the model sent on AI Agent 3.x's path tells the model; typed 'number' left out tells the builder", async () => {
	const engineError = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(engineAgentWorkflow('autoAssignStage', { operation: 'analyze', source: 'input', ...parameters }, node, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
	};
	const contact = await conversationOf(mine, 'Ana Mine');
	expect(await engineError({ ownerUserId: mine.userId, conversationId: ai('contact') }, { contact: [contact] })).toBe(
		"Conversation ID must be text (got an array of 1)\n\nDetails: Give the id of the conversation to analyse as contact: one UUID (e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f), the conversation's conversation_id exactly as the listing you found it in shows it, not its name or its Facebook id. If you have no such id, find the conversation in a listing first or ask for it: this tool analyses no conversation without it.",
	);
	expect(await engineError({ ownerUserId: mine.userId, conversationId: "={{ $fromAI('contact', 'the contact', 'number') }}" }, {})).toBe(
		"The conversation ID \"\" is not a UUID\n\nDetails: Conversation ID (conversationId) in this tool's settings makes the model's answer something other than text, so no conversation can be given this way: the workflow's builder must change it to {{ $fromAI('contact', 'the id of the conversation to analyse', 'string') }}. Tell the user this tool needs that change; this tool analyses no conversation until then.",
	);
	expect(await prompts()).toEqual([]);
});
