// Auto Assign Stage's Complete Automations as an AI agent's tool: only the holder of an action (the
// execution its Claim Automations handed it to) may report it, and a holder may be guessed or read.
// As a tool it takes only a Claim Holder of this execution (`…-<execution>-<instance hash>`): the agent of a
// workflow whose Claim Automations came before it reports that run's actions; another execution's
// holder is refused before anything is reported, and the action stays that workflow's. Before 6
// December 2026 a tool given another execution's id reported that execution's action failed for
// good; that day, until the evening, every call as a tool was refused, the claiming run's agent too.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, TEST_AGENT_TYPE, TEST_ENGINE_AGENT_TYPE } from '../../harness/agent';
import { createPipelineWorld, minutesAfter, move, rpc } from '../../db/pipelines/fixtures';
import { testStack, withDb } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

test("Complete Automations as a tool refuses to report another execution's action; it stays claimed by that execution, which reports it", async () => {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' }] });
	const contact = await world.contact();
	// At fixed instants (fixtures' NOW): nothing here depends on the date.
	await move([{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified, reason: 'Asked for a quote' }]);
	// A workflow's Claim Automations, execution 4711, holds the action.
	const [claimed] = await rpc<IDataObject[]>('pipeline_claim_outbox', { p_execution_id: '4711', p_limit: 50, p_lease_seconds: 300, p_now: minutesAfter(1), p_user_id: world.userId });
	expect(claimed).toEqual(expect.objectContaining({ kind: 'webhook' }));
	const outbox = async () => (await withDb(async (db) => (await db.query('select status, claimed_by, last_error from public.pipeline_outbox where id = $1', [claimed.outbox_id])).rows))[0];
	const before = await outbox();
	expect(before).toEqual({ status: 'claimed', claimed_by: '4711', last_error: null });

	const run = await runWorkflow(
		agentWorkflow('autoAssignStage', { operation: 'completeAutomations', outboxId: ai('outbox_id'), claimHolder: ai('holder'), outcome: 'failed', error: ai('error') }, node, {
			outbox_id: claimed.outbox_id,
			holder: '4711',
			error: 'The agent decided',
		}) as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	const { thrown, answer } = run.nodeOutputs.Agent[0];
	expect(answer).toBeUndefined();
	expect(thrown).toMatch(/^Claim Holder "4711" is not this execution: as an AI agent's tool, only the actions a Claim Automations earlier in this run handed out are reported\n\nDetails: .*Another run's action is that run's to deliver and report/);
	expect(await outbox()).toEqual(before);

	// The holder reports it as it would have.
	const reported = await rpc<IDataObject[]>('pipeline_complete_outbox', { p_execution_id: '4711', p_items: [{ outbox_id: claimed.outbox_id, outcome: 'delivered' }], p_now: minutesAfter(2) });
	expect(reported).toEqual([expect.objectContaining({ outbox_id: claimed.outbox_id, outcome: 'delivered' })]);
});

test.each([
	['invoked (agent < 3.0)', TEST_AGENT_TYPE],
	['engine request (agent 3.x)', TEST_ENGINE_AGENT_TYPE],
])("Claim Automations → Agent with Complete Automations as its tool (%s): the agent reports this execution's action", async (_path, agentType) => {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' }] });
	const contact = await world.contact();
	await move([{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified, reason: 'Asked for a quote' }]);
	const workflow = {
		name: 'Claim Automations, then an agent',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'claim', name: 'Claim', type: 'n8n-nodes-leadflow.autoAssignStage', typeVersion: 1, position: [200, 0], parameters: { operation: 'claimAutomations', ownerUserId: world.userId, automationDelivery: 'confirm' }, credentials: node },
			{ id: 'agent', name: 'Agent', type: agentType, typeVersion: 1, position: [400, 0], parameters: { args: '={{ JSON.stringify({ outbox_id: $json.outbox_id, holder: $json.execution_id }) }}' } },
			{ id: 'tool', name: 'Leadflow Tool', type: 'n8n-nodes-leadflow.autoAssignStageTool', typeVersion: 1, position: [400, 200], parameters: { operation: 'completeAutomations', outboxId: ai('outbox_id'), claimHolder: ai('holder'), outcome: 'delivered' }, credentials: node },
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[], [{ node: 'Agent', type: 'main', index: 0 }]] },
			'Leadflow Tool': { ai_tool: [[{ node: 'Agent', type: 'ai_tool', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
	const run = await runWorkflow(workflow as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [claimed] = run.nodeBranches.Claim[1];
	expect(claimed.execution_id).toMatch(/^n8n-claim-[0-9a-f]{12}-\d+-[0-9a-f]{12}$/);
	const [agent] = run.nodeOutputs.Agent;
	expect(JSON.parse((agent.answer ?? agent.observation) as string)).toEqual([{ outbox_id: claimed.outbox_id, outcome: 'delivered', reported: 'delivered' }]);
	const rows = await withDb(async (db) => (await db.query('select status from public.pipeline_outbox where id = $1', [claimed.outbox_id])).rows);
	expect(rows).toEqual([{ status: 'delivered' }]);
});
