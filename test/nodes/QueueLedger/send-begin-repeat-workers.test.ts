// Review RMF1b of c9eca3f: with two workers' messages in one Send (two Claims merged), only this
// worker's sent messages bounded the repeats of its failing queue_begin_send: worker B repeated past
// the lease of worker A's message sent in group 1 (Complete reports every worker after the last
// group), which then ended dead (uncertain). Now the earliest lease of any worker's begun messages
// bounds the repeats.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { serviceClient } from '../../helpers/stack';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { gatewayProxy, otherRunClaims, outcomes, twoWorkers, whatsappSimulator } from './support/send';

let beginCalls = 0;
/** Resolved once the other run's Claim was made: the gateway's answer to a repeat waits for it. */
let otherClaimMade: Promise<void> = Promise.resolve();
/** hang: the second queue_begin_send and its repeats fail at a hanging gateway; stop: every one fails, Stop pressed at the first answer;
 * renewalFails: each renewal-only call (nothing to let go) fails at the gateway (502), the others go through; count: all go through. */
let mode: 'hang' | 'stop' | 'renewalFails' | 'count' = 'hang';
/** Each queue_begin_send call: how many messages it asks to let go, how many it renews, the gateway's status. */
let calls: Array<[number, number, number]> = [];
const stop = new AbortController();

const sims = whatsappSimulator();
const proxy = gatewayProxy((call) => {
	if (!call.begin) return false;
	if (mode === 'renewalFails' || mode === 'count') {
		const args = JSON.parse(call.body.toString()) as { p_item_ids: string[]; p_renew_item_ids: string[] };
		const renewalOnly = args.p_item_ids.length === 0;
		calls.push([args.p_item_ids.length, args.p_renew_item_ids.length, mode === 'renewalFails' && renewalOnly ? 502 : 200]);
		if (mode === 'renewalFails' && renewalOnly) {
			call.gatewayError(502);
			return true;
		}
	} else if (mode === 'stop') {
		// A gateway's 502 (nothing saved), and the user presses Stop as it comes back.
		beginCalls++;
		call.gatewayError(502, () => stop.abort());
		return true;
	}
	if (++beginCalls === 1) return false;
	// The second group's call: the gateway waits for a database that does not answer, then 504
	// (nothing saved); a repeat of it hangs until the next run's Claim was made.
	if (beginCalls === 2) setTimeout(() => call.gatewayError(504), 300);
	else void otherClaimMade.then(() => call.gatewayError(504));
	return true;
});

beforeEach(() => {
	beginCalls = 0;
	calls = [];
});

const throughProxy = () => sims.credentials(proxy.url);

// Review RMC1b (of 3951dcf): a renewal-only call came after the group's other calls and even in a group
// with nothing to send; when it failed, the messages another worker's call of the group had just let go
// were given back unsent. Now it goes first, only when the group has something to send, and no call
// follows a failed one.
test('two workers, A\'s renewal-only call in group 2 fails (502): it went first, B\'s call is not made, nothing let go is thrown away', async () => {
	mode = 'renewalFails';
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 4);
	await prepareDue(owner);
	const run = await runWorkflow(twoWorkers(owner, 1, 3, { concurrency: 1, timeoutMs: 1000, leaseSeconds: 5 }), { credentials: throughProxy() });
	// Group 1: A's message let go; group 2: A's renewal (failing, not repeated past what a 502 allows: one call here), then nothing.
	expect(calls.map(([items, renew, status]) => [items, renew, status])).toEqual([
		[1, 0, 200],
		[0, 1, 502],
	]);
	expect(outcomes(run, 'Send').map((o) => o.outcome)).toEqual(['sent', 'released', 'released', 'released']);
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(1);
	expect((await messagesOf(owner)).map((row) => row.status).sort()).toEqual(['queued', 'queued', 'queued', 'sent']);
}, 120_000);

test('one worker (Claim merged with itself, Parallel Sends 3): the group of copies has nothing to send, so no renewal-only call: one queue_begin_send', async () => {
	mode = 'count';
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 3);
	await prepareDue(owner);
	const wf = chainWorkflow(owner, { send: { concurrency: 3, timeoutMs: 1000, leaseSeconds: 5 } });
	const merge = { id: 'cm', name: 'Merge', type: 'n8n-nodes-base.merge', typeVersion: 3, position: [300, 0] as [number, number], parameters: {} };
	wf.nodes = [...wf.nodes, merge];
	wf.connections = {
		Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
		Claim: { main: [[{ node: 'Merge', type: 'main', index: 0 }, { node: 'Merge', type: 'main', index: 1 }]] },
		Merge: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
		Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
	};
	const run = await runWorkflow(wf, { credentials: throughProxy() });
	expect(run.error).toBeUndefined();
	expect(calls).toEqual([[3, 0, 200]]);
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(3);
}, 120_000);

test('two workers (Claim A, Claim B merged): A sent in group 1, B\'s first call fails, repeats unbounded by A\'s lease: the next one\'s queue_begin_send failing at a hanging gateway: not repeated past the sent message\'s lease, which Complete records sent', async () => {
	mode = 'hang';
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	await prepareDue(owner);
	// The next schedule's run claims 34 s on: past the 31 s lease asked (Timeout 1 s + 30 s).
	const other = otherRunClaims(owner, 34_000);
	otherClaimMade = other.made;
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		run = await runWorkflow(twoWorkers(owner, 1, 1, { concurrency: 1, leaseSeconds: 5, timeoutMs: 1000 }), { credentials: throughProxy() });
	} finally {
		other.cancel();
	}
	expect(run.error).toBeUndefined();
	const send = outcomes(run, 'Send');
	expect(send.map((one) => [one.outcome, (one.error as IDataObject)?.code ?? null])).toEqual([['sent', null], ['released', 'not_checked']]);
	expect(outcomes(run, 'Complete').map((one) => [one.accepted, one.status, one.reason ?? null])).toEqual([[true, 'sent', null], [true, 'queued', null]]);
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(1);
	expect(await leadStatus(String(send[0].lead_id))).toBe('contacted');
	// The first group's call, then the second's once: no repeat, and the run ended before the next one's Claim.
	expect(beginCalls).toBe(2);
	expect(other.claimed()).toBeUndefined();
	const rows = await messagesOf(owner);
	expect(rows.map((row) => row.status).sort()).toEqual(['queued', 'sent']);
	// The message not sent is claimed by the next run at once (released, its mark taken back by its key).
	const { data, error } = await serviceClient().rpc('queue_claim', { p_worker: 'next-run', p_limit: 10, p_lease_seconds: 60, p_user_id: owner });
	expect(error).toBeNull();
	expect(((data ?? []) as IDataObject[]).map((one) => one.lead_id)).toEqual([send[1].lead_id]);
}, 120_000);

