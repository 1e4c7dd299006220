// One message from "may be sent" to what became of it: calls Graph (each call paced), retries what
// is safe to retry (a Graph error or a refused connection: nothing was delivered) a limited number
// of times with exponential backoff, and never retries an answer that may hide a delivery. Other
// sends run at the same time, so every attempt (the first and each retry) may be refused at the
// last moment by what they learnt meanwhile (a refused token, a closed window, …).
import type { GraphAnswer } from '../transport/graphSend';
import { sleepUnless } from './pacer';
import { reactionTo, type GraphError } from './graphErrors';

export type FailureReason =
	/** Throttled by Graph (4, 17, 32, 613, 80001, 80006) after every retry, or not tried because the batch backed off. */
	| 'throttled'
	/** Graph code 2 after every retry. */
	| 'temporary'
	/** Facebook could not be reached at all (connection refused, DNS): nothing was delivered. */
	| 'unreachable'
	/** Graph 100 / 2018001. */
	| 'no_matching_user'
	/** Any other Graph error: needs a person. */
	| 'graph_error'
	/** The request may have reached Facebook without an answer: never resent automatically. */
	| 'send_uncertain'
	/** The token was refused (190) for this or an earlier item of the batch. */
	| 'invalid_token'
	/** Not tried: the contact's conversation belongs to another Page than the credential's. */
	| 'page_mismatch'
	/** Not tried: the claim's send lease ran out before the item's turn. */
	| 'lease_expired'
	/** Not tried: the execution was cancelled. */
	| 'cancelled'
	/** Not tried: the Page's shared send rate could not be read from Supabase. */
	| 'rate_limit_unavailable';

export type Delivery =
	| { outcome: 'sent'; messageId: string; attempts: number }
	| { outcome: 'skipped'; reason: 'outside_window' | 'unavailable'; error?: GraphError; attempts: number }
	| { outcome: 'failed'; reason: FailureReason; retryLater: boolean; error?: GraphError; detail?: string; attempts: number };

export interface RetryPolicy {
	/** Extra attempts after the first, for throttling, code 2 and refused connections. */
	retries: number;
	/** The first backoff; each further one doubles. */
	backoffMs: number;
}

/** What one item's delivery tells the rest of the batch. */
export interface BatchSignal {
	/** 190: stop calling Graph; the node ends with a credential error. */
	invalidToken?: GraphError;
	/** Throttling outlasted the retries: the rest of the batch is not tried now. */
	throttled?: boolean;
	/** The Page's send slots could not be taken from the database: no call starts after it. */
	rateUnavailable?: string;
}

/** What one attempt gives: Graph's answer, or the item's end when the last-moment check refused the call. */
export type AttemptResult = GraphAnswer | { kind: 'notCalled'; delivery: Delivery };

export interface DeliveryHooks {
	/** Graph throttled this Page: no call for it should start for `ms` (every worker's, not only this item's). */
	throttled?: (ms: number, error: GraphError) => Promise<void>;
	/** The last moment a try may start (epoch ms; the send lease's): a backoff that ends at or after it is not waited for. */
	lastStart?: number;
	/** The execution's cancel signal: a Stop ends a backoff (the next try's last-moment check then says cancelled). */
	cancel?: AbortSignal;
}

export async function deliver(call: () => Promise<AttemptResult>, policy: RetryPolicy, signal: BatchSignal, hooks: DeliveryHooks = {}): Promise<Delivery> {
	for (let attempt = 1; ; attempt++) {
		const answer = await call();
		const canRetry = attempt <= policy.retries;
		// Refused before calling: the attempts made so far are what the item reports.
		if (answer.kind === 'notCalled') return { ...answer.delivery, attempts: attempt - 1 };
		if (answer.kind === 'delivered') return { outcome: 'sent', messageId: answer.messageId, attempts: attempt };
		if (answer.kind === 'uncertain') {
			return { outcome: 'failed', reason: 'send_uncertain', retryLater: false, detail: answer.detail, attempts: attempt };
		}
		if (answer.kind === 'notSent') {
			if (canRetry) {
				const late = await backOff(policy, attempt, hooks);
				if (late) return { ...late, detail: `${late.detail} (${answer.detail})`, attempts: attempt };
				continue;
			}
			return { outcome: 'failed', reason: 'unreachable', retryLater: true, detail: answer.detail, attempts: attempt };
		}
		const { error } = answer;
		switch (reactionTo(error)) {
			case 'invalidToken':
				signal.invalidToken = error;
				return { outcome: 'failed', reason: 'invalid_token', retryLater: true, error, attempts: attempt };
			case 'outsideWindow':
				return { outcome: 'skipped', reason: 'outside_window', error, attempts: attempt };
			case 'unavailable':
				return { outcome: 'skipped', reason: 'unavailable', error, attempts: attempt };
			case 'noMatchingUser':
				return { outcome: 'failed', reason: 'no_matching_user', retryLater: false, error, attempts: attempt };
			case 'rejected':
				return { outcome: 'failed', reason: 'graph_error', retryLater: false, error, attempts: attempt };
			case 'throttled':
			case 'temporary': {
				const throttled = reactionTo(error) === 'throttled';
				const pause = throttled && hooks.throttled ? (ms: number) => hooks.throttled!(ms, error) : undefined;
				if (canRetry) {
					const late = await backOff(policy, attempt, hooks, pause);
					if (late) return { ...late, error, attempts: attempt };
					continue;
				}
				// The last try was throttled: this item stops here, but the throttle is still the Page's,
				// so every worker pauses as long as the next backoff would have been (this one does not
				// wait it out: the rest of its batch is not tried now).
				if (throttled) {
					signal.throttled = true;
					await pause?.(backoffDelay(policy, attempt));
				}
				return { outcome: 'failed', reason: throttled ? 'throttled' : 'temporary', retryLater: true, error, attempts: attempt };
			}
		}
	}
}

/**
 * Exponential with ±20 % jitter, so parallel senders that were throttled together do not return
 * together. A throttle is the Page's, not the item's: the whole Page waits as long (`pause`). A
 * backoff that would end at or after the item's last start is not waited for (the Page is paused
 * all the same): the item ends lease_expired at once, claimable again, while its contact is still
 * held; sleeping past the lease, the next claim's reaper would declare it send_uncertain though
 * Facebook got nothing. Undefined when the next try may come.
 */
async function backOff(
	policy: RetryPolicy,
	attempt: number,
	hooks: DeliveryHooks,
	pause?: (ms: number) => Promise<void>,
): Promise<Extract<Delivery, { outcome: 'failed' }> | undefined> {
	const delay = backoffDelay(policy, attempt);
	if (Date.now() + delay >= (hooks.lastStart ?? Infinity)) {
		await pause?.(delay);
		return {
			outcome: 'failed',
			reason: 'lease_expired',
			retryLater: true,
			detail: 'not sent again: the send lease runs out before the backoff after this try ends',
			attempts: attempt,
		};
	}
	await Promise.all([pause?.(delay), sleepUnless(delay, hooks.cancel)]);
	return undefined;
}

/** The wait after the `attempt`-th try: *Backoff* doubled per try before it, ±20 %. */
function backoffDelay(policy: RetryPolicy, attempt: number): number {
	const base = policy.backoffMs * 2 ** (attempt - 1);
	return Math.round(base * (0.8 + Math.random() * 0.4));
}
