// The Graph API simulator for the Messenger Send API:
//   POST /{version}/{page-id}/messages and /{version}/me/messages → {recipient_id, message_id}
//   GET  /{version}/me (and /{version}/{page-id})                 → {id, name} (credential test)
// and for the WhatsApp Cloud API (whatsapp.ts): POST /{version}/{phone-number-id}/messages, GET
// /{version}/{phone-number-id}.
// The version (`v25.0`…) is optional, as on Graph. Parameters come from the query string and a JSON
// or form-encoded body (JSON-looking form values are parsed, as Graph does). The token is the
// `access_token` parameter or `Authorization: Bearer|OAuth <token>`; with an app secret configured,
// `appsecret_proof` = hex HMAC-SHA256(token, app secret) is required.
//
// Service control routes:
//   GET    /__sim/config     {pageTokens, appSecret}
//   POST   /__sim/config     {pageTokens?: {pageId: token} | null, appSecret?: string | null}
//   GET    /__sim/window     {windows: {psid: ISO time}}
//   POST   /__sim/window     {recipient, lastCustomerMessageAt: ISO | epoch ms | null}
//   GET    /__sim/messages   {messages: DeliveredMessage[]}
//   DELETE /__sim/messages
//   …/__sim/whatsapp/config and /__sim/whatsapp/messages (whatsapp.ts)
// and for Messenger inbound: the Conversations endpoint with its per-Page rate
// (messenger-conversations.ts, /__sim/conversations…) and the webhook subscription endpoints
// (messenger-webhooks.ts, /__sim/subscriptions).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Answer, RequestDescription, VendorHandler, VendorRequest } from './engine';
import {
	graphError,
	graphErrorForStatus,
	invalidAppSecretProof,
	invalidToken,
	missingAppSecretProof,
	missingToken,
	unknownPath,
	unsupportedObject,
} from './graph-errors';
import { checkSend, recipientIdOf, windowRefusal } from './graph-send';
import { isFormEncoded, isRecord, parseGraphFormBody, parseJsonBody } from './http';
import type { DeliveredMessage, FaultEffect, GraphRuntimeConfig } from './protocol';
import { MessengerConversations, type ConversationsOptions } from './messenger-conversations';
import { WebhookSubscriptions } from './messenger-webhooks';
import { WhatsAppCloud, type WhatsAppSimulatorOptions } from './whatsapp';
import { whatsappError, whatsappErrorForStatus } from './whatsapp-errors';

export interface GraphSimulatorOptions {
	/** Page id → Page access token; default: any token is valid. */
	pageTokens?: Record<string, string>;
	/** When set, every Messenger call must carry a correct `appsecret_proof`. */
	appSecret?: string;
	/** The WhatsApp Cloud API's phone numbers, templates and unreachable numbers. */
	whatsapp?: WhatsAppSimulatorOptions;
	/** The Conversations endpoint's per-Page rate (default 2 calls/s). */
	conversations?: ConversationsOptions;
}

const ROUTE = /^(?:\/(v\d+\.\d+))?\/([^/]+)(\/messages)?\/?$/;

/** Delivered messages kept for `GET /__sim/messages`; far above any test or benchmark. */
const MAX_DELIVERED = 100_000;

export function appSecretProof(token: string, appSecret: string): string {
	return createHmac('sha256', appSecret).update(token).digest('hex');
}

/** A stable, numeric-looking Page id for a token when any token is accepted. */
export function pageIdForToken(token: string): string {
	return BigInt(`0x${createHash('sha256').update(token).digest('hex').slice(0, 13)}`).toString();
}

export class GraphHandler implements VendorHandler {
	readonly service = 'graph';
	private config: GraphRuntimeConfig;
	private windows = new Map<string, number>();
	private delivered: DeliveredMessage[] = [];
	private readonly whatsapp: WhatsAppCloud;
	private readonly conversations: MessengerConversations;
	private readonly subscriptions = new WebhookSubscriptions();

