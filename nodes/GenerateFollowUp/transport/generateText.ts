// One follow-up from Gemini, whatever it takes within the limits: rotate keys, rest a key Google
// throttles (for as long as its RetryInfo asks, or until midnight Pacific for a daily quota), back
// off with jitter and retry after 5xx and timeouts, never retry a request Google rejected (4xx),
// and give up with `quota` at once when every key rests for longer than the node may wait.
import { sleep } from 'n8n-workflow';
import { checkReply, dropUnfinishedSentence } from '../helpers/reply';
import { backoffMs, msUntilMidnightPacific } from '../../shared/gemini/backoff';
import { generateOnce, type ModelRequest } from '../../shared/gemini/client';
import { describeFailure, type CallFailure } from '../../shared/gemini/failures';
import type { KeyRing } from '../../shared/gemini/keyRing';

export interface RetryPolicy {
	/** Retries after 5xx / timeouts / waiting for a resting key; the first call is not counted. */
	maxRetries: number;
	retryBaseMs: number;
	/** How long a key rests after a 429 without RetryInfo. */
	keyRestMs: number;
	/** Wait for a resting key only when one is back within this long; otherwise fail with `quota`. */
	maxQuotaWaitMs: number;
	tooLong: 'shorten' | 'fail';
}

export type FailureCode = 'quota' | 'blocked' | 'empty_reply' | 'too_long' | 'timeout' | 'unavailable' | 'rejected' | 'key_refused' | 'cancelled';

export interface GeminiReply {
	ok: true;
	message: string;
	model: string;
	generationMs: number;
	tokens: { prompt: number; output: number; total: number };
	attempts: number;
	finishReason?: string;
	shortened: boolean;
}

export interface GeminiFailure {
	ok: false;
	code: FailureCode;
	message: string;
	/** When trying again could work (quota: when a key is back; transient failures: a few minutes). */
	retryAfterSeconds?: number;
	status?: number;
	model: string;
	generationMs: number;
	attempts: number;
}

export type Generation = GeminiReply | GeminiFailure;

export interface GenerationContext {
	ring: KeyRing;
	baseUrl: string;
	policy: RetryPolicy;
	/** Removes API keys from any text that leaves the node (Google quotes keys in some errors). */
	redact: (text: string) => string;
	cancelSignal?: AbortSignal;
}

// A 429 with `retryDelay: "0s"` must not turn into a tight loop on one key.
const MIN_KEY_REST_MS = 1_000;
// A key Google refused (invalid, suspended) stays out long: it will not heal by itself soon.
const REFUSED_KEY_REST_MS = 15 * 60_000;
// Transient failures (5xx, timeouts) recorded in the database become claimable again after this.
const TRANSIENT_RETRY_AFTER_SECONDS = 300;
// Finish reasons meaning the answer was withheld for its content.
const BLOCKED_FINISH_REASONS = new Set(['SAFETY', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'RECITATION', 'IMAGE_SAFETY']);

export async function generateFollowUpText(request: ModelRequest, context: GenerationContext): Promise<Generation> {
	const { ring, policy, redact } = context;
	const started = Date.now();
	let attempts = 0;
	let retries = 0;
	let lastRefusal: CallFailure | undefined;
	const fail = (code: FailureCode, message: string, extra: Partial<GeminiFailure> = {}): GeminiFailure => ({
		ok: false,
		code,
		message: redact(message),
		model: request.model,
		generationMs: Date.now() - started,
		attempts,
		...extra,
	});

	for (;;) {
		if (context.cancelSignal?.aborted) return fail('cancelled', 'The execution was cancelled.');
		const choice = ring.next();
		if (!choice) {
			const waitMs = ring.msUntilAvailable();
			const reason = ring.restReason();
			if (reason === 'refused') {
				return fail('key_refused', `Google refused every Gemini key of the credential: ${lastRefusal?.message ?? 'invalid or suspended keys'}`, {
					status: lastRefusal?.status,
				});
			}
			if (waitMs <= policy.maxQuotaWaitMs && retries < policy.maxRetries) {
				retries += 1;
				await sleep(Math.max(waitMs, backoffMs(retries, policy.retryBaseMs)));
				continue;
			}
			const what = reason === 'daily_quota' ? "reached its daily quota (it resets at midnight Pacific time)" : 'is throttled (429)';
			return fail('quota', `Every Gemini key of the credential (${ring.size}) ${what}; the first is usable again in about ${Math.ceil(waitMs / 1000)} s.`, {
				status: 429,
				retryAfterSeconds: Math.ceil(waitMs / 1000),
			});
		}

		attempts += 1;
		let answer;
		try {
			answer = await generateOnce(choice.key, context.baseUrl, { ...request, abortSignal: context.cancelSignal });
		} catch (error) {
			const failure = describeFailure(error, context.cancelSignal?.aborted === true);
			switch (failure.kind) {
				case 'throttled': {
					const restMs = failure.daily ? msUntilMidnightPacific(Date.now()) : (failure.retryDelayMs ?? policy.keyRestMs);
					ring.rest(choice.index, Math.max(MIN_KEY_REST_MS, restMs), failure.daily ? 'daily_quota' : 'throttled');
					continue;
				}
				case 'key_refused':
					lastRefusal = failure;
					ring.rest(choice.index, REFUSED_KEY_REST_MS, 'refused');
					continue;
				case 'unavailable':
				case 'timeout':
					if (retries >= policy.maxRetries) {
						return fail(failure.kind, `${failure.message} (${attempts} attempts)`, { status: failure.status, retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS });
					}
					retries += 1;
					await sleep(backoffMs(retries, policy.retryBaseMs));
					continue;
				case 'cancelled':
					return fail('cancelled', failure.message);
				case 'rejected':
					return fail('rejected', `Gemini rejected the request (${failure.status}): ${failure.message}`, { status: failure.status });
			}
		}

		const model = answer.modelVersion;
		if (answer.blockReason) return fail('blocked', `Gemini blocked the prompt (${answer.blockReason}).`, { model });
		if (answer.finishReason && BLOCKED_FINISH_REASONS.has(answer.finishReason)) {
			return fail('blocked', `Gemini withheld the reply (finish reason ${answer.finishReason}).`, { model });
		}
		const text = answer.finishReason === 'MAX_TOKENS' ? dropUnfinishedSentence(answer.text) : answer.text;
		const reply = checkReply(text, policy.tooLong);
		if (!reply.ok) {
			return fail(reply.code, reply.message, { model, ...(reply.code === 'empty_reply' && { retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS }) });
		}
		return {
			ok: true,
			message: reply.message,
			model,
			generationMs: Date.now() - started,
			tokens: answer.tokens,
			attempts,
			finishReason: answer.finishReason,
			shortened: reply.shortened,
		};
	}
}
