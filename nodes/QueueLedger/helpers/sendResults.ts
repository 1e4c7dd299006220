// What a WhatsApp Cloud API answer means for a queued message, decided by Meta's error `code` (never
// by the HTTP status or the wording), and the result Complete records:
//   sent      accepted by Meta (its message id kept)
//   failed    not sent; tried again after the owner's backoff, or never again when `permanent`
//             (trying again cannot help: not on WhatsApp, unknown template, outside the 24 h window,
//             a malformed message) or when it may have been delivered (no answer: never sent twice)
//   released  not attempted (the batch stopped: the token was refused, the business account cannot
//             send, or the number's throughput limit was hit): back to the queue without counting an attempt
import type { IDataObject } from 'n8n-workflow';
import type { GraphError } from '../../shared/graph';
import type { CloudAnswer } from '../transport/whatsapp';

export interface SendError extends IDataObject {
	/** Meta's code as text (e.g. "131026"), or ours: invalid_token, business_account, not_sent, uncertain, invalid_message, not_attempted, and Send's own
	 * not_checked, not_held, cancelled, phone_changed … (released: queue_begin_send failed or refused it). */
	code: string;
	message: string;
	/** Trying again cannot help (or could send twice). */
	permanent: boolean;
	/** Rate limits: not before this many seconds. */
	retry_after_seconds?: number;
	/** Meta's `error_data.details`. */
	details?: string;
}

export interface SendOutcome {
	outcome: 'sent' | 'failed' | 'released';
	message_id: string | null;
	error: SendError | null;
}

/** Why the rest of a batch is not attempted. */
export type BatchStop = 'invalid_token' | 'business_account' | 'throughput';

/**
 * Recipient, message or template problems: a retry sends the same thing and fails the same way.
 * Complete gives the message up (dead); 131026 (the recipient cannot be reached) makes its lead
 * invalid; 131050 (the person stopped the business's marketing messages) leaves it as it is, never
 * queued again by itself; for the others, the owner's setup, the lead is new again (docs/whatsapp.md).
 */
const PERMANENT_CODES = new Set([100, 131008, 131009, 131021, 131026, 131047, 131050, 131051, 131052, 132000, 132001, 132005, 132007, 132012, 132015, 132016, 133010]);
/**
 * The business account cannot send to anyone until its owner acts: 131042 (a payment problem of
 * the account), 131031 (the account is locked). Like a refused token: the batch stops, its messages
 * go back to the queue untried, and the run fails with what to do.
 */
const BUSINESS_ACCOUNT_CODES: ReadonlyMap<number, string> = new Map([
	[131042, 'a payment problem of the WhatsApp Business Account'],
	[131031, 'the WhatsApp Business Account is locked'],
]);
/** The app's or the number's throughput (130429, Graph's 4 and 80007): stop sending for now. */
const THROUGHPUT_CODES = new Set([4, 80007, 130429]);
/** Tokens refused (190) or never authenticated (0 AuthException): nothing else in the batch can go. */
const TOKEN_CODES = new Set([0, 190]);
const PAIR_RATE_LIMIT = 131056;
const SPAM_RATE_LIMIT = 131048;
/** Meta chose not to deliver, "to maintain healthy ecosystem engagement" (the person's marketing limit): try again a day later, as Meta advises. */
const ECOSYSTEM_LIMIT = 131049;
const ECOSYSTEM_REST_SECONDS = 86400;
const RATE_LIMIT_REST_SECONDS = 60;
const SPAM_REST_SECONDS = 3600;

const sent = (messageId: string): SendOutcome => ({ outcome: 'sent', message_id: messageId, error: null });
const failed = (error: SendError): SendOutcome => ({ outcome: 'failed', message_id: null, error });

function cloudError(error: GraphError, permanent: boolean, extra: Partial<SendError> = {}): SendError {
	return { code: String(error.code), message: error.message, permanent, ...(error.details !== undefined && { details: error.details }), ...extra };
}

export function outcomeOf(answer: CloudAnswer): { outcome: SendOutcome; stop?: BatchStop } {
	switch (answer.kind) {
		case 'accepted':
			return { outcome: sent(answer.messageId) };
		case 'notSent':
			return { outcome: failed({ code: 'not_sent', message: `The WhatsApp Cloud API was not reached (${answer.detail}); the message was not sent`, permanent: false }) };
		case 'uncertain':
			return {
				outcome: failed({
					code: 'uncertain',
					message: `No answer from the WhatsApp Cloud API (${answer.detail}): the message may have been delivered, so it is not tried again (it would be sent twice)`,
					permanent: true,
				}),
			};
		case 'cloudError': {
			const { error } = answer;
			if (TOKEN_CODES.has(error.code) || answer.status === 401) {
				return {
					outcome: { outcome: 'released', message_id: null, error: cloudError(error, false, { code: 'invalid_token', message: `The WhatsApp access token was refused (${error.code}): ${error.message}` }) },
					stop: 'invalid_token',
				};
			}
			const account = BUSINESS_ACCOUNT_CODES.get(error.code);
			if (account !== undefined) {
				return {
					outcome: { outcome: 'released', message_id: null, error: cloudError(error, false, { code: 'business_account', message: `WhatsApp refused to send for the business account (${error.code}, ${account}): ${error.message}` }) },
					stop: 'business_account',
				};
			}
			if (THROUGHPUT_CODES.has(error.code)) return { outcome: failed(cloudError(error, false, { retry_after_seconds: RATE_LIMIT_REST_SECONDS })), stop: 'throughput' };
			if (error.code === PAIR_RATE_LIMIT) return { outcome: failed(cloudError(error, false, { retry_after_seconds: RATE_LIMIT_REST_SECONDS })) };
			if (error.code === SPAM_RATE_LIMIT) return { outcome: failed(cloudError(error, false, { retry_after_seconds: SPAM_REST_SECONDS })) };
			if (error.code === ECOSYSTEM_LIMIT) return { outcome: failed(cloudError(error, false, { retry_after_seconds: ECOSYSTEM_REST_SECONDS })) };
			return { outcome: failed(cloudError(error, PERMANENT_CODES.has(error.code))) };
		}
	}
}

/** A message not attempted because the batch stopped. */
export function notAttempted(stop: BatchStop | 'cancelled'): SendOutcome {
	const why = {
		invalid_token: 'the WhatsApp access token was refused earlier in the batch',
		business_account: 'WhatsApp refused to send for the business account earlier in the batch (payment or account locked)',
		throughput: 'the phone number\'s throughput limit was hit earlier in the batch',
		cancelled: 'the execution was cancelled',
	}[stop];
	return { outcome: 'released', message_id: null, error: { code: 'not_attempted', message: `Not sent: ${why}`, permanent: false } };
}
