// WhatsApp Cloud API error bodies. The Cloud API is built on the Graph API, so an error is Graph's
// `{error: {message, type, code, fbtrace_id}}` plus `error_data: {messaging_product: "whatsapp",
// details}`; the message is "(#code) Title" (Meta asks senders to branch on `code` and `details`,
// never on the title; `error_subcode` is no longer sent since v16.0). Codes and titles follow Meta's
// "WhatsApp error codes" page; HTTP statuses too, where sources disagree (131056: 400 or 429) the
// one a sender must survive either way is used (429), and senders here never branch on the status.
import { randomBytes } from 'node:crypto';
import type { Answer } from './engine';

interface KnownError {
	title: string;
	details: string;
	status: number;
}

export const WHATSAPP_ERRORS: Record<number, KnownError> = {
	100: { title: 'Invalid parameter', details: 'The request included one or more unsupported or misspelled parameters.', status: 400 },
	131000: { title: 'Something went wrong', details: 'Message failed to send due to an unknown error.', status: 500 },
	131008: { title: 'Required parameter is missing', details: 'The request is missing a required parameter.', status: 400 },
	131009: { title: 'Parameter value is not valid', details: 'One or more parameter values are invalid.', status: 400 },
	131026: {
		title: 'Message undeliverable',
		details: 'Unable to deliver message. The recipient phone number is not a WhatsApp phone number, has not accepted the latest Terms of Service, or uses an outdated WhatsApp client.',
		status: 400,
	},
	131047: {
		title: 'Re-engagement message',
		details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
		status: 400,
	},
	131056: {
		title: '(Business Account, Consumer Account) pair rate limit hit',
		details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
		status: 429,
	},
	131031: { title: 'Business Account locked', details: 'The WhatsApp Business Account is locked (a policy violation, or its data could not be verified): it can send no message.', status: 403 },
	131042: { title: 'Business eligibility payment issue', details: 'Message failed to send: the WhatsApp Business Account has a payment problem (no valid payment method, a credit line over its limit, or billing not set up).', status: 400 },
	131049: {
		title: 'Meta chose not to deliver',
		details: 'This message was not delivered to maintain healthy ecosystem engagement (the recipient\'s limit of marketing messages). Try again later, not at once.',
		status: 400,
	},
	131050: { title: 'User has stopped marketing messages', details: 'The recipient chose to stop receiving marketing messages from this business.', status: 400 },
	130429: { title: 'Rate limit hit', details: 'Cloud API message throughput has been reached.', status: 429 },
	132001: { title: 'Template name does not exist in the translation', details: 'The template does not exist in the specified language or has not been approved.', status: 404 },
};

export interface WhatsAppErrorInput {
	code: number;
	/** Default: the code's own details. */
	details?: string;
	/** Default: "(#code) Title". */
	message?: string;
	status?: number;
	type?: string;
}

const traceId = () => randomBytes(8).toString('base64').replace(/=+$/, '');

export function whatsappError(input: WhatsAppErrorInput): Answer {
	if (input.code === 190) return expiredToken(input.status, input.message);
	const known = WHATSAPP_ERRORS[input.code];
	const fbtraceId = traceId();
	return {
		status: input.status ?? known?.status ?? 400,
		headers: { 'x-fb-trace-id': fbtraceId },
		body: {
			error: {
				message: input.message ?? `(#${input.code}) ${known?.title ?? 'Simulated WhatsApp error'}`,
				type: input.type ?? 'OAuthException',
				code: input.code,
				error_data: { messaging_product: 'whatsapp', details: input.details ?? known?.details ?? 'Simulated error.' },
				fbtrace_id: fbtraceId,
			},
		},
	};
}

/** An invalid or expired access token: Graph's code 190, HTTP 401 on the Cloud API. */
export function expiredToken(status = 401, message = 'Error validating access token: Session has expired or the token is invalid.'): Answer {
	const fbtraceId = traceId();
	return {
		status,
		headers: { 'x-fb-trace-id': fbtraceId },
		body: { error: { message, type: 'OAuthException', code: 190, fbtrace_id: fbtraceId } },
	};
}

/** A parameter problem, worded as Graph words them ("(#100) The parameter to is required."). */
export const whatsappInvalidParameter = (message: string, details?: string): Answer => whatsappError({ code: 100, message, ...(details !== undefined && { details }) });

/** An `http` fault on a WhatsApp request: the Cloud API error that fits the status. */
export function whatsappErrorForStatus(status: number, message?: string): Answer {
	const extra = message !== undefined ? { message } : {};
	if (status === 429) return whatsappError({ code: 130429, status, ...extra });
	if (status === 401) return expiredToken(status, message);
	if (status >= 500) return whatsappError({ code: 131000, status, ...extra });
	return whatsappError({ code: 100, status, ...extra });
}
