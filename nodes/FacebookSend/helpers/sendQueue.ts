// The Graph calls of a batch: started in item order, up to each item's Parallel Sends at a time,
// every call paced by the Page's rate (pacer.ts): in recorded mode the start times come from the
// database and are shared by every worker and n8n instance sending for the Page
// (transport/sendSlots.ts), through one pacer for all the batches of this process; standalone, from this process's own schedule. Parallel, because a call
// waits on Facebook for 100 ms or more: one at a time, a batch could never reach the rate it is
// allowed.
// Just before each call (after its pacer slot came, and again before each retry) the item is
// checked against what changed while other items were sent: the token refused, throttling that
// outlasted the retries, the claim's lease too close to its end (less than the call's timeout and
// the time to record the batch left), the 24 h window closed, the execution
// cancelled, the shared rate unreadable. Such items are not called, and say why. Calls already in
// flight when the token is refused finish (they cannot be recalled); none starts after.
import type { IExecuteFunctions } from 'n8n-workflow';
import { sendText, type GraphTarget } from '../transport/graphSend';
import { deliver, type AttemptResult, type BatchSignal, type Delivery } from './deliver';
import type { ItemSettings } from './itemSettings';
import { databaseSlots } from '../transport/sendSlots';
import { supabaseIdentityOf } from '../../shared/supabase';
import { localSlotsFor, Pacer, withSharedPacer } from './pacer';

export interface PendingSend {
	settings: ItemSettings;
	recipientId: string;
	text: string;
	/** Recorded mode: the contact's Page, the end of its 24 h window and of the claim's lease (epoch ms). */
	pageId?: string;
	windowClosesAt?: number;
	leaseUntil?: number;
}

/**
 * What a batch keeps of its send lease after its last call can end: for automation_record_send,
 * its retries included (transport/sendState.ts, 3.75 s of waits) and the round trips.
 */
export const RECORD_MARGIN_MS = 5000;

const notTried = (delivery: Omit<Extract<Delivery, { outcome: 'failed' }>, 'outcome' | 'attempts'>): Delivery => ({
	outcome: 'failed',
	attempts: 0,
	...delivery,
});

/**
 * The last moment a call may start (epoch ms; Infinity without a lease): its answer (or its
 * timeout) and the record of the batch must both come while the lease holds, or the reaper may
 * declare the contacts send_uncertain first (and the not-called ones would never be sent again).
 * Every wait before a call (its slot, a pause of the Page, a backoff) ends by it.
 */
function lastStartOf(pending: PendingSend): number {
	return pending.leaseUntil === undefined ? Infinity : pending.leaseUntil - pending.settings.timeoutMs - RECORD_MARGIN_MS;
}

const leaseExpired = (): Delivery => notTried({ reason: 'lease_expired', retryLater: true, detail: 'not sent: the send lease ran out before this item\'s turn' });

function preflight(pending: PendingSend, target: GraphTarget, signal: BatchSignal, cancelled: boolean): Delivery | undefined {
	if (signal.invalidToken) return notTried({ reason: 'invalid_token', retryLater: true, detail: 'not sent: the Page token was refused earlier in this batch' });
	if (signal.throttled) return notTried({ reason: 'throttled', retryLater: true, detail: 'not sent: Facebook throttled this batch' });
	if (signal.rateUnavailable) return notTried({ reason: 'rate_limit_unavailable', retryLater: true, detail: `not sent: ${signal.rateUnavailable}` });
	if (cancelled) return notTried({ reason: 'cancelled', retryLater: true, detail: 'not sent: the execution was cancelled' });
	if (pending.pageId !== undefined && pending.pageId !== target.pageId) {
		return notTried({
			reason: 'page_mismatch',
			retryLater: false,
			// What to do: the project's one-Page-per-workflow advice (docs/follow-up.md, One Page per workflow).
			// Send cannot know what the workflow named its claim node: the operation, and the shipped name.
			detail:
				`the contact belongs to Page ${pending.pageId}, the credential sends as Page ${target.pageId}: set the Page ID of the workflow's Claim ` +
				`(Tag Eligibility → Claim; Claim Due Contacts in the shipped workflow) to ${target.pageId}, ` +
				"this credential's Page, and import one copy of the workflow per Page credential, each with its own Page ID (README, Using it, step 4); then Requeue the failed contacts",
		});
	}
	const now = Date.now();
	if (now >= lastStartOf(pending)) return leaseExpired();
	if (pending.windowClosesAt !== undefined && now >= pending.windowClosesAt) return { outcome: 'skipped', reason: 'outside_window', attempts: 0 };
	return undefined;
}

