// explain: the claim's judgement without claiming: every tagged contact with its reason. No contacts
// for a rule named: one read says whether the rule exists (not_found, as Snapshot, when it does not).
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { readWholeNumber } from '../../shared/valid-input';
import { findRule, noSuchRule } from '../transport/rules';
import { readRuleId, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(false),
	{
		displayName: 'Only Due Contacts',
		name: 'onlyDue',
		type: 'boolean',
		default: false,
		description: 'Whether to return only the contacts a claim would take now (the limit then counts those). Due contacts come first either way.',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: DATA_API_MAX_ROWS },
		default: 50,
		description: 'Max number of results to return',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['explain'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		// The database filters (p_only_due), so the limit counts due contacts: filtered here, a limit
		// filled by contacts not due left nothing while other contacts were due.
		const args = {
			p_rule_id: readRuleId(this, i, false),
			// The Limit, 1 to 1,000 (an expression escapes the editor's bounds); empty: 50, its default.
			p_limit: readWholeNumber(this, 'limit', i, {
				label: 'Limit',
				min: 1,
				max: DATA_API_MAX_ROWS,
				fallback: 50,
				hint: 'Explain answers one row per contact and the Data API answers up to 1,000 rows a call: ask for at most 1,000 (the contacts due come first).',
				setting: true,
			}),
			p_only_due: this.getNodeParameter('onlyDue', i) as boolean,
		};
		const rows = await callRpc(this, 'automation_explain', args, i);
		if (rows.length === 0 && args.p_rule_id && !(await findRule(this, args.p_rule_id, i)).exists) throw noSuchRule(this, args.p_rule_id, i);
		return rowsTo(0, rows);
	});
}
