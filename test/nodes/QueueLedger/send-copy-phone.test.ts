// A message listed again in Send's input with ANOTHER phone (a copy of Claim's item whose Phone was
// changed, merged before the claimed item; review RC1a 2 of 597021a): every copy is asked about in the
// first occurrence's queue_begin_send call, so the database lets go the copy carrying the message's own
// phone (20261201002810: the first occurrence in the call whose phone is the message's). That copy
// sends and reports; the other occurrences are already_sending. Before, Send answered every later
// occurrence already_sending itself, so the first (the wrong phone) was refused phone_mismatch and
// nothing was sent.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { whatsappSimulator } from './support/send';

const sims = whatsappSimulator();
const credentials = () => sims.credentials();
const nodeCredentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
const step = (id: string, name: string, x: number, parameters: IDataObject) => ({ id, name, type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [x, 0], parameters, credentials: nodeCredentials });

/** Claim → (Copy: a Set changing fields) ; Merge(input 0 = first, input 1 = second) → Send → Complete. */
function copyMerged(owner: string, assignments: Array<{ name: string; value: string }>, copyFirst: boolean, sendOptions: IDataObject): WorkflowJson {
	return {
		name: 'Claim merged with a changed copy',
		nodes: [
			{ id: 's', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			step('c', 'Claim', 200, { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner }),
			{
				id: 'cp',
				name: 'Copy',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: [300, 200],
				parameters: { mode: 'manual', includeOtherFields: true, assignments: { assignments: assignments.map((one, index) => ({ id: `a${index}`, type: 'string', ...one })) }, options: {} },
			},
			{ id: 'm', name: 'Merge', type: 'n8n-nodes-base.merge', typeVersion: 3, position: [400, 0], parameters: {} },
			step('se', 'Send', 600, { resource: 'message', operation: 'send', options: sendOptions }),
			step('co', 'Complete', 800, { resource: 'message', operation: 'complete' }),
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Copy', type: 'main', index: 0 }, { node: 'Merge', type: 'main', index: copyFirst ? 1 : 0 }]] },
			Copy: { main: [[{ node: 'Merge', type: 'main', index: copyFirst ? 0 : 1 }]] },
			Merge: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}


async function sendsOnceToOwnPhone(concurrency: number): Promise<void> {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 2);
	await prepareDue(owner);
	const run = await runWorkflow(copyMerged(owner, [{ name: 'phone', value: '+447700900123' }], true, { concurrency }), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const delivered = await sims.graph.control.whatsappMessages();
	// Each lead gets its message once, at its own phone, recorded sent; nothing to the copy's phone.
	expect(delivered.map((d) => d.to).sort()).toEqual(leads.map((l) => l.phone).sort());
	expect((await messagesOf(owner)).map((r) => r.status)).toEqual(['sent', 'sent']);
	const sendOut = (run.nodeOutputs.Send ?? []) as IDataObject[];
	expect(sendOut.filter((o) => o.outcome === 'sent')).toHaveLength(2);
	expect(sendOut.filter((o) => (o.error as IDataObject | undefined)?.code === 'already_sending')).toHaveLength(2);
	const completeOut = (run.nodeOutputs.Complete ?? []) as IDataObject[];
	expect(completeOut.filter((o) => o.accepted === true).map((o) => o.status)).toEqual(['sent', 'sent']);
}

it('a copy with another phone listed first, Parallel Sends 10: the claimed item (its own phone) is let go in the same call and sent once', async () => {
	await sendsOnceToOwnPhone(10);
}, 120_000);

it('a copy with another phone listed first, Parallel Sends 1: the claimed item in a later group is let go in the first copy\'s call and sent once', async () => {
	await sendsOnceToOwnPhone(1);
}, 120_000);

// Review RMC1 F1 (of 41542c7): a first occurrence Send refuses itself (its Phone not in E.164) carried
// the message's report (invalid_message): the message ended dead and the claimed item listed after it
// was never sent. Now a later occurrence Send can ask about becomes the first, the refused one a copy.
it('a copy whose Phone is not E.164 listed first, Parallel Sends 1: the claimed item after it reports and is sent once', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(copyMerged(owner, [{ name: 'phone', value: '07700 900123' }], true, { concurrency: 1 }), { credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect((await sims.graph.control.whatsappMessages()).map((d) => d.to)).toEqual([leads[0].phone]);
	expect((await messagesOf(owner)).map((r) => r.status)).toEqual(['sent']);
	const sendOut = (run.nodeOutputs.Send ?? []) as IDataObject[];
	expect(sendOut.map((o) => o.outcome ?? (o.error as IDataObject | undefined)?.code)).toEqual(['already_sending', 'sent']);
	expect(((run.nodeOutputs.Complete ?? []) as IDataObject[]).filter((o) => o.accepted === true).map((o) => o.status)).toEqual(['sent']);
}, 120_000);
