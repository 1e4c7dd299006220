// ruleWrite: create or change a follow-up rule from its settings (console_rule_write), or preview
// them. The table's own checks judge the settings; a refusal is the item { saved: false, error:
// { field, message, hint, advice } } (the column it concerns; advice: plain words, rule-refusal.ts),
// nothing written. The preview (Save off) answers what the claim's judgement would make of the
// settings (explain) and writes nothing.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { RuleSettings } from '../../shared/contract/console';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { optionalUuid, settingsObject } from './rule-input';
import { withAdvice } from './rule-refusal';

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.body?.ruleId ?? \'\' }}',
		description: 'The rule to change; empty for a new rule',
	},
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '={{ $json.body?.userId ?? \'\' }}',
		description: 'The owner of a new rule (the user ID of their tags)',
	},
	{
		displayName: 'Settings',
		name: 'settings',
		type: 'json',
		default: '={{ $json.body?.settings ?? {} }}',
		description: 'A JSON object of the rule\'s columns to set (name, include_tag_ids, daily_limit, …); those left out keep their value',
	},
	{
		displayName: 'Save',
		name: 'save',
		type: 'boolean',
		default: true,
		description: 'Whether to save the rule; off: only preview what the settings would judge due, nothing written',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['ruleWrite'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const args = {
			p_rule_id: optionalUuid(this, 'ruleId', 'rule ID', i),
			p_user_id: optionalUuid(this, 'userId', 'owner ID', i),
			p_settings: settingsObject(this, 'settings', i) as RuleSettings,
			p_save: this.getNodeParameter('save', i, true) as boolean,
		};
		const result = await callRpc(this, 'console_rule_write', args, i);
		return [{ output: 0, json: { ...withAdvice(result) } as unknown as IDataObject }];
	});
}
