// A webhook delivery's body, read: `{object: 'page', entry: [{id, time, messaging: [...]}]}` into
// the events the database records (messenger_record_events), and the events it does not record,
// each with the reason. Pure: no I/O, so every shape Meta may send is tested on its own.
// An event is recorded only when the database takes every field of it (leadflow_private.
// messenger_record, supabase/migrations/20261201001440_messenger_echo_takeover_after_sync.sql,
// refuses the whole call with 22023 otherwise): ids of digits, a message id of 1 to 512 characters
// without whitespace or control characters, a time or watermark from 0 to the year 3000, a text of
// at most 20,000 characters. Anything else is ignored here with its reason, so one odd event never
// fails the delivery's other events (a 500 Meta would deliver again and again).
import type { MessengerEvent } from '../../shared/contract';
import { isRecordableTime, LAST_MESSENGER_TIME, messageIdProblem, storableText } from '../../shared/messenger-text';

/** An event the trigger does not record, and why. */
export interface IgnoredEvent {
	page_id: string | null;
	psid: string | null;
	/** The event's kind as Meta named it (message, reaction, optin, …). */
	type: string;
	reason: 'other_page' | 'unsupported_event' | 'no_message_id' | 'invalid_event';
	detail?: string;
}

/** What an event carries besides what the database records (attachments, quick replies, the sending app). */
export interface EventExtras {
	attachments?: Array<{ type: string; url?: string }>;
	quick_reply_payload?: string;
	postback_payload?: string;
	app_id?: string | null;
	/** The message this one replies to, when the person used Messenger's reply. */
	reply_to?: string;
}

export interface ReadDelivery {
	events: MessengerEvent[];
	/** Same order as `events`. */
	extras: EventExtras[];
	ignored: IgnoredEvent[];
}

export type DeliveryProblem = { status: 400; error: 'invalid_json' | 'invalid_delivery'; message: string };

export type DeliveryRead = { ok: true; object: string; delivery: ReadDelivery } | { ok: false; problem: DeliveryProblem };

const DIGITS = /^[0-9]{1,32}$/;
const MAX_TEXT = 20_000;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
/** Meta sends ids as strings; app ids as numbers. Either, as digits. */
const idOf = (value: unknown): string | null => {
	const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
	return typeof text === 'string' && DIGITS.test(text) ? text : null;
};
const idAt = (value: unknown, field: string): string | null => (isObject(value) ? idOf(value[field]) : null);

/**
 * Reads a signed body. `onlyPage`: events of other Pages are ignored (`other_page`); null accepts
 * every Page (each is then resolved to its owner by the database).
 */
export function readDelivery(rawBody: Buffer, onlyPage: string | null): DeliveryRead {
	let body: unknown;
	try {
		body = JSON.parse(rawBody.toString('utf8'));
	} catch {
		return { ok: false, problem: { status: 400, error: 'invalid_json', message: 'The body is not JSON.' } };
	}
	if (!isObject(body) || typeof body.object !== 'string') {
		return { ok: false, problem: { status: 400, error: 'invalid_delivery', message: 'The body has no `object`: it is not a Meta webhook delivery.' } };
	}
	if (!Array.isArray(body.entry)) {
		return { ok: false, problem: { status: 400, error: 'invalid_delivery', message: '`entry` must be an array of entries.' } };
	}
	const delivery: ReadDelivery = { events: [], extras: [], ignored: [] };
	if (body.object !== 'page') return { ok: true, object: body.object, delivery };

	for (const entry of body.entry) {
		if (!isObject(entry)) {
			delivery.ignored.push({ page_id: null, psid: null, type: 'entry', reason: 'invalid_event', detail: 'an entry is not an object' });
			continue;
		}
		const pageId = idOf(entry.id);
		// Messenger events arrive in `messaging`; under conversation routing, those of conversations
		// another app controls in `standby`: the person's messages all the same.
		const events = [...(Array.isArray(entry.messaging) ? entry.messaging : []), ...(Array.isArray(entry.standby) ? entry.standby : [])];
		if (!Array.isArray(entry.messaging) && !Array.isArray(entry.standby)) {
			// Page feed changes and the like: not Messenger.
			delivery.ignored.push({ page_id: pageId, psid: null, type: Array.isArray(entry.changes) ? 'changes' : 'entry', reason: 'unsupported_event' });
			continue;
		}
		for (const event of events) readEvent(event, pageId, onlyPage, delivery);
	}
	return { ok: true, object: 'page', delivery };
}

