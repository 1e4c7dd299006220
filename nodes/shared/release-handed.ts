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
import { callRpc, piecesOf } from './supabase';
import { UUID } from './valid-input';

/** A claimed contact as the claim hands it: its state id and the execution id holding it. */
export interface HandedContact {
	stateId: string;
	holder: string;
}

/** Why, as the stage history records it. */
export type ReleaseReason = 'generation_setup_failed' | 'send_setup_failed';

export interface ReleaseOutcome {
	/** Contacts given back (claimable again at once). */
	released: number;
	/** Contacts whose call failed (they stay held until their lease ends), and the first error. */
	notReleased: number;
	failure?: unknown;
}

/** Gives the contacts back: one call per holder and 1,000 contacts, each made whichever fails. */
export async function releaseHanded(context: IExecuteFunctions, contacts: readonly HandedContact[], reason: ReleaseReason): Promise<ReleaseOutcome> {
	const groups = new Map<string, Set<string>>();
	for (const { stateId, holder } of contacts) {
		// A state id that is not a UUID names no contact, and would fail the whole call.
		if (!UUID.test(stateId) || holder === '') continue;
		const group = groups.get(holder) ?? new Set<string>();
		group.add(stateId);
		groups.set(holder, group);
	}
	const outcome: ReleaseOutcome = { released: 0, notReleased: 0 };
	for (const [holder, stateIds] of groups) {
		for (const piece of piecesOf([...stateIds])) {
			try {
				const args: ReleaseArgs = { p_execution_id: holder, p_state_ids: piece, p_reason: reason };
				const rows = await callRpc(context, 'automation_release', args);
				outcome.released += rows.filter((row) => row.outcome === 'released').length;
			} catch (error) {
				outcome.failure ??= error;
				outcome.notReleased += piece.length;
			}
		}
	}
	return outcome;
}

/**
 * Gives the contacts back before the node reports `errors` (the error it throws, or its failed
 * items' errors with Continue On Fail). When that fails, each error's description says so; its
 * message stays the node's own.
 */
export async function releaseBeforeReporting(
	context: IExecuteFunctions,
	contacts: readonly HandedContact[],
	reason: ReleaseReason,
	errors: ReadonlyArray<NodeOperationError | NodeApiError>,
): Promise<void> {
	if (contacts.length === 0) return;
	const outcome = await releaseHanded(context, contacts, reason);
	if (outcome.released > 0) context.logger.info(`Leadflow: ${outcome.released} claimed contacts given back after the node failed (${reason})`);
	if (outcome.failure === undefined) return;
	const cause = outcome.failure instanceof Error ? outcome.failure.message : String(outcome.failure);
	context.logger.warn(`Leadflow: giving back ${outcome.notReleased} claimed contacts after the node failed (${reason}) failed: ${cause}`);
	const note =
		`Giving its ${outcome.notReleased} claimed contacts back failed too (${cause}): ` +
		'they stay held by their claim until its lease ends, then the next run claims them again.';
	for (const error of new Set(errors)) error.description = [error.description, note].filter(Boolean).join(' ');
}
