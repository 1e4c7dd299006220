// rules: the console's Rules tab (console_rules): every rule in full with its tags by name, the
// owner's tags by name (to pick them in the form), and the owners.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { optionalUuid } from './rule-input';

const properties: INodeProperties[] = [
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '={{ $json.query?.userId ?? \'\' }}',
		description: 'Only this owner\'s rules and tags (a user ID); empty for every owner',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['rules'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const userId = optionalUuid(this, 'userId', 'owner ID', i);
		const rules = await callRpc(this, 'console_rules', { p_user_id: userId }, i);
		if (!rules) throw new NodeOperationError(this.getNode(), 'The database answered no rules list', { itemIndex: i });
		return [{ output: 0, json: { ...rules } as unknown as IDataObject }];
	});
}
