// What the Messenger Trigger does with a request:
//   GET  Meta's verification: hub.mode=subscribe and the credential's verify token → hub.challenge
//        as text/plain; anything else → 403.
//   POST a delivery: the signature checked over the raw bytes (401 without one, 403 wrong: nothing
//        recorded, nothing emitted), the body read (400 when it is not a delivery), every event
//        recorded in one database call (500 if that fails, so Meta delivers it again), then 200 at
//        once and one item per event for the workflow.
//        Before webhook() runs, n8n (2.41) parses the body itself: sent as application/json (as
//        Meta sends it), bytes that are not JSON are answered 422 by n8n ("Failed to parse request
//        body"), so before the signature is checked (no header: 422 as well). The 400 here for a
//        body that is not JSON (invalid_json) is reached only under a content type n8n does not
//        parse as JSON (text/plain, application/octet-stream, none), once the signature matches;
//        JSON without an `object` or an `entry` array is 400 (invalid_delivery) under any type.
// Answers never carry a secret, a stack trace or the database's words.
import type { IDataObject, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import type { RecordedEvent } from '../../shared/contract';
import { recordEvents } from '../transport/recordEvents';
import { MESSENGER_ID, UUID } from '../../shared/valid-input';
import { readDelivery, type EventExtras, type IgnoredEvent } from './events';
import { checkSignature, sameSecret } from './signature';

export const FACEBOOK_CREDENTIAL = 'leadflowFacebookPageApi';

/** Why an App ID that is not a Meta app id (digits) matters, and what to do: said in n8n's log at activation and with each delivery. */
export const APP_ID_NOT_DIGITS =
	'The Facebook Page credential’s App ID is not a Meta app id (digits only): deliveries are recorded without one, so the app’s own echoes cannot be told from a person’s: no human takeover stops follow-ups and no echo settles an uncertain follow-up';
export const FIX_THE_APP_ID =
	'Put the Meta app’s App ID (its digits: the app’s dashboard → App settings → Basic; not its name or the App Secret) in the Leadflow Facebook Page API credential to turn both on (an empty App ID turns them off too, and is warned about the same way).';

/**
 * The credential's App ID as the database takes it: its digits (spaces anywhere ignored, so
 * `1234 5678 9012` is 123456789012), `null` when empty, and `usable: false` (recorded as `null`)
 * when it is not digits: the app's name, the App Secret pasted into the field.
 */
export function readAppId(appId: unknown): { appId: string | null; usable: boolean } {
	const value = String(appId ?? '').replace(/\s+/g, '');
	if (value === '') return { appId: null, usable: true };
	return MESSENGER_ID.test(value) ? { appId: value, usable: true } : { appId: null, usable: false };
}

/** Why an empty App ID matters, and what to do: said in n8n's log at the trigger's activation, and as Messenger Sync's warning in the editor. */
export const NO_APP_ID =
	'The Facebook Page credential has no App ID: the Messenger Trigger records Meta’s deliveries without one, so the app’s own echoes cannot be told from a person’s: no human takeover stops follow-ups and no echo settles an uncertain follow-up';
export const PUT_AN_APP_ID =
	'Put the Meta app’s App ID (its digits: the app’s dashboard → App settings → Basic; not its name or the App Secret) in the Leadflow Facebook Page API credential to turn both on.';

/**
 * What is wrong with the credential's App ID and what to do, as one text, or undefined when it is a
 * Meta app id: empty (no takeover, nothing settled, as documented) or not digits (recorded as none).
 * The value itself is never in it (it could be the App Secret).
 */
export function appIdProblem(appId: unknown): string | undefined {
	if (String(appId ?? '').replace(/\s+/g, '') === '') return `${NO_APP_ID}. ${PUT_AN_APP_ID}`;
	return readAppId(appId).usable ? undefined : `${APP_ID_NOT_DIGITS}. ${FIX_THE_APP_ID}`;
}

/** The warning, in n8n's log, of an empty App ID: at activation only (once per activation, not with each delivery). */
export function warnNoAppId(context: Pick<IWebhookFunctions, 'logger' | 'getNode' | 'getWorkflow'>, when: string): void {
	context.logger.warn(`Leadflow Messenger Trigger: ${NO_APP_ID}. ${PUT_AN_APP_ID}`, { node: context.getNode().name, workflowId: context.getWorkflow().id, when });
}

/** The warning, in n8n's log, of an App ID that is not digits; its value is not repeated (it could be the App Secret). */
export function warnAppIdNotDigits(context: Pick<IWebhookFunctions, 'logger' | 'getNode' | 'getWorkflow'>, when: string): void {
	context.logger.warn(`Leadflow Messenger Trigger: ${APP_ID_NOT_DIGITS}. ${FIX_THE_APP_ID}`, { node: context.getNode().name, workflowId: context.getWorkflow().id, when });
}

interface PageCredential {
	pageId?: string;
	appSecret?: string;
	appId?: string;
	verifyToken?: string;
}

interface TriggerOptions {
	includeDuplicates?: boolean;
	includeIgnored?: boolean;
	includeReceipts?: boolean;
}

function answer(context: IWebhookFunctions, status: number, body: IDataObject): IWebhookResponseData {
	context.getResponseObject().status(status).json(body);
	return { noWebhookResponse: true };
}

export async function handleWebhook(context: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = context.getRequestObject();
	const credentials = await context.getCredentials<PageCredential>(FACEBOOK_CREDENTIAL);
	if (request.method === 'GET') return verify(context, String(credentials.verifyToken ?? ''));
	if (request.method !== 'POST') return answer(context, 405, { error: 'method_not_allowed', message: 'Meta sends GET (verification) and POST (deliveries).' });

	const appSecret = String(credentials.appSecret ?? '');
	if (appSecret === '') {
		return answer(context, 500, {
			error: 'not_configured',
			message: 'Deliveries cannot be verified: set the App Secret in the Leadflow Facebook Page API credential.',
		});
	}
	if (request.rawBody === undefined) await request.readRawBody?.();
	const rawBody = request.rawBody ?? Buffer.alloc(0);
	const signature = checkSignature(rawBody, request.headers['x-hub-signature-256'], appSecret);
	if (!signature.ok) return answer(context, signature.status, { error: signature.error, message: signature.message });

	const owner = String(context.getNodeParameter('owner', '') ?? '').trim();
	if (owner !== '' && !UUID.test(owner)) {
		return answer(context, 500, { error: 'not_configured', message: 'The node’s Owner ID is not a user id (a UUID from Supabase Auth).' });
	}
	const pageId = String(credentials.pageId ?? '').trim();
	const onlyCredentialPage = context.getNodeParameter('pages', 'credentialPage') === 'credentialPage';
	if (onlyCredentialPage && !/^[0-9]{1,32}$/.test(pageId)) {
		return answer(context, 500, { error: 'not_configured', message: 'The Leadflow Facebook Page API credential has no valid Page ID.' });
	}
	// An App ID that is not digits is recorded as none (the delivery is never lost for it), not
	// silently: n8n's log says so, at activation (transport/pages.ts) and with each delivery.
	const { appId, usable: appIdUsable } = readAppId(credentials.appId);
	if (!appIdUsable) warnAppIdNotDigits(context, 'delivery');

	const read = readDelivery(rawBody, onlyCredentialPage ? pageId : null);
	if (!read.ok) return answer(context, read.problem.status, { error: read.problem.error, message: read.problem.message });
	const options = context.getNodeParameter('options', {}) as TriggerOptions;
	const { delivery } = read;

	let rows: RecordedEvent[] = [];
	if (delivery.events.length > 0) {
		try {
			rows = await recordEvents(context, delivery.events, appId, owner === '' ? null : owner);
		} catch (error) {
			context.logger.error('Leadflow Messenger Trigger: the delivery could not be recorded', { error: (error as Error).message });
			return answer(context, 500, { error: 'not_recorded', message: 'The events could not be recorded; Meta delivers them again.' });
		}
	}

	warnAboutIgnoredPages(context, rows, delivery.ignored);
	const items = itemsFor(rows, delivery.extras, read.object === 'page' ? delivery.ignored : [{ page_id: null, psid: null, type: read.object, reason: 'unsupported_event', detail: `object ${read.object}` }], options);
	const summary = { received: true, recorded: rows.filter((row) => row.outcome === 'recorded').length, events: rows.length + delivery.ignored.length };
	// The delivery is recorded: Meta gets its 200 now, from here, not once n8n has created the
	// execution (its bookkeeping, which a busy n8n does more slowly than it records deliveries).
	// n8n starts the workflow with the items all the same.
	answer(context, 200, summary);
	if (items.length === 0) return { noWebhookResponse: true };
	return { workflowData: [items], noWebhookResponse: true };
}

/** Why events of a whole Page are ignored (by the node: other_page; by the database: the rest), and what to do about it. */
const PAGE_REASONS: Record<string, string> = {
	other_page:
		'the node receives only its credential’s Page (Pages: The Credential’s Page), and the Meta app sends the events of every Page subscribed to it to this one callback URL: set the Messenger Trigger’s Pages to Every Connected Page to record each connected Page’s events for its owner, or give this Page a workflow of its own whose Leadflow Facebook Page API credential is that Page’s (through another Meta app: an app has one callback URL)',
	page_not_connected:
		'the Page is not connected to an owner (no row in messenger_pages) and the node has no Owner ID: set the Messenger Trigger’s Owner ID to the Page owner’s Supabase Auth user id, or connect the Page (Messenger Sync with an Owner ID, or a row of messenger_pages)',
	page_of_another_owner: 'the Page is connected to another owner than the node’s Owner ID: set Owner ID to the Page’s owner or leave it empty',
	owner_not_a_user:
		'the Page is not connected and the node’s Owner ID is not a user of this Supabase project (a typo, another project’s user, or a deleted user): set Owner ID to the Page owner’s Supabase Auth user id (Authentication → Users)',
};

/**
 * Events ignored because of their Page (another Page than the credential's, not connected, or
 * another owner's) are answered 200 like the rest (see docs/messenger.md): never silently. One
 * warning per Page and reason in n8n's log, whether or not Include Ignored Events emits them.
 */
function warnAboutIgnoredPages(context: IWebhookFunctions, rows: RecordedEvent[], ignoredHere: IgnoredEvent[]): void {
	const ignored = new Map<string, { pageId: string; reason: string; events: number }>();
	const count = (pageId: string, reason: string) => {
		const key = `${pageId}\n${reason}`;
		const seen = ignored.get(key) ?? { pageId, reason, events: 0 };
		seen.events += 1;
		ignored.set(key, seen);
	};
	for (const event of ignoredHere) if (event.reason === 'other_page' && event.page_id !== null) count(event.page_id, event.reason);
	for (const row of rows) if (row.outcome === 'ignored' && row.reason !== null && row.reason in PAGE_REASONS) count(row.page_id, row.reason);
	for (const { pageId, reason, events } of ignored.values()) {
		context.logger.warn(`Leadflow Messenger Trigger: ${events} event(s) of Page ${pageId} not recorded (${reason}): ${PAGE_REASONS[reason]}. Meta was answered 200 and will not deliver them again.`, {
			pageId,
			reason,
			events,
			node: context.getNode().name,
			workflowId: context.getWorkflow().id,
		});
	}
}

function verify(context: IWebhookFunctions, verifyToken: string): IWebhookResponseData {
	const query = context.getQueryData() as Record<string, unknown>;
	const mode = query['hub.mode'];
	const token = query['hub.verify_token'];
	const challenge = query['hub.challenge'];
	const valid =
		mode === 'subscribe' &&
		typeof token === 'string' &&
		sameSecret(token, verifyToken) &&
		typeof challenge === 'string' &&
		challenge.length > 0 &&
		challenge.length <= 1000;
	if (!valid) return answer(context, 403, { error: 'verification_failed', message: 'The verify token does not match the credential’s.' });
	const response = context.getResponseObject();
	response.status(200).setHeader('content-type', 'text/plain; charset=utf-8');
	response.end(challenge);
	return { noWebhookResponse: true };
}

/**
 * One item per event the workflow should see: recorded ones always, the rest as the options say. A
 * duplicate that stopped the follow-ups is emitted too: a person's echo whose message a sync
 * recorded first took the contact over. A redelivery of an echo already taken over stops nothing,
 * so it still starts nothing twice.
 */
function itemsFor(rows: RecordedEvent[], extras: EventExtras[], ignored: IgnoredEvent[], options: TriggerOptions): INodeExecutionData[] {
	const items: INodeExecutionData[] = [];
	for (const row of rows) {
		const isReceipt = row.type === 'delivery' || row.type === 'read';
		if (isReceipt && !options.includeReceipts) continue;
		if (row.outcome === 'duplicate' && !row.stopped_automations && !options.includeDuplicates) continue;
		if (row.outcome === 'ignored' && !options.includeIgnored) continue;
		items.push({ json: { ...row, ...extras[row.item_index] } as IDataObject });
	}
	if (options.includeIgnored) {
		for (const event of ignored) items.push({ json: { ...event, outcome: 'ignored' } as unknown as IDataObject });
	}
	return items;
}
