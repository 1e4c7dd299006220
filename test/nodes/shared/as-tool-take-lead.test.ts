// Queue Ledger's Take Lead as an AI agent's tool: its refusals advise only what a model can do. A
// lead of another owner than Owner User ID is refused with "give a lead of this owner", never "leave
// Owner User ID empty for any owner's lead": before 6 December 2026 it was, and a model following it
// took the other owner's lead. An Owner User ID set in the tool's own settings keeps the agent to that
// owner's leads whatever the model gives.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { leadStatus, leadsOf, queueOwner } from '../QueueLedger/support/queue';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('queueLedger', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

const takeLead = (ownerUserId: string) => ({ resource: 'lead', operation: 'takeLead', ownerUserId, leadId: ai('lead'), reason: ai('reason') });

test("Take Lead as a tool: another owner's lead is refused with advice to give a lead of this owner, never to leave Owner User ID empty; nothing changes", async () => {
	const owner = await queueOwner();
	const other = await queueOwner();
	const [theirs] = await leadsOf(other, 1);

	const { thrown, answer } = await asTool({ ...takeLead(ai('owner')) }, { owner, lead: theirs.leadId, reason: 'The customer asked' });
	expect(answer).toBeUndefined();
	expect(thrown).toBe(
		`Lead ID: lead ${theirs.leadId} does not exist for user ${owner}\n\nDetails: Give the lead_id of a lead of this owner (${owner}): Add Leads returns it, and the Leadflow Console node's Queue Page lists each queued message's lead_id.`,
	);
	expect(await leadStatus(theirs.leadId)).toBe('new');

	// A refused Owner User ID or Lead ID: what a model can give, not a request's header, a Claim or a table's column.
	const badOwner = await asTool({ ...takeLead(ai('owner')) }, { owner: 'Maria', lead: theirs.leadId, reason: 'x' });
	expect(badOwner.thrown).toBe('The owner user ID "Maria" is not a UUID\n\nDetails: Give the owner\'s user ID: a UUID, the id of the Supabase Auth user whose queue this is.');
	const badLead = await asTool({ ...takeLead(ai('owner')) }, { owner, lead: 'lead-1', reason: 'x' });
	expect(badLead.thrown).toBe('The lead ID "lead-1" is not a UUID\n\nDetails: Give the lead_id of a lead: Add Leads returns it, and the Leadflow Console node\'s Queue Page lists each queued message\'s lead_id.');
	expect(await leadStatus(theirs.leadId)).toBe('new');
});

test("Take Lead as a tool with Owner User ID set in the tool's settings: the agent takes that owner's lead, and no other owner's whatever lead it gives", async () => {
	const owner = await queueOwner();
	const other = await queueOwner();
	const [mine] = await leadsOf(owner, 1);
	const [theirs] = await leadsOf(other, 1);

	const refused = await asTool(takeLead(owner), { lead: theirs.leadId, reason: 'The customer asked' });
	expect(refused.thrown).toMatch(new RegExp(`^Lead ID: lead ${theirs.leadId} does not exist for user ${owner}\\n\\nDetails: Give the lead_id of a lead of this owner`));
	expect(await leadStatus(theirs.leadId)).toBe('new');

	const taken = await asTool(takeLead(owner), { lead: mine.leadId, reason: 'The customer asked' });
	expect(JSON.parse(taken.answer as string)).toEqual([expect.objectContaining({ lead_id: mine.leadId, status: 'human_controlled' })]);
	expect(await leadStatus(mine.leadId)).toBe('human_controlled');
});
