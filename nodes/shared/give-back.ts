// Giving back what a run held when a node fails before it used it: what the follow-up's contacts
// (automation_release: release-handed.ts) and the lead queue's messages (queue_complete reporting
// them released: QueueLedger/helpers/releaseClaimed.ts) share. One database call per holder and
// 1,000 ids (the Data API answers at most 1,000 rows), each made whichever fails; then, if any
// failed, the node's own errors say so in their description (their message stays the node's).
import type { IExecuteFunctions, NodeApiError, NodeOperationError } from 'n8n-workflow';
import { piecesOf } from './supabase';
import { UUID } from './valid-input';

/** Something a run holds: its id (a UUID) and the holder it is held under (an execution, a worker). */
export interface Held {
	id: string;
	holder: string;
}

export interface GiveBackOutcome {
	/** How many the database gave back. */
	given: number;
	/** How many were in a call that failed (they stay held until their lease ends), and the first error. */
	notGiven: number;
	failure?: unknown;
}

/** How the log and the errors' descriptions name what is given back, and what becomes of it. */
export interface GiveBackWords {
	/** What is given back, e.g. "claimed contacts". */
	things: string;
	/** What the node did, with its reason, e.g. "after the node failed (generation_setup_failed)". */
	after: string;
	/** What becomes of them when giving back fails, e.g. "they stay held … then the next run claims them again." */
	meanwhile: string;
}

/**
 * Gives `held` back through `giveBack(holder, ids)` (which answers how many it gave back): one call
 * per holder and 1,000 ids. An id that is not a UUID, or one without a holder, names nothing and
 * would fail the whole call: it is left out.
 */
export async function giveBackByHolder(held: readonly Held[], giveBack: (holder: string, ids: string[]) => Promise<number>): Promise<GiveBackOutcome> {
	const byHolder = new Map<string, Set<string>>();
	for (const { id, holder } of held) {
		if (!UUID.test(id) || holder === '') continue;
		byHolder.set(holder, (byHolder.get(holder) ?? new Set<string>()).add(id.toLowerCase()));
	}
	const outcome: GiveBackOutcome = { given: 0, notGiven: 0 };
	for (const [holder, ids] of byHolder) {
		for (const piece of piecesOf([...ids])) {
			try {
				outcome.given += await giveBack(holder, piece);
			} catch (error) {
				outcome.failure ??= error;
				outcome.notGiven += piece.length;
			}
		}
	}
	return outcome;
}

/**
 * Gives `held` back before the node reports `errors` (the error it throws, or its failed items'
 * errors with Continue On Fail). When that fails, each error's description says so; its message
 * stays the node's own.
 */
export async function giveBackBeforeReporting(
	context: IExecuteFunctions,
	held: readonly Held[],
	giveBack: (holder: string, ids: string[]) => Promise<number>,
	errors: ReadonlyArray<NodeOperationError | NodeApiError>,
	words: GiveBackWords,
): Promise<GiveBackOutcome> {
	if (held.length === 0) return { given: 0, notGiven: 0 };
	const outcome = await giveBackByHolder(held, giveBack);
	if (outcome.given > 0) context.logger.info(`Leadflow: ${outcome.given} ${words.things} given back ${words.after}`);
	if (outcome.failure === undefined) return outcome;
	const cause = outcome.failure instanceof Error ? outcome.failure.message : String(outcome.failure);
	context.logger.warn(`Leadflow: giving back ${outcome.notGiven} ${words.things} ${words.after} failed: ${cause}`);
	const note = `Giving its ${outcome.notGiven} ${words.things} back failed too (${cause}): ${words.meanwhile}`;
	for (const error of new Set(errors)) error.description = [error.description, note].filter(Boolean).join(' ');
	return outcome;
}
