// The Leadflow Console node as an AI agent's tool, where the model leaves a field out or writes
// "null" / "undefined" for it (a model's words for a value it does not know; nodes/shared/tool-text.ts).
// Queue Page: with no owner the page is the first owner's of the owners list, so before 6 December
// 2026 a model that left the owner out read another owner's leads. As a tool an owner left out (or
// "null" / "undefined") is refused naming Owner ID (userId), never answered from the owners list
// (which holds the owners with queue settings, not every owner of the project: on a2d6eba, with one
// owner with a queue, another owner's agent read its leads), the advice the model's when it fills the
// field ($fromAI, named by its key), else the workflow builder's. As a tool the answer never carries
// the owners list (every owner's id).
// Monitor Page: a Rule ID "null" is not given, as the other optional fields are: the rules list only.
// In a workflow both are as before: the literal text "null" is refused as not a UUID.
// The calls reach every owner (the owners list) and every rule (the rules list), and the first test
// counts the owners with a queue: this file runs on a stack of its own.
import type { IDataObject, INode } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { leadsOf, messagesOf, prepareDue, queueOwner } from '../QueueLedger/support/queue';
import { createTestUser, useStackOfItsOwn, withDb } from '../../helpers/stack';
import { fromAIKey } from '../../../nodes/shared/tool-text';
import { consoleItemOf, credentials, node } from './support/workflow';

useStackOfItsOwn();

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

const OWNER_REFUSED = "Queue Page as an AI agent's tool needs the user ID of the owner whose queue to read (Owner ID, userId), and none was given";
/** The first line when the model fills Owner ID: the field named by its $fromAI key, as the advice names it (before 6 December 2026, "(Owner ID, userId)"). */
const MODEL_OWNER_REFUSED = "Queue Page as an AI agent's tool needs the user ID of the owner whose queue to read (owner), and none was given";
/** The model's advice, the field named as the model knows it: the key of its $fromAI call. */
const agentAdvice = (field: string) =>
	`Give the user ID of the owner whose queue to read as ${field}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool reads no queue without it.`;
const AGENT_ADVICE = agentAdvice('owner');

const BUILDER_ADVICE =
	"Owner ID (userId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose queue to read (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('userId', 'the user ID of the owner whose queue to read') }}. This tool reads no queue without it.";

type Page = { owner: string | null; owners?: unknown; ownerLabels?: unknown; rows?: { rows: Array<{ item_id: string }> } };
const pageOf = (out: IDataObject): Page => {
	expect(out.thrown).toBeUndefined();
	return (JSON.parse(out.answer as string) as Page[])[0];
};
const itemsOf = (page: Page | IDataObject) => ((page as Page).rows?.rows ?? []).map((row) => row.item_id).sort();

test('the key the model knows a field by: the first argument of its one $fromAI call, when a plain name', () => {
	const keyOf = (raw: unknown) => fromAIKey({ getNode: () => ({ parameters: { userId: raw } }) as unknown as INode }, 'userId');
	expect(keyOf("={{ $fromAI('owner', '', 'string') }}")).toBe('owner');
	expect(keyOf('={{ $fromAi ( "owner_id" ) }}')).toBe('owner_id');
	expect(keyOf("={{ /*n8n-auto-generated-fromAI-override*/ $fromAI('User_ID', ``, 'string') }}")).toBe('User_ID');
	expect(keyOf('={{ $fromAI(`owner-1`) }}')).toBe('owner-1');
	// Not read: two calls, a computed key, no call at all; the advice then names Owner ID (userId).
	expect(keyOf("={{ $fromAI('owner') || $fromAI('user') }}")).toBeUndefined();
	expect(keyOf("={{ $fromAI('own' + 'er') }}")).toBeUndefined();
	expect(keyOf("={{ $json.query?.userId ?? '' }}")).toBeUndefined();
	expect(keyOf(undefined)).toBeUndefined();
});

