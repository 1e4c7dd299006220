// Auto Assign Stage's Complete Automations as an AI agent's tool: only the holder of an action (the
// execution its Claim Automations handed it to) may report it, and that holder is an execution id a
// model can guess; a tool's call holds none and delivered nothing. It refuses to run as a tool before
// anything is reported, and the action stays the workflow's, claimed, to deliver and report. Before 6
// December 2026 a tool given another execution's id reported that execution's action failed for good.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
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
	expect(thrown).toMatch(/^Complete Automations cannot run as an AI agent's tool\n\nDetails: .*a tool's call holds none/);
	expect(await outbox()).toEqual(before);

	// The holder reports it as it would have.
	const reported = await rpc<IDataObject[]>('pipeline_complete_outbox', { p_execution_id: '4711', p_items: [{ outbox_id: claimed.outbox_id, outcome: 'delivered' }], p_now: minutesAfter(2) });
	expect(reported).toEqual([expect.objectContaining({ outbox_id: claimed.outbox_id, outcome: 'delivered' })]);
});
