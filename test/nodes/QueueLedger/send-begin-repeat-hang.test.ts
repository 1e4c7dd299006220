// Review RMF1b of c9eca3f: the limit on Send's repeats of a failing queue_begin_send looked only at
// when a repeat starts; a gateway that held the first call 4.5 s before a 504 held the repeat as long,
// past the lease of a message an earlier group had sent: the next run's Claim ended it dead
// (uncertain) and Complete was refused. Now a repeat must also end, at the call's own pace, before
// that lease (less the Timeout and the 30 s margin).
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { serviceClient } from '../../helpers/stack';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from './support/queue';
import { gatewayProxy, otherRunClaims, outcomes, whatsappSimulator } from './support/send';

let beginCalls = 0;
/** Resolved once the other run's Claim was made: the gateway's answer to a repeat waits for it. */
let otherClaimMade: Promise<void> = Promise.resolve();
/**
 * hang: the second queue_begin_send and its repeats fail at a hanging gateway; stop: every one fails,
 * Stop pressed at the first answer; hold: the second reaches the database (its marks set with its key)
 * and the gateway holds the answer until the other run's Claim was made (holdStop: Stop is pressed
 * once the database has answered it).
 */
let mode: 'hang' | 'stop' | 'hold' | 'holdStop' = 'hang';
let stop = new AbortController();
/** Whether the gateway let the held answer through (hold, holdStop). */
let heldAnswered = false;

const sims = whatsappSimulator();
const proxy = gatewayProxy((call) => {
	if (!call.begin) return false;
	if (mode === 'stop') {
		// A gateway's 502 (nothing saved), and the user presses Stop as it comes back.
		beginCalls++;
		call.gatewayError(502, () => stop.abort());
		return true;
	}
	if (mode === 'hold' || mode === 'holdStop') {
		if (++beginCalls !== 2) return false;
		void call.forward().then((answer) => {
			if (mode === 'holdStop') stop.abort();
			void otherClaimMade.then(() => {
				if (call.res.destroyed) return;
				heldAnswered = true;
				call.answer(answer);
			});
		});
		return true;
	}
	if (++beginCalls === 1) return false;
	// The second group's call: the gateway waits for a database that does not answer, then 504
	// (nothing saved); a repeat of it hangs until the next run's Claim was made.
	if (beginCalls === 2) setTimeout(() => call.gatewayError(504), 4500);
	else void otherClaimMade.then(() => call.gatewayError(504));
	return true;
});

beforeEach(() => {
	beginCalls = 0;
	heldAnswered = false;
});

const throughProxy = () => sims.credentials(proxy.url);

test('group 2 call hangs 4.5 s then 504, a repeat allowed (lease 36 s, repeatUntil +5 s) hangs past the lease, the next one\'s queue_begin_send failing at a hanging gateway: not repeated past the sent message\'s lease, which Complete records sent', async () => {
	mode = 'hang';
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	await prepareDue(owner);
	// The next schedule's run claims 34 s on: past the 31 s lease asked (Timeout 1 s + 30 s).
	const other = otherRunClaims(owner, 37_500);
	otherClaimMade = other.made;
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		run = await runWorkflow(chainWorkflow(owner, { send: { concurrency: 1, leaseSeconds: 36, timeoutMs: 1000 } }), { credentials: throughProxy() });
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


// Task C1 1 (F1, MF1: left open by 5269704): one queue_begin_send call had no time limit of its own.
// A gateway holding the second group's call (the database saved it: the message let go with the
// call's key) until after the first group's lease held the run that long: the next run's Claim ended
// the delivered message dead (uncertain), the held answer then let the second one go, it was sent
// although its lease too had ended, and Complete was refused for both (already_completed). Now the
// call is aborted once the earlier group's lease, less the Timeout and the 30 s margin, is reached
// (never sooner than 5 s): an answer lost, as for a 504, so the rest is released not_checked, the mark
// taken back by the call's key, and Complete records the sent message while it is held.
test('the second group\'s queue_begin_send saved by the database, its answer held by the gateway past the first group\'s lease: aborted at the bound, the sent message recorded sent, the other back in the queue', async () => {
	mode = 'hold';
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	await prepareDue(owner);
	// The next schedule's run claims 37.5 s on: past the 36 s lease asked; the held answer goes then.
	const other = otherRunClaims(owner, 37_500);
	otherClaimMade = other.made;
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		run = await runWorkflow(chainWorkflow(owner, { send: { concurrency: 1, leaseSeconds: 36, timeoutMs: 1000 } }), { credentials: throughProxy() });
	} finally {
		other.cancel();
	}
	expect(run.error).toBeUndefined();
	// The run ended before the next one's Claim, without the held answer.
	expect(other.claimed()).toBeUndefined();
	expect(heldAnswered).toBe(false);
	const send = outcomes(run, 'Send');
	expect(send.map((one) => [one.outcome, (one.error as IDataObject)?.code ?? null])).toEqual([['sent', null], ['released', 'not_checked']]);
	expect(String((send[1].error as IDataObject).message)).toContain('no answer within');
	expect(outcomes(run, 'Complete').map((one) => [one.accepted, one.status, one.reason ?? null])).toEqual([[true, 'sent', null], [true, 'queued', null]]);
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(1);
	expect(await leadStatus(String(send[0].lead_id))).toBe('contacted');
	expect(beginCalls).toBe(2);
	expect((await messagesOf(owner)).map((row) => row.status).sort()).toEqual(['queued', 'sent']);
	const { data, error } = await serviceClient().rpc('queue_claim', { p_worker: 'next-run', p_limit: 10, p_lease_seconds: 60, p_user_id: owner });
	expect(error).toBeNull();
	expect(((data ?? []) as IDataObject[]).map((one) => one.lead_id)).toEqual([send[1].lead_id]);
}, 120_000);

// n8n's cancel signal ends the wait too: a call still unanswered 5 s after Stop is aborted (one in
// flight as Stop is pressed answers: send-once.test.ts's Stop), and Send records what it did. Before,
// Send waited for the gateway however long it held the answer.
test('Stop while the gateway holds queue_begin_send\'s answer: the call is aborted 5 s on, the sent message recorded sent by Send, the other back in the queue', async () => {
	mode = 'holdStop';
	stop = new AbortController();
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	await prepareDue(owner);
	// Nothing claims here: the held answer goes 20 s on.
	let timer: NodeJS.Timeout | undefined;
	otherClaimMade = new Promise<void>((resolve) => {
		timer = setTimeout(resolve, 20_000);
	});
	let run: Awaited<ReturnType<typeof runWorkflow>>;
	try {
		run = await runWorkflow(chainWorkflow(owner, { send: { concurrency: 1 } }), { credentials: throughProxy(), cancel: stop.signal });
	} finally {
		clearTimeout(timer);
	}
	expect(run.executedNodes).not.toContain('Complete');
	expect(heldAnswered).toBe(false);
	expect(beginCalls).toBe(2);
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered).toHaveLength(1);
	const rows = await messagesOf(owner);
	expect(rows.map((row) => [row.status, row.attempts]).sort()).toEqual([
		['queued', 0],
		['sent', 1],
	]);
	expect(rows.find((row) => row.status === 'sent')?.message_id).toBe(delivered[0].messageId);
}, 60_000);
