// The Send API's own checks on a `POST /{page}/messages` body, in the order Graph applies them,
// and the 24 h standard messaging window: RESPONSE and UPDATE need the person's last message to be
// under 24 h old, HUMAN_AGENT under 7 days, other documented tags pass.
import type { Answer } from './engine';
import { graphError, invalidParameter } from './graph-errors';
import { isRecord } from './http';

export const MESSAGING_TYPES = ['RESPONSE', 'UPDATE', 'MESSAGE_TAG'] as const;
export const MESSAGE_TAGS = ['ACCOUNT_UPDATE', 'CONFIRMED_EVENT_UPDATE', 'POST_PURCHASE_UPDATE', 'HUMAN_AGENT', 'CUSTOMER_FEEDBACK'] as const;
export const MAX_TEXT_CHARACTERS = 2000;

const HOUR_MS = 3_600_000;
const STANDARD_WINDOW_MS = 24 * HOUR_MS;
const HUMAN_AGENT_WINDOW_MS = 7 * 24 * HOUR_MS;

export interface SendRequest {
	recipientId: string;
	messagingType: string;
	tag?: string;
	/** Absent for attachments and sender actions. */
	text?: string;
	senderAction?: string;
}

export type CheckedSend = { ok: true; send: SendRequest } | { ok: false; answer: Answer };

const refuse = (answer: Answer): CheckedSend => ({ ok: false, answer });

export function recipientIdOf(params: Record<string, unknown>): string | undefined {
	const recipient = params.recipient;
	if (!isRecord(recipient)) return undefined;
	const id = recipient.id;
	return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

export function checkSend(params: Record<string, unknown>): CheckedSend {
	if (params.recipient === undefined) return refuse(invalidParameter('(#100) The parameter recipient is required'));
	const recipientId = recipientIdOf(params);
	if (!recipientId) return refuse(invalidParameter('(#100) param recipient[id] must be a valid ID string (e.g., "123")'));

	const senderAction = params.sender_action;
	if (senderAction !== undefined && params.message === undefined) {
		if (!['typing_on', 'typing_off', 'mark_seen'].includes(String(senderAction))) {
			return refuse(invalidParameter('(#100) param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF}'));
		}
		return { ok: true, send: { recipientId, messagingType: 'RESPONSE', senderAction: String(senderAction) } };
	}

	const messagingType = params.messaging_type;
	if (messagingType === undefined) return refuse(invalidParameter('(#100) The parameter messaging_type is required'));
	if (typeof messagingType !== 'string' || !(MESSAGING_TYPES as readonly string[]).includes(messagingType)) {
		return refuse(invalidParameter(`(#100) param messaging_type must be one of {${MESSAGING_TYPES.join(', ')}} - got "${String(messagingType)}"`));
	}
	const tag = params.tag;
	if (messagingType === 'MESSAGE_TAG' && (tag === undefined || tag === '')) {
		return refuse(invalidParameter('(#100) Tag is required for MESSAGE_TAG messaging type.'));
	}
	if (tag !== undefined && (typeof tag !== 'string' || !(MESSAGE_TAGS as readonly string[]).includes(tag))) {
		return refuse(invalidParameter(`(#100) param tag must be one of {${MESSAGE_TAGS.join(', ')}} - got "${String(tag)}"`));
	}

	const message = params.message;
	if (message === undefined) return refuse(invalidParameter('(#100) The parameter message is required'));
	if (!isRecord(message)) return refuse(invalidParameter('(#100) param message must be a JSON object'));
	const text = message.text;
	if (text === undefined && message.attachment === undefined) {
		return refuse(invalidParameter('(#100) Must send either message[text] or message[attachment]'));
	}
	if (text !== undefined) {
		if (typeof text !== 'string' || text === '') return refuse(invalidParameter('(#100) param message[text] must be a non-empty UTF-8 encoded string'));
		// Meta counts characters, not bytes or UTF-16 units.
		if ([...text].length > MAX_TEXT_CHARACTERS) {
			return refuse(invalidParameter(`(#100) Length of param message[text] must be less than or equal to ${MAX_TEXT_CHARACTERS}`));
		}
	}
	return {
		ok: true,
		send: { recipientId, messagingType, ...(typeof tag === 'string' && { tag }), ...(typeof text === 'string' && { text }) },
	};
}

/** The outside-window refusal if the person's last message is too old for this send; else undefined. */
export function windowRefusal(send: SendRequest, lastCustomerMessageAt: number | undefined, now: number): Answer | undefined {
	if (lastCustomerMessageAt === undefined || send.senderAction) return undefined;
	const age = now - lastCustomerMessageAt;
	const allowed =
		send.messagingType === 'MESSAGE_TAG' ? (send.tag === 'HUMAN_AGENT' ? age <= HUMAN_AGENT_WINDOW_MS : true) : age <= STANDARD_WINDOW_MS;
	return allowed ? undefined : graphError({ code: 10, subcode: 2018278 });
}
