// Subscribing the Page's Messenger webhook to the node's URL when the workflow is activated, the way
// n8n's own Facebook Trigger does it for an app: the app's `page` subscription (callback URL, verify
// token, fields; with the app access token `{app-id}|{app-secret}`) and the Page's subscription to
// the app (`/{page-id}/subscribed_apps`, with the Page token through the credential). One app has
// one callback URL per object, so an app already sending its Page webhooks elsewhere is reported,
// never taken over. A subscription counts as there only with every field the trigger records, on
// the app and on the Page (one set up by hand with fewer is completed). Removing it touches only a
// subscription that sends to this node's URL, and nothing while an activation of this node is
// unfinished: n8n calls delete after a refused checkExists or a failed create (a test listen on the
// active workflow, a Page not connected, Supabase out of reach at start-up), and the live
// subscription must survive that.
import { createHmac } from 'node:crypto';
import { NodeApiError, NodeOperationError, type IHookFunctions, type IHttpRequestOptions, type JsonObject } from 'n8n-workflow';
import { graphErrorOf, graphRedactorFor, networkCodeOf, redactedBody, type Redact } from '../../shared/graph';
import { FACEBOOK_CREDENTIAL, readAppId } from '../helpers/webhook';

/** The Messenger fields the trigger records (`standby`: the person's messages while another app controls the conversation). */
export const SUBSCRIBED_FIELDS = ['messages', 'messaging_postbacks', 'message_echoes', 'message_deliveries', 'message_reads', 'standby'];

interface AppCredential {
	pageId?: string;
	accessToken?: string;
	appId?: string;
	appSecret?: string;
	verifyToken?: string;
	graphApiVersion?: string;
	baseUrl?: string;
}

interface Target {
	root: string;
	pageId: string;
	appId: string;
	appSecret: string;
	verifyToken: string;
	/**
	 * Remove what each call sent from Graph's answers (Meta quotes tokens in some errors): the app's
	 * calls send the app access token (and, to subscribe, the Verify Token), the Page's the Page token.
	 * The App ID and Page ID are not secret: Meta's words that quote them keep them.
	 */
	redact: { app: Redact; page: Redact };
}

interface AppSubscription {
	object?: string;
	callback_url?: string;
	active?: boolean;
	/** Graph answers `[{name, version}]`. */
	fields?: unknown;
}

interface SubscribedApp {
	id?: unknown;
	/** Graph answers the names. */
	subscribed_fields?: unknown;
}

async function targetOf(context: IHookFunctions): Promise<Target> {
	const credentials = await context.getCredentials<AppCredential>(FACEBOOK_CREDENTIAL);
	const missing = (['pageId', 'appId', 'appSecret', 'verifyToken'] as const).filter((field) => !String(credentials[field] ?? '').trim());
	if (missing.length > 0) {
		throw new NodeOperationError(context.getNode(), `The Facebook Page credential has no ${missing.map(labelOf).join(', ')}`, {
			description: 'Subscribing the Page’s webhook on activation needs the Page ID, App ID, App Secret and Webhook Verify Token. Fill them in, or switch Subscribe on Activation off and subscribe in the app’s dashboard.',
		});
	}
	const version = String(credentials.graphApiVersion || 'v25.0').replace(/^\/+|\/+$/g, '');
	return {
		root: `${String(credentials.baseUrl || 'https://graph.facebook.com').replace(/\/+$/, '')}/${version}`,
		pageId: String(credentials.pageId).trim(),
		// Its digits when it is digits with spaces inside (1234 5678 9012), as the deliveries read it.
		appId: readAppId(credentials.appId).appId ?? String(credentials.appId).trim(),
		appSecret: String(credentials.appSecret),
		verifyToken: String(credentials.verifyToken),
		redact: {
			app: graphRedactorFor({ appId: credentials.appId, appSecret: credentials.appSecret, verifyToken: credentials.verifyToken, pageId: credentials.pageId }),
			page: graphRedactorFor({ accessToken: credentials.accessToken, appId: credentials.appId, pageId: credentials.pageId }),
		},
	};
}

const labelOf = (field: string) => ({ pageId: 'Page ID', appId: 'App ID', appSecret: 'App Secret', verifyToken: 'Webhook Verify Token' })[field] ?? field;

