// The Leadflow Console node as an AI agent's tool, where the model leaves a field out or writes
// "null" / "undefined" for it (a model's words for a value it does not know; nodes/shared/tool-text.ts).
// Queue Page: with no owner the page is the first owner's of the owners list, so before 6 December
// 2026 a model that left the owner out read another owner's leads. As a tool an owner left out (or
// "null") now reads the queue only while exactly one owner has one (a one-owner project's agent,
// whose tool has Owner ID at its default, reads its queue as before); with several it is refused
// naming Owner ID (userId), the advice the model's when it fills the field ($fromAI), else the
// workflow builder's. As a tool the answer never carries the owners list (every owner's id).
// Monitor Page: a Rule ID "null" is not given, as the other optional fields are: the rules list only.
// In a workflow both are as before: the literal text "null" is refused as not a UUID.
// The calls reach every owner (the owners list) and every rule (the rules list), and the first test
// counts the owners with a queue: this file runs on a stack of its own.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { leadsOf, messagesOf, prepareDue, queueOwner } from '../QueueLedger/support/queue';
import { testStack, useStackOfItsOwn, withDb } from '../../helpers/stack';

useStackOfItsOwn();

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

/** What the model reads on the AI Agent 3.x path (the engine runs the tool): the items the tool answered, or its error. */
async function engineRead(parameters: IDataObject, args: IDataObject): Promise<Array<IDataObject & { error?: string }>> {
	const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<IDataObject & { error?: string }>;
}

/** What the model reads on the AI Agent 3.x path (the engine runs the tool): the error's text, if it failed. */
async function engineError(parameters: IDataObject, args: IDataObject): Promise<string | undefined> {
	const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const read = JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>;
	return read[0]?.error;
}

