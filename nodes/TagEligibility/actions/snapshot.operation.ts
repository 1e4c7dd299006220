// snapshot: the live monitor for one rule (summary, tagged contacts, active contacts, stages).
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { noSuchRule } from '../transport/rules';
import { callRpc } from '../../shared/supabase';
import { readRuleId, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	{
		displayName: 'Contacts per List',
		name: 'contactLimit',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 200,
		description: 'At most this many contacts in each list; the totals always count every contact',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['snapshot'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const ruleId = readRuleId(this, i, true);
		const snapshot = await callRpc(
			this,
			'automation_snapshot',
			{ p_rule_id: ruleId, p_contact_limit: this.getNodeParameter('contactLimit', i) as number },
			i,
		);
		if (!snapshot) {
			throw noSuchRule(this, ruleId, i);
		}
		return [{ output: 0, json: { ...snapshot } as unknown as IDataObject }];
	});
}
