// Queue Ledger's options given by an expression are checked against the ranges the editor shows
// (through nodes/shared/checked-options.ts), naming the option, the value and the range, before
// anything is claimed, sent or added: Claim's Lease (Seconds), Send's Parallel Sends, Lease (Seconds)
// and Timeout (Ms) (a refused one gives the claimed messages back, as any failure of Send's setup),
// Add Leads' On Invalid Item. A value at either edge of a range is accepted. Against the local stack
// and the Graph simulator's WhatsApp Cloud API.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow } from '../../harness';
import { leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials, chainWorkflow } from './support/queue';
import { withDb } from '../../helpers/stack';

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

/** A value as an expression gives it (the editor's bounds do not hold for it). */
const expression = (value: unknown) => `={{ ${JSON.stringify(value)} }}`;

async function dueQueue(count: number) {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	await leadsOf(owner, count);
	expect((await prepareDue(owner)).queued).toBe(count);
	return owner;
}

const rowsOf = async (owner: string) => (await messagesOf(owner)).map((row) => [row.status, row.attempts, row.lease_holder ?? null]);

test.each([
	[9, '9'],
	[86_401, '86401'],
	['soon', '"soon"'],
])('Claim: Lease (Seconds) = %j from an expression is refused naming it, before any claim', async (value, shown) => {
	const owner = await dueQueue(2);

	const { result } = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { leaseSeconds: expression(value) } });

	expect(result.error?.message).toBe(`Lease (Seconds) must be a whole number from 10 to 86400 (got ${shown})`);
	expect(result.error?.description).toContain("Set Lease (Seconds) in the node's Options to a whole number from 10 to 86400");
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
	]);
});

test.each([10, '86400'])('Claim: Lease (Seconds) = %j from an expression is accepted', async (value) => {
	const owner = await dueQueue(1);

	const { result, outputs } = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { leaseSeconds: expression(value) } });

	expect(result.error).toBeUndefined();
	expect(outputs[0]).toHaveLength(1);
	const [lease] = await withDb(async (db) => (await db.query<{ seconds: number }>(`select round(extract(epoch from lease_expires_at - now()))::integer as seconds from public.whatsapp_message_queue where user_id = $1`, [owner])).rows);
	expect(Math.abs(lease.seconds - Number(value))).toBeLessThanOrEqual(5);
});

test.each([
	['Parallel Sends', 'concurrency', 51, 'a whole number from 1 to 50', '51'],
	['Parallel Sends', 'concurrency', 'ten', 'a whole number from 1 to 50', '"ten"'],
	['Lease (Seconds)', 'leaseSeconds', 4, 'a whole number from 5 to 86400', '4'],
	['Timeout (Ms)', 'timeoutMs', 999, 'a whole number from 1000 to 3600000', '999'],
	['Timeout (Ms)', 'timeoutMs', 'fast', 'a whole number from 1000 to 3600000', '"fast"'],
])('Send: %s (%s) = %j from an expression stops the node naming it, nothing sent, every claimed message given back', async (label, name, value, range, shown) => {
	const owner = await dueQueue(2);

	const run = await runWorkflow(chainWorkflow(owner, { worker: 'worker-a', send: { [name]: expression(value) } }), { credentials: credentials() });

	expect(run.error).toMatchObject({ node: 'Send', message: `${label} must be ${range} (got ${shown})`, description: expect.stringContaining(`Set ${label} in the node's Options to ${range}`) });
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
	]);
});

test('Send with Continue On Fail: an option out of range fails every item with it, invalid_input, and its message is given back', async () => {
	const owner = await dueQueue(2);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-a' } });

	const run = await runQueue(claim.outputs[0], { resource: 'message', operation: 'send', options: { leaseSeconds: expression('long') } }, credentials(), { continueOnFail: true });

	expect(run.result.error).toBeUndefined();
	const refusal = { code: 'invalid_input', message: 'Lease (Seconds) must be a whole number from 5 to 86400 (got "long")', description: expect.any(String), setting: 'Lease (Seconds)' };
	expect(run.outputs[0]).toEqual([{ error: refusal }, { error: refusal }]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
	]);
});

test.each([
	['the upper edges', { concurrency: 50, leaseSeconds: 86_400, timeoutMs: 3_600_000 }],
	['the lower edges (as text)', { concurrency: '1', leaseSeconds: '5', timeoutMs: '1000' }],
])('Send: every option at %s, from expressions, is accepted: the messages are sent', async (_edges, values) => {
	const owner = await dueQueue(2);
	const send = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, expression(value)]));

	const run = await runWorkflow(chainWorkflow(owner, { worker: 'worker-a', send }), { credentials: credentials() });

	expect(run.error).toBeUndefined();
	expect((run.nodeOutputs.Send ?? []).map((item) => item.outcome)).toEqual(['sent', 'sent']);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['sent', 'sent']);
});

test('Add Leads: On Invalid Item from an expression other than output or error is refused naming it, nothing added; error is accepted', async () => {
	const owner = await queueOwner();
	const parameters = (onInvalid: string): IDataObject => ({
		resource: 'lead',
		operation: 'addLeads',
		source: 'items',
		ownerUserId: owner,
		defaultCountry: 'AU',
		leadSource: 'website-form',
		options: { onInvalid: expression(onInvalid) },
	});
	const items = [
		{ name: 'Maria López', phone: '0491 570 156' },
		{ name: 'Tom', phone: '0123' },
	];
	const leadCount = async () => Number((await withDb((db) => db.query<{ n: string }>('select count(*) as n from public.leads where user_id = $1', [owner]))).rows[0].n);

	const refused = await runQueue(items, parameters('stop'), supabaseCredentials());
	expect(refused.result.error?.message).toBe('On Invalid Item must be one of output, error (got "stop")');
	expect(await leadCount()).toBe(0);

	// "error", given by an expression, stops the node at the invalid item: nothing added.
	const stopped = await runQueue(items, parameters('error'), supabaseCredentials());
	expect(stopped.result.error?.message).toMatch(/^Item 1 is not a valid lead: phone is not a valid phone number in AU/);
	expect(await leadCount()).toBe(0);
});