	constructor(private readonly options: GraphSimulatorOptions = {}) {
		this.config = this.initialConfig();
		this.whatsapp = new WhatsAppCloud(options.whatsapp);
		this.conversations = new MessengerConversations(options.conversations);
	}

	describe(request: VendorRequest): RequestDescription {
		const params = requestParams(request);
		const key = tokenOf(request, params);
		const recipient = recipientIdOf(params) ?? (typeof params.to === 'string' ? params.to : undefined);
		return {
			body: bodyForLog(request),
			...(key !== undefined && { key }),
			...(recipient !== undefined && { recipient }),
		};
	}

	answer(request: VendorRequest, description: RequestDescription): Answer {
		const inbound = this.answerMessengerInbound(request, description);
		if (inbound) return inbound;
		const route = ROUTE.exec(request.url.pathname);
		if (!route) return unknownPath(request.url.pathname);
		const [, , node, messagesEdge] = route;
		const params = requestParams(request);
		if (this.whatsapp.handles(request.method, node, messagesEdge !== undefined, params)) {
			return this.whatsapp.answer(request.method, node, messagesEdge !== undefined, description.key, params, (number) => this.windows.get(number));
		}
		const isSend = messagesEdge !== undefined && request.method === 'POST';
		const isRead = messagesEdge === undefined && request.method === 'GET';
		if (!isSend && !isRead) return unsupportedObject(request.method, node);

		const token = description.key;
		if (!token) {
			return node === 'me' ? graphError({ code: 2500, message: 'An active access token must be used to query information about the current user.' }) : missingToken();
		}
		const pageId = this.pageFor(token);
		if (pageId === undefined) return invalidToken();
		const proofProblem = this.proofProblem(token, params.appsecret_proof);
		if (proofProblem) return proofProblem;
		// With a token map a token reaches only its own Page; with any token accepted, any Page.
		const resolvedPage = node === 'me' ? pageId : node;
		if (this.config.pageTokens && resolvedPage !== pageId) return unsupportedObject(request.method, node);

		if (isRead) return { status: 200, body: { id: resolvedPage, name: `Simulated Page ${resolvedPage}` } };
		return this.send(resolvedPage, params);
	}

	answerFault(effect: Exclude<FaultEffect, { kind: 'timeout' | 'hold' }>, request: VendorRequest): Answer {
		if (this.isWhatsApp(request)) {
			if (effect.kind === 'graphError') {
				return whatsappError({
					code: effect.code,
					...(effect.message !== undefined && { message: effect.message }),
					...(effect.status !== undefined && { status: effect.status }),
					...(effect.type !== undefined && { type: effect.type }),
					...(effect.details !== undefined && { details: effect.details }),
				});
			}
			if (effect.kind === 'http') return whatsappErrorForStatus(effect.status, effect.message);
		}
		switch (effect.kind) {
			case 'graphError':
				return graphError(effect);
			case 'http':
				return graphErrorForStatus(effect.status, effect.message);
			case 'answer':
				return { status: effect.status ?? 200, body: effect.body };
			default:
				return graphError({ code: 1, message: `${effect.kind} faults belong to the Gemini simulator` });
		}
	}

	answerBodyTooLarge(): Answer {
		return graphError({ code: 100, message: '(#100) Request body is too large' });
	}

	control(method: string, route: string, body: unknown): Answer | undefined {
		const whatsapp = this.whatsapp.control(method, route, body);
		if (whatsapp) return whatsapp;
		const inbound = this.conversations.control(method, route, body) ?? this.subscriptions.control(method, route);
		if (inbound) return inbound;
		switch (`${method} ${route}`) {
			case 'GET /config':
				return { status: 200, body: this.config };
			case 'POST /config':
				return this.configure(body);
			case 'GET /window':
				return {
					status: 200,
					body: { windows: Object.fromEntries([...this.windows].map(([psid, at]) => [psid, new Date(at).toISOString()])) },
				};
			case 'POST /window':
				return this.setWindow(body);
			case 'GET /messages':
				return { status: 200, body: { messages: this.delivered.map((message) => ({ ...message })) } };
			case 'DELETE /messages':
				this.delivered = [];
				return { status: 200, body: { cleared: true } };
			default:
				return undefined;
		}
	}

