// The failures of a Gemini call that are the setup's, not the conversation's: every key of the
// credential refused (`key_refused`: invalid, expired, suspended, no access), or a request Google
// answered 404 (`rejected` with status 404, NOT_FOUND: a model the API does not know, or a Base URL
// that serves no Gemini API). When they are the setup's (no call of the run got an answer from the
// model), a node that would otherwise turn a failure into something else (Auto Assign Stage's
// fallback score) fails the run instead, with this message and what to do; one such failure among
// answered calls is that request's own (a flaky 404, one refusal) and falls back. Generate Follow-Up
// fails each item with the call's code (key_refused: retried once the keys rest no more; rejected) and
// the same advice (geminiAdvice, which also has a quota's). Everything else (quota, 5xx, timeouts, a
// blocked prompt, an invalid reply, any other 4xx) is the call's own: docs/gemini.md.
import type { CallFailureCode } from './call';

export interface GeminiSetupProblem {
	code: 'key_refused' | 'model_not_found';
	/** What failed, Google's words included (keys already removed by the call loop). */
	message: string;
	/** What to do about it. */
	description: string;
}

const KEY_REFUSED_ADVICE =
	'Fix the API keys of the Leadflow Gemini API credential (one per line): Google refused each of them as invalid, expired, suspended or without access to the Gemini API. A refused key rests 15 minutes; a new key is used at once.';
const MODEL_NOT_FOUND_ADVICE =
	"Set Model in the node's options, or the Default Model of the Leadflow Gemini API credential, to a model the Gemini API serves (e.g. gemini-2.5-flash; its list of models names them), and check the credential's Base URL.";
const MORE_KEYS_ADVICE =
	'If it happens often, add API keys of other Google Cloud projects to the Leadflow Gemini API credential (one per line; keys of one project share its quota), lower Concurrency, or raise the quota at Google.';
const REFUSED_KEYS_ADVICE =
	'Fix or remove the refused API keys of the Leadflow Gemini API credential (one per line): Google refused them as invalid, expired, suspended or without access to the Gemini API (a refused key rests 15 minutes; a new key is used at once).';

// From the Input: what pipeline_due_for_analysis lists is analysed again by the auto-assign workflow
// (as after messenger-inbound.json's Analyze and Assign); anything else only if run again. Its three
// conditions as the SQL reads them (…2570), each under auto-assignment on: not placed and never moved
// out; provisional (placed by the fallback score and not moved since: a person's move ends it); an
// UPDATE_EXISTING place whose analysis saw an older last customer message (a fallback never writes an
// analysis over a place: pipeline_assign keeps it, fallback_analysis).
const INPUT_AGAIN =
	'It stays due, and Due for Analysis (the auto-assign workflow) analyses it again in a later run once a key is back (fallback_retry_after_seconds), if its Page has auto-assignment on and it is one of: not in the pipeline yet (and never moved out of it), still where the fallback score placed it (no one moved it since), or on an UPDATE_EXISTING Page with customer messages since its previous analysis. Otherwise, for the model\'s analysis, run it again then.';

/**
 * What becomes of the work a quota failure stopped, in the words of the node that met it: Generate
 * Follow-Up's item fails and is tried again; Analyze's conversation gets the fallback score, and is
 * analysed again by a later run when Analyze read it as due ('due'). Read From the Input ('input', also
 * the only source of an AI agent's tool), it is due as well when pipeline_due_for_analysis lists it
 * (its Page has auto-assignment on, and it is not in the pipeline yet, still where the fallback score
 * placed it, or has new messages on an UPDATE_EXISTING Page: so in messenger-inbound.json, Analyze then
 * Assign), and the auto-assign workflow analyses it again; otherwise whoever gave it runs it again. Both
 * name the item's time until a key is back.
 */
const AFTER_QUOTA = {
	item: {
		nothingToFix: 'Nothing to fix for this item: it can be tried again once a key is back (retryAfterSeconds; a claimed contact is claimable again then).',
		othersRest: 'The other keys rest for their quota: this item is tried again once a key is back (retryAfterSeconds; a claimed contact is claimable again then).',
	},
	due: {
		nothingToFix:
			'Nothing to fix for this conversation: it got the fallback score, and Due for Analysis analyses it again in a later run once a key is back (fallback_retry_after_seconds; a conversation placed by the fallback score stays due).',
		othersRest:
			'The other keys rest for their quota: this conversation got the fallback score, and Due for Analysis analyses it again in a later run once a key is back (fallback_retry_after_seconds; a conversation placed by the fallback score stays due).',
	},
	input: {
		nothingToFix: `Nothing to fix for this conversation: it got the fallback score. ${INPUT_AGAIN}`,
		othersRest: `The other keys rest for their quota: this conversation got the fallback score. ${INPUT_AGAIN}`,
	},
} as const;

/**
 * What to do about a failed call, when there is something to say: the setup problems' advice (the
 * same words Analyze fails its run with) and a quota's (fix the refused keys when some were refused).
 * Generate Follow-Up gives it each failed item (`error.description`) and the contact's recorded
 * error (`after` 'item', the default); Auto Assign Stage's Analyze gives a quota's to the contact it
 * scored by the fallback (`fallback_description`, `after` its source: 'due' or 'input').
 */
export function geminiAdvice(
	failure: { code: CallFailureCode | string; status?: number; message: string; refusedKeys?: number },
	model: string,
	after: keyof typeof AFTER_QUOTA = 'item',
): string | undefined {
	// Some keys refused, the others resting for their quota: the refused ones are the owner's to fix.
	if (failure.code === 'quota' && (failure.refusedKeys ?? 0) > 0) return `${REFUSED_KEYS_ADVICE} ${AFTER_QUOTA[after].othersRest}`;
	return geminiSetupProblem(failure, model)?.description ?? (failure.code === 'quota' ? `${AFTER_QUOTA[after].nothingToFix} ${MORE_KEYS_ADVICE}` : undefined);
}

/** The setup problem a failed call is, or undefined when the failure is the call's own. */
export function geminiSetupProblem(failure: { code: CallFailureCode | string; status?: number; message: string }, model: string): GeminiSetupProblem | undefined {
	if (failure.code === 'key_refused') {
		return {
			code: 'key_refused',
			message: failure.message,
			description: KEY_REFUSED_ADVICE,
		};
	}
	if (failure.code === 'rejected' && failure.status === 404) {
		return {
			code: 'model_not_found',
			message: `The Gemini model "${model}" was not found: ${failure.message}`,
			description: MODEL_NOT_FOUND_ADVICE,
		};
	}
	return undefined;
}
