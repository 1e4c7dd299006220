// The Conversations endpoint through n8n's request helper and the Facebook Page credential (its
// `authenticate` adds access_token and appsecret_proof), as FacebookSend's transport reaches the
// Send API. Each answer becomes what happened: a page, a Graph error (by its code, never by the
// HTTP status), or no answer at all. Both endpoints answer a list (`data`, an array): a 2xx
// without one (a proxy's page, an API that changed) is no answer, retried like one, never an
// empty page (which would end the list and complete the job with the rest unread).
import type { IDataObject, IExecuteFunctions, IHttpRequestOptions } from 'n8n-workflow';
import { graphErrorOf, networkCodeOf, type GraphError, type Redact } from '../../shared/graph';

export const FACEBOOK_CREDENTIAL = 'leadflowFacebookPageApi';

export interface GraphTarget {
	root: string;
	pageId: string;
	/** Removes the access token the calls send from Graph's error texts (Meta quotes the token in some). */
	redact: Redact;
}

export type GraphAnswer = { kind: 'ok'; body: unknown } | { kind: 'graphError'; error: GraphError; status: number } | { kind: 'noAnswer'; detail: string };

/** Messages asked for inside each conversation (field expansion), newest first. */
export const MESSAGE_FIELDS = 'id,message,from,to,created_time';

/**
 * Graph refused one conversation's own messages edge for that conversation alone, for good: code 100
 * subcode 33 ("Object with ID … does not exist, cannot be loaded due to missing permissions, or does
 * not support this operation": deleted, or the person's account gone, since the list named it), or
 * 803 ("Some of the aliases you requested do not exist"). Not a refused cursor (100 naming the
 * cursor: Meta invalidates a cursor when its message is deleted; syncPage.ts reads the edge again
 * from its newest message, once), nor the token's or the app's permissions (190, 10, 200–299: every
 * conversation's, so the sync stops), nor a throttle or a temporary error (retried), nor another
 * code 100 (a request of ours Graph refuses for every conversation).
 */
export const refusesConversation = (error: GraphError): boolean => (error.code === 100 && error.subcode === 33) || error.code === 803;

export function conversationsQuery(pageSize: number, messagesPerConversation: number, after: string | null): Record<string, string> {
	return {
		platform: 'messenger',
		fields: `participants,updated_time,messages.limit(${messagesPerConversation}){${MESSAGE_FIELDS}}`,
		limit: String(pageSize),
		...(after !== null && { after }),
	};
}

export async function readConversations(context: IExecuteFunctions, target: GraphTarget, qs: Record<string, string>, timeoutMs: number): Promise<GraphAnswer> {
	return await get(context, target, `${target.root}/${encodeURIComponent(target.pageId)}/conversations`, qs, timeoutMs);
}

/** A conversation's messages edge, newest first: from `after`, or from its newest message when null. */
export async function readMessages(context: IExecuteFunctions, target: GraphTarget, conversationId: string, after: string | null, limit: number, timeoutMs: number): Promise<GraphAnswer> {
	return await get(context, target, `${target.root}/${encodeURIComponent(conversationId)}/messages`, { fields: MESSAGE_FIELDS, limit: String(limit), ...(after !== null && { after }) }, timeoutMs);
}

async function get(context: IExecuteFunctions, target: GraphTarget, url: string, qs: Record<string, string>, timeoutMs: number): Promise<GraphAnswer> {
	const options: IHttpRequestOptions = { method: 'GET', url, qs, json: true, timeout: timeoutMs, returnFullResponse: true, ignoreHttpStatusErrors: true };
	let response: { statusCode: number; headers?: IDataObject; body: unknown };
	try {
		response = await context.helpers.httpRequestWithAuthentication.call(context, FACEBOOK_CREDENTIAL, options);
	} catch (error) {
		return { kind: 'noAnswer', detail: networkCodeOf(error) ?? 'no answer' };
	}
	if (response.statusCode >= 200 && response.statusCode < 300) {
		const body = response.body;
		if (typeof body === 'object' && body !== null && Array.isArray((body as { data?: unknown }).data)) return { kind: 'ok', body };
		return { kind: 'noAnswer', detail: `HTTP ${response.statusCode} without a list of ${url.endsWith('/messages') ? 'messages' : 'conversations'} (no data array)` };
	}
	const error = graphErrorOf(response.body, target.redact, response.headers?.['x-fb-trace-id']);
	if (error) return { kind: 'graphError', error, status: response.statusCode };
	return { kind: 'noAnswer', detail: `HTTP ${response.statusCode} without a Graph error` };
}
