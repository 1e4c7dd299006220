// One follow-up from Gemini through the shared call loop (nodes/shared/gemini/call.ts: key
// rotation, rest after 429, backoff and retries); what this node adds is what a sendable reply is:
// an unfinished sentence cut at MAX_TOKENS is dropped (a reply cut before its first sentence ended,
// or empty because a thinking model spent the limit, fails with `truncated`: raise Max Output
// Tokens), an empty reply fails, a too long one is shortened or fails (policy.tooLong).
import { checkReply, dropUnfinishedSentence } from '../helpers/reply';
import { callGemini, TRANSIENT_RETRY_AFTER_SECONDS, type CallContext, type CallFailureCode, type CallPolicy } from '../../shared/gemini/call';
import type { ModelRequest } from '../../shared/gemini/client';
import { geminiAdvice } from '../../shared/gemini/setup';

export interface RetryPolicy extends CallPolicy {
	tooLong: 'shorten' | 'fail';
}

export type FailureCode = CallFailureCode | ReplyFailureCode;
type ReplyFailureCode = 'empty_reply' | 'too_long' | 'truncated';

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
	/** quota: how many of the credential's resting keys Google refused (0 when none; the message says it too). */
	refusedKeys?: number;
	/** What to do about it, when there is something to say (key_refused, quota, a model not found: geminiAdvice). */
	description?: string;
	model: string;
	generationMs: number;
	attempts: number;
}

export type Generation = GeminiReply | GeminiFailure;

export interface GenerationContext extends CallContext {
	policy: RetryPolicy;
}

export async function generateFollowUpText(request: ModelRequest, context: GenerationContext): Promise<Generation> {
	const result = await callGemini<{ message: string; shortened: boolean }, ReplyFailureCode>(request, context, (answer) => {
		const cut = answer.finishReason === 'MAX_TOKENS';
		const text = cut ? dropUnfinishedSentence(answer.text) : answer.text;
		const reply = checkReply(text, context.policy.tooLong);
		// Cut before one sentence was finished, or before any text: not retried, the same limit cuts
		// the same reply again (and each try is paid for).
		if (cut && !reply.ok && reply.code === 'empty_reply') return { ok: false, code: 'truncated', message: truncatedMessage(answer.text, request.maxOutputTokens) };
		if (!reply.ok) {
			return { ok: false, code: reply.code, message: reply.message, ...(reply.code === 'empty_reply' && { retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS }) };
		}
		return { ok: true, value: { message: reply.message, shortened: reply.shortened } };
	});
	if (!result.ok) {
		const description = geminiAdvice(result, request.model);
		return description === undefined ? result : { ...result, description };
	}
	const { value, ...rest } = result;
	return { ...rest, message: value.message, shortened: value.shortened };
}

function truncatedMessage(text: string, maxOutputTokens: number | undefined): string {
	const limit = maxOutputTokens ? `its output-token limit, Max Output Tokens (${maxOutputTokens} tokens),` : "its default output-token limit (Max Output Tokens 0: the model's default)";
	const what = text.trim() === '' ? 'before writing any reply (thinking models count their thinking against it)' : 'before finishing its first sentence';
	return `The model reached ${limit} ${what}, so nothing of it can be sent. Raise Max Output Tokens in the node's options.`;
}