test('Queue Page as a tool with no owner given is refused naming Owner ID, never answered from the owners list: with one owner with a queue, another owner\'s agent (Owner ID at its default, empty, or the model\'s "" / "null" / "undefined") reads none of its leads, on both agent paths; the advice the builder\'s or the model\'s by who fills the field', async () => {
	// This file's own stack: no owner has a queue yet.
	expect((await withDb((db) => db.query('select count(*)::int as n from public.user_queue_settings'))).rows).toEqual([{ n: 0 }]);
	// Owner ID at its default (`$json.query?.userId`, the agent's input item has no query).
	const bare = { resource: 'queue', operation: 'queuePage' };
	expect((await asTool(bare, {})).thrown).toBe(`${OWNER_REFUSED}\n\nDetails: ${BUILDER_ADVICE}`);

	// Two owners of the project, only A with queue settings (review S7): an agent of B's, its tool's
	// Owner ID at its default or the model writing "null", read A's whole queue page (names, phones,
	// ledger) as "the only owner's", on the code before.
	const a = await queueOwner();
	const aLeads = await leadsOf(a, 2, (index) => `Alice Customer ${index}`);
	await prepareDue(a);
	const myMessages = await messagesOf(a);
	const myItems = myMessages.map((message) => message.id).sort();
	const b = await createTestUser('other-owner');
	expect((await withDb((db) => db.query('select user_id from public.user_queue_settings'))).rows).toEqual([{ user_id: a }]);
	// The day of the messages given, as the tool's builder may fix it (prepareDue: a day that is over).
	const atDefault = { ...bare, day: myMessages[0].day };
	const byModel = { ...atDefault, userId: ai('owner'), status: '', search: '', offset: '0', limit: '50' };
	for (const [parameters, args, advice] of [
		[atDefault, {}, BUILDER_ADVICE],
		[{ ...atDefault, userId: '' }, {}, BUILDER_ADVICE],
		[byModel, { owner: '' }, AGENT_ADVICE],
		[byModel, { owner: 'null' }, AGENT_ADVICE],
		[byModel, { owner: ' Undefined ' }, AGENT_ADVICE],
	] as Array<[IDataObject, IDataObject, string]>) {
		const out = await asTool(parameters, args);
		const engine = await engineRead(parameters, args);
		const first = advice === AGENT_ADVICE ? MODEL_OWNER_REFUSED : OWNER_REFUSED;
		expect({ args, userId: parameters.userId, legacy: out, engine }).toEqual({
			args,
			userId: parameters.userId,
			legacy: { thrown: `${first}\n\nDetails: ${advice}` },
			engine: [{ error: `${first}\n\nDetails: ${advice}` }],
		});
		const said = JSON.stringify([out, engine]);
		for (const text of [a, b, ...aLeads.flatMap((lead) => [lead.name, lead.phone]), ...myItems]) expect({ args, leaked: said.includes(text) }).toEqual({ args, leaked: false });
	}

	// Two owners with a queue: the same refusals.
	const theirs = await queueOwner();
	await leadsOf(theirs, 1);
	await prepareDue(theirs);
	const theirItems = (await messagesOf(theirs)).map((message) => message.id);
	for (const parameters of [atDefault, { ...atDefault, userId: '' }]) {
		expect((await asTool(parameters, {})).thrown).toBe(`${OWNER_REFUSED}\n\nDetails: ${BUILDER_ADVICE}`);
		expect(await engineError(parameters, {})).toBe(`${OWNER_REFUSED}\n\nDetails: ${BUILDER_ADVICE}`);
	}
	for (const owner of ['', 'null', ' Undefined ']) {
		const refused = await asTool(byModel, { owner });
		expect({ owner, refused }).toEqual({ owner, refused: { thrown: `${MODEL_OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}` } });
		expect(await engineError(byModel, { owner })).toBe(`${MODEL_OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}`);
	}
	// A malformed Owner ID set in the tool's settings: the builder's advice too.
	expect((await asTool({ ...atDefault, userId: 'Maria Santos' }, {})).thrown).toBe(`The owner ID "Maria Santos" is not a UUID\n\nDetails: ${BUILDER_ADVICE}`);

	// The owner given: its page only, and no owners list (before, every owner's id and label came with it).
	for (const [owner, items] of [
		[a, myItems],
		[theirs, theirItems],
	] as Array<[string, string[]]>) {
		const out = await asTool(byModel, { owner });
		const page = pageOf(out);
		expect({ owner: page.owner, items: itemsOf(page), owners: page.owners, ownerLabels: page.ownerLabels }).toEqual({ owner, items: items.sort(), owners: undefined, ownerLabels: undefined });
		expect(out.answer).not.toContain(owner === a ? theirs : a);
		const [engine] = await engineRead(byModel, { owner });
		expect({ owner: engine.owner, owners: engine.owners, ownerLabels: engine.ownerLabels }).toEqual({ owner, owners: undefined, ownerLabels: undefined });
	}
	// Include Owners on in the tool's settings does not bring the list back.
	const withOwners = pageOf(await asTool({ ...byModel, owners: true }, { owner: a }));
	expect(withOwners.owners).toBeUndefined();
	// In a workflow the console's page still gets the list, and an empty owner is the first owner's.
	const run = await inWorkflow({ ...atDefault, userId: '', status: '', search: '', offset: '0', limit: '50' });
	expect(run.error).toBeUndefined();
	const consolePage = run.nodeOutputs.Console[0] as Page;
	expect({ owner: consolePage.owner, owners: consolePage.owners }).toEqual({ owner: [a, theirs].sort()[0], owners: [a, theirs].sort() });
	expect(Object.keys(consolePage.ownerLabels as object).sort()).toEqual([a, theirs].sort());

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
	const monitor = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: ai('rule') };

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

test("a console tool's rule ID that is not text is advised to whoever can mend it, by the $fromAI type (review RC2a): typed 'string', the model by its key; typed 'json' / 'number', the builder; an expression in the tool's settings, the builder; never the request's advice; nothing deleted", async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Tool list rule' });
	const typed = (type: string) => `={{ $fromAI('rule', 'the rule id', '${type}') }}`;
	const monitor = (ruleField: string) => ({ resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: ruleField });
	const remove = (ruleField: string) => ({ resource: 'rule', operation: 'ruleDelete', userId: world.userId, ruleId: ruleField });
	const model = "Give rule as one UUID in text, not a list (call the tool once per rule ID), object, number, true or false.";
	const builder = "The rule ID (ruleId) in this tool's settings makes the model's answer something other than text, so no rule ID can be given this way: the workflow's builder must change it to {{ $fromAI('rule', 'the rule ID', 'string') }}. Tell the user this tool needs that change.";
	const refused = (field: string, got: string, advice: string) => `The rule ID (${field}) must be one UUID as text, and got ${got}\n\nDetails: ${advice}`;
	// AI Agent 3.x's path passes the model's list or number on unchecked: the model can mend it.
	expect(await engineError(monitor(typed('string')), { rule: [ruleId] })).toBe(refused('rule', 'an array of 1', model));
	expect(await engineError(monitor(typed('string')), { rule: 7 })).toBe(refused('rule', '7', model));
	expect(await engineError(remove(typed('string')), { rule: [ruleId] })).toBe(refused('rule', 'an array of 1', model));
	// Typed 'json' or 'number', the model can never give text: the builder, on both paths.
	expect((await asTool(remove(typed('json')), { rule: [ruleId] })).thrown).toBe(refused('rule', 'an array of 1', builder));
	expect(await engineError(monitor(typed('number')), { rule: 7 })).toBe(refused('rule', '7', builder));
	// The builder's expression in the tool's settings.
	expect((await asTool(monitor(`={{ ['${ruleId}'] }}`), {})).thrown).toBe(
		refused(
			'ruleId',
			'an array of 1',
			"The rule ID (ruleId) is set in this tool's settings, not given by the model, and is not one UUID as text: set it there to one UUID, or let the model give it with {{ $fromAI('ruleId', 'the rule ID', 'string') }}.",
		),
	);
	expect(await withDb(async (db) => (await db.query('select count(*)::int as n from public.ai_automation_rules where id = $1', [ruleId])).rows[0].n)).toBe(1);
});

