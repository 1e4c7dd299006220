// Two workers' messages in one Send (two Claims merged; review RC1a 1, older than 597021a): worker A's
// one message is sent in the first group, worker B's 50 take ~35 s (Meta answering in 700 ms,
// Parallel Sends 1). A group's queue_begin_send used to renew only its own worker's begun messages, so
// A's lease (31 s: Timeout 1 s + 30 s) was never renewed: the next run's Claim (34 s on) ended the
// message Meta accepted dead, uncertain, and Complete's report of it was refused (already_completed).
// Now every worker with begun messages gets a renewal-only call when due.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { otherRunClaims, twoWorkers, whatsappSimulator } from './support/send';

const sims = whatsappSimulator();

test('two workers merged into one Send: the first worker\'s sent message is renewed while the second worker\'s groups go on, so Complete records it sent', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 51);
	await prepareDue(owner);
	await sims.graph.control.setLatency(700, '/messages');
	const other = otherRunClaims(owner, 34_000);
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		const wf = twoWorkers(owner, 1, 50, { concurrency: 1, leaseSeconds: 5, timeoutMs: 1000 });
		run = await runWorkflow(wf, { credentials: sims.credentials() });
	} finally {
		other.cancel();
	}
	const send = (run.nodeOutputs.Send ?? []) as IDataObject[];
	const complete = (run.nodeOutputs.Complete ?? []) as IDataObject[];
	const a = send[0];
	const rowA = (await messagesOf(owner)).find((row) => row.id === a.item_id);
	// The other run's Claim, after A's first lease would have ended, did not take A's message.
	expect((other.claimed() ?? []).map((row) => row.item_id)).not.toContain(a.item_id);
	expect(a.outcome).toBe('sent');
	expect(complete.find((o) => o.item_id === a.item_id)).toMatchObject({ accepted: true, status: 'sent' });
	expect(rowA?.status).toBe('sent');
}, 180_000);
