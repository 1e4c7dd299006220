// workflows/queue-run.json through n8n's engine in-process against the local stack and the Graph
// simulator's WhatsApp Cloud API, from its "Run Now" webhook for one owner (the app's Start
// Automation button; the every-minute schedule runs the same nodes for every owner): the due
// messages are claimed, sent at the credential's base URL and recorded, and the answer counts them
// with the error codes seen; a second call finds nothing; 400 for a malformed owner, 403 without the key.
// A Supabase blip on Record Outcomes is retried: what was sent is recorded, never left to be re-sent.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { OWNER_ELSEWHERE, ownerElsewhere } from './support/owner-elsewhere';
import { runWorkflow, type TestCredentials } from '../harness';
import { createTestUser, testStack } from '../helpers/stack';
import { failingSupabase } from './support/failing-supabase';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-run.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl) });

const runNow = (headers: Record<string, string>) =>
	runWorkflow(WORKFLOW, { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body: {} }, credentials: credentials() });

test('Run Now sends the owner\'s due messages over WhatsApp and answers with the counts; a second call finds nothing', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	await sims.graph.control.configureWhatsApp({ notOnWhatsApp: [leads[2].phone] });

	const first = await runNow({ 'X-Leadflow-Owner': owner });
	expect(first.error).toBeUndefined();
	expect(first.response?.statusCode).toBe(200);
	expect(first.response?.body).toEqual({ claimed: 3, sent: 2, failed: 0, dead: 1, released: 0, cancelled: 0, refused: 0, errors: [{ code: '131026', count: 1 }] });
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((one) => one.text).sort()).toEqual([`Hi ${leads[0].name}!`, `Hi ${leads[1].name}!`]);
	expect((await messagesOf(owner)).map((row) => row.status).sort()).toEqual(['dead', 'sent', 'sent']);
	expect(await leadStatus(leads[2].leadId)).toBe('invalid');

	const second = await runNow({ 'X-Leadflow-Owner': owner });
	expect(second.response?.statusCode).toBe(200);
	expect(second.response?.body).toEqual({ claimed: 0, sent: 0, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(2);
});

test('a malformed owner answers 400; without the key 403; nothing is sent', async () => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	await prepareDue(owner);
	await sims.graph.control.clearWhatsAppMessages();
	const malformed = await runNow({ 'X-Leadflow-Owner': 'someone' });
	expect(malformed.response?.statusCode).toBe(400);
	expect(malformed.response?.body).toMatchObject({ status: 400, error: 'The owner user ID "someone" is not a UUID' });
	const noKey = await runWorkflow(WORKFLOW, { startNode: 'Run Now', webhook: { method: 'POST', headers: { 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });
	expect(noKey.response?.statusCode).toBe(403);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['queued']);
});

// An owner without queue settings has nothing that could be due: Run Now says so as Prepare Now does
// (404 naming the missing settings and what to do), not 200 with zeros ("nothing to send") while
// their leads wait. Before migration 20261201002240, queue_claim answered no rows: 200, all zeros.
test('an owner without queue settings answers 404 saying what to do, as Prepare Now; an owner with settings and nothing due still 200', async () => {
	const owner = await createTestUser('no-settings');
	const answer = await runNow({ 'X-Leadflow-Owner': owner });
	expect(answer.error).toBeUndefined();
	expect(answer.response?.statusCode).toBe(404);
	expect(answer.response?.body).toEqual({
		status: 404,
		error: `Owner User ID: user ${owner} has no queue settings`,
		field: 'X-Leadflow-Owner',
		hint: expect.stringMatching(/^Send X-Leadflow-Owner as .* who has queue settings \(their row in user_queue_settings: capacity, hours, time zone, message\)/),
	});
	const unknown = randomUUID();
	const nobody = await runNow({ 'X-Leadflow-Owner': unknown });
	expect(nobody.response?.statusCode).toBe(404);
	expect(nobody.response?.body).toMatchObject({ status: 404, error: `Owner User ID: user ${unknown} does not exist` });
	const withSettings = await queueOwner();
	const empty = await runNow({ 'X-Leadflow-Owner': withSettings });
	expect(empty.response?.statusCode).toBe(200);
	expect(empty.response?.body).toEqual({ claimed: 0, sent: 0, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
});

// The webhook's one input is the X-Leadflow-Owner header; without it every owner's due messages are
// claimed. So an owner sent anywhere else (a query parameter, the body), or a header left empty, is
// refused with what to do, before anything is claimed: it would otherwise run every owner's queue.
test.each(OWNER_ELSEWHERE)('%s answers 400 naming it, and nothing is claimed for anyone', async (_case, where, field, error) => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	await prepareDue(owner);
	await sims.graph.control.clearWhatsAppMessages();
	const refused = await runWorkflow(WORKFLOW, {
		startNode: 'Run Now',
		webhook: ownerElsewhere(where, KEY, owner),
		credentials: credentials(),
	});
	expect(refused.response?.statusCode).toBe(400);
	expect(refused.response?.body).toEqual({ status: 400, field, error: expect.stringMatching(error), hint: expect.stringMatching(/X-Leadflow-Owner/) });
	expect(refused.executedNodes).not.toContain('Claim Due Messages');
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['queued']);
});

test('a Supabase blip on Record Outcomes is retried: the messages sent are recorded sent, not left claimed to go out again', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const leads = await leadsOf(owner, 2);
	await prepareDue(owner);
	await sims.graph.control.clearWhatsAppMessages();
	// The first queue_complete call answered 502 without reaching the database (a blip).
	const blip = await failingSupabase(['queue_complete'], 502, { message: 'upstream connect error' }, 1);
	try {
		const run = await runWorkflow(WORKFLOW, {
			startNode: 'Run Now',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} },
			credentials: { ...credentials(), leadflowSupabaseApi: { url: blip.url, serviceRoleKey: testStack().serviceRoleKey } },
		});
		expect(run.error).toBeUndefined();
		expect(blip.calls()).toBe(2);
		expect(run.response?.body).toEqual({ claimed: 2, sent: 2, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	} finally {
		await blip.stop();
	}
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['sent', 'sent']);
	expect(await Promise.all(leads.map((lead) => leadStatus(lead.leadId)))).toEqual(['contacted', 'contacted']);
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.text).sort()).toEqual(leads.map((lead) => `Hi ${lead.name}!`).sort());
});
