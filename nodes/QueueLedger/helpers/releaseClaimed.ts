// Send failing as a node before its first queue_begin_send (a WhatsApp credential without a valid
// Phone Number ID, an item it cannot read) gives the claimed messages it was handed back before it
// reports its error: reported `released` through queue_complete, one call per worker and 1,000
// messages, as Complete would record a message the batch did not attempt. Each goes back to queued,
// due at once, its lease ended and the attempt the claim counted given back. Without it they stayed
// claimed for the claim's whole lease (5 minutes in the shipped workflow), and every broken run used
// up one of their attempts, so that after a few a single retryable Meta error made a message dead.
// Nothing had begun sending (no queue_begin_send was made), so nothing given back can have gone out;
// the database refuses a message this worker no longer holds (another run's, or already reported),
// so giving back one twice changes nothing.
// If giving back fails, the node's own error is still what the user sees: the failure is added to
// its description (the messages are then handed out again once their lease ends).
// Claim uses it too: failing as a node after it claimed some owners' messages (another owner's
// claim refused), it gives those back before it throws (code claim_failed).
import type { IExecuteFunctions, NodeApiError, NodeOperationError } from 'n8n-workflow';
import { giveBackBeforeReporting } from '../../shared/give-back';
import { callRpc } from '../../shared/supabase';

/** A claimed message as Claim hands it: its queue item id and the worker it is held under. */
export interface ClaimedMessage {
	itemId: string;
	worker: string;
}

/** The error code a message given back so carries in queue_complete's report. */
export const SETUP_FAILED = 'send_setup_failed';

/** The same for a message Claim gives back when it fails as a node after claiming it. */
export const CLAIM_FAILED = 'claim_failed';

/** Which node gives the messages back: the code and words of its report. */
const BY = {
	send: { code: SETUP_FAILED, message: 'Not sent: Send failed as a node before sending it (its error says why)', after: `after Send failed (${SETUP_FAILED})` },
	claim: { code: CLAIM_FAILED, message: 'Not sent: Claim failed as a node after claiming it (its error says why)', after: `after Claim failed (${CLAIM_FAILED})` },
} as const;

/**
 * Gives the messages back (queue_complete reporting them released, one call per worker and 1,000
 * messages) before the node reports `errors` (the error it throws, or its failed items' errors
 * with Continue On Fail). When that fails, each error's description says so; its message stays the
 * node's own.
 */
export async function releaseBeforeReporting(
	context: IExecuteFunctions,
	messages: readonly ClaimedMessage[],
	errors: ReadonlyArray<NodeOperationError | NodeApiError>,
	by: keyof typeof BY = 'send',
): Promise<void> {
	const words = BY[by];
	const release = async (worker: string, itemIds: string[]) => {
		const rows = await callRpc(context, 'queue_complete', {
			p_worker: worker,
			p_results: itemIds.map((itemId) => ({
				item_id: itemId,
				outcome: 'released' as const,
				message_id: null,
				error: { code: words.code, message: words.message, permanent: false },
			})),
		});
		return rows.filter((row) => row.accepted).length;
	};
	await giveBackBeforeReporting(context, messages.map(({ itemId, worker }) => ({ id: itemId, holder: worker })), release, errors, {
		things: 'claimed messages',
		after: words.after,
		meanwhile: 'they stay claimed until their lease ends, then the next Claim hands them out again.',
	});
}
