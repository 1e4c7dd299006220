// Review RMF1 of a9faaa6 (task MF1b 1): Send repeated a failing queue_begin_send (a gateway hanging on
// a database that does not answer, then 504) without a limit tied to the lease of the messages earlier
// groups had already sent. Those are reported by Complete only after the last group: the repeats held
// the run past their lease, the next schedule's Claim ended a message Meta had accepted dead
// (uncertain), its lead stayed queued and Complete was refused (already_completed). Now no repeat
// starts once the earlier groups' lease, less the Timeout and the 30 s margin, would be passed: the
// call's failure stands, the rest is released not_checked, and Complete records the sent message while
// it is still held.
// Through n8n's engine against the local stack (behind a proxy playing the gateway) and the Graph
// simulator's WhatsApp Cloud API. With the smallest options (Timeout 1 s: a lease of 31 s) no repeat
// may start once a group has gone out, so the test takes a few seconds; before the fix it ran until
// the other run's claim, 34 s on.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { serviceClient } from '../../helpers/stack';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { gatewayProxy, otherRunClaims, outcomes, whatsappSimulator } from './support/send';

let beginCalls = 0;
/** Resolved once the other run's Claim was made: the gateway's answer to a repeat waits for it. */
let otherClaimMade: Promise<void> = Promise.resolve();
/** hang: the second queue_begin_send and its repeats fail at a hanging gateway; stop: every one fails, Stop pressed at the first answer. */
let mode: 'hang' | 'stop' = 'hang';
let stop = new AbortController();

const sims = whatsappSimulator();
const proxy = gatewayProxy((call) => {
	if (!call.begin) return false;
	if (mode === 'stop') {
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
});

const throughProxy = () => sims.credentials(proxy.url);

test('a group sent, the next one\'s queue_begin_send failing at a hanging gateway: not repeated past the sent message\'s lease, which Complete records sent', async () => {
	mode = 'hang';
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	await prepareDue(owner);
	// The next schedule's run claims 34 s on: past the 31 s lease asked (Timeout 1 s + 30 s).
	const other = otherRunClaims(owner, 34_000);
	otherClaimMade = other.made;
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		run = await runWorkflow(chainWorkflow(owner, { send: { concurrency: 1, leaseSeconds: 5, timeoutMs: 1000 } }), { credentials: throughProxy() });
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

test('Stop while queue_begin_send fails: no repeat after it, the messages back in the queue', async () => {
	mode = 'stop';
	stop = new AbortController();
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 2);
	await prepareDue(owner);
	const run = await runWorkflow(chainWorkflow(owner), { credentials: throughProxy(), cancel: stop.signal });
	expect(run.executedNodes).not.toContain('Complete');
	// Before, the call was repeated four more times after the Stop (3.75 s of pauses).
	expect(beginCalls).toBe(1);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	// Send recorded them itself (the run cancelled): released, due again, the attempt given back.
	for (const row of await messagesOf(owner)) expect(row).toMatchObject({ status: 'queued', attempts: 0, lease_holder: null });
	for (const lead of leads) expect(await leadStatus(lead.leadId)).toBe('queued');
}, 60_000);
