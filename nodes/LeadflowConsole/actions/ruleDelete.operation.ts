// ruleDelete: delete a follow-up rule (console_rule_delete); its contact states, events and
// executions go with it. { deleted: false } when there was no such rule.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { optionalUuid } from './rule-input';

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.body?.ruleId ?? \'\' }}',
		description: 'The rule to delete',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['ruleDelete'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const ruleId = optionalUuid(this, 'ruleId', 'rule ID', i);
		if (!ruleId) throw new NodeOperationError(this.getNode(), 'The rule ID is missing', { itemIndex: i, description: 'Send { "ruleId": "…" }.' });
		const result = await callRpc(this, 'console_rule_delete', { p_rule_id: ruleId }, i);
		return [{ output: 0, json: { ...result } as unknown as IDataObject }];
	});
}