test("a console tool's ID given as text that is not a UUID (a rule's name, a contact's name) is advised to whoever can mend it, never the request's advice (review RMC2): typed 'string', the model by its key, to give the id a listing shows; set in the tool's settings, the builder; the owner keeps its own words; in a workflow the request's advice; nothing deleted", async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Welcome rule' });
	const remove = (ruleField: string) => ({ resource: 'rule', operation: 'ruleDelete', userId: world.userId, ruleId: ruleField });
	const model = (key: string, label: string) =>
		`Give ${key} as the ${label} itself: one UUID exactly as a listing shows it (its id), not a name or other text. If you have no such id, list them first or ask for it.`;
	const refused = (label: string, got: string, advice: string) => `The ${label} "${got}" is not a UUID\n\nDetails: ${advice}`;
	const request = /GET …\/api\//;
	// The model wrote the rule's name: on both agent paths, the model by its key.
	expect(await engineError(remove(ai('rule')), { rule: 'Welcome rule' })).toBe(refused('rule ID', 'Welcome rule', model('rule', 'rule ID')));
	expect((await asTool(remove(ai('rule')), { rule: 'Welcome rule' })).thrown).toBe(refused('rule ID', 'Welcome rule', model('rule', 'rule ID')));
	// A contact's name for Rule Prompt's conversation, Monitor Page's and Timeline's IDs: the same rule.
	const prompt = { resource: 'rule', operation: 'rulePrompt', userId: world.userId, ruleId: '', settings: '={{ {} }}', conversationId: ai('conversation') };
	expect(await engineError(prompt, { conversation: 'Maria' })).toBe(refused('conversation ID', 'Maria', model('conversation', 'conversation ID')));
	const monitor = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: ai('rule') };
	expect(await engineError(monitor, { rule: 'Welcome rule' })).toBe(refused('rule ID', 'Welcome rule', model('rule', 'rule ID')));
	const timeline = { resource: 'console', operation: 'timeline', userId: world.userId, ruleId: ruleId, conversationId: ai('contact') };
	expect(await engineError(timeline, { contact: 'Maria' })).toBe(refused('conversation ID', 'Maria', model('contact', 'conversation ID')));
	// Set in the tool's settings (an expression the model does not fill): the builder.
	expect((await asTool(remove('={{ $json.rule ?? "Welcome" }}'), {})).thrown).toBe(
		refused(
			'rule ID',
			'Welcome',
			"The rule ID (ruleId) is set in this tool's settings, not given by the model, and is not one UUID as text: set it there to one UUID, or let the model give it with {{ $fromAI('ruleId', 'the rule ID', 'string') }}.",
		),
	);
	// A $fromAI typed 'number' turned into text: the builder must type it 'string'.
	expect(await engineError(remove("={{ String($fromAI('rule', 'the rule id', 'number')) }}"), { rule: 7 })).toBe(
		refused(
			'rule ID',
			'7',
			"The rule ID (ruleId) in this tool's settings makes the model's answer something other than text, so no rule ID can be given this way: the workflow's builder must change it to {{ $fromAI('rule', 'the rule ID', 'string') }}. Tell the user this tool needs that change.",
		),
	);
	// The owner keeps its own words.
	const owner = await engineError({ ...remove(ruleId), userId: ai('owner') }, { owner: 'Ana' });
	expect(owner).toMatch(/^The owner ID "Ana" is not a UUID\n\nDetails: Give the user ID of the owner whose rule to delete as owner: a UUID/);
	expect(owner).not.toMatch(request);
	// In a workflow the request's advice, as before.
	const run = await inWorkflow({ resource: 'rule', operation: 'ruleDelete', ruleId: 'Welcome rule' });
	expect([run.error?.message, run.error?.description]).toEqual(['The rule ID "Welcome rule" is not a UUID', 'Use the rule ID from the rules list (GET …/api/rules).']);
	// Its failed item names the field, as the not-text refusal's does.
	expect((await consoleItemOf({ resource: 'rule', operation: 'ruleDelete', ruleId: 'Welcome rule' })).error).toMatchObject({ code: 'invalid_input', message: 'The rule ID "Welcome rule" is not a UUID', field: 'ruleId' });
	expect(await withDb(async (db) => (await db.query('select count(*)::int as n from public.ai_automation_rules where id = $1', [ruleId])).rows[0].n)).toBe(1);
});

