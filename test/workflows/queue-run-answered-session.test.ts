// Add Leads from items (the Queue Ledger node) and workflows/queue-run.json through n8n's engine
// in-process against the local stack and the Graph simulator's WhatsApp Cloud API (Run Now for one
// owner), for a person who said no to a campaign's outreach (migration 20261201001730): the item
// naming their campaign session, or giving only their phone, comes out skipped with the reason, and
// the run sends them nothing.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient } from '../helpers/stack';
import { messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

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

/** A campaign session for `phone` whose person said no (Campaign Session Create's recordObjective). */
async function sessionThatSaidNo(owner: string, phone: string, name: string) {
	const session = `s-${randomUUID().slice(0, 8)}`;
	const { data, error } = await serviceClient().rpc('create_campaign_sessions', {
		p_owner: owner, p_campaign: { name_uid: `plumber-london_${randomUUID().slice(0, 8)}`, job_description: 'Plumber' }, p_tasks: [{ session, phone, name }],
	});
	if (error) throw new Error(error.message);
	const { error: recordError } = await serviceClient().rpc('record_session_objective', {
		p_owner: owner, p_session_id: session, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: 'evt-1',
	});
	if (recordError) throw new Error(recordError.message);
	return (data as { sessions: Array<{ campaign_session_id: string }> }).sessions[0].campaign_session_id;
}

test('a campaign session that said no, added from items by its Campaign Session ID or by its phone, is skipped and sent nothing', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const [evePhone, halPhone, walkInPhone] = [validMobile(), validMobile(), validMobile()];
	const eveSession = await sessionThatSaidNo(owner, evePhone, 'Eve');
	await sessionThatSaidNo(owner, halPhone, 'Hal');

	const added = await runQueue(
		[{ campaign_session_id: eveSession }, { name: 'Hal', phone: halPhone }, { name: 'Walk-in', phone: walkInPhone }],
		{ resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, defaultCountry: 'GB' },
	);
	expect(added.outputs[0]).toEqual([
		expect.objectContaining({ item_index: 0, lead_id: null, outcome: 'skipped', status: null, name: 'Eve', phone: evePhone, campaign_session_id: eveSession, reason: 'session_rejected', not_stored: [] }),
		expect.objectContaining({ item_index: 1, lead_id: null, outcome: 'skipped', name: 'Hal', phone: halPhone, reason: 'session_rejected' }),
		expect.objectContaining({ item_index: 2, outcome: 'created', status: 'new', phone: walkInPhone, reason: null }),
	]);
	expect(added.outputs[1]).toEqual([]);

	expect(await prepareDue(owner)).toMatchObject({ queued: 1 });
	await sims.graph.control.clearWhatsAppMessages();
	const run = await runNow(owner);
	expect(run.response?.body).toMatchObject({ claimed: 1, sent: 1 });
	expect((await sims.graph.control.whatsappMessages()).map((m) => ({ to: m.to, text: m.text }))).toEqual([{ to: walkInPhone, text: 'Hi Walk-in!' }]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['sent']);
});
