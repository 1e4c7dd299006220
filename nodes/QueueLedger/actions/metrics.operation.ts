// metrics: the queue's numbers per day of a range for one owner, derived from the ledger
// (queue_metrics): queued, sent, failed attempts, cancelled, taken over, mean wait (queued →
// claimed) and mean processing time (claimed → final). One output item per day, zeros included.
// Without days, the owner's last 7 local days ending today (their time zone), decided by the database.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { inParameterNames } from '../../shared/caller-fields';
import { inOwnerField } from '../helpers/caller-fields';
import { dayRangeProperties, ownerProperty, readDayRange, readOwner } from '../helpers/common';

const properties: INodeProperties[] = [
	ownerProperty(true, 'Whose queue (the Supabase Auth user ID); n8n uses the service role, so the owner is stated, e.g. from the request'),
	...dayRangeProperties('metrics', true),
];

export const description = updateDisplayOptions({ show: { operation: ['metrics'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		const owner = readOwner(this, itemIndex);
		const { from, to } = readDayRange(this, itemIndex, true);
		try {
			return rowsTo(0, await callRpc(this, 'queue_metrics', { p_user_id: owner, p_from: from, p_to: to }, itemIndex));
		} catch (error) {
			// Without To Day the database takes the owner's today (their time zone): a From Day after it is refused.
			const hint = to ? undefined : 'An empty To Day is the owner\'s today in their time zone: choose a From Day on or before it.';
			throw inParameterNames(this, inOwnerField(this, error, itemIndex), itemIndex, { p_from: 'From Day', p_to: 'To Day' }, hint);
		}
	});
}
