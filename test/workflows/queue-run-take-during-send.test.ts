// workflows/queue-run.json's Run Now counts each message by the status Record Outcomes answers: a
// lead taken over while its message is being sent, the send then failing with an error Complete
// would have retried (131000) or a throttle (130429), is `cancelled` in the database (never sent
// again, the person handles it), and the answer counts it `cancelled`, not `failed` nor `released`;
// the counts add up to what was claimed. Against the local stack and the Graph simulator's WhatsApp
// Cloud API, its answers held back so the take lands while the send waits for Meta.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient } from '../helpers/stack';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl) });

test.each([131000, 130429])('a lead taken over while its message is sent, Meta answering %s: the answer counts it cancelled, as the database has it', async (code) => {
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { '106540352242922': 'EAAG-queue-token' } });
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const [taken, other] = await leadsOf(owner, 2);
	await prepareDue(owner);
	// Every send is answered after 3 s; the taken lead's with the error.
	await sims.graph.control.setLatency(3_000, '/messages');
	await sims.graph.control.addFault({ match: { recipient: taken.phone }, effect: { kind: 'graphError', code } });

	const run = runWorkflow('workflows/queue-run.json', {
		startNode: 'Run Now',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} },
		credentials: credentials(),
	});
	await sims.graph.control.waitForRequests((requests) => requests.filter((one) => one.outcome === 'held').length >= 2, { timeoutMs: 30_000 });
	const { error } = await serviceClient().rpc('queue_take_lead', { p_lead_id: taken.leadId, p_actor_id: owner });
	expect(error).toBeNull();
	const result = await run;

	const byLead = new Map((await messagesOf(owner)).map((row) => [row.lead_id, row]));
	expect([byLead.get(taken.leadId)?.status, byLead.get(other.leadId)?.status]).toEqual(['cancelled', 'sent']);
	expect(await leadStatus(taken.leadId)).toBe('human_controlled');
	expect(result.response?.statusCode).toBe(200);
	expect(result.response?.body).toEqual({ claimed: 2, sent: 1, failed: 0, dead: 0, released: 0, cancelled: 1, refused: 0, errors: [{ code: String(code), count: 1 }] });
}, 60_000);
