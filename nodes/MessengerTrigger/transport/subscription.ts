// Subscribing the Page's Messenger webhook to the node's URL when the workflow is activated, the way
// n8n's own Facebook Trigger does it for an app: the app's `page` subscription (callback URL, verify
// token, fields; with the app access token `{app-id}|{app-secret}`) and the Page's subscription to
// the app (`/{page-id}/subscribed_apps`, with the Page token through the credential). One app has
// one callback URL per object, so an app already sending its Page webhooks elsewhere is reported,
// never taken over.
import { createHmac } from 'node:crypto';
import { NodeApiError, NodeOperationError, type IHookFunctions, type IHttpRequestOptions, type JsonObject } from 'n8n-workflow';
import { graphErrorOf, networkCodeOf } from '../../shared/graph';
import { FACEBOOK_CREDENTIAL } from '../helpers/webhook';

/** The Messenger fields the trigger records. */
export const SUBSCRIBED_FIELDS = ['messages', 'messaging_postbacks', 'message_echoes', 'message_deliveries', 'message_reads'];

interface AppCredential {
	pageId?: string;
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
}

interface AppSubscription {
	object?: string;
	callback_url?: string;
	active?: boolean;
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
		appId: String(credentials.appId).trim(),
		appSecret: String(credentials.appSecret),
		verifyToken: String(credentials.verifyToken),
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
	return answerOf(context, await reached(context, what, () => context.helpers.httpRequest(options)), what);
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
	return answerOf(context, await reached(context, what, () => context.helpers.httpRequestWithAuthentication.call(context, FACEBOOK_CREDENTIAL, options)), what);
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

function answerOf(context: IHookFunctions, response: { statusCode: number; body: unknown }, what: string): unknown {
	if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
	const error = graphErrorOf(response.body);
	throw new NodeApiError(context.getNode(), (response.body ?? {}) as JsonObject, {
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

export async function subscriptionExists(context: IHookFunctions, callbackUrl: string): Promise<boolean> {
	const target = await targetOf(context);
	const pageSubscription = dataOf(await appCall(context, target, 'GET', {})).find(
		(entry): entry is AppSubscription => (entry as AppSubscription).object === 'page' && (entry as AppSubscription).active !== false,
	);
	if (!pageSubscription) return false;
	if (pageSubscription.callback_url !== callbackUrl) {
		throw new NodeOperationError(context.getNode(), `The Meta app ${target.appId} already sends its Page webhooks to another URL`, {
			description: `It sends them to ${pageSubscription.callback_url}. An app has one callback URL for Pages: remove that subscription in the app’s dashboard (or deactivate the workflow that made it), or switch Subscribe on Activation off.`,
		});
	}
	return dataOf(await pageCall(context, target, 'GET')).some((app) => String((app as { id?: unknown }).id) === target.appId);
}

export async function subscribe(context: IHookFunctions, callbackUrl: string): Promise<boolean> {
	const target = await targetOf(context);
	await appCall(context, target, 'POST', { object: 'page', callback_url: callbackUrl, verify_token: target.verifyToken, fields: SUBSCRIBED_FIELDS.join(',') });
	await pageCall(context, target, 'POST', { subscribed_fields: SUBSCRIBED_FIELDS.join(',') });
	return true;
}

export async function unsubscribe(context: IHookFunctions, callbackUrl: string): Promise<boolean> {
	const target = await targetOf(context);
	try {
		await pageCall(context, target, 'DELETE');
		const pageSubscription = dataOf(await appCall(context, target, 'GET', {})).find((entry) => (entry as AppSubscription).object === 'page') as AppSubscription | undefined;
		if (pageSubscription?.callback_url === callbackUrl) await appCall(context, target, 'DELETE', { object: 'page' });
	} catch {
		return false;
	}
	return true;
}
