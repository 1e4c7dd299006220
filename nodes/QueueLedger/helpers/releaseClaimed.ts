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
import type { IExecuteFunctions, NodeApiError, NodeOperationError } from 'n8n-workflow';
import { callRpc, piecesOf } from '../../shared/supabase';
import { UUID } from '../../shared/valid-input';

/** A claimed message as Claim hands it: its queue item id and the worker it is held under. */
export interface ClaimedMessage {
	itemId: string;
	worker: string;
}

/** The error code a message given back so carries in queue_complete's report. */
export const SETUP_FAILED = 'send_setup_failed';

/** Gives the messages back: one queue_complete call per worker and 1,000 messages, each made whichever fails. */
async function releaseClaimed(context: IExecuteFunctions, messages: readonly ClaimedMessage[]): Promise<{ released: number; notReleased: number; failure?: unknown }> {
	const byWorker = new Map<string, Set<string>>();
	for (const { itemId, worker } of messages) {
		// An id that is not a UUID names no message, and would fail the whole call.
		if (!UUID.test(itemId) || worker === '') continue;
		byWorker.set(worker, (byWorker.get(worker) ?? new Set<string>()).add(itemId.toLowerCase()));
	}
	const outcome: { released: number; notReleased: number; failure?: unknown } = { released: 0, notReleased: 0 };
	for (const [worker, ids] of byWorker) {
		for (const piece of piecesOf([...ids])) {
			try {
				const rows = await callRpc(context, 'queue_complete', {
					p_worker: worker,
					p_results: piece.map((itemId) => ({ item_id: itemId, outcome: 'released' as const, message_id: null, error: { code: SETUP_FAILED, message: 'Not sent: Send failed as a node before sending it (its error says why)', permanent: false } })),
				});
				outcome.released += rows.filter((row) => row.accepted).length;
			} catch (error) {
				outcome.failure ??= error;
				outcome.notReleased += piece.length;
			}
		}
	}
	return outcome;
}

/**
 * Gives the messages back before the node reports `errors` (the error it throws, or its failed
 * items' errors with Continue On Fail). When that fails, each error's description says so; its
 * message stays the node's own.
 */
export async function releaseBeforeReporting(
	context: IExecuteFunctions,
	messages: readonly ClaimedMessage[],
	errors: ReadonlyArray<NodeOperationError | NodeApiError>,
): Promise<void> {
	if (messages.length === 0) return;
	const outcome = await releaseClaimed(context, messages);
	if (outcome.released > 0) context.logger.info(`Leadflow: ${outcome.released} claimed WhatsApp messages given back after Send failed (${SETUP_FAILED})`);
	if (outcome.failure === undefined) return;
	const cause = outcome.failure instanceof Error ? outcome.failure.message : String(outcome.failure);
	context.logger.warn(`Leadflow: giving back ${outcome.notReleased} claimed WhatsApp messages after Send failed failed: ${cause}`);
	const note =
		`Giving its ${outcome.notReleased} claimed messages back failed too (${cause}): ` +
		'they stay claimed until their lease ends, then the next Claim hands them out again.';
	for (const error of new Set(errors)) error.description = [error.description, note].filter(Boolean).join(' ');
}
