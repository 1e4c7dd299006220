// One contact's analysis from Gemini through the shared call loop (nodes/shared/gemini/call.ts:
// key rotation, rest after 429, backoff, retries). A reply that is not valid JSON or breaks the
// schema is asked once more; when the model still fails (or fails at all: quota, blocked, timeout,
// 5xx), the contact gets the deterministic fallback score, marked as such with the reason (also
// in its reasoning, which the contact's history shows). A failure of the setup (every key refused,
// a model the API does not know: nodes/shared/gemini/setup.ts) is handed to the caller with the
// fallback it would get: when no call of the run got an answer from the model, the caller fails the
// run with it (the fallback would place every contact by a guess, run after run); when others did,
// it was one request's failure (a flaky 404, one refusal) and the contact gets the fallback. Nor does a cancelled execution (Stop, the workflow's timeout): that says
// nothing about the contact, and a cancelled run places no one; the caller fails the contact.
import { callGemini, type CallContext, type CallFailureCode } from '../../shared/gemini/call';
import type { ModelRequest } from '../../shared/gemini/client';
import { geminiAdvice, geminiSetupProblem, type GeminiSetupProblem } from '../../shared/gemini/setup';
import { fallbackAnalysis, parseAnalysis, type Analysis, type ChatMessage } from '../helpers/analysis';

export type AnalysisFailureCode = CallFailureCode | 'invalid_json' | 'schema_violation';

export interface AnalysisOutcome {
	analysis: Analysis;
	model: string;
	/**
	 * Set when the analysis is the fallback score: why the model's could not be used, and when trying
	 * again could work (the call's retryAfterSeconds: a quota's until a key is back). A quota failure
	 * also says how many of the resting keys Google refused and what to do (Generate Follow-Up's
	 * advice, geminiAdvice, in Analyze's words for its source: fix the refused keys; a due conversation
	 * stays due, an input item is run again).
	 */
	fallback?: { code: AnalysisFailureCode; message: string; retryAfterSeconds?: number; refusedKeys?: number; description?: string };
	/** Gemini calls made, retries included. */
	attempts: number;
}

/**
 * A setup problem met by this contact's call (every key refused, a model the API does not know). The
 * run fails with it when no call of the run got an answer from the model (the problem is the
 * setup's, not one request's); otherwise this contact gets `fallback`, as any failed call does.
 */
export interface AnalysisSetupFailure {
	setupProblem: GeminiSetupProblem;
	fallback: AnalysisOutcome;
	attempts: number;
}

/** The execution was cancelled before the model answered (or before the call was made): no score. */
export interface AnalysisCancelled {
	cancelled: true;
	attempts: number;
}

export async function analyzeContact(
	request: ModelRequest,
	messages: ChatMessage[],
	context: CallContext,
	now: () => number,
	/** Where the conversation came from: what becomes of it after a quota failure depends on it (geminiAdvice). */
	source: 'due' | 'input',
): Promise<AnalysisOutcome | AnalysisSetupFailure | AnalysisCancelled> {
	let attempts = 0;
	// The first reply that is not a valid analysis is asked again once; a second one falls back.
	for (let round = 0; ; round++) {
		const result = await callGemini<Analysis, 'invalid_json' | 'schema_violation'>(request, context, (answer) => {
			const parsed = parseAnalysis(answer.text);
			return parsed.ok ? { ok: true, value: parsed.analysis } : parsed;
		});
		attempts += result.attempts;
		if (result.ok) return { analysis: result.value, model: result.model, attempts };
		if (result.code === 'cancelled') return { cancelled: true, attempts };
		const quota = result.code === 'quota' ? { refusedKeys: result.refusedKeys ?? 0, description: geminiAdvice(result, request.model, source) } : {};
		const retry = result.retryAfterSeconds !== undefined ? { retryAfterSeconds: result.retryAfterSeconds } : {};
		const fallback = () => ({ analysis: fallbackAnalysis(messages, now(), result.code), model: result.model, fallback: { code: result.code, message: result.message, ...retry, ...quota }, attempts });
		const setupProblem = geminiSetupProblem(result, request.model);
		if (setupProblem) return { setupProblem, fallback: fallback(), attempts };
		const invalid = result.code === 'invalid_json' || result.code === 'schema_violation';
		if (invalid && round === 0) continue;
		return fallback();
	}
}
