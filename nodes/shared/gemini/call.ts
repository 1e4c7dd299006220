// One Gemini answer, whatever it takes within the limits: rotate keys, rest a key Google throttles
// (for as long as its RetryInfo asks, or until midnight Pacific for a daily quota), back off with
// jitter and retry after 5xx and timeouts, never retry a request Google rejected (4xx), and give up
// with `quota` at once when every key rests for longer than the node may wait. What a usable answer
// is belongs to the caller (`interpret`): a follow-up's text (GenerateFollowUp), a JSON analysis
// (AutoAssignStage). Every node that calls Gemini goes through this one loop.
import { sleep } from 'n8n-workflow';
import { backoffMs, msUntilMidnightPacific } from './backoff';
import { generateOnce, type ModelAnswer, type ModelRequest } from './client';
import { describeFailure, type CallFailure } from './failures';
import type { KeyTurns, RestReason } from './keyRing';

export interface CallPolicy {
	/** Retries after 5xx / timeouts / waiting for a resting key; the first call is not counted. */
	maxRetries: number;
	retryBaseMs: number;
	/** How long a key rests after a 429 without RetryInfo. */
	keyRestMs: number;
	/** Wait for a resting key only when one is back within this long; otherwise fail with `quota`. */
	maxQuotaWaitMs: number;
}

/** Failures of the call itself; `interpret` adds its own codes. */
export type CallFailureCode = 'quota' | 'blocked' | 'timeout' | 'unavailable' | 'rejected' | 'key_refused' | 'cancelled';

export interface CallContext {
	/** Where the keys' turns and rests are kept: the database (sharedKeyRing.ts) or this process (KeyRing). */
	ring: KeyTurns;
	baseUrl: string;
	policy: CallPolicy;
	/** Removes API keys from any text that leaves the node (Google quotes keys in some errors). */
	redact: (text: string) => string;
	cancelSignal?: AbortSignal;
}

/** What the caller makes of an answer Gemini gave (not blocked). */
export type Interpreted<Value, Code extends string> =
	| { ok: true; value: Value }
	| { ok: false; code: Code; message: string; retryAfterSeconds?: number };

export interface CallSuccess<Value> {
	ok: true;
	value: Value;
	model: string;
	generationMs: number;
	tokens: ModelAnswer['tokens'];
	attempts: number;
	finishReason?: string;
}

export interface CallFailureResult<Code extends string> {
	ok: false;
	code: CallFailureCode | Code;
	message: string;
	/** When trying again could work (quota: when a key is back; transient failures: a few minutes). */
	retryAfterSeconds?: number;
	status?: number;
	/** quota: how many of the resting keys Google refused (keys to fix while the others rest); 0 when none. */
	refusedKeys?: number;
	model: string;
	generationMs: number;
	attempts: number;
}

export type CallResult<Value, Code extends string> = CallSuccess<Value> | CallFailureResult<Code>;

// A 429 with `retryDelay: "0s"` must not turn into a tight loop on one key.
const MIN_KEY_REST_MS = 1_000;
// A key Google refused (invalid, suspended) stays out long: it will not heal by itself soon.
const REFUSED_KEY_REST_MS = 15 * 60_000;
// Transient failures (5xx, timeouts) recorded in the database become claimable again after this.
export const TRANSIENT_RETRY_AFTER_SECONDS = 300;
// A cancelled execution (Stop, or n8n's workflow timeout) says nothing about the contact: the calls it
// did not make are made by a later run, not left failed waiting for a person.
export const CANCELLED_RETRY_AFTER_SECONDS = TRANSIENT_RETRY_AFTER_SECONDS;
// Finish reasons meaning the answer was withheld for its content.
const BLOCKED_FINISH_REASONS = new Set(['SAFETY', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'RECITATION', 'IMAGE_SAFETY']);

