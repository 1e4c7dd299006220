// Queue Ledger's Settle Dead Message (settleLead, queue_settle_lead) through n8n's engine against the
// local stack: a lead whose last message ended dead `uncertain` settled as delivered (contacted) or
// send_again (new); a lead that cannot be settled is an item with settled false and its field; an
// unknown lead or another owner's fails as not_found; an Outcome other than the two is refused
// naming outcome. As an AI agent's tool the owner must be given, and the model's outcome is checked
// with advice by its $fromAI key.
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { claim, complete, failed, preparedOwner, TOMORROW } from '../../db/queue/fixtures';
import { leadStatus, runQueue, supabaseCredentials } from './support/queue';
import { testStack } from '../../helpers/stack';

const UNCERTAIN = { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true };
const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;

/** An owner with `count` leads whose messages ended dead uncertain. */
async function uncertainLeads(count: number) {
	const { userId } = await preparedOwner(count, { max_attempts: 3 });
	const worker = `w-settle-node-${randomUUID().slice(0, 8)}`;
	const claimed = await claim(worker, userId, at('16:00'));
	await complete(worker, claimed.map((item) => failed(item, UNCERTAIN)), at('16:01'));
	return { owner: userId, leadIds: claimed.map((item) => item.lead_id) };
}

const settle = (entries: IDataObject[], extra: IDataObject = {}, continueOnFail = false) =>
	runQueue(entries, { resource: 'lead', operation: 'settleLead', ...extra }, supabaseCredentials(), { continueOnFail });

test('settles an uncertain message both ways; again is already_settled; a lead that cannot be settled is an item saying why; unknown or another owner\'s lead is not_found; a bad Outcome names outcome', async () => {
	const { owner, leadIds } = await uncertainLeads(2);
	const [a, b] = leadIds;

	const delivered = await settle([{ lead_id: a }], { ownerUserId: owner, outcome: 'delivered', actorId: owner, reason: 'She answered' });
	expect(delivered.result.error).toBeUndefined();
	expect(delivered.outputs[0]).toEqual([expect.objectContaining({ lead_id: a, outcome: 'delivered', settled: true, already_settled: false, refusal: null, status: 'contacted', error_code: 'uncertain' })]);
	expect(await leadStatus(a)).toBe('contacted');
	const again = await settle([{ lead_id: a }], { ownerUserId: owner, outcome: 'delivered' });
	expect(again.outputs[0]).toEqual([expect.objectContaining({ settled: true, already_settled: true })]);
	const other = await settle([{ lead_id: a }], { ownerUserId: owner, outcome: 'send_again' });
	expect(other.outputs[0]).toEqual([expect.objectContaining({ settled: false, refusal: 'not_settleable', field: 'outcome', explanation: expect.stringContaining('already settled as delivered') })]);

	const sendAgain = await settle([{ lead_id: b }], { ownerUserId: owner, outcome: 'send_again' });
	expect(sendAgain.outputs[0]).toEqual([expect.objectContaining({ settled: true, status: 'new' })]);
	expect(await leadStatus(b)).toBe('new');

	// Unknown lead, another owner's lead: not_found naming Lead ID.
	const stranger = (await uncertainLeads(1)).owner;
	for (const [leadId, ownerUserId] of [
		[randomUUID(), owner],
		[b, stranger],
	]) {
		const missing = await settle([{ lead_id: leadId }], { ownerUserId, outcome: 'delivered' }, true);
		expect(missing.outputs[0]).toEqual([{ error: expect.objectContaining({ code: 'not_found', message: expect.stringMatching(/^Lead ID: lead .* does not exist for user/) }) }]);
	}
	// An Outcome other than the two: refused naming outcome, before anything is called.
	for (const outcome of ['arrived', '']) {
		const bad = await settle([{ lead_id: b }], { ownerUserId: owner, outcome }, true);
		expect(bad.outputs[0]).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', field: 'outcome', message: expect.stringContaining('Outcome must be "delivered" or "send_again"') }) }]);
	}
	// A Settled By of no user: refused naming actorId.
	const unknownBy = await settle([{ lead_id: b }], { ownerUserId: owner, outcome: 'send_again', actorId: randomUUID() }, true);
	expect(unknownBy.outputs[0]).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', field: 'actorId', message: expect.stringMatching(/^Settled By: user .* does not exist/) }) }]);
	expect(await leadStatus(b)).toBe('new');
});

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('queueLedger', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

test('as an AI agent\'s tool: no owner settles nothing (refused naming the field); the model\'s bad outcome is refused by its key; given both, the lead is settled', async () => {
	const { owner, leadIds } = await uncertainLeads(1);
	const [lead] = leadIds;
	const bare = { resource: 'lead', operation: 'settleLead', leadId: ai('lead'), outcome: ai('outcome') };

	const noOwner = await asTool(bare, { lead, outcome: 'delivered' });
	expect(noOwner.thrown).toMatch(/^Settle Dead Message as an AI agent's tool needs the user ID of the owner whose lead to settle \(Owner User ID, ownerUserId\), and none was given/);
	const modelOwner = await asTool({ ...bare, ownerUserId: ai('owner') }, { owner: 'null', lead, outcome: 'delivered' });
	expect(modelOwner.thrown).toMatch(/\(owner\), and none was given\n\nDetails: Give the user ID of the owner whose lead to settle as owner/);

	const badOutcome = await asTool({ ...bare, ownerUserId: ai('owner') }, { owner, lead, outcome: 'yes' });
	expect(badOutcome.thrown).toBe('Outcome must be "delivered" or "send_again", and got "yes"\n\nDetails: Give outcome as "delivered" (the person got the message) or "send_again" (send a new one).');
	expect(await leadStatus(lead)).toBe('queued');

	const settled = await asTool({ ...bare, ownerUserId: ai('owner') }, { owner, lead, outcome: 'delivered' });
	expect(JSON.parse(settled.answer as string)).toEqual([expect.objectContaining({ lead_id: lead, settled: true, status: 'contacted' })]);
	expect(await leadStatus(lead)).toBe('contacted');
});
