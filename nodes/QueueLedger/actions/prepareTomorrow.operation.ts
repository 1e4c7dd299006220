// prepareTomorrow: fills each owner's queue for their tomorrow (the local day after now in the
// owner's time zone) in one database call (queue_prepare): up to the daily capacity, spread over the
// sending hours, highest lead score first, never a lead already queued, taken over or contacted
// today. Running it twice gives the same queue. One output item per owner: how many were queued and
// why the others were not. A lead changing under it (SQLSTATE 40001: nothing written) is retried once.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { ownerProperty, readOptionalOwner, retryOnConflict } from '../helpers/common';

const properties: INodeProperties[] = [
	ownerProperty(false, 'Only this Supabase user\'s queue (auth.users ID); empty: every owner who has queue settings'),
];

export const description = updateDisplayOptions({ show: { operation: ['prepareTomorrow'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		const owner = readOptionalOwner(this, itemIndex);
		return rowsTo(0, await retryOnConflict(this, () => callRpc(this, 'queue_prepare', { p_user_id: owner }, itemIndex)));
	});
}
