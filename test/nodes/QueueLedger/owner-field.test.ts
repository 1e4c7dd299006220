// Queue Ledger given an Owner User ID the database refuses (no such user; for Prepare Tomorrow, an
// owner without queue settings), through n8n's engine against the local stack: every operation that
// takes an owner fails the item not_found with a message naming the field as the editor shows it
// (Owner User ID), never the database's argument (p_user_id), and a description saying what to do.
// Take Lead with another owner's ID names the Lead ID (the lead is not that owner's).
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
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