	resetState(): void {
		this.config = this.initialConfig();
		this.windows.clear();
		this.delivered = [];
		this.whatsapp.reset();
		this.conversations.reset();
		this.subscriptions.reset();
	}

	/** The Conversations endpoint and the webhook subscriptions (messenger-conversations.ts, messenger-webhooks.ts), or undefined. */
	private answerMessengerInbound(request: VendorRequest, description: RequestDescription): Answer | undefined {
		const path = request.url.pathname;
		const params = requestParams(request);
		if (this.subscriptions.handles(path)) {
			return this.subscriptions.answer(request.method, path, description.key, params, (token, proof, appId) => this.authorizeApp(token, proof, appId), (token, proof, pageId) =>
				this.authorizePage(token, proof, pageId),
			);
		}
		if (this.conversations.pageOf(path) === undefined) return undefined;
		// Paging links carry the address the client used.
		const url = new URL(`${path}${request.url.search}`, `http://${request.headers.host ?? 'graph.simulator'}`);
		return this.conversations.answer(request.method, url, params, (pageId) => this.authorizePage(description.key, params.appsecret_proof, pageId));
	}

	/** A Page token (and its proof) that may act for `pageId`; undefined when it may. */
	private authorizePage(token: string | undefined, proof: unknown, pageId: string): Answer | undefined {
		if (!token) return missingToken();
		if (token.includes('|')) return graphError({ code: 190, message: 'This method must be called with a Page Access Token' });
		const tokenPage = this.pageFor(token);
		if (tokenPage === undefined) return invalidToken();
		const proofProblem = this.proofProblem(token, proof);
		if (proofProblem) return proofProblem;
		if (this.config.pageTokens && tokenPage !== pageId) return unsupportedObject('GET', pageId);
		return undefined;
	}

	/** An app access token `{app-id}|{app-secret}` for `appId` (its secret the configured one, when one is). */
	private authorizeApp(token: string | undefined, proof: unknown, appId: string): Answer | undefined {
		if (!token) return missingToken();
		const [tokenApp, secret] = token.split('|');
		if (secret === undefined || tokenApp !== appId) return graphError({ code: 190, message: 'Invalid OAuth access token - an app access token of this app is required' });
		if (this.config.appSecret !== null && secret !== this.config.appSecret) return invalidToken();
		return this.proofProblem(token, proof);
	}

	/** A request for the WhatsApp Cloud API rather than Messenger (whatsapp.ts says how it is told apart). */
	private isWhatsApp(request: VendorRequest): boolean {
		const route = ROUTE.exec(request.url.pathname);
		return route !== null && this.whatsapp.handles(request.method, route[2], route[3] !== undefined, requestParams(request));
	}

	private initialConfig(): GraphRuntimeConfig {
		return { pageTokens: this.options.pageTokens ? { ...this.options.pageTokens } : null, appSecret: this.options.appSecret ?? null };
	}

	/** The Page a token belongs to; with no token map, any token is its own Page. */
	private pageFor(token: string): string | undefined {
		if (!this.config.pageTokens) return pageIdForToken(token);
		for (const [pageId, pageToken] of Object.entries(this.config.pageTokens)) if (pageToken === token) return pageId;
		return undefined;
	}

	private proofProblem(token: string, proof: unknown): Answer | undefined {
		if (this.config.appSecret === null) return undefined;
		if (proof === undefined || proof === '') return missingAppSecretProof();
		return proof === appSecretProof(token, this.config.appSecret) ? undefined : invalidAppSecretProof();
	}

