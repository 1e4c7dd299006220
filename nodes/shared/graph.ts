// What every call to Meta's Graph API shares (the Messenger Send API in FacebookSend, the
// Conversations API in MessengerSync, the WhatsApp Cloud API in QueueLedger): reading a Graph error
// out of a response body, telling a request that never reached Meta from one that may have, and
// which Page-token answers mean "too many calls, wait" (docs/graph-errors.md). Meta quotes the
// access token in some error messages ("Malformed access token EAAG…"): every text of a GraphError
// (what an item, a node error, the database or a webhook answer may say) has the secrets the call
// sent removed (graphRedactorFor), so no caller can carry one out of the node. What Meta said, as
// it said it, is kept apart for telling errors apart only (metaSaid): a redaction never changes
// what an error means.
import { redactorFor, type Redact, type Secret, type SecretShape } from './redact';

export type { Redact } from './redact';

export interface GraphError {
	code: number;
	subcode?: number;
	message: string;
	type?: string;
	traceId?: string;
	/** The Cloud API's `error_data.details`: what Meta says went wrong, in words. */
	details?: string;
}

/**
 * The secrets a call sent, the only ones Meta can quote in its answer: the Page or WhatsApp access
 * token; the app access token `{app-id}|{app-secret}` (appId and appSecret: the App ID is not
 * secret, the App Secret is); the Webhook Verify Token (sent only to subscribe the app's
 * webhook). A secret the call did not send is not given: a short one ("token", "window") would eat
 * Meta's words. `pageId`, not secret either, is never taken for a cut quote of a secret.
 */
export interface GraphSecrets {
	accessToken?: unknown;
	appSecret?: unknown;
	appId?: unknown;
	verifyToken?: unknown;
	pageId?: unknown;
}

/**
 * Meta's tokens by their form, for a token Meta quotes that is not the credential's own or is cut
 * short: a user, Page or system-user token (`EAA` and 20 or more letters and digits) and an app
 * access token (an app id, `|`, 16 or more token characters). No word starts with EAA followed by
 * 20 letters or digits, and ordinary text has no digits-bar-token, so neither eats what Meta says.
 */
export const META_TOKEN_SHAPES: readonly SecretShape[] = [
	{ pattern: /(?<![A-Za-z0-9])EAA[A-Za-z0-9]{20,}/g, label: '[access token]' },
	{ pattern: /(?<![A-Za-z0-9])[0-9]{6,20}(?:\||%7C)[A-Za-z0-9_-]{16,}/gi, label: '[app access token]' },
];

/** Removes the secrets a call sent (and anything shaped like a Meta token) from a text of Meta's. */
export function graphRedactorFor(sent: GraphSecrets): Redact {
	const text = (value: unknown) => (typeof value === 'string' ? value : '');
	const appId = text(sent.appId).trim();
	const appSecret = text(sent.appSecret);
	const secrets: Secret[] = [
		{ value: text(sent.accessToken), label: '[access token]' },
		{ value: appSecret, label: '[app secret]' },
		{ value: text(sent.verifyToken), label: '[verify token]' },
		// The App ID and the bar are not secret: a cut quote must hold some of the App Secret.
		...(appId !== '' && appSecret.trim() !== '' ? [{ value: `${appId}|${appSecret}`, label: '[app access token]', publicPrefix: appId.length + 1 }] : []),
	];
	// As a query string carries them, too (the bar as %7C).
	const encoded = secrets
		.map(({ value, label, publicPrefix }) => ({ value: encodeURIComponent(value), label, ...(publicPrefix !== undefined && { publicPrefix: encodeURIComponent(value.slice(0, publicPrefix)).length }) }))
		.filter(({ value }, index) => value !== secrets[index].value);
	return redactorFor([...secrets, ...encoded], META_TOKEN_SHAPES, [appId, text(sent.pageId).trim()]);
}

/** A copy of an answer body with every string redacted (for an error that keeps the body). */
export function redactedBody(body: unknown, redact: Redact, depth = 0): unknown {
	if (typeof body === 'string') return redact(body);
	if (typeof body !== 'object' || body === null) return body;
	if (depth > 20) return null;
	if (Array.isArray(body)) return body.map((entry) => redactedBody(entry, redact, depth + 1));
	return Object.fromEntries(Object.entries(body).map(([key, value]) => [redact(key), redactedBody(value, redact, depth + 1)]));
}

/** What Meta said in each error graphErrorOf read, before the redaction: see metaSaid. */
const said = new WeakMap<GraphError, string>();

/**
 * The error's message as Meta wrote it, not redacted: only for telling errors apart (the window
 * refusal, a refused cursor), never for a text that leaves the node. A copy of the error (spread,
 * or rebuilt) has none: its redacted message is answered.
 */
export const metaSaid = (error: GraphError): string => said.get(error) ?? error.message;

/**
 * The Graph error in a response body, or undefined when the body is not one (e.g. a proxy's HTML
 * page). Every text in it is redacted of the secrets the call sent (`redact`: graphRedactorFor);
 * Meta's own message stays readable through metaSaid, to classify the error.
 */
export function graphErrorOf(body: unknown, redact: Redact, traceHeader?: unknown): GraphError | undefined {
	if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
	const error = (body as { error: unknown }).error;
	if (typeof error !== 'object' || error === null) return undefined;
	const fields = error as Record<string, unknown>;
	const code = Number(fields.code);
	if (!Number.isInteger(code)) return undefined;
	const subcode = Number(fields.error_subcode);
	const traceId = typeof fields.fbtrace_id === 'string' ? fields.fbtrace_id : typeof traceHeader === 'string' ? traceHeader : undefined;
	const data = fields.error_data;
	const details = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).details : undefined;
	const message = typeof fields.message === 'string' ? fields.message : `Graph error ${code}`;
	const read: GraphError = {
		code,
		...(Number.isInteger(subcode) && { subcode }),
		message: redact(message),
		...(typeof fields.type === 'string' && { type: redact(fields.type) }),
		...(traceId !== undefined && { traceId: redact(traceId) }),
		...(typeof details === 'string' && details !== '' && { details: redact(details) }),
	};
	said.set(read, message);
	return read;
}

/**
 * The codes a Page's calls (a Page access token: the Send API, the Conversations API) are throttled
 * with: the Platform rate limits (4 the app's, 17 the user's, 32 the Page's with a user token, 613 a
 * custom one) and the Business Use Case rate limits a Page token is held to (80001 the Pages API's,
 * 80006 the Messenger Platform's). Each means "too many calls: wait, then call again"; nothing was
 * done. The WhatsApp Cloud API has limits of its own (QueueLedger's sendResults).
 */
export const PAGE_THROTTLING_CODES: ReadonlySet<number> = new Set([4, 17, 32, 613, 80001, 80006]);

/** Graph throttled a Page-token call: back off and try again. */
export const isPageThrottling = (error: Pick<GraphError, 'code'>): boolean => PAGE_THROTTLING_CODES.has(error.code);

/**
 * Failures that happen before a connection exists: Meta cannot have received the request. Anything
 * else (timeouts, resets, aborted executions) may have happened after it did.
 */
export const NEVER_CONNECTED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_INVALID_URL']);

/** The system error code (ECONNREFUSED, ETIMEDOUT, …) anywhere in the error's cause chain. */
export function networkCodeOf(error: unknown): string | undefined {
	let current: unknown = error;
	for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
		const code = (current as { code?: unknown }).code;
		if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
		current = (current as { cause?: unknown }).cause;
	}
	return undefined;
}
