// Queue Ledger given an Owner User ID the database refuses (no such user; for Prepare Tomorrow, an
// owner without queue settings), through n8n's engine against the local stack: every operation that
// takes an owner fails the item not_found with a message naming the field as the editor shows it
// (Owner User ID), never the database's argument (p_user_id), and a description saying what to do.
// Take Lead with another owner's ID names the Lead ID (the lead is not that owner's).
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { createTestUser } from '../../helpers/stack';
import { leadsOf, queueOwner, runQueue, supabaseCredentials } from './support/queue';

const failure = async (parameters: IDataObject) => {
	const { outputs } = await runQueue([{}], parameters, supabaseCredentials(), { continueOnFail: true });
	// Add Leads has two outputs: a failed item goes to Invalid, the last.
	return outputs.flat().map((one) => one.error as IDataObject);
};

const nobody = randomUUID();

test.each<[string, IDataObject]>([
	['Get Metrics', { resource: 'report', operation: 'metrics', ownerUserId: nobody }],
	['Export', { resource: 'report', operation: 'export', ownerUserId: nobody, fromDay: '2026-12-01', toDay: '2026-12-02' }],
	['Prepare Tomorrow', { resource: 'message', operation: 'prepareTomorrow', ownerUserId: nobody }],
	['Claim', { resource: 'message', operation: 'claim', ownerUserId: nobody }],
	['Add Leads from a tag', { resource: 'lead', operation: 'addLeads', source: 'tag', ownerUserId: nobody, tagId: randomUUID() }],
])('%s with the ID of no user: not_found naming Owner User ID, not p_user_id, and what to do', async (_, parameters) => {
	const [error] = await failure(parameters);
	expect(error).toEqual({ code: 'not_found', message: `Owner User ID: user ${nobody} does not exist`, description: expect.stringMatching(/^Set Owner User ID to the ID of a Supabase Auth user of this project \(auth\.users\)/) });
	expect(JSON.stringify(error)).not.toMatch(/p_user_id|p_[a-z]+/);
});

// An Owner User ID that is not a UUID names its parameter on the failed item (field: ownerUserId),
// which queue-run.json reads to answer its caller's X-Leadflow-Owner 400: by the field, never by the
// message's words (before, the failed item carried no field and the workflow matched "… is not a UUID").
test.each<[string, IDataObject]>([
	['Claim', { resource: 'message', operation: 'claim', ownerUserId: 'someone' }],
	['Prepare Tomorrow', { resource: 'message', operation: 'prepareTomorrow', ownerUserId: 'someone' }],
	['Get Metrics', { resource: 'report', operation: 'metrics', ownerUserId: 'someone' }],
	['Take Lead', { resource: 'lead', operation: 'takeLead', ownerUserId: 'someone', leadId: randomUUID() }],
])('%s with an Owner User ID that is not a UUID: invalid_input naming its field, ownerUserId', async (_, parameters) => {
	const [error] = await failure(parameters);
	expect(error).toEqual({ code: 'invalid_input', message: 'The owner user ID "someone" is not a UUID', description: expect.stringMatching(/auth\.users/), field: 'ownerUserId' });
});

test('Prepare Tomorrow for an owner without queue settings: stops naming Owner User ID and saying to give them settings or leave it empty', async () => {
	const bare = await createTestUser('queue-bare');
	const { result } = await runQueue([{}], { resource: 'message', operation: 'prepareTomorrow', ownerUserId: bare });
	expect(result.error?.message).toBe(`Owner User ID: user ${bare} has no queue settings`);
	expect(result.error?.description).toMatch(/user_queue_settings.*or leave it empty/);
	expect(JSON.stringify({ message: result.error?.message, description: result.error?.description })).not.toMatch(/p_user_id/);
});

test('Take Lead with another owner\'s Owner User ID: not_found naming Lead ID, not p_lead_id', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	const [error] = await failure({ resource: 'lead', operation: 'takeLead', ownerUserId: nobody, leadId: lead.leadId });
	expect(error).toEqual({ code: 'not_found', message: `Lead ID: lead ${lead.leadId} does not exist for user ${nobody}`, description: expect.stringMatching(/Owner User ID/) });
	expect(JSON.stringify(error)).not.toMatch(/p_[a-z]+/);
});

// As an AI agent's tool, a refused owner is answered with what a model can do: give the owner's ID.
// Before, Prepare Tomorrow's refusal (not a UUID, or an owner without queue settings) said "…or leave
// it empty for every owner": a model following it prepared every owner's queue. In the editor the
// advice stays a person's (the empty field, the X-Leadflow-Owner header).
test('as an AI agent\'s tool, an owner refused (not a UUID, no queue settings) is answered with advice the model can follow, never "leave it empty for every owner"; in the editor, the person\'s', async () => {
	const asTool = async (parameters: IDataObject, owner: string) => {
		const tool = { ...parameters, ownerUserId: "={{ $fromAI('owner_user_id', 'the owner', 'string') }}" };
		const run = await runWorkflow(agentWorkflow('queueLedger', tool, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, { owner_user_id: owner }) as unknown as WorkflowJson, { credentials: supabaseCredentials() });
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0].thrown as string;
	};
	const prepare = { resource: 'message', operation: 'prepareTomorrow' };
	const advice = "Give the owner's user ID: a UUID, the id of the Supabase Auth user whose queue this is.";
	for (const parameters of [prepare, { resource: 'report', operation: 'metrics' }]) {
		expect([parameters.operation, await asTool(parameters, 'Maria Santos')]).toEqual([parameters.operation, `The owner user ID "Maria Santos" is not a UUID\n\nDetails: ${advice}`]);
	}
	const bare = await createTestUser('queue-bare-tool');
	expect(await asTool(prepare, bare)).toBe(
		`Owner User ID: user ${bare} has no queue settings\n\nDetails: Give the user ID of an owner who has queue settings: a UUID, the id of a Supabase Auth user with a row in user_queue_settings.`,
	);

	// In a workflow a person reads it: there an empty Owner User ID is every owner.
	const { result } = await runQueue([{}], { ...prepare, ownerUserId: 'Maria Santos' });
	expect(result.error?.message).toBe('The owner user ID "Maria Santos" is not a UUID');
	expect(result.error?.description).toBe('Use the id of the Supabase Auth user (auth.users) whose queue this is, or leave it empty for every owner.');
});
