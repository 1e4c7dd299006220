// prepareTomorrow: fills each owner's queue for their tomorrow (the local day after now in the
// owner's time zone) in one database call (queue_prepare): up to the daily capacity, spread over the
// sending hours, highest lead score first, never a lead already queued, taken over or contacted
// today. Running it twice gives the same queue. One output item per owner: how many were queued and
// why the others were not.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { ownerProperty, readOptionalOwner } from '../helpers/common';

const properties: INodeProperties[] = [
	ownerProperty(false, 'Only this Supabase user\'s queue (auth.users ID); empty: every owner who has queue settings'),
];

export const description = updateDisplayOptions({ show: { operation: ['prepareTomorrow'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => rowsTo(0, await callRpc(this, 'queue_prepare', { p_user_id: readOptionalOwner(this, itemIndex) }, itemIndex)));
}
