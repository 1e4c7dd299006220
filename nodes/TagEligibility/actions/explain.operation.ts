// explain: the claim's judgement without claiming: every tagged contact with its reason.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { readRuleId, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(false),
	{
		displayName: 'Only Due Contacts',
		name: 'onlyDue',
		type: 'boolean',
		default: false,
		description: 'Whether to return only the contacts a claim would take now',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['explain'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const args = { p_rule_id: readRuleId(this, i, false), p_limit: this.getNodeParameter('limit', i) as number };
		const rows = await callRpc(this, 'automation_explain', args, i);
		const onlyDue = this.getNodeParameter('onlyDue', i) as boolean;
		return rowsTo(0, onlyDue ? rows.filter((row) => row.due) : rows);
	});
}