	private send(pageId: string, params: Record<string, unknown>): Answer {
		const checked = checkSend(params);
		if (!checked.ok) return checked.answer;
		const { send } = checked;
		const refusal = windowRefusal(send, this.windows.get(send.recipientId), Date.now());
		if (refusal) return refusal;
		if (send.senderAction) return { status: 200, body: { recipient_id: send.recipientId } };

		const messageId = `m_${randomBytes(30).toString('base64url')}`;
		this.delivered.push({
			messageId,
			pageId,
			recipientId: send.recipientId,
			messagingType: send.messagingType,
			...(send.tag !== undefined && { tag: send.tag }),
			text: send.text ?? '',
			deliveredAt: new Date().toISOString(),
		});
		if (this.delivered.length > MAX_DELIVERED) this.delivered.splice(0, this.delivered.length - MAX_DELIVERED);
		return { status: 200, body: { recipient_id: send.recipientId, message_id: messageId } };
	}

	private configure(body: unknown): Answer {
		if (!isRecord(body)) return { status: 400, body: { error: 'config is {pageTokens?, appSecret?}' } };
		const { pageTokens, appSecret } = body;
		const tokensValid =
			pageTokens === undefined || pageTokens === null || (isRecord(pageTokens) && Object.values(pageTokens).every((token) => typeof token === 'string'));
		if (!tokensValid) return { status: 400, body: { error: 'pageTokens must be {pageId: token} or null' } };
		if (appSecret !== undefined && appSecret !== null && typeof appSecret !== 'string') {
			return { status: 400, body: { error: 'appSecret must be a string or null' } };
		}
		this.config = {
			pageTokens: pageTokens === undefined ? this.config.pageTokens : (pageTokens as Record<string, string> | null),
			appSecret: appSecret === undefined ? this.config.appSecret : (appSecret as string | null),
		};
		return { status: 200, body: this.config };
	}

	private setWindow(body: unknown): Answer {
		if (!isRecord(body) || typeof body.recipient !== 'string' || body.recipient === '') {
			return { status: 400, body: { error: 'window is {recipient: PSID, lastCustomerMessageAt: ISO time | epoch ms | null}' } };
		}
		const at = body.lastCustomerMessageAt;
		if (at === null) {
			this.windows.delete(body.recipient);
			return { status: 200, body: { recipient: body.recipient, lastCustomerMessageAt: null } };
		}
		const time = typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : Number.NaN;
		if (!Number.isFinite(time)) return { status: 400, body: { error: 'lastCustomerMessageAt must be an ISO time, epoch milliseconds or null' } };
		this.windows.set(body.recipient, time);
		return { status: 200, body: { recipient: body.recipient, lastCustomerMessageAt: new Date(time).toISOString() } };
	}
}

/** Graph merges query-string and body parameters; JSON-looking query values are parsed like form ones. */
function requestParams(request: VendorRequest): Record<string, unknown> {
	const fromQuery = parseGraphFormBody(request.url.search.slice(1));
	const body = bodyForLog(request);
	return isRecord(body) ? { ...fromQuery, ...body } : fromQuery;
}

function bodyForLog(request: VendorRequest): unknown {
	if (request.rawBody === '') return null;
	if (isFormEncoded(request.headers)) return parseGraphFormBody(request.rawBody);
	const parsed = parseJsonBody(request.rawBody);
	return parsed.ok ? parsed.value : parsed.raw;
}

function tokenOf(request: VendorRequest, params: Record<string, unknown>): string | undefined {
	const authorization = request.headers.authorization;
	const fromHeader = authorization ? /^(?:Bearer|OAuth)\s+(.+)$/i.exec(authorization)?.[1] : undefined;
	if (fromHeader) return fromHeader.trim();
	return typeof params.access_token === 'string' && params.access_token !== '' ? params.access_token : undefined;
}
