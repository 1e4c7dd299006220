// The Graph API's Conversations endpoint for Messenger, with a per-Page rate limit:
//   GET /{version}/{page-id}/conversations?platform=messenger&fields=participants,updated_time,
//       messages.limit(n){id,message,from,to,created_time}&limit=n&after=<cursor>
//   GET /{version}/{conversation-id}/messages?fields=…&limit=n&after=<cursor>
// Conversations come newest update first, messages newest first, both with cursor paging only
// (`paging.cursors.{before,after}` and `paging.next` while more follow), as Graph pages them.
// Field expansion (`messages.limit(25){…}`, `messages{…}`) is parsed as Graph writes it; a
// conversation's messages beyond the expanded limit are read from its own messages edge.
// Page sizes: at most 100 conversations and 100 messages a page (larger limits are cut to 100).
//
// Rate: at most `perSecond` calls (default 2, the Conversations API's published rate per Page) in
// any second for a Page, the calls on its conversations' messages included; a call over it is
// refused with Graph's code 32 (Page request limit reached) and does not count.
//
// Control routes (under /__sim):
//   POST   /conversations            {pageId, conversations: [{psid, name?, updatedTime?, messages: [{id?, text, from: 'person'|'page', createdTime}]}]}
//                                    adds (or replaces, same psid) a Page's conversations
//   POST   /conversations/generate   {pageId, count, messagesPerConversation, newest?: ISO|ms, stepMs?, psidStart?}
//                                    count conversations, updated `stepMs` apart from `newest` back
//   GET    /conversations/stats      {pages: {pageId: {conversations, messages}}, calls: {pageId: n}, throttled: {pageId: n}}
//   DELETE /conversations            forgets every conversation
//   POST   /conversations/rate       {perSecond}  (0: no limit)
import type { Answer } from './engine';
import { graphError, invalidParameter } from './graph-errors';
import { isRecord } from './http';

interface StoredMessage {
	id: string;
	text: string;
	fromPage: boolean;
	createdTime: number;
}

interface StoredConversation {
	id: string;
	pageId: string;
	psid: string;
	name: string;
	updatedTime: number;
	/** Newest first. */
	messages: StoredMessage[];
}

export interface ConversationsOptions {
	/** Calls per second per Page; default 2; 0 turns the limit off. */
	perSecond?: number;
}

const PAGE_CONVERSATIONS = /^(?:\/(v\d+\.\d+))?\/([0-9]+)\/conversations\/?$/;
const CONVERSATION_MESSAGES = /^(?:\/(v\d+\.\d+))?\/(t_[A-Za-z0-9_-]+)\/messages\/?$/;
const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 25;

/** Graph's time format: `2026-11-25T12:00:00+0000`. */
const graphTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
const encodeCursor = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
function decodeCursor(cursor: unknown): Record<string, unknown> | null | undefined {
	if (cursor === undefined || cursor === '') return undefined;
	try {
		const value = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as unknown;
		return isRecord(value) ? value : null;
	} catch {
		return null;
	}
}

interface FieldSpec {
	name: string;
	limit?: number;
	subfields?: FieldSpec[];
}

/** Graph's field list: `a,b.limit(5){c,d{e}}`. */
export function parseFields(text: string): FieldSpec[] {
	const fields: FieldSpec[] = [];
	let index = 0;
	const readList = (): FieldSpec[] => {
		const list: FieldSpec[] = [];
		while (index < text.length && text[index] !== '}') {
			const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(index));
			if (!match) throw new Error(`unexpected "${text.slice(index, index + 10)}"`);
			const spec: FieldSpec = { name: match[0] };
			index += match[0].length;
			while (text[index] === '.') {
				const modifier = /^\.([a-z_]+)\(([^)]*)\)/.exec(text.slice(index));
				if (!modifier) throw new Error(`unexpected "${text.slice(index, index + 10)}"`);
				if (modifier[1] === 'limit') spec.limit = Number(modifier[2]);
				index += modifier[0].length;
			}
			if (text[index] === '{') {
				index += 1;
				spec.subfields = readList();
				if (text[index] !== '}') throw new Error('unclosed "{"');
				index += 1;
			}
			list.push(spec);
			if (text[index] === ',') index += 1;
		}
		return list;
	};
	fields.push(...readList());
	if (index !== text.length) throw new Error(`unexpected "${text.slice(index, index + 10)}"`);
	return fields;
}

