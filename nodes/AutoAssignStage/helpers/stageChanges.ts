// What Assign and Move share: read every item into one change (a bad item stops the node, or with
// Continue On Fail becomes a failed item), send the changes in batches of at most 1,000 (the most
// rows the Data API returns) with one database call each, put each returned row on Contacts paired
// with its item, then hand out the automations those changes fired.
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { asNodeError, failedItem } from '../../shared/per-item';
import { changedConversations, handOutAutomations, readDelivery } from './automations';
import { AUTOMATIONS, CONTACTS, OUTPUT_COUNT } from './common';

const BATCH = 1000;

export async function applyStageChanges<Change>(
	context: IExecuteFunctions,
	read: (itemIndex: number) => Change,
	send: (changes: Change[]) => Promise<ReadonlyArray<{ item_index: number }>>,
): Promise<INodeExecutionData[][]> {
	const items = context.getInputData();
	const outputs: INodeExecutionData[][] = Array.from({ length: OUTPUT_COUNT }, () => []);
	const changes: Array<{ itemIndex: number; change: Change }> = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			changes.push({ itemIndex, change: read(itemIndex) });
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error, itemIndex);
			outputs[CONTACTS].push(failedItem(context, error, { item: itemIndex }));
		}
	}
	for (let start = 0; start < changes.length; start += BATCH) {
		const batch = changes.slice(start, start + BATCH);
		try {
			for (const row of await send(batch.map((entry) => entry.change))) {
				const itemIndex = batch[row.item_index].itemIndex;
				outputs[CONTACTS].push({ json: { ...row, item_index: itemIndex } as IDataObject, pairedItem: { item: itemIndex } });
			}
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error);
			for (const entry of batch) outputs[CONTACTS].push(failedItem(context, error, { item: entry.itemIndex }));
		}
	}
	if (items.length > 0 && context.getNodeParameter('handOutAutomations', 0, true)) {
		outputs[AUTOMATIONS].push(...(await handOutAutomations(context, 0, changedConversations(outputs[CONTACTS]), readDelivery(context))));
	}
	return outputs;
}
