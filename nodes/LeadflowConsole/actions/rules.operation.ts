// rules: the console's Rules tab (console_rules): every rule in full with its tags by name, the
// owner's tags by name (to pick them in the form), and the owners. As an AI agent's tool Owner ID
// must be given (tool-owner.ts): before 6 December 2026 an empty one listed every owner's rules.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { readConsoleOwner } from './tool-owner';

const properties: INodeProperties[] = [
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '={{ $json.query?.userId ?? \'\' }}',
		description: 'Only this owner\'s rules and tags (a user ID); empty for every owner, in a workflow only: as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI)',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['rules'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const userId = readConsoleOwner(this, i, { purpose: 'whose rules to list', without: 'lists no rule' });
		const rules = await callRpc(this, 'console_rules', { p_user_id: userId }, i);
		if (!rules) throw new NodeOperationError(this.getNode(), 'The database answered no rules list', { itemIndex: i });
		return [{ output: 0, json: { ...rules } as unknown as IDataObject }];
	});
}
