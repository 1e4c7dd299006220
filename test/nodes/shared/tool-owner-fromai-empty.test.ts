// As an AI agent's tool, an owner field filled by a $fromAI typed 'number', 'boolean' or 'json' that
// the model left empty. What the node sees, by path: on the tool path (n8n's AI Agent before 3.0, the
// MCP Server Trigger) n8n checks the model's arguments against the type first, so a number or boolean
// left out never reaches the node ("Required"), but a json one may be a list holding nothing, [""] or
// [null] (n8n's json type takes any non-empty list); on the engine path (AI Agent 3.x, as n8n-core runs
// it here) the argument left out reaches the node as nothing, whatever its type. Both are "none was
// given" (nodes/shared/tool-owner.ts), and before this the advice told the model to give the UUID as
// text, which it cannot: n8n refuses text for such a type ("Expected number, received string"). Now
// the builder is told to type the $fromAI 'string' (the same words as for a number, true/false or an
// object given there), and a $fromAI typed 'string' left empty keeps the model's advice.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

async function classic(type: string, parameters: IDataObject, args: IDataObject): Promise<unknown> {
	const run = await runWorkflow(agentWorkflow(type, parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0].thrown;
}

async function engine(type: string, parameters: IDataObject, args: IDataObject): Promise<unknown> {
	const run = await runWorkflow(engineAgentWorkflow(type, parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
}

const rules = (type: string) => ({ resource: 'console', operation: 'rules', userId: `={{ $fromAI('owner', 'the owner', '${type}') }}` });
const NONE = "List Rules as an AI agent's tool needs the user ID of the owner whose rules to list (owner), and none was given\n\nDetails: ";
const TYPED =
	"Owner ID (userId) in this tool's settings makes the model's answer something other than text, so no owner can be given this way: the workflow's builder must change it to {{ $fromAI('owner', 'the user ID of the owner whose rules to list', 'string') }} (a $fromAI typed 'number', 'boolean' or 'json' cannot carry a UUID), or set the owner there. Tell the user this tool needs that change; this tool lists no rule until then.";
const GIVE_TEXT =
	'Give the user ID of the owner whose rules to list as owner: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool lists no rule without it.';

test("an owner by $fromAI typed 'number', 'boolean' or 'json' left empty by the model: the builder is told to type it 'string', on both agent paths; typed 'string' the model is told", async () => {
	for (const type of ['number', 'boolean', 'json', 'NUMBER']) {
		expect({ type, error: await engine('leadflowConsole', rules(type), {}) }).toEqual({ type, error: `${NONE}${TYPED}` });
	}
	for (const owner of [[''], [null]]) {
		expect({ owner, thrown: await classic('leadflowConsole', rules('json'), { owner }) }).toEqual({ owner, thrown: `${NONE}${TYPED}` });
		expect({ owner, error: await engine('leadflowConsole', rules('json'), { owner }) }).toEqual({ owner, error: `${NONE}${TYPED}` });
	}
	// On the tool path a number or boolean left out never reaches the node: n8n refuses it itself.
	expect(String(await classic('leadflowConsole', rules('number'), {}))).toContain('Required');
	// Typed 'string' (or not typed): the model can give the UUID, and is told to.
	expect(await engine('leadflowConsole', rules('string'), {})).toBe(`${NONE}${GIVE_TEXT}`);
	expect(await classic('leadflowConsole', rules('string'), { owner: '' })).toBe(`${NONE}${GIVE_TEXT}`);
	expect(await classic('leadflowConsole', { ...rules('string'), userId: "={{ $fromAI('owner') }}" }, { owner: ' ' })).toBe(`${NONE}${GIVE_TEXT}`);
	// A description holding quotes and commas does not hide the type.
	const quoted = { ...rules('json'), userId: "={{ $fromAI('owner', 'the owner\\'s id, \"as told\"', 'json') }}" };
	expect(await classic('leadflowConsole', quoted, { owner: [''] })).toBe(`${NONE}${TYPED}`);
});

test("Move's owner by $fromAI typed 'json' left as [\"\"]: the same builder's advice, through the one shared wording", async () => {
	const move = { operation: 'move', ownerUserId: "={{ $fromAI('owner', '', 'json') }}", conversationId: '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f', stage: { __rl: true, mode: 'name', value: 'Qualified' } };
	expect(await classic('autoAssignStage', move, { owner: [''] })).toBe(
		"Move as an AI agent's tool needs the user ID of the owner whose contact to move (owner), and none was given\n\nDetails: Owner User ID (ownerUserId) in this tool's settings makes the model's answer something other than text, so no owner can be given this way: the workflow's builder must change it to {{ $fromAI('owner', 'the user ID of the owner whose contact to move', 'string') }} (a $fromAI typed 'number', 'boolean' or 'json' cannot carry a UUID), or set the owner there. Tell the user this tool needs that change; this tool moves no contact until then.",
	);
});
