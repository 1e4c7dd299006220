// workflows/queue-run.json through n8n's engine in-process against the local stack and the Graph
// simulator's WhatsApp Cloud API (Run Now for one owner), after a lead's phone changed once its
// message was prepared (migration 20261201001720): the message goes to the corrected number, and the
// old number, added meanwhile as another lead's (whose number it really was), gets that lead's
// message only; a lead whose phone was removed gets nothing.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { withDb } from '../helpers/stack';
import { addLeads, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl) });
const runNow = (owner: string) =>
	runWorkflow('workflows/queue-run.json', { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });
/** A UK mobile number the node's phone check accepts (+44 7853 and six digits). */
let counter = Number.parseInt(randomUUID().slice(0, 5), 16);
const validMobile = () => `+447853${String(100_000 + (counter++ % 900_000))}`;
const setPhone = (leadId: string, phone: string | null) => withDb((db) => db.query('update public.leads set phone = $2 where id = $1', [leadId, phone]));

test('a phone corrected after Prepare: the message goes to the corrected number; the old one, another lead\'s now, gets only that lead\'s', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const ann = { phone: validMobile(), leadId: '' };
	[{ lead_id: ann.leadId }] = await addLeads([{ user_id: owner, name: 'Ann', phone: ann.phone }]);
	await prepareDue(owner);
	const corrected = validMobile();
	await setPhone(ann.leadId, corrected);
	// Carl, whose number Ann was given by mistake, is added with the Queue Ledger node and prepared for the same day.
	const carl = await runQueue([{ name: 'Carl', phone: ann.phone }], { resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, defaultCountry: 'GB' });
	expect(carl.outputs[0]).toEqual([expect.objectContaining({ outcome: 'created', phone: ann.phone })]);
	expect(await prepareDue(owner)).toMatchObject({ queued: 1, already_queued: 1 });
	await sims.graph.control.clearWhatsAppMessages();

	const run = await runNow(owner);
	expect(run.response?.body).toEqual({ claimed: 2, sent: 2, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	const delivered = (await sims.graph.control.whatsappMessages()).map((m) => ({ to: m.to, text: m.text }));
	expect(delivered.sort((a, b) => String(a.text).localeCompare(String(b.text)))).toEqual([{ to: corrected, text: 'Hi Ann!' }, { to: ann.phone, text: 'Hi Carl!' }]);
	expect(await leadStatus(ann.leadId)).toBe('contacted');
});

test('a phone removed after Prepare: nothing is sent, the lead waits in the backlog', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const [bob] = await leadsOf(owner, 1, () => 'Bob');
	await prepareDue(owner);
	await setPhone(bob.leadId, null);
	await sims.graph.control.clearWhatsAppMessages();

	const run = await runNow(owner);
	expect(run.response?.body).toEqual({ claimed: 0, sent: 0, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['cancelled']);
	expect(await leadStatus(bob.leadId)).toBe('new');
});
