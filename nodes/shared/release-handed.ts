// A node of the follow-up pipeline that fails as a node (Generate Follow-Up with a Gemini credential
// without a key, Facebook Send with a credential it cannot use before any send began) gives back the
// claimed contacts it was handed before it reports its error: automation_release, one call per claim
// holder and 1,000 contacts (the Data API answers at most 1,000 rows). Those the holder still has
// before their send began go back to queued, their lease ended: the next run claims them at once,
// and the day's limit no longer counts them. Without it they stayed held for the claim's whole lease
// (600 s in the shipped workflow): a Trigger Now after fixing the credential answered claimed 0,
// in_progress. The database leaves alone every contact that is not that holder's before its send
// (another run's, one sending, one recorded), so giving back too many is harmless.
// If giving back fails, the node's own error is still what the user sees: the failure is added to
// its description (the contacts are then claimable again once their lease ends).
import type { IExecuteFunctions, NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { ReleaseArgs } from './contract';
import { giveBackBeforeReporting } from './give-back';
import { callRpc } from './supabase';

/** A claimed contact as the claim hands it: its state id and the execution id holding it. */
export interface HandedContact {
	stateId: string;
	holder: string;
}

/** Why, as the stage history records it. */
export type ReleaseReason = 'generation_setup_failed' | 'send_setup_failed';

/**
 * Gives the contacts back (automation_release, one call per holder and 1,000 contacts) before the
 * node reports `errors` (the error it throws, or its failed items' errors with Continue On Fail).
 * When that fails, each error's description says so; its message stays the node's own.
 */
export async function releaseBeforeReporting(
	context: IExecuteFunctions,
	contacts: readonly HandedContact[],
	reason: ReleaseReason,
	errors: ReadonlyArray<NodeOperationError | NodeApiError>,
): Promise<void> {
	const release = async (holder: string, stateIds: string[]) => {
		const args: ReleaseArgs = { p_execution_id: holder, p_state_ids: stateIds, p_reason: reason };
		return (await callRpc(context, 'automation_release', args)).filter((row) => row.outcome === 'released').length;
	};
	await giveBackBeforeReporting(context, contacts.map(({ stateId, holder }) => ({ id: stateId, holder })), release, errors, {
		things: 'claimed contacts',
		after: `after the node failed (${reason})`,
		meanwhile: 'they stay held by their claim until its lease ends, then the next run claims them again.',
	});
}
