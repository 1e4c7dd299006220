// What Assign and Move share: read every item into one change (a bad item stops the node, or with
// Continue On Fail becomes a failed item), refuse a conversation listed twice in the input (each
// call refuses one listed twice in its batch; this makes it so across batches too, before anything
// is written), send the changes in batches of at most 1,000 (the most rows the Data API returns)
// with one database call each, two calls at a time, put each returned row on Contacts paired with
// its item (in the input's order of batches, whichever call ended first), then hand
// out the automations those changes fired: exactly the outbox items the calls answered they queued
// (outbox_ids), not other items of the same contacts. A change the database refuses is reported for
// its input item; with Continue On Fail it alone fails and the rest of its batch is written
// (nodes/shared/batch-refusals.ts). Each call is its own transaction: only the node's own checks
// (above) cover the whole input before anything is written. Without Continue On Fail, a refused call
// stops the node (no further call is started) once the call beside it has ended, its error saying
// which items the other calls wrote (earlier ones, and the one in flight beside it) and
// that their automations wait in the outbox for Claim Automations: a failed node's outputs reach no
// one, so they are not claimed (at most once, they would be marked delivered and lost).
import { NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import { sendBatch, withWritten, type BatchEntry } from '../../shared/batch-refusals';
import { runsAsTool } from '../../shared/outputs';
import { asNodeError, failedItem } from '../../shared/per-item';
import { DATA_API_MAX_ROWS, eachPieceAtOnce, piecesOf } from '../../shared/supabase';
import { handOutAutomations, queuedOutboxIds, readDelivery } from './automations';
import { AUTOMATIONS, CONTACTS, OUTPUT_COUNT } from './common';

const BATCH = DATA_API_MAX_ROWS;
/**
 * Calls in flight at once. Each call is its own transaction on its own contacts (a conversation is
 * in one call only), so two never wait for each other's contacts, only, at their very end, for the
 * counters of the automations both fired (locked in id order: no deadlock); the database works on
 * both at once. Measured (bench/assign.ts): two at once take about 0.6 of the time of one at a time for
 * 10,000 contacts; a third gains nothing on a database with two cores.
 */
export const CALLS_AT_ONCE = 2;

export async function applyStageChanges<Change extends { conversation_id: string }>(
	context: IExecuteFunctions,
	read: (itemIndex: number) => Change,
	send: (changes: Change[]) => Promise<ReadonlyArray<{ item_index: number; outbox_ids?: string[] | null }>>,
): Promise<INodeExecutionData[][]> {
	const items = context.getInputData();
	const outputs: INodeExecutionData[][] = Array.from({ length: OUTPUT_COUNT }, () => []);
	// An agent receives no Automations output, so a tool hands nothing out: the actions wait for a
	// workflow's Claim Automations, and each contact says how many of its actions wait.
	const asTool = runsAsTool(context);
	// How the fired actions are handed out, the run's (item 0), checked before anything is read or
	// written: a Delivery or Lease an expression gives out of range stops the node (readDelivery).
	// With Continue On Fail every item fails with the refusal (invalid_input) and nothing is written:
	// thrown, n8n would pass the input items on to Contacts as if placed (with an error output).
	let delivery: ReturnType<typeof readDelivery> | undefined;
	try {
		delivery = items.length > 0 && !asTool && context.getNodeParameter('handOutAutomations', 0, true) ? readDelivery(context) : undefined;
	} catch (refused) {
		if (!context.continueOnFail()) throw asNodeError(context, refused, 0);
		outputs[CONTACTS].push(...items.map((_, item) => failedItem(context, refused, { item })));
		return outputs;
	}
	const changes: Array<BatchEntry<Change>> = [];
	const firstItemOf = new Map<string, number>();
	const outboxIds: string[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const change = read(itemIndex);
			// Ids come from checkUuid, in lower case: one spelling per conversation.
			const first = firstItemOf.get(change.conversation_id);
			if (first !== undefined) {
				throw new NodeOperationError(context.getNode(), `conversation_id: conversation ${change.conversation_id} is listed twice (also item ${first})`, {
					itemIndex,
					description: 'Give each conversation once per run: the first item of it is the one applied.',
				});
			}
			firstItemOf.set(change.conversation_id, itemIndex);
			changes.push({ itemIndex, payload: change });
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error, itemIndex);
			outputs[CONTACTS].push(failedItem(context, error, { item: itemIndex }));
		}
	}
	const pieces = piecesOf(changes, BATCH);
	const continueOnFail = context.continueOnFail();
	const outcomes = await eachPieceAtOnce(
		pieces,
		CALLS_AT_ONCE,
		async (batch) => {
			// Refused items are kept with their piece, so the output's order does not depend on which
			// call ended first.
			const refused: INodeExecutionData[] = [];
			const answer = await sendBatch(context, batch, send, (entry, error) => {
				refused.push(failedItem(context, error, { item: entry.itemIndex }));
			});
			return { ...answer, refused };
		},
		!continueOnFail,
	);
	// Each call's answer in the input's order of batches. A batch never started (after a refusal
	// without Continue On Fail) has no outcome.
	let failure: PromiseRejectedResult | undefined;
	const written: Array<BatchEntry<Change>> = [];
	pieces.forEach((batch, index) => {
		const outcome = outcomes[index];
		if (outcome === undefined) return;
		if (outcome.status === 'rejected') {
			failure ??= outcome;
			for (const entry of batch) outputs[CONTACTS].push(failedItem(context, outcome.reason, { item: entry.itemIndex }));
			return;
		}
		const { rows, sent, refused } = outcome.value;
		written.push(...sent);
		outputs[CONTACTS].push(...refused);
		outboxIds.push(...queuedOutboxIds(rows));
		for (const row of rows) {
			const itemIndex = sent[row.item_index].itemIndex;
			// The queued actions leave on Automations, not on Contacts.
			const json = { ...row, item_index: itemIndex } as IDataObject;
			if (asTool) json.automations_waiting = row.outbox_ids?.length ?? 0;
			delete json.outbox_ids;
			outputs[CONTACTS].push({ json, pairedItem: { item: itemIndex } });
		}
	});
	if (failure && !continueOnFail) {
		// Every other call that ended wrote its items: the one in flight beside the refused call may
		// be a later one. No call was started after the refusal.
		throw withWritten(
			asNodeError(context, failure.reason),
			written,
			outboxIds.length > 0
				? `; the ${outboxIds.length} webhook / notify actions they fired were not handed out: the Claim Automations operation hands them out.`
				: '; they fired no webhook or notify action.',
			"the run's other calls",
		);
	}
	if (delivery && outboxIds.length > 0) outputs[AUTOMATIONS].push(...(await handOutAutomations(context, 0, outboxIds, delivery)));
	return outputs;
}