/** A call with the app access token (not the Page token the credential adds). */
async function appCall(context: IHookFunctions, target: Target, method: 'GET' | 'POST' | 'DELETE', qs: Record<string, string>): Promise<unknown> {
	const token = `${target.appId}|${target.appSecret}`;
	const options: IHttpRequestOptions = {
		method,
		url: `${target.root}/${encodeURIComponent(target.appId)}/subscriptions`,
		qs: { ...qs, access_token: token, appsecret_proof: createHmac('sha256', target.appSecret).update(token).digest('hex') },
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	};
	const what = `${method} /{app-id}/subscriptions`;
	return answerOf(context, target.redact.app, await reached(context, what, () => context.helpers.httpRequest(options)), what);
}

/** A call on the Page's subscribed apps, with the Page token (added by the credential). */
async function pageCall(context: IHookFunctions, target: Target, method: 'GET' | 'POST' | 'DELETE', qs: Record<string, string> = {}): Promise<unknown> {
	const options: IHttpRequestOptions = {
		method,
		url: `${target.root}/${encodeURIComponent(target.pageId)}/subscribed_apps`,
		qs,
		json: true,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	};
	const what = `${method} /{page-id}/subscribed_apps`;
	return answerOf(context, target.redact.page, await reached(context, what, () => context.helpers.httpRequestWithAuthentication.call(context, FACEBOOK_CREDENTIAL, options)), what);
}

/**
 * The call's answer, or an error of its own when Facebook was not reached (refused connection, DNS,
 * timeout). The request library's error carries the request, whose query holds the app access
 * token `{app-id}|{app-secret}` (and the Page token): only its network code goes out, as Facebook
 * Send and Messenger Sync report theirs.
 */
async function reached(context: IHookFunctions, what: string, call: () => Promise<unknown>): Promise<{ statusCode: number; body: unknown }> {
	try {
		return (await call()) as { statusCode: number; body: unknown };
	} catch (error) {
		throw new NodeOperationError(context.getNode(), `Facebook could not be reached for ${what}`, {
			description: `${networkCodeOf(error) ?? 'No answer'}. Check the credential’s Base URL and that this n8n can reach it, then activate again.`,
		});
	}
}

/** The answer's body, or the refusal as an error whose texts (and the body it keeps) carry no secret the call sent. */
function answerOf(context: IHookFunctions, redact: Redact, response: { statusCode: number; body: unknown }, what: string): unknown {
	if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
	const error = graphErrorOf(response.body, redact);
	throw new NodeApiError(context.getNode(), (redactedBody(response.body, redact) ?? {}) as JsonObject, {
		message: `Facebook refused ${what}: ${error ? `${error.message} (Graph ${error.code}${error.subcode ? `/${error.subcode}` : ''})` : `HTTP ${response.statusCode}`}`,
		description:
			error?.code === 190
				? 'The token was refused: check the App Secret and the Page access token in the credential.'
				: 'Check the credential’s App ID, App Secret and Page access token (pages_manage_metadata and pages_messaging).',
		httpCode: String(response.statusCode),
	});
}

const dataOf = (body: unknown): unknown[] => {
	const data = (body as { data?: unknown } | undefined)?.data;
	return Array.isArray(data) ? data : [];
};

/** Whether a subscription's fields (names, or Graph's `{name, version}`) hold every field the trigger records. */
function hasEveryField(fields: unknown): boolean {
	const names = new Set((Array.isArray(fields) ? fields : []).map((field) => (typeof field === 'string' ? field : String((field as { name?: unknown } | null)?.name ?? ''))));
	return SUBSCRIBED_FIELDS.every((field) => names.has(field));
}

/** The app's active subscription for Pages, if any. */
async function pageSubscriptionOf(context: IHookFunctions, target: Target): Promise<AppSubscription | undefined> {
	return dataOf(await appCall(context, target, 'GET', {})).find(
		(entry): entry is AppSubscription => (entry as AppSubscription).object === 'page' && (entry as AppSubscription).active !== false,
	);
}