export async function sendAll(context: IExecuteFunctions, target: GraphTarget, queue: PendingSend[]): Promise<{ deliveries: Delivery[]; signal: BatchSignal }> {
	// Recorded sends have Supabase: the Page's rate is the database's, shared by every worker.
	const shared = queue.some((pending) => pending.settings.leaseHolder !== undefined);
	if (!shared) return await sendPaced(context, target, queue, new Pacer(localSlotsFor(`${target.baseUrl}|${target.pageId}`)));
	// Shared by the batches that reach the database with the same credential (a refused key fails only its own).
	const { url, identity } = await supabaseIdentityOf(context);
	return await withSharedPacer(`${identity}|${target.baseUrl}|${target.pageId}`, databaseSlots(context, target, url), (pacer) =>
		sendPaced(context, target, queue, pacer),
	);
}

async function sendPaced(context: IExecuteFunctions, target: GraphTarget, queue: PendingSend[], pacer: Pacer): Promise<{ deliveries: Delivery[]; signal: BatchSignal }> {
	const signal: BatchSignal = {};
	const cancelSignal = context.getExecutionCancelSignal?.();
	const check = (pending: PendingSend) => preflight(pending, target, signal, cancelSignal?.aborted === true);
	const deliveries = new Array<Delivery>(queue.length);

	const sendOne = async (pending: PendingSend): Promise<Delivery> => {
		const { settings } = pending;
		const deadline = lastStartOf(pending);
		let asked = false;
		const call = async (): Promise<AttemptResult> => {
			// Checked before taking a slot, so an item that cannot be sent costs no slot of the rate…
			const before = check(pending);
			if (before) return { kind: 'notCalled', delivery: before };
			try {
				// A slot, or the end of the Page's pause, that comes too late for the lease is not
				// waited for: the item says so at once, while its contact is still held.
				const refused = await pacer.waitForSlot(settings.messagesPerSecond, !asked, { deadline, signal: cancelSignal });
				if (refused === 'too_late') return { kind: 'notCalled', delivery: leaseExpired() };
			} catch (error) {
				// With the error's description: the advice (e.g. to apply the migrations when the function
				// is missing or older) is there, not in the message.
				const { message, description } = error as Error & { description?: unknown };
				const advice = typeof description === 'string' && description.trim() !== '' ? ` ${description.trim()}` : '';
				signal.rateUnavailable ??= `the Page's shared send rate could not be read from Supabase (${message})${advice}`;
				return { kind: 'notCalled', delivery: preflight(pending, target, signal, false)! };
			} finally {
				asked = true;
			}
			// …and again after the wait, as the last moment before Facebook is called.
			const now = check(pending);
			if (now) return { kind: 'notCalled', delivery: now };
			return await sendText(context, target, {
				recipientId: pending.recipientId,
				text: pending.text,
				messagingType: settings.messagingType,
				timeoutMs: settings.timeoutMs,
			});
		};
		try {
			return await deliver(call, { retries: settings.retries, backoffMs: settings.backoffMs }, signal, {
				lastStart: deadline,
				cancel: cancelSignal,
				throttled: (ms, error) => pacer.pause(ms, `Graph ${error.code}${error.subcode === undefined ? '' : `/${error.subcode}`}: ${error.message}`),
			});
		} finally {
			// An item that never asked for a slot will not: the pacer stops counting on it.
			if (!asked) pacer.expect(-1);
		}
	};

	// Items start in item order; an item starts once fewer than its Parallel Sends are in flight,
	// so with 1 the batch is strictly one call after another.
	const inFlight = new Set<Promise<void>>();
	for (const [position, pending] of queue.entries()) {
		while (inFlight.size >= pending.settings.concurrency) await Promise.race(inFlight);
		pacer.expect(1);
		const running: Promise<void> = sendOne(pending).then((delivery) => {
			deliveries[position] = delivery;
			inFlight.delete(running);
		});
		inFlight.add(running);
	}
	await Promise.all(inFlight);
	return { deliveries, signal };
}
