// Queue Ledger's Take Lead as an AI agent's tool needs the owner (docs/nodes.md, "One owner per
// tool"). Before 6 December 2026 a tool with an empty Owner User ID took the lead of whichever owner
// the model's lead ID named. Now, as a tool, an Owner User ID left empty (in the tool's settings, or
// given empty, "null" or "undefined" by the model) is refused naming the field, the advice for whoever
// fills it, and nothing changes; in a workflow an empty one still takes any owner's lead.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { leadStatus, leadsOf, queueOwner } from './support/queue';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('queueLedger', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

const refused = (field: string) => `Take Lead as an AI agent's tool needs the user ID of the owner whose lead to take over (${field}), and none was given`;
const BUILDER =
	"Owner User ID (ownerUserId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose lead to take over (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('ownerUserId', 'the user ID of the owner whose lead to take over') }}. This tool takes no lead without it.";
const agentAdvice = (field: string) =>
	`Give the user ID of the owner whose lead to take over as ${field}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool takes no lead without it.`;

test("Take Lead as a tool with no owner takes no lead: refused naming the field, on both agent paths; in a workflow an empty owner still takes any owner's lead", async () => {
	const other = await queueOwner();
	const [theirs, second] = await leadsOf(other, 2);
	const bare = { resource: 'lead', operation: 'takeLead', leadId: ai('lead'), reason: ai('reason') };

	for (const parameters of [bare, { ...bare, ownerUserId: '' }]) {
		expect(await asTool(parameters, { lead: theirs.leadId, reason: 'The customer asked' })).toEqual({ thrown: `${refused('Owner User ID, ownerUserId')}\n\nDetails: ${BUILDER}` });
		const engine = await runWorkflow(engineAgentWorkflow('queueLedger', parameters, node, { lead: theirs.leadId, reason: 'x' }) as unknown as WorkflowJson, { credentials: credentials() });
		expect((JSON.parse(engine.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0].error).toBe(`${refused('Owner User ID, ownerUserId')}\n\nDetails: ${BUILDER}`);
	}
	for (const owner of ['', 'null', ' Undefined ']) {
		const out = await asTool({ ...bare, ownerUserId: ai('owner') }, { owner, lead: theirs.leadId, reason: 'x' });
		expect({ owner, out }).toEqual({ owner, out: { thrown: `${refused('owner')}\n\nDetails: ${agentAdvice('owner')}` } });
	}
	expect(await leadStatus(theirs.leadId)).toBe('new');

	// The owner given: that owner's lead is taken.
	const taken = await asTool({ ...bare, ownerUserId: ai('owner') }, { owner: other, lead: theirs.leadId, reason: 'The customer asked' });
	expect(JSON.parse(taken.answer as string)).toEqual([expect.objectContaining({ lead_id: theirs.leadId, status: 'human_controlled' })]);

	// In a workflow (the Take Lead webhook's caller holds the key) an empty Owner User ID is any owner's lead, as before.
	const run = await runWorkflow(
		{
			name: 'Take Lead',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'take', name: 'Take Lead', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: { resource: 'lead', operation: 'takeLead', leadId: second.leadId, ownerUserId: '' }, credentials: node },
			],
			connections: { Start: { main: [[{ node: 'Take Lead', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	expect(await leadStatus(second.leadId)).toBe('human_controlled');
});

test("Prepare Tomorrow as a tool with no owner prepares no queue: refused naming the field, the advice for whoever fills it", async () => {
	const prepare = { resource: 'message', operation: 'prepareTomorrow' };
	const refusedPrepare = (field: string) => `Prepare Tomorrow as an AI agent's tool needs the user ID of the owner whose queue to prepare (${field}), and none was given`;
	const builder =
		"Owner User ID (ownerUserId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose queue to prepare (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('ownerUserId', 'the user ID of the owner whose queue to prepare') }}. This tool prepares no queue without it.";
	for (const parameters of [prepare, { ...prepare, ownerUserId: '' }]) {
		expect(await asTool(parameters, {})).toEqual({ thrown: `${refusedPrepare('Owner User ID, ownerUserId')}\n\nDetails: ${builder}` });
	}
	for (const owner of ['', 'null']) {
		expect(await asTool({ ...prepare, ownerUserId: ai('owner') }, { owner })).toEqual({
			thrown: `${refusedPrepare('owner')}\n\nDetails: Give the user ID of the owner whose queue to prepare as owner: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool prepares no queue without it.`,
		});
	}
	// The owner given: that owner's queue only.
	const owner = await queueOwner();
	const prepared = JSON.parse((await asTool({ ...prepare, ownerUserId: ai('owner') }, { owner })).answer as string) as Array<{ user_id: string }>;
	expect(prepared.map((row) => row.user_id)).toEqual([owner]);
});
