// Auto Assign Stage's Move kept to one owner. The node runs with the service role, so before 6
// December 2026 Move as an AI agent's tool moved any contact whose UUID the model gave, another
// owner's included. Now, as a tool, Owner User ID must be given (set in the tool's settings by the
// workflow's builder, or by the model where the builder chose $fromAI); a call without it is refused
// naming the field, its advice (and the first line's field name) for whoever fills it; and the
// database moves only a contact of that owner: another owner's is refused in the same words as a
// contact of nobody's ("does not exist for owner …"), nothing written. In a workflow an empty Owner
// User ID is any owner's contact, as before (the contact-move webhook).
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { activities, createPipelineWorld, failure, move } from '../../db/pipelines/fixtures';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject = {}): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('autoAssignStage', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

async function engineError(parameters: IDataObject, args: IDataObject = {}): Promise<string | undefined> {
	const run = await runWorkflow(engineAgentWorkflow('autoAssignStage', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
}

async function inWorkflow(parameters: IDataObject) {
	return await runWorkflow(
		{
			name: 'Move',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'move', name: 'Move', type: 'n8n-nodes-leadflow.autoAssignStage', typeVersion: 1, position: [200, 0], parameters, credentials: node },
			],
			connections: { Start: { main: [[{ node: 'Move', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
}

const BUILDER_ADVICE =
	"Owner User ID (ownerUserId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose contact to move (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('ownerUserId', 'the user ID of the owner whose contact to move') }}. This tool moves no contact without it.";
const agentAdvice = (field: string) =>
	`Give the user ID of the owner whose contact to move as ${field}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool moves no contact without it.`;
const refused = (field: string) => `Move as an AI agent's tool needs the user ID of the owner whose contact to move (${field}), and none was given`;

const moved = async (conversationId: string) => (await activities(conversationId)).filter((a) => a.type === 'MANUAL_MOVE').length;

test("Move as a tool moves only a contact of the owner set in the tool: another owner's contact the model names is not found, nothing moved, on both agent paths", async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const [myContact, theirContact] = [await mine.contact(), await theirs.contact()];
	const tool = { operation: 'move', ownerUserId: mine.userId, conversationId: ai('contact'), stage: { __rl: true, mode: 'name', value: 'Qualified' }, reason: 'Asked for a quote' };

	// Another owner's contact (with its own pipeline and a stage named Qualified): before, moved.
	const other = await asTool(tool, { contact: theirContact });
	expect(other.thrown).toBe(`pipeline_move failed: item 0 (p_items[0]).conversation_id: conversation ${theirContact} does not exist for owner ${mine.userId}\n\nDetails: This tool moves only the contacts of the owner set in its settings: give the id of one of them as contact. Another owner's contact cannot be moved with this tool.`);
	expect(await engineError(tool, { contact: theirContact })).toBe(other.thrown);
	expect(await moved(theirContact)).toBe(0);
	// A contact of nobody's reads the same: nothing tells the other owner's contact exists.
	const nobody = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';
	expect((await asTool(tool, { contact: nobody })).thrown).toBe(String(other.thrown).replace(theirContact, nobody));

	// The owner given by the model ($fromAI('owner')): it is told to check the owner it gave, by the
	// keys it knows (not the editor's field names); a contact of nobody's reads the same.
	const byModel = { ...tool, ownerUserId: ai('owner') };
	const othersByModel = await asTool(byModel, { owner: mine.userId, contact: theirContact });
	expect(othersByModel.thrown).toBe(`pipeline_move failed: item 0 (p_items[0]).conversation_id: conversation ${theirContact} does not exist for owner ${mine.userId}\n\nDetails: Give the id of one of this owner's contacts as contact; if that contact is the one you mean, check the owner you gave as owner.`);
	expect(await engineError(byModel, { owner: mine.userId, contact: theirContact })).toBe(othersByModel.thrown);
	expect((await asTool(byModel, { owner: mine.userId, contact: nobody })).thrown).toBe(String(othersByModel.thrown).replace(theirContact, nobody));
	expect(await moved(theirContact)).toBe(0);

	// The owner's own contact: moved (into the owner's pipeline; a stage by name with no Pipeline
	// needs the contact in one pipeline, so the stage is given by id here).
	const own = await asTool({ ...tool, stage: { __rl: true, mode: 'id', value: mine.pipeline.stages.Qualified } }, { contact: myContact });
	expect(JSON.parse(own.answer as string)).toEqual([expect.objectContaining({ conversation_id: myContact, outcome: 'assigned', stage_name: 'Qualified' })]);
	expect(await moved(myContact)).toBe(1);
});

test("Move as a tool whose Conversation ID is the builder's: another owner's contact is not found, and the advice never asks the model for another contact (review RM5 2)", async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const theirContact = await theirs.contact();
	const stage = { __rl: true, mode: 'name', value: 'Qualified' };
	const head = `pipeline_move failed: item 0 (p_items[0]).conversation_id: conversation ${theirContact} does not exist for owner ${mine.userId}\n\nDetails: `;

	// Both set in the tool's settings: the builder is told they disagree.
	const fixed = { operation: 'move', ownerUserId: mine.userId, conversationId: theirContact, stage };
	const both =
		"The contact (Conversation ID) and its owner (Owner User ID) are both set in this tool's settings, and the contact is not that owner's: this tool cannot move it. Set Conversation ID or Owner User ID in the tool's settings so they agree, or let the model give the contact with $fromAI.";
	expect((await asTool(fixed)).thrown).toBe(`${head}${both}`);
	expect(await engineError(fixed)).toBe(`${head}${both}`);
	// The owner the model's, the contact the builder's: the model may only check its owner.
	const ownerByModel = { ...fixed, ownerUserId: ai('owner') };
	const checkOwner = "The contact is set in this tool's settings (Conversation ID), not given by you: check the owner you gave as owner; if it is right, this contact cannot be moved with this tool.";
	expect((await asTool(ownerByModel, { owner: mine.userId })).thrown).toBe(`${head}${checkOwner}`);
	expect(await engineError(ownerByModel, { owner: mine.userId })).toBe(`${head}${checkOwner}`);
	expect(await moved(theirContact)).toBe(0);
});

test('Move as a tool with no owner is refused naming the field, the builder or the model told as whoever fills it; a malformed owner too; nothing moved', async () => {
	const world = await createPipelineWorld();
	const contact = await world.contact();
	const base = { operation: 'move', conversationId: contact, stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Qualified } };

	// Not the model's (left empty, the default; or set to nothing in the settings): the builder's advice.
	for (const parameters of [base, { ...base, ownerUserId: '' }, { ...base, ownerUserId: '  ' }]) {
		const out = await asTool(parameters);
		expect({ parameters, out }).toEqual({ parameters, out: { thrown: `${refused('Owner User ID, ownerUserId')}\n\nDetails: ${BUILDER_ADVICE}` } });
		expect(await engineError(parameters)).toBe(`${refused('Owner User ID, ownerUserId')}\n\nDetails: ${BUILDER_ADVICE}`);
	}
	// The model's ($fromAI('owner')): it is told by the key it knows, in the first line and the advice.
	const byModel = { ...base, ownerUserId: ai('owner') };
	for (const owner of ['', 'null', ' Undefined ']) {
		const out = await asTool(byModel, { owner });
		expect({ owner, out }).toEqual({ owner, out: { thrown: `${refused('owner')}\n\nDetails: ${agentAdvice('owner')}` } });
	}
	expect((await asTool(byModel, { owner: 'Maria Santos' })).thrown).toBe(`The owner user ID "Maria Santos" is not a UUID\n\nDetails: ${agentAdvice('owner')}`);
	expect((await asTool({ ...base, ownerUserId: 'Maria Santos' })).thrown).toBe(`The owner user ID "Maria Santos" is not a UUID\n\nDetails: ${BUILDER_ADVICE}`);
	expect(await moved(contact)).toBe(0);

	// The owner given by the model: moved.
	const out = await asTool(byModel, { owner: world.userId.toUpperCase() });
	expect(JSON.parse(out.answer as string)).toEqual([expect.objectContaining({ conversation_id: contact, outcome: 'assigned' })]);
});

test("Move in a workflow: an empty Owner User ID moves any owner's contact, as before; one given keeps the move to that owner's (another's: not found, 404 on the webhook)", async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const [myContact, theirContact] = [await mine.contact(), await theirs.contact()];
	const parameters = (conversationId: string, stage: string, ownerUserId?: string) => ({
		operation: 'move',
		conversationId,
		stage: { __rl: true, mode: 'id', value: stage },
		...(ownerUserId !== undefined && { ownerUserId }),
	});
	const any = await inWorkflow(parameters(theirContact, theirs.pipeline.stages.Qualified));
	expect(any.error).toBeUndefined();
	expect(await moved(theirContact)).toBe(1);

	const kept = await inWorkflow(parameters(myContact, mine.pipeline.stages.Proposal, mine.userId));
	expect(kept.error).toBeUndefined();
	expect(await moved(myContact)).toBe(1);
	const other = await inWorkflow(parameters(theirContact, theirs.pipeline.stages.Proposal, mine.userId));
	expect(other.error?.message).toBe(`pipeline_move failed: item 0 (p_items[0]).conversation_id: conversation ${theirContact} does not exist for owner ${mine.userId}`);
	expect(await moved(theirContact)).toBe(1);
});

test('pipeline_move with owner_user_id: a batch naming another owner\'s contact is refused whole (P0002, the same words as a contact of nobody\'s), nothing written; a malformed owner is bad input', async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const [myContact, theirContact] = [await mine.contact(), await theirs.contact()];
	const error = await failure(
		move([
			{ conversation_id: myContact, stage_id: mine.pipeline.stages.Qualified, owner_user_id: mine.userId },
			{ conversation_id: theirContact, stage_id: theirs.pipeline.stages.Qualified, owner_user_id: mine.userId },
		]),
	);
	expect({ code: error.code, message: error.message }).toEqual({ code: 'P0002', message: `p_items[1].conversation_id: conversation ${theirContact} does not exist for owner ${mine.userId}` });
	expect([await moved(myContact), await moved(theirContact)]).toEqual([0, 0]);

	const bad = await failure(move([{ conversation_id: myContact, stage_id: mine.pipeline.stages.Qualified, owner_user_id: 'someone' }]));
	expect({ code: bad.code, message: bad.message }).toEqual({ code: '22023', message: 'p_items[0].owner_user_id: must be a user id (uuid) (got "someone")' });

	// Its owner's: moved; no owner_user_id (or null): any owner's, as before.
	expect(await move([{ conversation_id: myContact, stage_id: mine.pipeline.stages.Qualified, owner_user_id: mine.userId }])).toEqual([expect.objectContaining({ outcome: 'assigned' })]);
	expect(await move([{ conversation_id: theirContact, stage_id: theirs.pipeline.stages.Qualified, owner_user_id: null }])).toEqual([expect.objectContaining({ outcome: 'assigned' })]);
});

test('Move as a tool: a Conversation ID that is not a UUID, or not text, is advised to whoever can fix it, on both agent paths; nothing moved', async () => {
	const world = await createPipelineWorld();
	const contact = await world.contact();
	const base = { operation: 'move', ownerUserId: world.userId, stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Qualified } };
	const model =
		"Give the id of the contact to move as contact: one UUID (e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f), the contact's conversation_id exactly as the listing you found it in shows it, not its name or its Facebook id. If you have no such id, find the contact in a listing first or ask for it: this tool moves no contact without it.";
	const builder =
		"Conversation ID (conversationId) is set in this tool's settings, not given by the model: set it there to the id of the contact to move (a UUID, the id column of messenger_conversations), or let the model give it with {{ $fromAI('conversationId', 'the id of the contact to move', 'string') }}. This tool moves no contact until then.";
	const typed =
		"Conversation ID (conversationId) in this tool's settings makes the model's answer something other than text, so no contact can be given this way: the workflow's builder must change it to {{ $fromAI('contact', 'the id of the contact to move', 'string') }}. Tell the user this tool needs that change; this tool moves no contact until then.";
	const cases: Array<[IDataObject, IDataObject, string]> = [
		[{ ...base, conversationId: ai('contact') }, { contact: 'Ana Lopez' }, `The conversation ID "Ana Lopez" is not a UUID\n\nDetails: ${model}`],
		[{ ...base, conversationId: 'Ana Lopez' }, {}, `The conversation ID "Ana Lopez" is not a UUID\n\nDetails: ${builder}`],
		[{ ...base, conversationId: "={{ $fromAI('contact', '', 'json') }}" }, { contact: [contact] }, `Conversation ID must be text (got an array of 1)\n\nDetails: ${typed}`],
	];
	for (const [parameters, args, thrown] of cases) {
		expect({ parameters, out: await asTool(parameters, args) }).toEqual({ parameters, out: expect.objectContaining({ thrown }) });
		expect({ parameters, error: await engineError(parameters, args) }).toEqual({ parameters, error: thrown });
	}
	expect(await moved(contact)).toBe(0);
});

test("Move as a tool: the Conversation ID's $fromAI type, not the value, says who is told (review RC2b): typed 'string', a list or number the model sent on AI Agent 3.x's path tells the model; typed number/boolean/json left out tells the builder; nothing moved", async () => {
	const world = await createPipelineWorld();
	const contact = await world.contact();
	const base = { operation: 'move', ownerUserId: world.userId, stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Qualified } };
	const model =
		"Give the id of the contact to move as contact: one UUID (e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f), the contact's conversation_id exactly as the listing you found it in shows it, not its name or its Facebook id. If you have no such id, find the contact in a listing first or ask for it: this tool moves no contact without it.";
	const typed =
		"Conversation ID (conversationId) in this tool's settings makes the model's answer something other than text, so no contact can be given this way: the workflow's builder must change it to {{ $fromAI('contact', 'the id of the contact to move', 'string') }}. Tell the user this tool needs that change; this tool moves no contact until then.";
	for (const [given, got] of [[[contact], 'an array of 1'], [7, '7']] as Array<[string[] | number, string]>) {
		expect({ given, error: await engineError({ ...base, conversationId: ai('contact') }, { contact: given }) }).toEqual({ given, error: `Conversation ID must be text (got ${got})\n\nDetails: ${model}` });
	}
	for (const type of ['number', 'boolean', 'json']) {
		const parameters = { ...base, conversationId: `={{ $fromAI('contact', 'the contact', '${type}') }}` };
		expect({ type, error: await engineError(parameters, {}) }).toEqual({ type, error: `The conversation ID "" is not a UUID\n\nDetails: ${typed}` });
	}
	expect(await moved(contact)).toBe(0);
});