/**
 * True when the app sends its Page webhooks to this URL and the Page is subscribed to the app, both
 * with every field of SUBSCRIBED_FIELDS; false when something is missing (create then subscribes
 * all of them). Throws when the app sends them to another URL.
 */
export async function subscriptionExists(context: IHookFunctions, callbackUrl: string): Promise<boolean> {
	const target = await targetOf(context);
	const pageSubscription = await pageSubscriptionOf(context, target);
	if (!pageSubscription) return false;
	if (pageSubscription.callback_url !== callbackUrl) {
		throw new NodeOperationError(context.getNode(), `The Meta app ${target.appId} already sends its Page webhooks to another URL`, {
			description: `It sends them to ${pageSubscription.callback_url}. An app has one callback URL for Pages: remove that subscription in the app’s dashboard (or deactivate the workflow that made it), or switch Subscribe on Activation off.`,
		});
	}
	if (!hasEveryField(pageSubscription.fields)) return false;
	const app = dataOf(await pageCall(context, target, 'GET')).find((entry): entry is SubscribedApp => String((entry as SubscribedApp).id) === target.appId);
	return app !== undefined && hasEveryField(app.subscribed_fields);
}

export async function subscribe(context: IHookFunctions, callbackUrl: string): Promise<boolean> {
	const target = await targetOf(context);
	await appCall(context, target, 'POST', { object: 'page', callback_url: callbackUrl, verify_token: target.verifyToken, fields: SUBSCRIBED_FIELDS.join(',') });
	await pageCall(context, target, 'POST', { subscribed_fields: SUBSCRIBED_FIELDS.join(',') });
	return true;
}

/**
 * Removes the Page's subscription to the app and the app's Page subscription (active or disabled by
 * Meta), only when the app sends its Page webhooks to this URL: one that sends them elsewhere
 * (another workflow's, the production URL while this is a test listen, one changed by hand) is not
 * this node's to remove.
 */
export async function unsubscribe(context: IHookFunctions, callbackUrl: string): Promise<boolean> {
	const target = await targetOf(context);
	try {
		const appSubscription = dataOf(await appCall(context, target, 'GET', {})).find((entry): entry is AppSubscription => (entry as AppSubscription).object === 'page');
		if (appSubscription?.callback_url !== callbackUrl) return true;
		await pageCall(context, target, 'DELETE');
		await appCall(context, target, 'DELETE', { object: 'page' });
	} catch {
		return false;
	}
	return true;
}

// n8n calls a webhook node's delete when its checkExists throws or its create fails, to undo what
// the activation did (n8n 2.41: ActiveWorkflowManager.addWebhooks → clearWebhooks, for every webhook
// of the workflow, GET and POST; WebhookTriggerRegistrar.register → clearRegisteredWebhook;
// TestWebhooks.needsWebhook → deactivateWebhooks), through the same delete it calls on
// deactivation, with nothing to tell them apart (clearWebhooks reloads the workflow from the
// database, so its static data cannot carry the difference either). A refused or failed activation
// subscribed nothing complete, and what it found may be the live subscription (the active
// workflow's during a test listen, this workflow's when its re-activation at start-up fails), so
// this process remembers each activation under way, from checkExists until it answers true or
// create has subscribed, and delete leaves Meta alone while it is unfinished. n8n may call delete
// twice for one refusal (once per HTTP method), so the mark stays until an activation of the same
// workflow, node and URL succeeds.
const unfinished = new Set<string>();

const activationKey = (context: IHookFunctions, callbackUrl: string) => JSON.stringify([context.getWorkflow().id ?? '', context.getNode().name, callbackUrl]);

/** checkExists starts an activation of this node for this URL. */
export function activationStarted(context: IHookFunctions, callbackUrl: string): void {
	unfinished.add(activationKey(context, callbackUrl));
}

/** checkExists found the subscription complete, or create made it. */
export function activationSucceeded(context: IHookFunctions, callbackUrl: string): void {
	unfinished.delete(activationKey(context, callbackUrl));
}

/** Whether the last activation of this node for this URL was refused or failed: its delete is n8n undoing it. */
export function activationUnfinished(context: IHookFunctions, callbackUrl: string): boolean {
	return unfinished.has(activationKey(context, callbackUrl));
}
