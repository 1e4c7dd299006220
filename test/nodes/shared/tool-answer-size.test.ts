// What one answer holds when a node runs as an AI agent's tool: a model reads the whole answer into
// its context, so Tag Eligibility's Explain holds at most 25 contacts, its Snapshot at most 20 a
// list, and the Console's Monitor Page at most 20 a page and 20 rules (it lists every owner's rules),
// each saying how many were left out and how to read them (an Offset, Explain, a rule's ID). In a
// workflow the same nodes answer as before.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const SUPABASE_NODE = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

/** The node as a tool: the answer as the model reads it (text) and parsed. */
async function asTool(tool: string, parameters: IDataObject, args: IDataObject = {}): Promise<{ text: string; items: IDataObject[] }> {
	const run = await runWorkflow(agentWorkflow(tool, parameters, SUPABASE_NODE, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const { answer, thrown } = run.nodeOutputs.Agent[0];
	expect(thrown).toBeUndefined();
	return { text: String(answer), items: JSON.parse(String(answer)) as IDataObject[] };
}

/** The node in a workflow (Manual Trigger → node): its first output's items. */
async function inWorkflow(type: string, parameters: IDataObject): Promise<IDataObject[]> {
	const run = await runWorkflow(
		{
			name: 'In a workflow',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'node', name: 'Node', type: `n8n-nodes-leadflow.${type}`, typeVersion: 1, position: [200, 0], parameters, credentials: SUPABASE_NODE },
			],
			connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	return run.nodeBranches.Node[0];
}

const TAGGED = 60;
let ruleId: string;
let owner: string;
beforeAll(async () => {
	const world = await createWorld();
	owner = world.userId;
	ruleId = await world.rule({ dailyLimit: 100 });
	await world.contacts(TAGGED);
	// More rules than a tool's answer lists, whatever else the stack holds.
	for (let n = 0; n < 25; n += 1) await world.rule({ dailyLimit: 1 });
});

const RULES_NOTE = (leftOut: number) => `${leftOut} more rules left out of the rules list (at most 20): give a rule's ID as ruleId to read that rule.`;

test('Explain as a tool: at most 25 contacts, a last item saying how many were left out and the Offset to read on; in a workflow every contact asked for', async () => {
	const explain = { operation: 'explain', ruleId: { __rl: true, mode: 'id', value: ruleId }, ownerUserId: owner, limit: ai('limit'), offset: ai('offset') };
	const first = await asTool('tagEligibility', explain, { limit: '1000', offset: '' });
	expect(first.items).toHaveLength(26);
	expect(first.items.slice(0, 25).every((item) => typeof item.conversation_id === 'string')).toBe(true);
	expect(first.items[25]).toEqual({
		left_out: 35,
		left_out_is_at_least: false,
		next_offset: 25,
		note: '35 more contacts left out of this answer (at most 25 a call): call Explain again with Offset 25.',
	});
	const last = await asTool('tagEligibility', explain, { limit: '1000', offset: '50' });
	expect(last.items).toHaveLength(10);
	expect(last.items.every((item) => typeof item.conversation_id === 'string' && !('left_out' in item))).toBe(true);
	// Every contact once over the pages.
	const middle = await asTool('tagEligibility', explain, { limit: '25', offset: '25' });
	const seen = [...first.items.slice(0, 25), ...middle.items.slice(0, 25), ...last.items].map((item) => item.conversation_id);
	expect(new Set(seen).size).toBe(TAGGED);

	const workflow = await inWorkflow('tagEligibility', { operation: 'explain', ruleId: { __rl: true, mode: 'id', value: ruleId }, limit: 1000 });
	expect(workflow).toHaveLength(TAGGED);
	expect(workflow.some((item) => 'left_out' in item)).toBe(false);
});

test('Snapshot as a tool: at most 20 contacts a list, saying how many each left out; in a workflow its Contacts per List (200)', async () => {
	const { text, items } = await asTool('tagEligibility', { operation: 'snapshot', ruleId: { __rl: true, mode: 'id', value: ruleId }, ownerUserId: owner });
	expect(items).toHaveLength(1);
	const [snapshot] = items as Array<{ eligibleContacts: unknown[]; eligibleContactsLeftOut: number; activeContactsLeftOut: number; note: string; stats: { total_with_tags: number } }>;
	expect(snapshot.eligibleContacts).toHaveLength(20);
	expect(snapshot).toMatchObject({ eligibleContactsLeftOut: TAGGED - 20, activeContactsLeftOut: 0, stats: { total_with_tags: TAGGED } });
	expect(snapshot.note).toBe(
		`Left out of this answer (at most 20 contacts a list): ${TAGGED - 20} tagged contacts (eligibleContacts); the stats count every contact. Read them a page at a time with Explain (Limit and Offset), or look one up with Timeline.`,
	);
	expect(text.length).toBeLessThan(20_000);

	const [workflow] = await inWorkflow('tagEligibility', { operation: 'snapshot', ruleId: { __rl: true, mode: 'id', value: ruleId } });
	expect(workflow.eligibleContacts).toHaveLength(TAGGED);
	expect(workflow).not.toHaveProperty('eligibleContactsLeftOut');
	expect(workflow).not.toHaveProperty('note');
});

test('Console Monitor Page as a tool: at most 20 contacts a page, saying how many were left out and the offset to read on; in a workflow its page size', async () => {
	const monitor = { resource: 'followUp', operation: 'monitor', userId: owner, ruleId, offset: ai('offset'), limit: ai('limit') };
	const { text, items } = await asTool('leadflowConsole', monitor, { offset: '0', limit: '50' });
	const [page] = items as Array<{ contacts: { total: number; limit: number; rows: unknown[]; left_out: number; next_offset: number | null }; rules: unknown[]; rulesLeftOut: number; note: string }>;
	expect(page.contacts).toMatchObject({ total: TAGGED, limit: 20, left_out: TAGGED - 20, next_offset: 20 });
	expect(page.contacts.rows).toHaveLength(20);
	expect(page.rules).toHaveLength(20);
	expect(page.rulesLeftOut).toBeGreaterThanOrEqual(6); // 26 rules of this test at least
	expect(page.note).toBe(`At most 20 contacts a list in one answer: ${TAGGED - 20} more matching contacts left out: call Monitor Page again with offset 20. ${RULES_NOTE(page.rulesLeftOut)}`);
	expect(text.length).toBeLessThan(20_000);
	const [lastPage] = (await asTool('leadflowConsole', monitor, { offset: '40', limit: '100' })).items as Array<{ contacts: { rows: unknown[]; left_out: number; next_offset: number | null }; rulesLeftOut: number; note?: string }>;
	expect(lastPage.contacts).toMatchObject({ left_out: 0, next_offset: null });
	expect(lastPage.contacts.rows).toHaveLength(20);
	expect(lastPage.note).toBe(RULES_NOTE(lastPage.rulesLeftOut));
	// Without a rule: the rules list only, capped the same way.
	const listOnly = await asTool('leadflowConsole', { resource: 'followUp', operation: 'monitor', userId: owner, ruleId: '' });
	const [list] = listOnly.items as Array<{ rules: unknown[]; rulesLeftOut: number; note: string; rule: unknown }>;
	expect(list).toMatchObject({ rule: null });
	expect(list.rules).toHaveLength(20);
	expect(list.note).toBe(RULES_NOTE(list.rulesLeftOut));
	expect(listOnly.text.length).toBeLessThan(20_000);

	const [workflow] = await inWorkflow('leadflowConsole', { resource: 'followUp', operation: 'monitor', ruleId, offset: '0', limit: '50' });
	expect((workflow.contacts as { rows: unknown[] }).rows).toHaveLength(50);
	expect(workflow.contacts).not.toHaveProperty('left_out');
	expect((workflow.rules as unknown[]).length).toBeGreaterThanOrEqual(26);
	expect(workflow).not.toHaveProperty('rulesLeftOut');
});