export class MessengerConversations {
	private conversations = new Map<string, StoredConversation[]>();
	private byId = new Map<string, StoredConversation>();
	private perSecond: number;
	private recentCalls = new Map<string, number[]>();
	private calls = new Map<string, number>();
	private throttled = new Map<string, number>();
	private counter = 0;

	constructor(private readonly options: ConversationsOptions = {}) {
		this.perSecond = options.perSecond ?? 2;
	}

	/** The Page a request is about, when it is one of these endpoints (the conversation's Page for its messages edge). */
	pageOf(path: string): string | undefined {
		const page = PAGE_CONVERSATIONS.exec(path);
		if (page) return page[2];
		const thread = CONVERSATION_MESSAGES.exec(path);
		if (thread) return this.byId.get(thread[2])?.pageId ?? '';
		return undefined;
	}

	/** `authorize(pageId)`: undefined when the request's token may read the Page, else Graph's refusal. */
	answer(method: string, url: URL, params: Record<string, unknown>, authorize: (pageId: string) => Answer | undefined): Answer {
		const pageId = this.pageOf(url.pathname) ?? '';
		if (method !== 'GET') return graphError({ code: 100, subcode: 33, message: `Unsupported ${method.toLowerCase()} request.` });
		const thread = CONVERSATION_MESSAGES.exec(url.pathname);
		if (thread && pageId === '') {
			return graphError({ code: 100, subcode: 33, message: `Unsupported get request. Object with ID '${thread[2]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.` });
		}
		const refused = authorize(pageId);
		if (refused) return refused;
		if (!this.takeCall(pageId)) {
			this.throttled.set(pageId, (this.throttled.get(pageId) ?? 0) + 1);
			return graphError({ code: 32 });
		}
		this.calls.set(pageId, (this.calls.get(pageId) ?? 0) + 1);

		let fields: FieldSpec[];
		try {
			fields = parseFields(typeof params.fields === 'string' && params.fields !== '' ? params.fields : thread ? 'id,message,created_time' : 'id,updated_time');
		} catch (error) {
			return invalidParameter(`(#100) Syntax error in fields: ${(error as Error).message}`);
		}
		const limit = this.limitOf(params.limit, DEFAULT_LIMIT);
		if (typeof limit !== 'number') return limit;
		const after = decodeCursor(params.after);
		if (after === null) return invalidParameter('(#100) The after cursor is not valid');

		if (thread) {
			const conversation = this.byId.get(thread[2]) as StoredConversation;
			return { status: 200, body: this.messagesEdge(conversation, fields, limit, after, url) };
		}
		if (params.platform !== undefined && params.platform !== 'messenger') {
			return { status: 200, body: { data: [] } };
		}
		const all = this.conversations.get(pageId) ?? [];
		const start = after === undefined ? 0 : all.findIndex((c) => before(c, after.u as number, after.i as string)) ;
		const from = start === -1 ? all.length : start;
		const slice = all.slice(from, from + limit);
		const body: Record<string, unknown> = { data: slice.map((conversation) => this.conversationJson(conversation, fields, url)) };
		if (slice.length > 0) {
			const last = slice[slice.length - 1];
			const cursors = { before: encodeCursor({ u: slice[0].updatedTime, i: slice[0].id, b: 1 }), after: encodeCursor({ u: last.updatedTime, i: last.id }) };
			body.paging = { cursors, ...(from + limit < all.length && { next: nextUrl(url, cursors.after) }) };
		}
		return { status: 200, body };
	}

	control(method: string, route: string, body: unknown): Answer | undefined {
		switch (`${method} ${route}`) {
			case 'POST /conversations':
				return this.add(body);
			case 'POST /conversations/generate':
				return this.generate(body);
			case 'GET /conversations/stats':
				return { status: 200, body: this.stats() };
			case 'DELETE /conversations':
				this.reset();
				return { status: 200, body: { cleared: true } };
			case 'POST /conversations/rate': {
				if (!isRecord(body) || typeof body.perSecond !== 'number' || !(body.perSecond >= 0)) {
					return { status: 400, body: { error: 'rate is {perSecond: number ≥ 0} (0: no limit)' } };
				}
				this.perSecond = body.perSecond;
				this.recentCalls.clear();
				return { status: 200, body: { perSecond: this.perSecond } };
			}
			default:
				return undefined;
		}
	}

	reset(): void {
		this.conversations.clear();
		this.byId.clear();
		this.recentCalls.clear();
		this.calls.clear();
		this.throttled.clear();
		this.perSecond = this.options.perSecond ?? 2;
	}

