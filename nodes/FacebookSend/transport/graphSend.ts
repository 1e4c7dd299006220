// One Messenger Send API call through n8n's request helper, so n8n's proxy settings, SSRF rules and
// the credential's `authenticate` (access_token and appsecret_proof in the query string) apply as
// for any n8n node. The credential is read once per batch (readGraphTarget) and handed to every
// call: n8n would otherwise read and decrypt it from its database on each call, between the moment
// the Page's rate lets a call start and the moment it leaves (a variable delay that would bunch
// calls together at Facebook). The answer is turned into what happened to the message, and nothing
// that holds the request (its URL carries the token) leaves this file.
import {
	NodeOperationError,
	type ICredentialDataDecryptedObject,
	type IDataObject,
	type IExecuteFunctions,
	type IHttpRequestOptions,
} from 'n8n-workflow';
import { graphErrorOf, graphRedactorFor, NEVER_CONNECTED, networkCodeOf, type GraphError, type Redact } from '../../shared/graph';

export const FACEBOOK_CREDENTIAL = 'leadflowFacebookPageApi';

export interface GraphTarget {
	baseUrl: string;
	version: string;
	pageId: string;
	/** The credential as n8n decrypted it for this batch (the token never leaves this file). */
	credential?: { id: string; name: string; data: ICredentialDataDecryptedObject };
	/** Removes the access token the call sends from Graph's error texts (Meta quotes the token in some). */
	redact: Redact;
}

export interface OutgoingMessage {
	recipientId: string;
	text: string;
	messagingType: 'RESPONSE' | 'UPDATE';
	timeoutMs: number;
}

export type GraphAnswer =
	| { kind: 'delivered'; messageId: string }
	| { kind: 'graphError'; error: GraphError; status: number }
	/** The connection was never made: Facebook cannot have received the message. */
	| { kind: 'notSent'; detail: string }
	/** The request may have reached Facebook (timeout, reset, a gateway error): never resend. */
	| { kind: 'uncertain'; detail: string };

interface FullResponse {
	statusCode: number;
	headers?: IDataObject;
	body: unknown;
}

export async function sendText(context: IExecuteFunctions, target: GraphTarget, message: OutgoingMessage): Promise<GraphAnswer> {
	const options: IHttpRequestOptions = {
		method: 'POST',
		url: `${target.baseUrl}/${target.version}/${encodeURIComponent(target.pageId)}/messages`,
		body: { recipient: { id: message.recipientId }, messaging_type: message.messagingType, message: { text: message.text } },
		json: true,
		timeout: message.timeoutMs,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	};
	let response: FullResponse;
	try {
		const { credential } = target;
		const decrypted = credential && { credentialsDecrypted: { ...credential, type: FACEBOOK_CREDENTIAL } };
		response = (await context.helpers.httpRequestWithAuthentication.call(context, FACEBOOK_CREDENTIAL, options, decrypted)) as FullResponse;
	} catch (error) {
		const code = networkCodeOf(error);
		if (code !== undefined && NEVER_CONNECTED.has(code)) return { kind: 'notSent', detail: code };
		return { kind: 'uncertain', detail: code ?? 'no answer' };
	}
	return answerOf(response, target.redact);
}

export function answerOf(response: FullResponse, redact: Redact): GraphAnswer {
	const body = response.body as IDataObject | undefined;
	if (response.statusCode >= 200 && response.statusCode < 300) {
		const messageId = body?.message_id;
		if (typeof messageId === 'string' && messageId !== '') return { kind: 'delivered', messageId };
		// A success without a message id cannot be trusted either way.
		return { kind: 'uncertain', detail: `HTTP ${response.statusCode} without a message id` };
	}
	const error = graphErrorOf(body, redact, response.headers?.['x-fb-trace-id']);
	if (error) return { kind: 'graphError', error, status: response.statusCode };
	// No Graph error body: a gateway between n8n and Graph answered. After a 5xx from a gateway,
	// Graph may still have processed the request.
	if (response.statusCode >= 500) return { kind: 'uncertain', detail: `HTTP ${response.statusCode} without a Graph error` };
	return { kind: 'notSent', detail: `HTTP ${response.statusCode} without a Graph error` };
}

/** Where the credential sends: its base URL, Graph version and Page. */
export async function readGraphTarget(context: IExecuteFunctions): Promise<GraphTarget> {
	const credentials = await context.getCredentials<{ baseUrl?: string; graphApiVersion?: string; pageId?: string; accessToken?: string; appSecret?: string; appId?: string }>(FACEBOOK_CREDENTIAL);
	const reference = context.getNode().credentials?.[FACEBOOK_CREDENTIAL];
	const pageId = String(credentials.pageId ?? '').trim();
	if (!/^[0-9]{1,32}$/.test(pageId)) {
		throw new NodeOperationError(context.getNode(), 'The Facebook Page credential has no valid Page ID', {
			description: 'Enter the numeric ID of the Page in the Leadflow Facebook Page API credential.',
		});
	}
	return {
		baseUrl: String(credentials.baseUrl || 'https://graph.facebook.com').replace(/\/+$/, ''),
		version: String(credentials.graphApiVersion || 'v25.0').replace(/^\/+|\/+$/g, ''),
		pageId,
		// The call sends the access token (and appsecret_proof), never the App Secret or the Verify Token.
		redact: graphRedactorFor({ accessToken: credentials.accessToken, pageId }),
		...(reference?.id && { credential: { id: reference.id, name: reference.name, data: credentials as ICredentialDataDecryptedObject } }),
	};
}
