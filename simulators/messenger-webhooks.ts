// Meta's side of Messenger webhooks, for tests and benchmarks:
//   - signing and sending a delivery the way Meta does (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256
//     of the exact bytes sent, keyed with the app secret>`, and the older SHA-1 `X-Hub-Signature`);
//   - building delivery bodies: `{object: 'page', entry: [{id, time, messaging: [...]}]}`;
//   - the subscription endpoints a trigger calls when a workflow is activated:
//       GET|POST|DELETE /{version}/{app-id}/subscriptions   app access token `{app-id}|{app-secret}`
//       GET|POST|DELETE /{version}/{page-id}/subscribed_apps Page access token
//     answered from memory (`GET /__sim/subscriptions` shows them). Meta verifies a new callback URL
//     with a GET before it answers; the simulator does not call back (its answers are synchronous):
//     a test calls the trigger's verification itself.
import { createHmac } from 'node:crypto';
import type { Answer } from './engine';
import { graphError, invalidParameter } from './graph-errors';

// =============================================================================================
// Deliveries
// =============================================================================================

/** `sha256=<hex>`: what Meta puts in X-Hub-Signature-256 for these bytes. */
export function signDelivery(body: string | Buffer, appSecret: string): string {
	return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

export interface MessengerEventInput {
	psid: string;
	/** Epoch milliseconds; default now. */
	timestamp?: number;
}

/** Builders of the messaging events Meta delivers for a Page (the fields the Messenger Platform documents). */
export const messengerEvents = {
	message: (pageId: string, input: MessengerEventInput & { mid: string; text?: string; attachments?: Array<{ type: string; url?: string }> }) => ({
		sender: { id: input.psid },
		recipient: { id: pageId },
		timestamp: input.timestamp ?? Date.now(),
		message: {
			mid: input.mid,
			...(input.text !== undefined && { text: input.text }),
			...(input.attachments && { attachments: input.attachments.map((a) => ({ type: a.type, payload: a.url ? { url: a.url } : {} })) }),
		},
	}),
	/** A message the Page sent, echoed back; `appId` is the app that sent it (a number, as Meta sends it). */
	echo: (pageId: string, input: MessengerEventInput & { mid: string; text?: string; appId: number | string | null; metadata?: string }) => ({
		sender: { id: pageId },
		recipient: { id: input.psid },
		timestamp: input.timestamp ?? Date.now(),
		message: {
			is_echo: true,
			mid: input.mid,
			...(input.appId !== null && { app_id: typeof input.appId === 'string' ? Number(input.appId) : input.appId }),
			...(input.metadata !== undefined && { metadata: input.metadata }),
			...(input.text !== undefined && { text: input.text }),
		},
	}),
	postback: (pageId: string, input: MessengerEventInput & { mid: string; title: string; payload: string }) => ({
		sender: { id: input.psid },
		recipient: { id: pageId },
		timestamp: input.timestamp ?? Date.now(),
		postback: { mid: input.mid, title: input.title, payload: input.payload },
	}),
	delivery: (pageId: string, input: MessengerEventInput & { watermark: number; mids?: string[] }) => ({
		sender: { id: input.psid },
		recipient: { id: pageId },
		timestamp: input.timestamp ?? Date.now(),
		delivery: { ...(input.mids && { mids: input.mids }), watermark: input.watermark },
	}),
	read: (pageId: string, input: MessengerEventInput & { watermark: number }) => ({
		sender: { id: input.psid },
		recipient: { id: pageId },
		timestamp: input.timestamp ?? Date.now(),
		read: { watermark: input.watermark },
	}),
};

/** A delivery body: one entry per Page, its events in `messaging`. */
export function messengerDelivery(entries: Array<{ pageId: string; events: unknown[]; time?: number }>): { object: 'page'; entry: unknown[] } {
	return { object: 'page', entry: entries.map((entry) => ({ id: entry.pageId, time: entry.time ?? Date.now(), messaging: entry.events })) };
}

export interface DeliverOptions {
	/** Sign with this secret (default: the one given); null sends no signature at all. */
	signWith?: string | null;
	/** Send this signature header value instead of computing one. */
	signature?: string;
	headers?: Record<string, string>;
}

export interface DeliveryAnswer {
	status: number;
	/** Milliseconds from sending to the whole answer. */
	ms: number;
	body: string;
}

/**
 * POSTs a delivery as Meta does: the body's exact bytes (a string is sent as is, anything else as
 * JSON.stringify writes it), `content-type: application/json`, signed with `appSecret`.
 */
export async function deliverWebhook(url: string, body: unknown, appSecret: string, options: DeliverOptions = {}): Promise<DeliveryAnswer> {
	const raw = typeof body === 'string' ? body : JSON.stringify(body);
	const secret = options.signWith === undefined ? appSecret : options.signWith;
	const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
	if (options.signature !== undefined) headers['x-hub-signature-256'] = options.signature;
	else if (secret !== null) {
		headers['x-hub-signature-256'] = signDelivery(raw, secret);
		headers['x-hub-signature'] = `sha1=${createHmac('sha1', secret).update(raw).digest('hex')}`;
	}
	const started = performance.now();
	const response = await fetch(url, { method: 'POST', headers, body: raw });
	const text = await response.text();
	return { status: response.status, ms: performance.now() - started, body: text };
}

// =============================================================================================
// Subscriptions
// =============================================================================================

export interface AppSubscription {
	object: string;
	callback_url: string;
	fields: Array<{ name: string; version: string }>;
	active: boolean;
	/** Kept for tests (Meta never shows it back). */
	verify_token: string;
}

export interface SubscriptionsState {
	/** App id → its subscriptions by object. */
	apps: Record<string, AppSubscription[]>;
	/** Page id → the apps it delivers to, with their fields. */
	pages: Record<string, Array<{ id: string; subscribed_fields: string[] }>>;
}

const SUBSCRIPTIONS = /^(?:\/(v\d+\.\d+))?\/([0-9]+)\/(subscriptions|subscribed_apps)\/?$/;

export class WebhookSubscriptions {
	private state: SubscriptionsState = { apps: {}, pages: {} };

	handles(path: string): boolean {
		return SUBSCRIPTIONS.test(path);
	}

	/**
	 * `authorizeApp(token, proof)`: the app id the token belongs to, or Graph's refusal;
	 * `authorizePage(token, proof, pageId)`: undefined when the token may act for the Page.
	 */
	answer(
		method: string,
		path: string,
		token: string | undefined,
		params: Record<string, unknown>,
		authorizeApp: (token: string | undefined, proof: unknown, appId: string) => Answer | undefined,
		authorizePage: (token: string | undefined, proof: unknown, pageId: string) => Answer | undefined,
	): Answer {
		const [, , id, edge] = SUBSCRIPTIONS.exec(path) as RegExpExecArray;
		if (edge === 'subscriptions') {
			const refused = authorizeApp(token, params.appsecret_proof, id);
			if (refused) return refused;
			return this.appSubscriptions(method, id, params);
		}
		const refused = authorizePage(token, params.appsecret_proof, id);
		if (refused) return refused;
		const appId = token?.includes('|') ? token.split('|')[0] : this.appOfPageToken();
		return this.pageApps(method, id, appId, params);
	}

	control(method: string, route: string): Answer | undefined {
		if (route !== '/subscriptions') return undefined;
		if (method === 'GET') return { status: 200, body: this.state };
		if (method === 'DELETE') {
			this.reset();
			return { status: 200, body: { cleared: true } };
		}
		return undefined;
	}

	reset(): void {
		this.state = { apps: {}, pages: {} };
	}

	/** The app a Page token subscribes the Page to: the one app that has a Page subscription (the simulator knows no token → app link). */
	private appOfPageToken(): string | undefined {
		const apps = Object.entries(this.state.apps).filter(([, subscriptions]) => subscriptions.some((s) => s.object === 'page'));
		return apps.length === 1 ? apps[0][0] : undefined;
	}

	private appSubscriptions(method: string, appId: string, params: Record<string, unknown>): Answer {
		const current = this.state.apps[appId] ?? [];
		if (method === 'GET') {
			return { status: 200, body: { data: current.map((s) => ({ object: s.object, callback_url: s.callback_url, fields: s.fields, active: s.active })) } };
		}
		const object = typeof params.object === 'string' ? params.object : undefined;
		if (method === 'DELETE') {
			this.state.apps[appId] = object === undefined ? [] : current.filter((s) => s.object !== object);
			return { status: 200, body: { success: true } };
		}
		if (method !== 'POST') return graphError({ code: 100, message: `Unsupported ${method.toLowerCase()} request.` });
		const callback = params.callback_url;
		const verifyToken = params.verify_token;
		const fields = typeof params.fields === 'string' ? params.fields.split(',') : Array.isArray(params.fields) ? params.fields.map(String) : [];
		if (!object) return invalidParameter('(#100) The parameter object is required');
		if (typeof callback !== 'string' || !/^https?:\/\//.test(callback)) return invalidParameter('(#100) The parameter callback_url is required');
		if (typeof verifyToken !== 'string' || verifyToken === '') return invalidParameter('(#100) The parameter verify_token is required');
		if (fields.length === 0) return invalidParameter('(#100) The parameter fields is required');
		const subscription: AppSubscription = {
			object,
			callback_url: callback,
			fields: fields.map((name) => ({ name: name.trim(), version: 'v25.0' })),
			active: true,
			verify_token: verifyToken,
		};
		this.state.apps[appId] = [...current.filter((s) => s.object !== object), subscription];
		return { status: 200, body: { success: true } };
	}

	private pageApps(method: string, pageId: string, appId: string | undefined, params: Record<string, unknown>): Answer {
		const current = this.state.pages[pageId] ?? [];
		if (method === 'GET') return { status: 200, body: { data: current.map((app) => ({ id: app.id, name: `Simulated app ${app.id}`, subscribed_fields: app.subscribed_fields })) } };
		if (method === 'DELETE') {
			this.state.pages[pageId] = appId === undefined ? [] : current.filter((app) => app.id !== appId);
			return { status: 200, body: { success: true } };
		}
		if (method !== 'POST') return graphError({ code: 100, message: `Unsupported ${method.toLowerCase()} request.` });
		if (appId === undefined) return graphError({ code: 100, message: '(#100) The app must have a webhook subscription for pages before a Page subscribes to it' });
		const fields = typeof params.subscribed_fields === 'string' ? params.subscribed_fields.split(',').map((field) => field.trim()) : [];
		if (fields.length === 0) return invalidParameter('(#100) The parameter subscribed_fields is required');
		this.state.pages[pageId] = [...current.filter((app) => app.id !== appId), { id: appId, subscribed_fields: fields }];
		return { status: 200, body: { success: true } };
	}
}
