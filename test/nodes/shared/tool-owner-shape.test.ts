// As an AI agent's tool, an owner field whose value is not one owner's user ID as text is refused,
// whatever its shape (nodes/shared/tool-owner.ts, docs/nodes.md "One owner per tool"). Before this,
// the shared check treated only text as empty, and the Leadflow Console's reading takes String(value):
// an Owner ID expression giving [] or [""] read as empty, i.e. every owner's, so List Rules listed
// every owner's rules (review RF2 1, a regression of 8bd9551). A list holding one id, an object, a
// number or true is refused too, never read as that id or as "[object Object]".
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

async function asTool(type: string, parameters: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow(type, parameters, node, {}) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

test('List Rules as a tool whose Owner ID expression gives [], [""], a list with an id, an object, a number or true is refused, nothing listed', async () => {
	const mine = await createWorld();
	const theirs = await createWorld();
	await mine.rule();
	await theirs.rule();
	const notGiven = ['={{ [] }}', '={{ [""] }}', '={{ ["  ", "null"] }}'];
	const notText: Array<[string, string]> = [
		[`={{ ["${mine.userId}"] }}`, 'got an array of 1'],
		['={{ { "id": 1 } }}', 'got an object'],
		['={{ 5 }}', 'got 5'],
		['={{ true }}', 'got true'],
	];
	for (const userId of notGiven) {
		const out = await asTool('leadflowConsole', { resource: 'console', operation: 'rules', userId });
		expect({ userId, answer: out.answer }).toEqual({ userId, answer: undefined });
		expect(String(out.thrown)).toContain("List Rules as an AI agent's tool needs the user ID of the owner whose rules to list (Owner ID, userId), and none was given");
	}
	for (const [userId, got] of notText) {
		const out = await asTool('leadflowConsole', { resource: 'console', operation: 'rules', userId });
		expect({ userId, answer: out.answer }).toEqual({ userId, answer: undefined });
		expect(String(out.thrown)).toContain(`List Rules as an AI agent's tool needs the user ID of one owner whose rules to list, as text (Owner ID, userId), and ${got}`);
		expect(String(out.thrown)).toContain("Owner ID (userId) is set in this tool's settings");
	}
});

test('Read Board and Take Lead as tools: an Owner ID / Owner User ID of [] is refused as not given', async () => {
	const board = await asTool('leadflowConsole', { resource: 'console', operation: 'pipelineBoard', userId: '={{ [] }}' });
	expect(board.answer).toBeUndefined();
	expect(String(board.thrown)).toContain('(Owner ID, userId), and none was given');
	const take = await asTool('queueLedger', { resource: 'lead', operation: 'takeLead', ownerUserId: '={{ [""] }}', leadId: '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f' });
	expect(take.answer).toBeUndefined();
	expect(String(take.thrown)).toContain("Take Lead as an AI agent's tool needs the user ID of the owner whose lead to take over (Owner User ID, ownerUserId), and none was given");
});
