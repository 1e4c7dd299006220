// The Leadflow Console node as an AI agent's tool, where the model leaves a field out or writes
// "null" / "undefined" for it (a model's words for a value it does not know; nodes/shared/tool-text.ts).
// Queue Page: with no owner the page is the first owner's of the owners list, so before 6 December
// 2026 a model that left the owner out read another owner's leads; as a tool the owner must now be
// given, an empty one (or "null") refused naming Owner ID (userId), with advice a model can act on.
// Monitor Page: a Rule ID "null" is not given, as the other optional fields are: the rules list only.
// In a workflow both are as before: the literal text "null" is refused as not a UUID.
// The calls before the fix reached every owner (the owners list) and every rule (the rules list):
// this file runs on a stack of its own.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { leadsOf, messagesOf, prepareDue, queueOwner } from '../QueueLedger/support/queue';
import { testStack, useStackOfItsOwn } from '../../helpers/stack';

useStackOfItsOwn();

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
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

test('Queue Page as a tool, two owners: the owner given reads only its queue; an owner left out, "null" or "undefined" is refused naming Owner ID (userId), on both agent paths', async () => {
	const [mine, theirs] = [await queueOwner(), await queueOwner()];
	await leadsOf(mine, 2);
	await leadsOf(theirs, 1);
	await prepareDue(mine);
	await prepareDue(theirs);
	const [myMessages, theirMessages] = [await messagesOf(mine), await messagesOf(theirs)];
	const queuePage = { resource: 'queue', operation: 'queuePage', userId: ai('owner'), day: myMessages[0].day, status: '', search: '', offset: '0', limit: '50' };

	const page = await asTool(queuePage, { owner: mine });
	expect(page.thrown).toBeUndefined();
	const [{ rows }] = JSON.parse(page.answer as string) as Array<{ rows: { rows: Array<{ item_id: string }> } }>;
	expect(rows.rows.map((row) => row.item_id).sort()).toEqual(myMessages.map((message) => message.id).sort());

	// Before, each of these answered the first owner's queue of the owners list (here the other's
	// leads, whenever it sorts first), and the model could not tell.
	for (const owner of ['', 'null', ' Undefined ']) {
		const refused = await asTool(queuePage, { owner });
		expect({ owner, refused }).toEqual({ owner, refused: { thrown: `${OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}` } });
		expect(await engineError(queuePage, { owner })).toBe(`${OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}`);
	}
	// The field at its default reads the agent's input item (no query here): refused the same.
	const atDefault = await asTool({ resource: 'queue', operation: 'queuePage' }, {});
	expect(atDefault.thrown).toBe(`${OWNER_REFUSED}\n\nDetails: ${AGENT_ADVICE}`);
	expect(JSON.stringify(page)).not.toContain(theirMessages[0].id);

	// A malformed or unknown owner: the agent's advice, never "ask without one (no userId)".
	const malformed = await asTool(queuePage, { owner: 'Maria Santos' });
	expect(malformed.thrown).toBe(`The owner ID "Maria Santos" is not a UUID\n\nDetails: ${AGENT_ADVICE}`);
	const unknown = await asTool(queuePage, { owner: '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f' });
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