test("a console tool's ID read out of a $fromAI typed 'json' (.id) is the model's to mend, and a Create Key that is not a UUID is advised as a key, never as a listing's id nor as one fixed UUID (review RMMC2)", async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Welcome rule' });
	const remove = (ruleField: string) => ({ resource: 'rule', operation: 'ruleDelete', userId: world.userId, ruleId: ruleField });
	const jsonId = "={{ $fromAI('rule', 'the rule, as {\"id\": \"<uuid>\"}', 'json').id }}";
	// The model gave a name inside the json: it can give the id there, so it is told (not the builder).
	const named = await engineError(remove(jsonId), { rule: { id: 'Welcome rule' } });
	expect(named).toMatch(/^The rule ID "Welcome rule" is not a UUID\n\nDetails: Give rule as the rule ID itself/);
	expect(named).not.toMatch(/builder/);
	const ownerNamed = (await asTool({ resource: 'console', operation: 'rules', userId: "={{ $fromAI('owner', 'the owner', 'json').id }}" }, { owner: { id: 'Ana' } })).thrown;
	expect(ownerNamed).toMatch(/^The owner ID "Ana" is not a UUID/);
	expect(ownerNamed).not.toMatch(/builder/);
	expect(await withDb(async (db) => (await db.query('select count(*)::int as n from public.ai_automation_rules where id = $1', [ruleId])).rows[0].n)).toBe(1);
	// Save Rule's Create Key as a tool: a key names one new rule.
	const write = (createKey: string, name: string) => ({
		resource: 'rule',
		operation: 'ruleWrite',
		userId: world.userId,
		ruleId: '',
		settings: JSON.stringify({ name, include_tag_ids: [world.tags['AI Lead']], tag_match: 'any', exclude_tag_ids: [], active_hours_start: '08:30:00', active_hours_end: '20:00:00', time_zone: 'America/New_York', active_days: [1, 3, 5], daily_limit: 25, max_follow_ups: 4, min_hours_between_follow_ups: 2, stop_on_reply: true, instructions: 'Remind them.' }),
		createKey,
		save: true,
	});
	const byModel = await engineError(write(ai('key'), 'R-a'), { key: 'new-rule-1' });
	expect(byModel).toMatch(/Give key as a new random UUID for this new rule/);
	expect(byModel).not.toMatch(/listing shows/);
	const bySettings = await engineError(write('={{ $execution.id }}', 'R-b'), {});
	expect(bySettings).toMatch(/Create Key \(createKey\) in this tool's settings is not a UUID: leave it empty/);
	expect(bySettings).toMatch(/Not one fixed UUID/);
	expect(await withDb(async (db) => (await db.query("select count(*)::int as n from public.ai_automation_rules where user_id = $1 and name in ('R-a', 'R-b')", [world.userId])).rows[0].n)).toBe(0);
});
