// Two workers' messages in one Send (two Claims merged; review RC1a 1, older than 597021a): worker A's
// one message is sent in the first group, worker B's 50 take ~35 s (Meta answering in 700 ms,
// Parallel Sends 1). A group's queue_begin_send used to renew only its own worker's begun messages, so
// A's lease (31 s: Timeout 1 s + 30 s) was never renewed: the next run's Claim (34 s on) ended the
// message Meta accepted dead, uncertain, and Complete's report of it was refused (already_completed).
// Now every worker with begun messages gets a renewal-only call when due.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow } from '../../harness';
import { serviceClient } from '../../helpers/stack';
import { chainWorkflow, leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from './support/queue';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-queue-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
});
afterAll(async () => {
	await sims.stop();
});

test('two workers merged into one Send: the first worker\'s sent message is renewed while the second worker\'s groups go on, so Complete records it sent', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 51);
	await prepareDue(owner);
	await sims.graph.control.setLatency(700, '/messages');
	let otherClaim: IDataObject[] | undefined;
	const timer = setTimeout(() => {
		void serviceClient()
			.rpc('queue_claim', { p_worker: 'other-run', p_limit: 10, p_lease_seconds: 60, p_user_id: owner })
			.then(({ data }) => (otherClaim = (data ?? []) as IDataObject[]));
	}, 34_000);
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		const wf = chainWorkflow(owner, { send: { concurrency: 1, leaseSeconds: 5, timeoutMs: 1000 } });
		const claim = wf.nodes.find((n) => n.name === 'Claim')!;
		const claimA = { ...claim, id: 'ca', name: 'Claim A', parameters: { ...claim.parameters, limit: 1, options: { worker: 'region-a' } } };
		const claimB = { ...claim, id: 'cb', name: 'Claim B', position: [200, 200] as [number, number], parameters: { ...claim.parameters, limit: 50, options: { worker: 'region-b' } } };
		const merge = { id: 'cm', name: 'Merge', type: 'n8n-nodes-base.merge', typeVersion: 3, position: [300, 0] as [number, number], parameters: {} };
		wf.nodes = [...wf.nodes.filter((n) => n.name !== 'Claim'), claimA, claimB, merge];
		wf.connections = {
			Start: { main: [[{ node: 'Claim A', type: 'main', index: 0 }, { node: 'Claim B', type: 'main', index: 0 }]] },
			'Claim A': { main: [[{ node: 'Merge', type: 'main', index: 0 }]] },
			'Claim B': { main: [[{ node: 'Merge', type: 'main', index: 1 }]] },
			Merge: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		};
		run = await runWorkflow(wf, { credentials: { ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) } });
	} finally {
		clearTimeout(timer);
	}
	const send = (run.nodeOutputs.Send ?? []) as IDataObject[];
	const complete = (run.nodeOutputs.Complete ?? []) as IDataObject[];
	const a = send[0];
	const rowA = (await messagesOf(owner)).find((row) => row.id === a.item_id);
	// The other run's Claim, after A's first lease would have ended, did not take A's message.
	expect((otherClaim ?? []).map((row) => row.item_id)).not.toContain(a.item_id);
	expect(a.outcome).toBe('sent');
	expect(complete.find((o) => o.item_id === a.item_id)).toMatchObject({ accepted: true, status: 'sent' });
	expect(rowA?.status).toBe('sent');
}, 180_000);
