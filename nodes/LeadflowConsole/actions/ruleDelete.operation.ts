// ruleDelete: delete a follow-up rule (console_rule_delete); its contact states, events and
// executions go with it. { deleted: false } when there was no such rule, or, with Owner ID, a rule
// of another owner (the database checks it). As an AI agent's tool Owner ID must be given
// (tool-owner.ts): before 6 December 2026 a tool deleted any owner's rule whose ID the model gave.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { optionalUuid } from './rule-input';
import { readConsoleOwner, SCOPING_OWNER_DESCRIPTION } from './tool-owner';

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.body?.ruleId ?? \'\' }}',
		description: 'The rule to delete',
	},
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '',
		description: SCOPING_OWNER_DESCRIPTION,
	},
];

export const description = updateDisplayOptions({ show: { operation: ['ruleDelete'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const owner = readConsoleOwner(this, i, { purpose: 'whose rule to delete', without: 'deletes no rule' });
		const ruleId = optionalUuid(this, 'ruleId', 'rule ID', i);
		if (!ruleId) throw new NodeOperationError(this.getNode(), 'The rule ID is missing', { itemIndex: i, description: 'Send { "ruleId": "…" }.' });
		// Only when given: a workflow without an owner deletes any owner's rule, as before.
		const result = await callRpc(this, 'console_rule_delete', { p_rule_id: ruleId, ...(owner && { p_user_id: owner }) }, i);
		return [{ output: 0, json: { ...result } as unknown as IDataObject }];
	});
}
