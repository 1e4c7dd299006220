// As an AI agent's tool, an owner field filled by a $fromAI typed 'number', 'boolean' or 'json' gives
// the node something other than text, which is refused (nodes/shared/tool-owner.ts). The model cannot
// mend that: n8n checks the model's arguments against the type the $fromAI asks for, so the UUID as
// text is refused before the node runs ("Expected number, received string"). Before this, the
// refusal told the model to give the UUID as text, advice it cannot follow (review RMF2 2); now it
// tells the workflow's builder to type the $fromAI 'string' (or set the owner in the tool), and the
// model to tell the user. Nothing is read or changed.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const UUID = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';

async function asTool(type: string, parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow(type, parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

const builderAdvice = (displayName: string, parameter: string, purpose: string, without: string) =>
	`${displayName} (${parameter}) in this tool's settings makes the model's answer something other than text, so no owner can be given this way: the workflow's builder must change it to {{ $fromAI('owner', 'the user ID of the owner ${purpose}', 'string') }} (a $fromAI typed 'number', 'boolean' or 'json' cannot carry a UUID), or set the owner there. Tell the user this tool needs that change; this tool ${without} until then.`;

test("an owner by $fromAI typed 'number', 'json' or 'boolean': the refusal tells the builder to type it 'string', not the model to give text it cannot give", async () => {
	const cases: Array<[string, IDataObject, IDataObject, string, string]> = [
		[
			'leadflowConsole',
			{ resource: 'console', operation: 'rules', userId: "={{ $fromAI('owner', 'the owner', 'number') }}" },
			{ owner: 5 },
			"List Rules as an AI agent's tool needs the user ID of one owner whose rules to list, as text (owner), and got 5",
			builderAdvice('Owner ID', 'userId', 'whose rules to list', 'lists no rule'),
		],
		[
			'queueLedger',
			{ resource: 'lead', operation: 'takeLead', ownerUserId: "={{ $fromAI('owner', 'the owner', 'json') }}", leadId: UUID },
			{ owner: { id: UUID } },
			"Take Lead as an AI agent's tool needs the user ID of one owner whose lead to take over, as text (owner), and got an object",
			builderAdvice('Owner User ID', 'ownerUserId', 'whose lead to take over', 'takes no lead'),
		],
		[
			'tagEligibility',
			{ operation: 'snapshot', ownerUserId: "={{ $fromAI('owner', 'the owner', 'boolean') }}", ruleId: { __rl: true, mode: 'id', value: UUID } },
			{ owner: true },
			"Snapshot as an AI agent's tool needs the user ID of one owner whose rule to read, as text (owner), and got true",
			builderAdvice('Owner User ID', 'ownerUserId', 'whose rule to read', 'reads no rule'),
		],
	];
	for (const [type, parameters, args, refusal, advice] of cases) {
		const out = await asTool(type, parameters, args);
		expect({ type, answer: out.answer, thrown: out.thrown }).toEqual({ type, answer: undefined, thrown: `${refusal}\n\nDetails: ${advice}` });
	}
	// Why the model cannot mend it: the UUID as text is refused by n8n before the node runs.
	const text = await asTool('leadflowConsole', { resource: 'console', operation: 'rules', userId: "={{ $fromAI('owner', 'the owner', 'number') }}" }, { owner: UUID });
	expect(String(text.thrown)).toContain('Expected number, received string');
});

test("an owner set in the tool's settings as an expression giving a number keeps the builder's advice of before", async () => {
	const out = await asTool('leadflowConsole', { resource: 'console', operation: 'rules', userId: '={{ 5 }}' }, {});
	expect(out.answer).toBeUndefined();
	expect(String(out.thrown)).toContain("Owner ID (userId) is set in this tool's settings, not given by the model");
});

test("an owner by $fromAI typed 'string' that the model gave as a list or a number on AI Agent 3.x's path (which does not check the type): the model is told to give the UUID, not the builder to type it 'string', which it is (review RC2b)", async () => {
	const engine = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
	};
	const rules = { resource: 'console', operation: 'rules', userId: "={{ $fromAI('owner', 'the owner', 'string') }}" };
	const model = 'Give the user ID of the owner whose rules to list as owner: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool lists no rule without it.';
	for (const [owner, got] of [[[UUID], 'an array of 1'], [7, '7']] as Array<[string[] | number, string]>) {
		expect({ owner, error: await engine(rules, { owner }) }).toEqual({
			owner,
			error: `List Rules as an AI agent's tool needs the user ID of one owner whose rules to list, as text (owner), and got ${got}\n\nDetails: ${model}`,
		});
	}
	// An expression around the call that makes a list of the model's text: the builder's, told to change it.
	const wrapped = await asTool('leadflowConsole', { ...rules, userId: "={{ [$fromAI('owner', 'the owner', 'string')] }}" }, { owner: UUID });
	expect(wrapped.thrown).toBe(
		`List Rules as an AI agent's tool needs the user ID of one owner whose rules to list, as text (owner), and got an array of 1\n\nDetails: ${builderAdvice('Owner ID', 'userId', 'whose rules to list', 'lists no rule')}`,
	);
});

test("an owner by a $fromAI typed 'number' or 'json' with a little around it (brackets, a comment, || '', .id, [0]) that the model left empty: the builder is told to type it 'string', not the model to give text n8n refuses (review RMC2)", async () => {
	const engine = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
	};
	const rules = (userId: string) => ({ resource: 'console', operation: 'rules', userId });
	const refused = `List Rules as an AI agent's tool needs the user ID of the owner whose rules to list (owner), and none was given\n\nDetails: ${builderAdvice('Owner ID', 'userId', 'whose rules to list', 'lists no rule')}`;
	// AI Agent 3.x's path: the model sent nothing.
	for (const userId of [
		"={{ ($fromAI('owner', 'the owner', 'number')) }}",
		"={{ $fromAI('owner', 'the owner', 'number') /* the owner */ }}",
		"={{ $fromAI('owner', 'the owner', 'number') || '' }}",
		"={{ $fromAI('owner', 'the owner', 'json') || '' }}",
	]) {
		expect({ userId, error: await engine(rules(userId), {}) }).toEqual({ userId, error: refused });
	}
	// The classic path: the model's [""] passes n8n's json check and reads empty; its UUID as text n8n refuses.
	for (const userId of ["={{ $fromAI('owner', 'the owner', 'json').id }}", "={{ $fromAI('owner', 'the owner', 'json')[0] }}"]) {
		expect({ userId, thrown: (await asTool('leadflowConsole', rules(userId), { owner: [''] })).thrown }).toEqual({ userId, thrown: refused });
		expect(String((await asTool('leadflowConsole', rules(userId), { owner: UUID })).thrown)).toContain('Received tool input did not match expected schema');
	}
});