	/** At most perSecond calls in any 1,000 ms for the Page; a refused call does not count. */
	private takeCall(pageId: string): boolean {
		if (this.perSecond <= 0) return true;
		const now = performance.now();
		const recent = (this.recentCalls.get(pageId) ?? []).filter((at) => now - at < 1000);
		if (recent.length >= this.perSecond) {
			this.recentCalls.set(pageId, recent);
			return false;
		}
		recent.push(now);
		this.recentCalls.set(pageId, recent);
		return true;
	}

	private limitOf(value: unknown, fallback: number): number | Answer {
		if (value === undefined || value === '') return fallback;
		const limit = Number(value);
		if (!Number.isInteger(limit) || limit < 1) return invalidParameter('(#100) The limit parameter must be a positive integer');
		return Math.min(limit, MAX_LIMIT);
	}

	private conversationJson(conversation: StoredConversation, fields: FieldSpec[], url: URL): Record<string, unknown> {
		const json: Record<string, unknown> = { id: conversation.id };
		for (const field of fields) {
			switch (field.name) {
				case 'updated_time':
					json.updated_time = graphTime(conversation.updatedTime);
					break;
				case 'participants':
					json.participants = { data: [this.person(conversation), this.page(conversation)] };
					break;
				case 'message_count':
					json.message_count = conversation.messages.length;
					break;
				case 'messages': {
					const limit = Math.min(field.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
					json.messages = this.messagesEdge(conversation, field.subfields ?? [{ name: 'id' }, { name: 'created_time' }], limit, undefined, url);
					break;
				}
				default:
					break;
			}
		}
		return json;
	}

	private messagesEdge(conversation: StoredConversation, fields: FieldSpec[], limit: number, after: Record<string, unknown> | undefined, url: URL) {
		const from = after === undefined ? 0 : Math.max(0, Number(after.o) || 0);
		const slice = conversation.messages.slice(from, from + limit);
		const data = slice.map((message) => {
			const json: Record<string, unknown> = { id: message.id };
			for (const field of fields) {
				if (field.name === 'message') json.message = message.text;
				if (field.name === 'created_time') json.created_time = graphTime(message.createdTime);
				if (field.name === 'from') json.from = message.fromPage ? this.page(conversation) : this.person(conversation);
				if (field.name === 'to') json.to = { data: [message.fromPage ? this.person(conversation) : this.page(conversation)] };
			}
			return json;
		});
		if (slice.length === 0) return { data };
		const cursors = { before: encodeCursor({ o: Math.max(0, from - limit) }), after: encodeCursor({ o: from + slice.length }) };
		const more = from + slice.length < conversation.messages.length;
		const edgeUrl = new URL(`${url.origin}${url.pathname.replace(/\/[^/]+\/(conversations|messages)\/?$/, `/${conversation.id}/messages`)}`);
		for (const [name, value] of url.searchParams) if (name === 'access_token' || name === 'appsecret_proof') edgeUrl.searchParams.set(name, value);
		edgeUrl.searchParams.set('fields', fields.map((f) => f.name).join(','));
		edgeUrl.searchParams.set('limit', String(limit));
		return { data, paging: { cursors, ...(more && { next: nextUrl(edgeUrl, cursors.after) }) } };
	}

	private person(conversation: StoredConversation) {
		return { name: conversation.name, email: `${conversation.psid}@facebook.com`, id: conversation.psid };
	}

	private page(conversation: StoredConversation) {
		return { name: `Simulated Page ${conversation.pageId}`, email: `${conversation.pageId}@facebook.com`, id: conversation.pageId };
	}

	private add(body: unknown): Answer {
		if (!isRecord(body) || typeof body.pageId !== 'string' || !/^[0-9]+$/.test(body.pageId) || !Array.isArray(body.conversations)) {
			return { status: 400, body: { error: 'conversations is {pageId, conversations: [{psid, name?, updatedTime?, messages: [{id?, text, from, createdTime}]}]}' } };
		}
		const pageId = body.pageId;
		for (const [index, input] of body.conversations.entries()) {
			if (!isRecord(input) || typeof input.psid !== 'string' || !/^[0-9]+$/.test(input.psid) || !Array.isArray(input.messages)) {
				return { status: 400, body: { error: `conversations[${index}] needs a numeric psid and messages` } };
			}
			const messages: StoredMessage[] = [];
			for (const [m, message] of input.messages.entries()) {
				const createdTime = timeOf(isRecord(message) ? message.createdTime : undefined);
				if (!isRecord(message) || typeof message.text !== 'string' || createdTime === undefined || (message.from !== 'person' && message.from !== 'page')) {
					return { status: 400, body: { error: `conversations[${index}].messages[${m}] is {id?, text, from: 'person' | 'page', createdTime}` } };
				}
				messages.push({ id: typeof message.id === 'string' ? message.id : this.messageId(), text: message.text, fromPage: message.from === 'page', createdTime });
			}
			messages.sort((a, b) => b.createdTime - a.createdTime);
			const updatedTime = timeOf(input.updatedTime) ?? messages[0]?.createdTime ?? Date.now();
			this.store({
				id: this.conversationId(pageId, input.psid),
				pageId,
				psid: input.psid,
				name: typeof input.name === 'string' ? input.name : `Person ${input.psid}`,
				updatedTime,
				messages,
			});
		}
		this.sortPage(pageId);
		return { status: 200, body: { pageId, conversations: this.conversations.get(pageId)?.length ?? 0 } };
	}

	private generate(body: unknown): Answer {
		if (!isRecord(body) || typeof body.pageId !== 'string' || !/^[0-9]+$/.test(body.pageId) || typeof body.count !== 'number' || typeof body.messagesPerConversation !== 'number') {
			return { status: 400, body: { error: 'generate is {pageId, count, messagesPerConversation, newest?, stepMs?, psidStart?}' } };
		}
		const pageId = body.pageId;
		const newest = timeOf(body.newest) ?? Date.now();
		const stepMs = typeof body.stepMs === 'number' ? body.stepMs : 60_000;
		const psidStart = typeof body.psidStart === 'number' ? body.psidStart : 8_000_000_000_000;
		for (let n = 0; n < body.count; n++) {
			const psid = String(psidStart + n);
			const updatedTime = newest - n * stepMs;
			const messages: StoredMessage[] = [];
			for (let k = 0; k < body.messagesPerConversation; k++) {
				messages.push({ id: this.messageId(), text: k % 2 === 0 ? `Question ${k} from ${psid}` : `Answer ${k}`, fromPage: k % 2 === 1, createdTime: updatedTime - k * 1000 });
			}
			this.store({ id: this.conversationId(pageId, psid), pageId, psid, name: `Person ${psid}`, updatedTime, messages });
		}
		this.sortPage(pageId);
		return { status: 200, body: { pageId, conversations: this.conversations.get(pageId)?.length ?? 0 } };
	}

	private store(conversation: StoredConversation): void {
		const list = (this.conversations.get(conversation.pageId) ?? []).filter((c) => c.id !== conversation.id);
		list.push(conversation);
		this.conversations.set(conversation.pageId, list);
		this.byId.set(conversation.id, conversation);
	}

	private sortPage(pageId: string): void {
		this.conversations.get(pageId)?.sort((a, b) => b.updatedTime - a.updatedTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	}

	private stats() {
		const pages: Record<string, { conversations: number; messages: number }> = {};
		for (const [pageId, list] of this.conversations) pages[pageId] = { conversations: list.length, messages: list.reduce((sum, c) => sum + c.messages.length, 0) };
		return { pages, calls: Object.fromEntries(this.calls), throttled: Object.fromEntries(this.throttled), perSecond: this.perSecond };
	}

	private conversationId(pageId: string, psid: string): string {
		return `t_${pageId}_${psid}`;
	}

	private messageId(): string {
		this.counter += 1;
		return `m_sim${this.counter.toString(36)}${Math.random().toString(36).slice(2, 12)}`;
	}
}

/** Whether `conversation` comes after the cursor's (updated time, id) in the listing order. */
function before(conversation: StoredConversation, updatedTime: number, id: string): boolean {
	return conversation.updatedTime < updatedTime || (conversation.updatedTime === updatedTime && conversation.id > id);
}

function nextUrl(url: URL, after: string): string {
	const next = new URL(url.toString());
	next.searchParams.set('after', after);
	next.searchParams.delete('before');
	return next.toString();
}

function timeOf(value: unknown): number | undefined {
	if (typeof value === 'number' && Number.isFinite(value)) return value;
	if (typeof value === 'string') {
		const parsed = Date.parse(value);
		return Number.isFinite(parsed) ? parsed : undefined;
	}
	return undefined;
}
