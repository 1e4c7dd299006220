// How the node reacts to each Graph API error (the table in docs/graph-errors.md). Decided by
// Graph's `code` / `error_subcode`, never by HTTP status: Graph answers 400 for nearly everything.
// Every reaction here follows from one fact: a Graph error body means Facebook did not deliver the
// message, so the follow-up may be tried again unless trying again cannot help. Reading the error
// out of a response is nodes/shared/graph.ts's (the WhatsApp sends read it the same way).
import { isPageThrottling, metaSaid, type GraphError } from '../../shared/graph';

export { graphErrorOf, type GraphError } from '../../shared/graph';

export type GraphErrorReaction =
	/** 190: the token is invalid or expired; stop the batch, nothing else can succeed. */
	| 'invalidToken'
	/** 4, 17, 32, 613, 80001, 80006: throttled (app, user, Page, custom; the Pages and Messenger use-case limits); back off and retry a few times. */
	| 'throttled'
	/** 2: Graph's "temporary, retry later"; 1200: Messenger's "temporary send message failure, please try again later"; a few retries. */
	| 'temporary'
	/** 10 / 2018278: outside the 24 h window; skipped, never retried with a tag. */
	| 'outsideWindow'
	/** 551 / 1545041: the person is not available; skipped and the contact is stopped. */
	| 'unavailable'
	/** 100 / 2018001: no matching user; failed for good. */
	| 'noMatchingUser'
	/** Anything else: failed for good, the error kept for a person to read. */
	| 'rejected';

const TEMPORARY_SEND_FAILURE = 1200;
const OUTSIDE_WINDOW_SUBCODE = 2018278;
const UNAVAILABLE_SUBCODE = 1545041;
const NO_MATCHING_USER_SUBCODE = 2018001;
// The subcode of "outside the window" is not confirmed by Meta's current docs, so the message is
// matched too: a code 10 whose text speaks of the allowed window is the window refusal. Meta's text
// as Meta wrote it (metaSaid), never its redacted copy: a redaction must not change an outcome.
const OUTSIDE_WINDOW_MESSAGE = /outside (of )?(the )?allowed window|24[- ]hour/i;

export function reactionTo(error: GraphError): GraphErrorReaction {
	const { code, subcode } = error;
	if (code === 190) return 'invalidToken';
	if (isPageThrottling(error)) return 'throttled';
	// Code 1 is not among them: Meta lists 1 / 1357046 for messages that were all sent although the
	// answer is an error, so trying again could send twice.
	if (code === 2 || code === TEMPORARY_SEND_FAILURE) return 'temporary';
	if (code === 10 && (subcode === OUTSIDE_WINDOW_SUBCODE || OUTSIDE_WINDOW_MESSAGE.test(metaSaid(error)))) return 'outsideWindow';
	// 551 means "person not available" with or without its usual subcode.
	if (code === 551 || subcode === UNAVAILABLE_SUBCODE) return 'unavailable';
	if (code === 100 && subcode === NO_MATCHING_USER_SUBCODE) return 'noMatchingUser';
	return 'rejected';
}
