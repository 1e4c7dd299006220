// prepareTomorrow: fills each owner's queue for their tomorrow (the local day after now in the
// owner's time zone) in one database call (queue_prepare): up to the daily capacity, spread over the
// sending hours, highest lead score first, never a lead already queued, taken over or contacted
// today. Running it twice gives the same queue. One output item per owner: how many were queued and
// why the others were not. A lead changing under it (SQLSTATE 40001: nothing written) is retried once.
// Every owner: a page of 1,000 owners per call (the most rows the Data API answers), each its own
// transaction, the next page after the last owner answered, until a page comes back short.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { PrepareResult } from '../../shared/contract';
import { asNodeError, perItem, rowsTo } from '../../shared/per-item';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { ownerProperty, readOptionalOwner, retryOnConflict } from '../helpers/common';

const properties: INodeProperties[] = [
	ownerProperty(false, 'Only this Supabase user\'s queue (auth.users ID); empty: every owner who has queue settings'),
];

export const description = updateDisplayOptions({ show: { operation: ['prepareTomorrow'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		const owner = readOptionalOwner(this, itemIndex);
		if (owner !== null) return rowsTo(0, await retryOnConflict(this, () => callRpc(this, 'queue_prepare', { p_user_id: owner }, itemIndex)));
		const prepared: PrepareResult[] = [];
		for (;;) {
			const after = prepared.length > 0 ? prepared[prepared.length - 1].user_id : null;
			let page: PrepareResult[];
			try {
				page = await retryOnConflict(this, () =>
					callRpc(this, 'queue_prepare', { p_user_id: null, p_after_user_id: after, p_owner_limit: DATA_API_MAX_ROWS }, itemIndex),
				);
			} catch (error) {
				const failed = asNodeError(this, error, itemIndex);
				if (prepared.length > 0) {
					const note = `The first ${prepared.length} owners (by user ID, up to ${after}) were prepared by earlier calls and stay prepared; running Prepare Tomorrow again prepares the others (it queues nothing twice).`;
					failed.description = failed.description ? `${failed.description} ${note}` : note;
				}
				throw failed;
			}
			prepared.push(...page);
			if (page.length < DATA_API_MAX_ROWS) return rowsTo(0, prepared);
		}
	});
}
