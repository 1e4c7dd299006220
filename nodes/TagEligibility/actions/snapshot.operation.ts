// snapshot: the live monitor for one rule (summary, tagged contacts, active contacts, stages).
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { noSuchRule } from '../transport/rules';
import { callRpc } from '../../shared/supabase';
import { readWholeNumber } from '../../shared/valid-input';
import { readRuleId, ruleIdProperty } from './common';

/** The most contacts per list: the database's integer. A workflow saved with a large number to mean
 * "every contact" (the editor had no maximum) keeps working; the totals count every contact anyway. */
const CONTACT_LIMIT_MAX = 2_147_483_647;

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	{
		displayName: 'Contacts per List',
		name: 'contactLimit',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: CONTACT_LIMIT_MAX },
		default: 200,
		description: 'At most this many contacts in each list; the totals always count every contact',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['snapshot'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const ruleId = readRuleId(this, i, true);
		// A whole number from 0 (an expression or an agent's $fromAI escapes the editor's bounds); empty: 200.
		const contactLimit = readWholeNumber(this, 'contactLimit', i, {
			label: 'Contacts per List',
			min: 0,
			max: CONTACT_LIMIT_MAX,
			fallback: 200,
			hint: 'Give how many contacts each list shows at most (0 or more; the totals count every contact), or leave it empty for 200.',
			setting: true,
		});
		const snapshot = await callRpc(this, 'automation_snapshot', { p_rule_id: ruleId, p_contact_limit: contactLimit }, i);
		if (!snapshot) {
			throw noSuchRule(this, ruleId, i);
		}
		return [{ output: 0, json: { ...snapshot } as unknown as IDataObject }];
	});
}