function readEvent(event: unknown, entryPage: string | null, onlyPage: string | null, delivery: ReadDelivery): void {
	if (!isObject(event)) {
		delivery.ignored.push({ page_id: entryPage, psid: null, type: 'event', reason: 'invalid_event', detail: 'an event is not an object' });
		return;
	}
	const kind = kindOf(event);
	const message = isObject(event.message) ? event.message : undefined;
	const isEcho = message?.is_echo === true;
	// The person is the sender, except in an echo, where the Page sent it to them.
	const psid = isEcho ? idAt(event.recipient, 'id') : idAt(event.sender, 'id');
	const pageId = (isEcho ? idAt(event.sender, 'id') : idAt(event.recipient, 'id')) ?? entryPage;
	const ignore = (reason: IgnoredEvent['reason'], detail?: string) =>
		void delivery.ignored.push({ page_id: pageId, psid, type: kind, reason, ...(detail !== undefined && { detail }) });

	if (pageId === null || (entryPage !== null && pageId !== entryPage)) return ignore('invalid_event', 'the Page id is missing or differs from the entry’s');
	if (onlyPage !== null && pageId !== onlyPage) return ignore('other_page', `Page ${pageId} is not the credential’s Page`);
	if (psid === null) return ignore('invalid_event', isEcho ? 'recipient.id is not a page-scoped id' : 'sender.id is not a page-scoped id');

	const timestamp = event.timestamp;
	const validTime = isRecordableTime(timestamp);
	/** What is wrong with a message id, or undefined when the database takes it. */
	const midProblem = (mid: string, field: string) => {
		const problem = messageIdProblem(mid);
		return problem === undefined ? undefined : `${field} ${problem}`;
	};

	switch (kind) {
		case 'message':
		case 'echo': {
			const mid = message?.mid;
			if (typeof mid !== 'string' || mid === '') return ignore('no_message_id');
			const badMid = midProblem(mid, 'message.mid');
			if (badMid !== undefined) return ignore('invalid_event', badMid);
			if (!validTime) return ignore('invalid_event', 'timestamp is not epoch milliseconds up to the year 3000');
			const text = typeof message?.text === 'string' ? storableText(message.text, MAX_TEXT) : null;
			delivery.events.push({
				type: kind,
				page_id: pageId,
				psid,
				mid,
				text,
				timestamp,
				...(kind === 'echo' && { app_id: idOf(message?.app_id) }),
			});
			delivery.extras.push(messageExtras(message, kind === 'echo'));
			return;
		}
		case 'postback': {
			const postback = event.postback as Json;
			const mid = postback.mid;
			if (typeof mid !== 'string' || mid === '') return ignore('no_message_id');
			const badMid = midProblem(mid, 'postback.mid');
			if (badMid !== undefined) return ignore('invalid_event', badMid);
			if (!validTime) return ignore('invalid_event', 'timestamp is not epoch milliseconds up to the year 3000');
			const title = typeof postback.title === 'string' ? storableText(postback.title, MAX_TEXT) : null;
			delivery.events.push({ type: 'postback', page_id: pageId, psid, mid, text: title, timestamp });
			delivery.extras.push(typeof postback.payload === 'string' ? { postback_payload: postback.payload } : {});
			return;
		}
		case 'delivery':
		case 'read': {
			const watermark = (event[kind] as Json).watermark;
			if (typeof watermark !== 'number' || !Number.isFinite(watermark) || watermark < 0 || watermark > LAST_MESSENGER_TIME) {
				return ignore('invalid_event', 'watermark is not epoch milliseconds up to the year 3000');
			}
			delivery.events.push({ type: kind, page_id: pageId, psid, watermark: Math.floor(watermark) });
			delivery.extras.push({});
			return;
		}
		default:
			return ignore('unsupported_event');
	}
}

/** The event's kind: the Messenger field it carries (message, echo, postback, delivery, read, reaction, optin, …). */
function kindOf(event: Json): string {
	if (isObject(event.message)) return event.message.is_echo === true ? 'echo' : 'message';
	for (const kind of ['postback', 'delivery', 'read']) if (isObject(event[kind])) return kind;
	const known = ['reaction', 'message_edit', 'optin', 'referral', 'account_linking', 'pass_thread_control', 'take_thread_control', 'request_thread_control', 'app_roles', 'policy_enforcement', 'game_play'];
	return known.find((kind) => kind in event) ?? 'unknown';
}

function messageExtras(message: Json | undefined, isEcho: boolean): EventExtras {
	const extras: EventExtras = {};
	if (Array.isArray(message?.attachments)) {
		extras.attachments = message.attachments.filter(isObject).map((attachment) => {
			const payload = isObject(attachment.payload) ? attachment.payload : {};
			return { type: typeof attachment.type === 'string' ? attachment.type : 'unknown', ...(typeof payload.url === 'string' && { url: payload.url }) };
		});
	}
	if (isObject(message?.quick_reply) && typeof message.quick_reply.payload === 'string') extras.quick_reply_payload = message.quick_reply.payload;
	if (isObject(message?.reply_to) && typeof message.reply_to.mid === 'string') extras.reply_to = message.reply_to.mid;
	if (isEcho) extras.app_id = idOf(message?.app_id);
	return extras;
}
