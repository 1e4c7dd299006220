// What Assign and Move share: read every item into one change (a bad item stops the node, or with
// Continue On Fail becomes a failed item), refuse a conversation listed twice in the input (each
// call refuses one listed twice in its batch; this makes it so across batches too, before anything
// is written), send the changes in batches of at most 1,000 (the most rows the Data API returns)
// with one database call each, put each returned row on Contacts paired with its item, then hand
// out the automations those changes fired: exactly the outbox items the calls answered they queued
// (outbox_ids), not other items of the same contacts. A change the database refuses is reported for
// its input item; with Continue On Fail it alone fails and the rest of its batch is written
// (nodes/shared/batch-refusals.ts). Each call is its own transaction: only the node's own checks
// (above) cover the whole input before anything is written. Without Continue On Fail, a call refused
// after earlier calls were written stops the node, its error saying which items were written and
// that their automations wait in the outbox for Claim Automations: a failed node's outputs reach no
// one, so they are not claimed (at most once, they would be marked delivered and lost).
import { NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import { sendBatch, withWritten, type BatchEntry } from '../../shared/batch-refusals';
import { asNodeError, failedItem } from '../../shared/per-item';
import { handOutAutomations, queuedOutboxIds, readDelivery } from './automations';
import { AUTOMATIONS, CONTACTS, OUTPUT_COUNT } from './common';

const BATCH = 1000;

export async function applyStageChanges<Change extends { conversation_id: string }>(
	context: IExecuteFunctions,
	read: (itemIndex: number) => Change,
	send: (changes: Change[]) => Promise<ReadonlyArray<{ item_index: number; outbox_ids?: string[] | null }>>,
): Promise<INodeExecutionData[][]> {
	const items = context.getInputData();
	const outputs: INodeExecutionData[][] = Array.from({ length: OUTPUT_COUNT }, () => []);
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
	for (let start = 0; start < changes.length; start += BATCH) {
		const batch = changes.slice(start, start + BATCH);
		try {
			const { rows, sent } = await sendBatch(context, batch, send, (entry, error) => {
				outputs[CONTACTS].push(failedItem(context, error, { item: entry.itemIndex }));
			});
			outboxIds.push(...queuedOutboxIds(rows));
			for (const row of rows) {
				const itemIndex = sent[row.item_index].itemIndex;
				// The queued actions leave on Automations, not on Contacts.
				const json = { ...row, item_index: itemIndex } as IDataObject;
				delete json.outbox_ids;
				outputs[CONTACTS].push({ json, pairedItem: { item: itemIndex } });
			}
		} catch (error) {
			if (!context.continueOnFail()) throw withWritten(asNodeError(context, error), changes.slice(0, start), outboxIds.length > 0
				? `; the ${outboxIds.length} webhook / notify actions they fired were not handed out: the Claim Automations operation hands them out.`
				: '; they fired no webhook or notify action.');
			for (const entry of batch) outputs[CONTACTS].push(failedItem(context, error, { item: entry.itemIndex }));
		}
	}
	if (items.length > 0 && context.getNodeParameter('handOutAutomations', 0, true)) {
		if (outboxIds.length > 0) outputs[AUTOMATIONS].push(...(await handOutAutomations(context, 0, outboxIds, readDelivery(context))));
	}
	return outputs;
}

