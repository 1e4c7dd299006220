// One follow-up from Gemini through the shared call loop (nodes/shared/gemini/call.ts: key
// rotation, rest after 429, backoff and retries); what this node adds is what a sendable reply is:
// an unfinished sentence cut at MAX_TOKENS is dropped, an empty reply fails, a too long one is
// shortened or fails (policy.tooLong).
import { checkReply, dropUnfinishedSentence } from '../helpers/reply';
import { callGemini, TRANSIENT_RETRY_AFTER_SECONDS, type CallContext, type CallFailureCode, type CallPolicy } from '../../shared/gemini/call';
import type { ModelRequest } from '../../shared/gemini/client';

export interface RetryPolicy extends CallPolicy {
	tooLong: 'shorten' | 'fail';
}

export type FailureCode = CallFailureCode | 'empty_reply' | 'too_long';

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

export interface GenerationContext extends CallContext {
	policy: RetryPolicy;
}

export async function generateFollowUpText(request: ModelRequest, context: GenerationContext): Promise<Generation> {
	const result = await callGemini<{ message: string; shortened: boolean }, 'empty_reply' | 'too_long'>(request, context, (answer) => {
		const text = answer.finishReason === 'MAX_TOKENS' ? dropUnfinishedSentence(answer.text) : answer.text;
		const reply = checkReply(text, context.policy.tooLong);
		if (!reply.ok) {
			return { ok: false, code: reply.code, message: reply.message, ...(reply.code === 'empty_reply' && { retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS }) };
		}
		return { ok: true, value: { message: reply.message, shortened: reply.shortened } };
	});
	if (!result.ok) return result;
	const { value, ...rest } = result;
	return { ...rest, message: value.message, shortened: value.shortened };
}
