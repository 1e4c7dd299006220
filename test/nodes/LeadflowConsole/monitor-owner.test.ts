// The Leadflow Console's Monitor Page kept to one owner. Before 6 December 2026 Monitor Page with no
// rule listed every owner's rules (names, Pages, on or off), and with a rule read any owner's: as an
// AI agent's tool, another owner's data in the model's context. Now, as a tool, Owner ID (userId)
// must be given (set in the tool's settings, or by the model where the builder chose $fromAI),
// refused naming the field otherwise; the database lists that owner's rules only and finds no rule
// of another owner. In a workflow (the console's page) an empty Owner ID is every owner's, as before.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject = {}): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

async function engineRead(parameters: IDataObject, args: IDataObject = {}): Promise<Array<IDataObject & { error?: string }>> {
	const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<IDataObject & { error?: string }>;
}

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

const BUILDER_ADVICE =
	"Owner ID (userId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose follow-up rules to read (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('userId', 'the user ID of the owner whose follow-up rules to read') }}. This tool reads no rule without it.";
const agentAdvice = (field: string) =>
	`Give the user ID of the owner whose follow-up rules to read as ${field}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool reads no rule without it.`;
const refused = (field: string) => `Monitor Page as an AI agent's tool needs the user ID of the owner whose follow-up rules to read (${field}), and none was given`;

type Page = { rule: { id: string } | null; rules: Array<{ id: string; name: string }> };
const pageOf = (out: IDataObject): Page => {
	expect(out.thrown).toBeUndefined();
	return (JSON.parse(out.answer as string) as Page[])[0];
};

test("Monitor Page as a tool answers only the owner's rules: no other owner's rule in the list, another owner's rule not found; with no owner refused naming the field, on both agent paths", async () => {
	const mine = await createWorld();
	const theirs = await createWorld();
	const myRule = await mine.rule({ dailyLimit: 10 });
	const theirRule = await theirs.rule({ dailyLimit: 10 });
	await theirs.contacts(2);
	const tool = { resource: 'followUp', operation: 'monitor', userId: mine.userId, ruleId: ai('rule') };

	// No rule: the rules list is the owner's (before, every owner's: theirs included).
	const list = pageOf(await asTool(tool, { rule: '' }));
	expect({ rule: list.rule, rules: list.rules.map((rule) => rule.id) }).toEqual({ rule: null, rules: [myRule] });
	const [engine] = await engineRead(tool, { rule: '' });
	expect((engine.rules as Page['rules']).map((rule) => rule.id)).toEqual([myRule]);
	// The owner's rule: read, its list the owner's.
	const own = pageOf(await asTool(tool, { rule: myRule }));
	expect({ rule: own.rule?.id, rules: own.rules.map((rule) => rule.id) }).toEqual({ rule: myRule, rules: [myRule] });
	// Another owner's rule: not found, in the words of a rule of nobody's; nothing of it said.
	const other = await asTool(tool, { rule: theirRule });
	expect(other.thrown).toBe(`There is no automation rule with ID ${theirRule} for owner ${mine.userId}\n\nDetails: Pick one of this owner's rules from the answer's rules list (ask without ruleId).`);
	const nobody = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';
	expect((await asTool(tool, { rule: nobody })).thrown).toBe(String(other.thrown).replace(theirRule, nobody));

	// No owner: refused naming the field, the builder told when it is not the model's, the model by its key when it is.
	const bare = { resource: 'followUp', operation: 'monitor', ruleId: ai('rule') };
	for (const parameters of [bare, { ...bare, userId: '' }]) {
		expect((await asTool(parameters, { rule: '' })).thrown).toBe(`${refused('Owner ID, userId')}\n\nDetails: ${BUILDER_ADVICE}`);
		expect((await engineRead(parameters, { rule: theirRule }))[0].error).toBe(`${refused('Owner ID, userId')}\n\nDetails: ${BUILDER_ADVICE}`);
	}
	const byModel = { ...bare, userId: ai('owner') };
	for (const owner of ['', 'null', ' Undefined ']) {
		const out = await asTool(byModel, { owner, rule: '' });
		expect({ owner, out }).toEqual({ owner, out: { thrown: `${refused('owner')}\n\nDetails: ${agentAdvice('owner')}` } });
	}
	expect((await asTool(byModel, { owner: 'Maria Santos', rule: '' })).thrown).toBe(`The owner ID "Maria Santos" is not a UUID\n\nDetails: ${agentAdvice('owner')}`);
	expect(pageOf(await asTool(byModel, { owner: theirs.userId, rule: '' })).rules.map((rule) => rule.id)).toEqual([theirRule]);
});

test("Monitor Page in a workflow: with no Owner ID every owner's rules and any owner's rule, as the console's page reads them; with one, that owner's only", async () => {
	const mine = await createWorld();
	const theirs = await createWorld();
	const myRule = await mine.rule({ dailyLimit: 10 });
	const theirRule = await theirs.rule({ dailyLimit: 10 });
	const every = await inWorkflow({ resource: 'followUp', operation: 'monitor', ruleId: '' });
	expect(every.error).toBeUndefined();
	expect((every.nodeOutputs.Console[0] as Page).rules.map((rule) => rule.id)).toEqual(expect.arrayContaining([myRule, theirRule]));
	const anyRule = await inWorkflow({ resource: 'followUp', operation: 'monitor', ruleId: theirRule });
	expect((anyRule.nodeOutputs.Console[0] as Page).rule?.id).toBe(theirRule);

	const one = await inWorkflow({ resource: 'followUp', operation: 'monitor', userId: mine.userId, ruleId: '' });
	expect((one.nodeOutputs.Console[0] as Page).rules.map((rule) => rule.id)).toEqual([myRule]);
	const kept = await inWorkflow({ resource: 'followUp', operation: 'monitor', userId: mine.userId, ruleId: theirRule });
	expect(kept.error?.message).toBe(`There is no automation rule with ID ${theirRule} for owner ${mine.userId}`);
});
