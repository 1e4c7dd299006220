// One WhatsApp Cloud API send (POST {base}/{version}/{phone-number-id}/messages) through n8n's
// request helper, so n8n's proxy settings, SSRF rules and the credential's authenticate (a Bearer
// token) apply as for any n8n node. The answer is turned into what happened to the message; nothing
// that holds the request (its headers carry the token) leaves this file.
import { NodeOperationError, type IDataObject, type IExecuteFunctions, type IHttpRequestOptions } from 'n8n-workflow';
import type { QueueMessage } from '../../shared/contract';
import { graphErrorOf, graphRedactorFor, NEVER_CONNECTED, networkCodeOf, type GraphError, type Redact } from '../../shared/graph';

export const WHATSAPP_CREDENTIAL = 'leadflowWhatsAppApi';

export interface WhatsAppTarget {
	baseUrl: string;
	version: string;
	phoneNumberId: string;
	/** Removes the access token from Meta's error texts (Meta quotes the token in some). */
	redact: Redact;
}

export type CloudAnswer =
	| { kind: 'accepted'; messageId: string }
	| { kind: 'cloudError'; error: GraphError; status: number }
	/** The connection was never made: Meta cannot have received the message. */
	| { kind: 'notSent'; detail: string }
	/** The request may have reached Meta (timeout, reset, a gateway error): it may have been delivered. */
	| { kind: 'uncertain'; detail: string };

interface FullResponse {
	statusCode: number;
	headers?: IDataObject;
	body: unknown;
}

/** The Cloud API body for a queued message: a text (no link preview) or an approved template. */
export function messageBody(to: string, message: QueueMessage): IDataObject {
	const common = { messaging_product: 'whatsapp', recipient_type: 'individual', to };
	if (message.type === 'template') return { ...common, type: 'template', template: { name: message.name, language: { code: message.language } } };
	return { ...common, type: 'text', text: { preview_url: false, body: message.text } };
}

export async function sendMessage(context: IExecuteFunctions, target: WhatsAppTarget, to: string, message: QueueMessage, timeoutMs: number): Promise<CloudAnswer> {
	const options: IHttpRequestOptions = {
		method: 'POST',
		url: `${target.baseUrl}/${target.version}/${encodeURIComponent(target.phoneNumberId)}/messages`,
		body: messageBody(to, message),
		json: true,
		timeout: timeoutMs,
		returnFullResponse: true,
		ignoreHttpStatusErrors: true,
	};
	let response: FullResponse;
	try {
		response = (await context.helpers.httpRequestWithAuthentication.call(context, WHATSAPP_CREDENTIAL, options)) as FullResponse;
	} catch (error) {
		const code = networkCodeOf(error);
		if (code !== undefined && NEVER_CONNECTED.has(code)) return { kind: 'notSent', detail: code };
		return { kind: 'uncertain', detail: code ?? 'no answer' };
	}
	return answerOf(response, target.redact);
}

export function answerOf(response: FullResponse, redact: Redact): CloudAnswer {
	const body = response.body as IDataObject | undefined;
	if (response.statusCode >= 200 && response.statusCode < 300) {
		const messages = Array.isArray(body?.messages) ? (body.messages as IDataObject[]) : [];
		const messageId = messages[0]?.id;
		if (typeof messageId === 'string' && messageId !== '') return { kind: 'accepted', messageId };
		// A success without a message id cannot be trusted either way.
		return { kind: 'uncertain', detail: `HTTP ${response.statusCode} without a message id` };
	}
	const error = graphErrorOf(body, redact, response.headers?.['x-fb-trace-id']);
	if (error) return { kind: 'cloudError', error, status: response.statusCode };
	// No Graph error body: a gateway between n8n and Meta answered; after a 5xx Meta may still have sent it.
	if (response.statusCode >= 500) return { kind: 'uncertain', detail: `HTTP ${response.statusCode} without a Graph error` };
	return { kind: 'notSent', detail: `HTTP ${response.statusCode} without a Graph error` };
}

/** Where the credential sends: its base URL, Graph version and business phone number. */
export async function readWhatsAppTarget(context: IExecuteFunctions): Promise<WhatsAppTarget> {
	const credentials = await context.getCredentials<{ baseUrl?: string; graphApiVersion?: string; phoneNumberId?: string; accessToken?: string }>(WHATSAPP_CREDENTIAL);
	const phoneNumberId = String(credentials.phoneNumberId ?? '').trim();
	if (!/^[0-9]{1,32}$/.test(phoneNumberId)) {
		throw new NodeOperationError(context.getNode(), 'The WhatsApp credential has no valid Phone Number ID', {
			description: 'Enter the numeric ID of the business phone number (WhatsApp Manager → API Setup) in the Leadflow WhatsApp Cloud API credential.',
		});
	}
	return {
		baseUrl: String(credentials.baseUrl || 'https://graph.facebook.com').replace(/\/+$/, ''),
		version: String(credentials.graphApiVersion || 'v25.0').replace(/^\/+|\/+$/g, ''),
		phoneNumberId,
		// The send carries the access token only.
		redact: graphRedactorFor({ accessToken: credentials.accessToken }),
	};
}
