// Whether the trigger's Page can be recorded at all, checked when the workflow is activated: events
// of a Page without a row in messenger_pages are ignored by messenger_record_events
// (page_not_connected) unless the node names the owner, and those of a Page connected to another
// owner than the node's are ignored too (page_of_another_owner). Meta is answered 200 for both (see
// docs/messenger.md, "A Page that is not connected"), so a workflow activated that way would
// acknowledge every message and record none. Activation is refused instead, with what to do.
import { NodeOperationError, type IHookFunctions } from 'n8n-workflow';
import { callRpc, getSupabaseClient, toNodeApiError } from '../../shared/supabase';
import { MESSENGER_ID, UUID } from '../../shared/valid-input';
import { FACEBOOK_CREDENTIAL, readAppId, warnAppIdNotDigits, warnNoAppId } from '../helpers/webhook';

/** What to do about a Page that is not connected, in the words of the node's fields. */
export const CONNECT_THE_PAGE =
	'Set the node’s Owner ID to the Supabase Auth user the Page belongs to (the first delivery then connects it), or connect the Page first: run Messenger Sync with that Owner ID, or add its row to messenger_pages (page_id, user_id).';

/** The owner a Page is connected to (its row of messenger_pages), or null: one read by primary key. */
export async function ownerOfPage(context: IHookFunctions, pageId: string): Promise<string | null> {
	const client = await getSupabaseClient(context);
	const { data, error } = await client.from('messenger_pages').select('user_id').eq('page_id', pageId).maybeSingle();
	if (error) throw toNodeApiError(context, error, `Reading whether Page ${pageId} is connected (messenger_pages) failed`);
	return (data as { user_id: string } | null)?.user_id ?? null;
}

/** Whether the Owner ID is a user of this project (auth.users): one call. */
async function ownerIsUser(context: IHookFunctions, owner: string): Promise<boolean> {
	const [row] = await callRpc(context, 'messenger_owner_is_user', { p_owner: owner });
	return row?.owner_is_user === true;
}

/**
 * Refuses activation when the events this node receives would all be refused or ignored: the
 * credential has no App Secret (no signature can be checked), the Owner ID is not
 * a user id or not a user of this project, or the Page it receives (the credential's; with Every Connected Page, the credential's
 * when this node subscribes it) is not connected and no Owner ID is set, or is connected to another
 * owner than the node's. Every Connected Page without Subscribe on Activation receives the Pages the
 * app's dashboard subscribed: nothing to check here; the run logs what it ignores. An App ID that
 * is not digits, or none, is said in n8n's log, not refused (deliveries are recorded without it).
 */
export async function checkPageCanBeRecorded(context: IHookFunctions): Promise<void> {
	const node = context.getNode();
	// Without the App Secret no delivery can be verified: each would be answered 500 (not recorded)
	// while Meta's own verification request, which needs only the verify token, succeeds.
	const credentials = await context.getCredentials<{ appSecret?: string; appId?: string; pageId?: string }>(FACEBOOK_CREDENTIAL);
	if (String(credentials.appSecret ?? '') === '') {
		throw new NodeOperationError(node, 'The Facebook Page credential has no App Secret: Meta’s deliveries could not be verified, and every one would be refused', {
			description: 'Put the Meta app’s App Secret (the app’s dashboard → App settings → Basic) in the Leadflow Facebook Page API credential, then activate again.',
		});
	}
	// An App ID that is not digits (spaces anywhere ignored) is recorded as none, as an empty one
	// (no takeover, nothing settled: docs/messenger.md). Not refused: a workflow receiving and
	// recording deliveries with it would stop receiving anything at its next activation (each n8n
	// restart). Said in n8n's log, without its value (an App Secret pasted into the field would be).
	if (!readAppId(credentials.appId).usable) warnAppIdNotDigits(context, 'activation');
	// An empty one turns the same two off, as documented: said once per activation, not silently.
	else if (readAppId(credentials.appId).appId === null) warnNoAppId(context, 'activation');
	const owner = String(context.getNodeParameter('owner', '') ?? '').trim();
	if (owner !== '' && !UUID.test(owner)) {
		throw new NodeOperationError(node, 'The Owner ID is not a user id', {
			description: 'Owner ID takes the id of a Supabase Auth user (a UUID, Authentication → Users in Supabase), or stays empty once the Page is connected.',
		});
	}
	if (owner !== '' && !(await ownerIsUser(context, owner))) {
		throw new NodeOperationError(node, `The Owner ID ${owner} is not a user of this Supabase project: the messages of a Page it would connect would be acknowledged to Meta and not recorded`, {
			description: 'Set Owner ID to the Page owner’s user id from this project (Supabase → Authentication → Users; not another project’s, not a deleted user’s), or leave it empty once the Page is connected.',
		});
	}
	const onlyCredentialPage = context.getNodeParameter('pages', 'credentialPage') === 'credentialPage';
	if (!onlyCredentialPage && !context.getNodeParameter('subscribe', true)) return;

	const pageId = String(credentials.pageId ?? '').trim();
	if (!MESSENGER_ID.test(pageId)) {
		throw new NodeOperationError(node, 'The Facebook Page credential has no valid Page ID', {
			description: 'Put the Page’s numeric id (Page → About → Page transparency, or the Graph API’s /me with the Page token) in the Leadflow Facebook Page API credential.',
		});
	}
	const connectedTo = await ownerOfPage(context, pageId);
	if (connectedTo === null && owner === '') {
		throw new NodeOperationError(node, `Page ${pageId} is not connected to an owner, and the node has no Owner ID: its messages would be acknowledged to Meta and not recorded`, {
			description: CONNECT_THE_PAGE,
		});
	}
	if (connectedTo !== null && owner !== '' && connectedTo.toLowerCase() !== owner.toLowerCase()) {
		throw new NodeOperationError(node, `Page ${pageId} is connected to another owner than the node’s Owner ID: its messages would be acknowledged to Meta and not recorded`, {
			description: `Set Owner ID to the Page’s owner (${connectedTo}) or leave it empty. To move the Page to another owner, delete its row of messenger_pages (its Messenger Sync jobs go with it; the conversations recorded stay the old owner’s), then activate with the new Owner ID: the first delivery connects the Page to it.`,
		});
	}
}
