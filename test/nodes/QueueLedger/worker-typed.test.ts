// A saved Claim → Send → Complete whose Send and/or Complete has the Worker Name typed in (as the
// option's description before 5 December 2026 told users: "Complete must report with the same
// name") keeps working now that Claim adds the execution id and a suffix to that name: the bare
// name is rebuilt as Claim made it in the same execution, so the message is sent and recorded, its
// lead contacted. A name that is not this run's Claim's fails the run naming Worker Name, never
// silently. A Worker Name longer than fits the database's 200 characters with what Claim adds is
// cut to fit, not refused. (Two runs with one typed name never sharing a holder: send-held.test.ts.)
//
// Time: the node judges at the real clock; no wait, no date or time zone relied on.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow } from '../../harness';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials } from './support/queue';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-queue-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
});

const credentials = () => ({ ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) });

/** Manual Trigger → Claim (Worker Name `claimWorker`) → Send → Complete, Send's and Complete's Worker Name typed in when given. */
function chain(owner: string, claimWorker: string, typed: { send?: string; complete?: string }) {
	const creds = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
	const step = (id: string, name: string, x: number, parameters: IDataObject) => ({ id, name, type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [x, 0], parameters, credentials: creds });
	return {
		name: 'saved chain with a typed Worker Name',
		nodes: [
			{ id: 'c1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			step('c2', 'Claim', 200, { resource: 'message', operation: 'claim', limit: 50, ownerUserId: owner, options: { worker: claimWorker } }),
			step('c3', 'Send', 400, { resource: 'message', operation: 'send', options: {}, ...(typed.send !== undefined && { worker: typed.send }) }),
			step('c4', 'Complete', 600, { resource: 'message', operation: 'complete', ...(typed.complete !== undefined && { worker: typed.complete }) }),
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as never;
}

async function runTyped(claimWorker: string, typed: { send?: string; complete?: string }) {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const run = await runWorkflow(chain(owner, claimWorker, typed), { credentials: credentials() });
	return { owner, lead, run };
}

async function expectSentOnce(owner: string, lead: { leadId: string; phone: string }, run: Awaited<ReturnType<typeof runWorkflow>>) {
	expect(run.error).toBeUndefined();
	expect(run.status).toBe('success');
	const claimed = run.nodeBranches.Claim?.[0] ?? [];
	expect(claimed).toHaveLength(1);
	expect(run.nodeBranches.Send?.[0]?.map((one) => one.outcome)).toEqual(['sent']);
	expect(run.nodeBranches.Complete?.[0]?.map((one) => [one.accepted, one.status])).toEqual([[true, 'sent']]);
	const delivered = (await sims.graph.control.whatsappMessages()).filter((one) => one.to === lead.phone);
	expect(delivered).toHaveLength(1);
	const [row] = await messagesOf(owner);
	expect([row.status, row.attempts]).toEqual(['sent', 1]);
	expect(row.message_id).toBe(run.nodeBranches.Send?.[0]?.[0]?.message_id);
	expect(await leadStatus(lead.leadId)).toBe('contacted');
	return String(claimed[0].worker);
}

test('Complete with the Worker Name typed in: the message is recorded sent with its wamid and the lead contacted (before: not_held, then dead, uncertain)', async () => {
	const { owner, lead, run } = await runTyped('whatsapp-sender', { complete: 'whatsapp-sender' });
	const worker = await expectSentOnce(owner, lead, run);
	expect(worker).toMatch(/^whatsapp-sender-\d+-[0-9a-f]{12}$/);
	expect(run.nodeBranches.Complete?.[0]?.[0]?.worker).toBe(worker);
}, 60_000);

test('Send and Complete with the Worker Name typed in: the message is sent and recorded (before: never sent, every run, no error)', async () => {
	const { owner, lead, run } = await runTyped('whatsapp-sender', { send: 'whatsapp-sender', complete: 'whatsapp-sender' });
	const worker = await expectSentOnce(owner, lead, run);
	expect(run.nodeBranches.Send?.[0]?.[0]?.worker).toBe(worker);
}, 60_000);

test('Complete given a name that is not this run\'s Claim\'s fails the run naming Worker Name, never silently', async () => {
	const { run } = await runTyped('whatsapp-sender', { complete: 'other-sender' });
	expect(run.status).toBe('error');
	expect(run.error?.node).toBe('Complete');
	expect(run.error?.message).toMatch(/^Worker Name "other-sender" is not the name this run's Claim holds the message under \(whatsapp-sender-\d+-[0-9a-f]{12}\)$/);
	expect(run.error?.description).toContain('{{ $json.worker }}');
}, 60_000);

test('Send given another execution\'s full name fails the run naming Worker Name, and gives the message back', async () => {
	const { owner, run } = await runTyped('whatsapp-sender', { send: 'whatsapp-sender-1-0123456789ab' });
	expect(run.status).toBe('error');
	expect(run.error?.node).toBe('Send');
	expect(run.error?.message).toContain('Worker Name "whatsapp-sender-1-0123456789ab" is not the name');
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(0);
	const [row] = await messagesOf(owner);
	expect([row.status, row.attempts, row.lease_holder]).toEqual(['queued', 0, null]);
}, 60_000);

test('a 150-character Worker Name is taken as before (before: refused, "at most 100")', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	await leadsOf(owner, 1);
	await prepareDue(owner);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'w'.repeat(150) } });
	expect(claim.result.error).toBeUndefined();
	const [item] = claim.outputs[0] ?? [];
	expect(String(item?.worker)).toMatch(new RegExp(`^w{150}-\\d+-[0-9a-f]{12}$`));
	expect((await messagesOf(owner))[0].lease_holder).toBe(item?.worker);
}, 60_000);

test('a 199-character Worker Name is cut to fit 200 with what Claim adds, and Send and Complete given it find the message', async () => {
	const long = 'w'.repeat(199);
	const { owner, lead, run } = await runTyped(long, { send: long, complete: long });
	const worker = await expectSentOnce(owner, lead, run);
	expect([...worker]).toHaveLength(200);
	expect(worker).toMatch(/^w+-\d+-[0-9a-f]{12}$/);
}, 60_000);
