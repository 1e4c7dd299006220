// The nodes as an AI agent's tools, run through n8n-core's own tool path (test/harness/agent.ts): an
// agent reads only a tool's first output, so as a tool every output's items reach it there; Assign
// and Move hand no automation action out (nobody would deliver it: they wait for a workflow's Claim
// Automations), and Claim Automations refuses to run as a tool.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { createPipelineWorld } from '../../db/pipelines/fixtures';
import { testStack, withDb } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

async function asTool(tool: string, parameters: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow(tool, parameters, node) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

const outboxOf = (userId: string, conversationId: string) =>
	withDb(async (db) => (await db.query<{ kind: string; status: string }>('select kind, status from public.pipeline_outbox where user_id = $1 and conversation_id = $2 order by kind', [userId, conversationId])).rows);

test('Move as a tool: the agent reads the move and how many actions wait; the actions stay pending for a workflow, Claim Automations as a tool refuses', async () => {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' }, { type: 'notify', message: 'New lead' }] });
	const contact = await world.contact();

	const { answer } = await asTool('autoAssignStage', { operation: 'move', conversationId: contact, stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Qualified }, reason: 'The agent moved it', actor: 'ai' });
	expect(JSON.parse(answer as string)).toEqual([expect.objectContaining({ conversation_id: contact, outcome: 'assigned', stage_name: 'Qualified', automations_fired: 1, automations_waiting: 2 })]);
	expect(await outboxOf(world.userId, contact)).toEqual([
		{ kind: 'notify', status: 'pending' },
		{ kind: 'webhook', status: 'pending' },
	]);

	const claim = await asTool('autoAssignStage', { operation: 'claimAutomations', ownerUserId: world.userId, limit: 50 });
	expect(claim.thrown).toMatch(/^Claim Automations cannot run as an AI agent's tool/);
	expect(await outboxOf(world.userId, contact)).toEqual([
		{ kind: 'notify', status: 'pending' },
		{ kind: 'webhook', status: 'pending' },
	]);
});

test("Add Leads as a tool: a refused lead reaches the agent with its problem and field, not as an empty answer", async () => {
	const world = await createPipelineWorld();
	const { answer } = await asTool('queueLedger', { resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: world.userId, leadName: 'Ann', phone: '12' });
	expect(JSON.parse(answer as string)).toEqual([
		expect.objectContaining({ item_index: 0, problems: [expect.objectContaining({ field: 'phone' })] }),
	]);
});

test('Tag Eligibility Claim as a tool: with nothing due, the agent reads the summary saying why', async () => {
	const world = await createPipelineWorld();
	const rule = await world.rule();
	const { answer } = await asTool('tagEligibility', { operation: 'claim', ruleId: { __rl: true, mode: 'id', value: rule }, limit: 5, leaseSeconds: 60 });
	expect(JSON.parse(answer as string)).toEqual([expect.objectContaining({ claimed: 0, requested: 5 })]);
});