export async function callGemini<Value, Code extends string>(
	request: ModelRequest,
	context: CallContext,
	interpret: (answer: ModelAnswer) => Interpreted<Value, Code>,
): Promise<CallResult<Value, Code>> {
	const { ring, policy, redact } = context;
	const started = Date.now();
	let attempts = 0;
	let retries = 0;
	let lastRefusal: CallFailure | undefined;
	const fail = (code: CallFailureCode | Code, message: string, extra: Partial<CallFailureResult<Code>> = {}): CallFailureResult<Code> => ({
		ok: false,
		code,
		message: redact(message),
		model: request.model,
		generationMs: Date.now() - started,
		attempts,
		...extra,
	});

	const cancelled = (message: string) => fail('cancelled', message, { retryAfterSeconds: CANCELLED_RETRY_AFTER_SECONDS });

	// The shared turns and rests live in Supabase: when it cannot be reached, no key is called blind.
	const unshared = (error: unknown) =>
		fail('unavailable', `The Gemini keys' turns and rests could not be read from or written to Supabase: ${(error as Error).message}`, {
			retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS,
		});
	/** Rests a key; answers the failure to return when the rest could not be recorded. */
	const rest = async (index: number, ms: number, reason: RestReason): Promise<CallFailureResult<Code> | undefined> => {
		try {
			await ring.rest(index, ms, reason);
			return undefined;
		} catch (error) {
			return unshared(error);
		}
	};

	for (;;) {
		if (context.cancelSignal?.aborted) return cancelled('The execution was cancelled.');
		let choice;
		try {
			choice = await ring.take();
		} catch (error) {
			return unshared(error);
		}
		if (!choice.ok) {
			const { waitMs, reason } = choice;
			if (reason === 'refused') {
				// Claimable again when the first key's rest ends (15 minutes after it was refused): once the
				// owner has fixed the credential, the contacts come back without a manual reset.
				return fail('key_refused', `Google refused every Gemini key of the credential: ${lastRefusal?.message ?? 'invalid or suspended keys'}`, {
					status: lastRefusal?.status,
					retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
				});
			}
			if (waitMs <= policy.maxQuotaWaitMs && retries < policy.maxRetries) {
				retries += 1;
				await sleep(Math.max(waitMs, backoffMs(retries, policy.retryBaseMs)));
				continue;
			}
			const seconds = Math.ceil(waitMs / 1000);
			// Some keys may rest because Google refused them and the others for their quota: the refused
			// ones need the owner whatever the quota does (a database from before 20261201002880 does
			// not count them: then at least the refusal this call met).
			const refused = Math.min(ring.size, choice.refusedKeys ?? (lastRefusal ? 1 : 0));
			if (refused > 0 && refused < ring.size) {
				const others = ring.size - refused;
				// `reason` is one word for every resting key, refused ones included: 'throttled' also covers a mix of
				// 429 and daily quota, so only 'daily_quota' may be said of each other key; and the earliest rest may
				// be a refused key's, so the time is when a key is tried again, not when one is usable.
				const resting = reason === 'daily_quota'
					? `${others === 1 ? 'has' : 'have'} reached ${others === 1 ? 'its' : 'their'} daily quota (it resets at midnight Pacific time)`
					: `${others === 1 ? 'rests' : 'rest'} for ${others === 1 ? 'its' : 'their'} quota (429)`;
				const why = lastRefusal ? `: ${lastRefusal.message}` : ' as invalid, expired, suspended or without access';
				return fail(
					'quota',
					`${refused} of the credential's ${ring.size} Gemini keys ${refused === 1 ? 'was' : 'were'} refused by Google${why}; the other ${others} ${resting}; a key is tried again in about ${seconds} s.`,
					{ status: 429, retryAfterSeconds: seconds, refusedKeys: refused },
				);
			}
			const what = reason === 'daily_quota' ? "reached its daily quota (it resets at midnight Pacific time)" : 'is throttled (429)';
			return fail('quota', `Every Gemini key of the credential (${ring.size}) ${what}; the first is usable again in about ${seconds} s.`, {
				status: 429,
				retryAfterSeconds: seconds,
				refusedKeys: refused,
			});
		}

		attempts += 1;
		let answer: ModelAnswer;
		try {
			answer = await generateOnce(choice.key, context.baseUrl, { ...request, abortSignal: context.cancelSignal });
		} catch (error) {
			const failure = describeFailure(error, context.cancelSignal?.aborted === true);
			switch (failure.kind) {
				case 'throttled': {
					const restMs = failure.daily ? msUntilMidnightPacific(Date.now()) : (failure.retryDelayMs ?? policy.keyRestMs);
					const unrecorded = await rest(choice.index, Math.max(MIN_KEY_REST_MS, restMs), failure.daily ? 'daily_quota' : 'throttled');
					if (unrecorded) return unrecorded;
					continue;
				}
				case 'key_refused': {
					lastRefusal = failure;
					const unrecorded = await rest(choice.index, REFUSED_KEY_REST_MS, 'refused');
					if (unrecorded) return unrecorded;
					continue;
				}
				case 'unavailable':
				case 'timeout':
					if (retries >= policy.maxRetries) {
						return fail(failure.kind, `${failure.message} (${attempts} attempts)`, { status: failure.status, retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS });
					}
					retries += 1;
					await sleep(backoffMs(retries, policy.retryBaseMs));
					continue;
				case 'cancelled':
					return cancelled(failure.message);
				case 'rejected':
					return fail('rejected', `Gemini rejected the request (${failure.status}): ${failure.message}`, { status: failure.status });
			}
		}

		const model = answer.modelVersion;
		if (answer.blockReason) return fail('blocked', `Gemini blocked the prompt (${answer.blockReason}).`, { model });
		if (answer.finishReason && BLOCKED_FINISH_REASONS.has(answer.finishReason)) {
			return fail('blocked', `Gemini withheld the reply (finish reason ${answer.finishReason}).`, { model });
		}
		const interpreted = interpret(answer);
		if (!interpreted.ok) {
			return fail(interpreted.code, interpreted.message, {
				model,
				...(interpreted.retryAfterSeconds !== undefined && { retryAfterSeconds: interpreted.retryAfterSeconds }),
			});
		}
		return {
			ok: true,
			value: interpreted.value,
			model,
			generationMs: Date.now() - started,
			tokens: answer.tokens,
			attempts,
			finishReason: answer.finishReason,
		};
	}
}
