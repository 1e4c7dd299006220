// A page of the Conversations endpoint's answer, read (pure): each conversation's person (the
// participant who is not the Page), its update time, and its messages as the events the database
// records (a message from the Page is an echo; the sync cannot know which app sent it, so the
// database records it as outbound and nothing else). Graph writes times as `2026-11-25T12:00:00+0000`.
import type { MessengerEvent } from '../../shared/contract';
import { isRecordableTime, messageIdProblem, storableName, storableText } from '../../shared/messenger-text';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const DIGITS = /^[0-9]{1,32}$/;

/** Epoch milliseconds of a Graph time, or undefined. */
export function graphTimeMs(value: unknown): number | undefined {
	if (typeof value !== 'string') return undefined;
	const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
	return Number.isFinite(ms) ? ms : undefined;
}

export interface ReadConversation {
	id: string;
	psid: string | null;
	name: string | null;
	updatedMs: number | undefined;
	events: MessengerEvent[];
	/** The `after` cursor of the conversation's older messages, when there are more than the page held (NO_CURSOR: Graph said so without one). */
	moreMessagesAfter: NextCursor;
	/** The oldest message read so far (epoch ms). */
	oldestMs: number | undefined;
	/** Messages Graph gave that could not be read (no usable id, no time, no person): not recorded, counted in the page's errors. */
	unreadable: number;
}

export interface ReadPage {
	conversations: ReadConversation[];
	/** The cursor of the next page, when Graph says there is one (NO_CURSOR: Graph said so without one). */
	nextAfter: NextCursor;
}

/** Graph gave a `next` link with no cursor, in `paging.cursors.after` or in the link: more follows, but there is no cursor to ask for it by. */
export const NO_CURSOR = Symbol('next page without a cursor');

/** The `after` cursor of an edge's next page; null when it is the last (no `next`); NO_CURSOR when Graph gives a next page without one. */
export type NextCursor = string | null | typeof NO_CURSOR;

/**
 * The next page of a cursor-paged edge. Meta: `next` is there while more follows, and only its
 * absence ends the list; a page may be empty (filtered for privacy) and still have a `next` link,
 * possibly without `cursors` (which describe the data returned, here none). So `next` decides, and
 * the cursor is `paging.cursors.after`, else the `after` parameter of the `next` link (only the
 * cursor is taken from the link: it is never requested as it is, with whatever host or token it
 * names).
 */
export function cursorAfter(edge: unknown): NextCursor {
	if (!isObject(edge) || !isObject(edge.paging) || typeof edge.paging.next !== 'string') return null;
	const cursors = isObject(edge.paging.cursors) ? edge.paging.cursors : {};
	if (typeof cursors.after === 'string' && cursors.after !== '') return cursors.after;
	let linked: string | null = null;
	try {
		linked = new URL(edge.paging.next).searchParams.get('after');
	} catch {
		linked = null;
	}
	return linked !== null && linked !== '' ? linked : NO_CURSOR;
}

export function readConversationsPage(body: unknown, pageId: string): ReadPage {
	const data = isObject(body) && Array.isArray(body.data) ? body.data : [];
	return { conversations: data.filter(isObject).map((conversation) => readConversation(conversation, pageId)), nextAfter: cursorAfter(body) };
}

function readConversation(conversation: Json, pageId: string): ReadConversation {
	const participants = isObject(conversation.participants) && Array.isArray(conversation.participants.data) ? conversation.participants.data.filter(isObject) : [];
	const person = participants.find((participant) => String(participant.id) !== pageId);
	const psid = person && DIGITS.test(String(person.id)) ? String(person.id) : null;
	const name = person ? storableName(person.name) : null;
	const read: ReadConversation = {
		id: String(conversation.id ?? ''),
		psid,
		name,
		updatedMs: graphTimeMs(conversation.updated_time),
		events: [],
		moreMessagesAfter: cursorAfter(conversation.messages),
		oldestMs: undefined,
		unreadable: 0,
	};
	addMessages(read, conversation.messages, pageId);
	return read;
}

/** Adds a messages edge's page (the expansion's, or one read from the conversation's own edge). */
/** `known`: the mids read already, when the edge is read again from its newest message (skipped, then added to). */
export function addMessages(conversation: ReadConversation, edge: unknown, pageId: string, known?: Set<string>): void {
	const messages = isObject(edge) && Array.isArray(edge.data) ? edge.data.filter(isObject) : [];
	for (const message of messages) {
		const mid = typeof message.id === 'string' ? message.id : '';
		const timestamp = graphTimeMs(message.created_time);
		const from = isObject(message.from) ? String(message.from.id ?? '') : '';
		// What the database would refuse (and refuse the whole page's call for) is counted unreadable.
		if (messageIdProblem(mid) !== undefined || !isRecordableTime(timestamp) || conversation.psid === null) {
			conversation.unreadable += 1;
			continue;
		}
		if (known !== undefined) {
			if (known.has(mid)) continue;
			known.add(mid);
		}
		conversation.events.push({
			type: from === pageId ? 'echo' : 'message',
			page_id: pageId,
			psid: conversation.psid,
			mid,
			text: typeof message.message === 'string' ? storableText(message.message) : null,
			timestamp,
			...(conversation.name !== null && { name: conversation.name }),
		});
		conversation.oldestMs = conversation.oldestMs === undefined ? timestamp : Math.min(conversation.oldestMs, timestamp);
	}
	conversation.moreMessagesAfter = cursorAfter(edge);
}