/** The Console node alone in a workflow (Manual Trigger → Console). */
async function inWorkflow(parameters: IDataObject) {
	return await runWorkflow(
		{
			name: 'Console',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'console', name: 'Console', type: 'n8n-nodes-leadflow.leadflowConsole', typeVersion: 1, position: [200, 0], parameters, credentials: node },
			],
			connections: { Start: { main: [[{ node: 'Console', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
}

const OWNER_REFUSED = "Queue Page as an AI agent's tool needs the owner's user ID (Owner ID, userId), and none was given";
const AGENT_ADVICE =
	'Give the user ID of the owner whose queue to read as Owner ID (userId): a UUID, the id of the Supabase Auth user whose leads these are, as you were told it. If you were not told it, ask for it: this tool reads no queue without it.';

const BUILDER_ADVICE =
	"Owner ID (userId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose queue to read (a UUID, the id of the Supabase Auth user whose leads these are), or let the model give it with {{ $fromAI('userId', 'the user ID of the owner whose queue to read') }}. Left empty, the tool reads the queue only while one owner has one.";

type Page = { owner: string | null; owners?: unknown; ownerLabels?: unknown; rows?: { rows: Array<{ item_id: string }> } };
const pageOf = (out: IDataObject): Page => {
	expect(out.thrown).toBeUndefined();
	return (JSON.parse(out.answer as string) as Page[])[0];
};
const itemsOf = (page: Page | IDataObject) => ((page as Page).rows?.rows ?? []).map((row) => row.item_id).sort();

test('Queue Page as a tool with no owner given: read while one owner has a queue (Owner ID at its default, empty, or the model\'s "null"), on both agent paths, without the owners list; refused naming Owner ID once there are two, the advice the builder\'s or the model\'s by who fills the field', async () => {
	// This file's own stack: no owner has a queue yet.
	expect((await withDb((db) => db.query('select count(*)::int as n from public.user_queue_settings'))).rows).toEqual([{ n: 0 }]);
	// No owner at all: the database's answer, no owner and no list (nothing to read, nothing refused).
	expect(pageOf(await asTool({ resource: 'queue', operation: 'queuePage' }, {}))).toEqual({ owner: null, generatedAt: expect.any(String) });

	// One owner, the project of one: before, its agent's tool (Owner ID at its default) was refused
	// with "give the user ID as Owner ID", which the model cannot do.
	const mine = await queueOwner();
	await leadsOf(mine, 2);
	await prepareDue(mine);
	const myMessages = await messagesOf(mine);
	const myItems = myMessages.map((message) => message.id).sort();
	// Owner ID at its default (`$json.query?.userId`, the agent's input item has no query); the day
	// of the messages given, as the tool's builder may fix it (prepareDue: a day that is over).
	const atDefault = { resource: 'queue', operation: 'queuePage', day: myMessages[0].day };
	const byModel = { ...atDefault, userId: ai('owner'), status: '', search: '', offset: '0', limit: '50' };
	for (const [parameters, args] of [
		[atDefault, {}],
		[{ ...atDefault, userId: '' }, {}],
		[byModel, { owner: '' }],
		[byModel, { owner: 'null' }],
		[byModel, { owner: ' Undefined ' }],
	] as Array<[IDataObject, IDataObject]>) {
		const page = pageOf(await asTool(parameters, args));
		expect({ args, owner: page.owner, items: itemsOf(page), owners: page.owners, ownerLabels: page.ownerLabels }).toEqual({ args, owner: mine, items: myItems, owners: undefined, ownerLabels: undefined });
		const [engine] = await engineRead(parameters, args);
		expect({ args, owner: engine.owner, items: itemsOf(engine), owners: engine.owners, ownerLabels: engine.ownerLabels, error: engine.error }).toEqual({
			args,
			owner: mine,
			items: myItems,
			owners: undefined,
			ownerLabels: undefined,
			error: undefined,
		});
	}

	// Two owners: with none given the page would be the first owner's of the list, whoever's it is.
	const theirs = await queueOwner();
	await leadsOf(theirs, 1);
	await prepareDue(theirs);
	const theirItems = (await messagesOf(theirs)).map((message) => message.id);
	// Owner ID at its default (or empty in the tool's settings): the model cannot give it, so the
	// builder is told what to set, never "give the user ID".
	for (const parameters of [atDefault, { ...atDefault, userId: '' }]) {
		expect((await asTool(parameters, {})).thrown).toBe(`${OWNER_REFUSED}\n\nDetails: ${BUILDER_ADVICE}`);
		expect(await engineError(parameters, {})).toBe(`${OWNER_REFUSED}\n\nDetails: ${BUILDER_ADVICE}`);
	}
	// Owner ID the model's ($fromAI): the model is told to give it or ask for it.
	for (const owner of ['', 'null', ' Undefined ']) {
		const refused = await asTool(byModel, { owner });
		expect({ owner, refused }).toEqual({ owner, refused: { thrown: `${OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}` } });
		expect(await engineError(byModel, { owner })).toBe(`${OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}`);
	}
	// A malformed Owner ID set in the tool's settings: the builder's advice too.
	expect((await asTool({ ...atDefault, userId: 'Maria Santos' }, {})).thrown).toBe(`The owner ID "Maria Santos" is not a UUID\n\nDetails: ${BUILDER_ADVICE}`);

	// The owner given: its page only, and no owners list (before, every owner's id and label came with it).
	for (const [owner, items] of [
		[mine, myItems],
		[theirs, theirItems],
	] as Array<[string, string[]]>) {
		const out = await asTool(byModel, { owner });
		const page = pageOf(out);
		expect({ owner: page.owner, items: itemsOf(page), owners: page.owners, ownerLabels: page.ownerLabels }).toEqual({ owner, items: items.sort(), owners: undefined, ownerLabels: undefined });
		expect(out.answer).not.toContain(owner === mine ? theirs : mine);
		const [engine] = await engineRead(byModel, { owner });
		expect({ owner: engine.owner, owners: engine.owners, ownerLabels: engine.ownerLabels }).toEqual({ owner, owners: undefined, ownerLabels: undefined });
	}
	// Include Owners on in the tool's settings does not bring the list back.
	const withOwners = pageOf(await asTool({ ...byModel, owners: true }, { owner: mine }));
	expect(withOwners.owners).toBeUndefined();
	// In a workflow the console's page still gets the list, and an empty owner is the first owner's.
	const run = await inWorkflow({ ...atDefault, userId: '', status: '', search: '', offset: '0', limit: '50' });
	expect(run.error).toBeUndefined();
	const consolePage = run.nodeOutputs.Console[0] as Page;
	expect({ owner: consolePage.owner, owners: consolePage.owners }).toEqual({ owner: [mine, theirs].sort()[0], owners: [mine, theirs].sort() });
	expect(Object.keys(consolePage.ownerLabels as object).sort()).toEqual([mine, theirs].sort());

	// A malformed or unknown owner the model gave: the model's advice, never "ask without one (no userId)".
	const malformed = await asTool(byModel, { owner: 'Maria Santos' });
	expect(malformed.thrown).toBe(`The owner ID "Maria Santos" is not a UUID\n\nDetails: ${AGENT_ADVICE}`);
	const unknown = await asTool(byModel, { owner: '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f' });
	expect(unknown.thrown).toEqual(expect.stringContaining(`\n\nDetails: ${AGENT_ADVICE}`));
	expect(unknown.thrown).not.toMatch(/ask without/);
});

test('Queue Page in a workflow is as before: an Owner ID "null" is refused as not a UUID with the console\'s advice', async () => {
	const run = await inWorkflow({ resource: 'queue', operation: 'queuePage', userId: 'null', day: '', status: '', search: '', offset: '0', limit: '50' });
	expect([run.error?.message, run.error?.description]).toEqual(['The owner ID "null" is not a UUID', "Use an owner ID from the answer's owners: ask without one (no userId) to get them."]);
});

test('Monitor Page as a tool: a Rule ID "null" or "undefined" is not given (the rules list only, as when left out); in a workflow "null" is refused as not a UUID', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ dailyLimit: 10 });
	await world.contacts(2);
	const monitor = { resource: 'followUp', operation: 'monitor', ruleId: ai('rule') };

	const read = async (rule: string) => {
		const out = await asTool(monitor, { rule });
		expect(out.thrown).toBeUndefined();
		const [{ rule: given, rules, contacts }] = JSON.parse(out.answer as string) as Array<{ rule: { id: string } | null; rules: Array<{ id: string }>; contacts?: { total: number } }>;
		return { rule: given, rules, contacts };
	};
	const listOnly = await read('');
	expect(listOnly).toMatchObject({ rule: null });
	expect(listOnly.rules.map((rule) => rule.id)).toContain(ruleId);
	for (const word of ['null', ' NULL ', 'undefined']) {
		expect({ word, page: await read(word) }).toEqual({ word, page: listOnly });
	}
	expect(await read(ruleId)).toMatchObject({ rule: expect.objectContaining({ id: ruleId }), contacts: expect.objectContaining({ total: 2 }) });

	const run = await inWorkflow({ resource: 'followUp', operation: 'monitor', ruleId: 'null' });
	expect(run.error?.message).toBe('The rule ID "null" is not a UUID');
});
