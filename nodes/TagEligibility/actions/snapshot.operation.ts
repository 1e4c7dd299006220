// snapshot: the live monitor for one rule (summary, tagged contacts, active contacts, stages). As an
// AI agent's tool each list holds at most TOOL_CONTACTS_PER_LIST contacts (about 15,000 characters in
// all), and the answer says how many each list left out and where to read them.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { perItem } from '../../shared/per-item';
import { noSuchRule } from '../transport/rules';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { readWholeNumber } from '../../shared/valid-input';
import { OWNER_PROPERTY, readRuleId, readScopingOwner, ruleIdProperty } from './common';

/** The most contacts per list: the database's integer. A workflow saved with a large number to mean
 * "every contact" (the editor had no maximum) keeps working; the totals count every contact anyway. */
const CONTACT_LIMIT_MAX = 2_147_483_647;

/** The most contacts in each list of an answer as an AI agent's tool: about 730 characters each. */
export const TOOL_CONTACTS_PER_LIST = 20;

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	OWNER_PROPERTY,
	{
		displayName: 'Contacts per List',
		name: 'contactLimit',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: CONTACT_LIMIT_MAX },
		default: 200,
		description: `At most this many contacts in each list; the totals always count every contact. As an AI agent's tool at most ${TOOL_CONTACTS_PER_LIST}: the answer then says how many each list left out.`,
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
		// With Owner User ID, a rule of another owner is the rule that does not exist (migration …2672);
		// as an AI agent's tool it must be given (common.ts): before 6 December 2026 any owner's rule.
		const owner = readScopingOwner(this, i, 'Snapshot', 'whose rule to read', 'reads no rule');
		const asTool = runsAsTool(this);
		// As a tool, up to 1,000 of each list are read, to count the active contacts left out (the
		// tagged contacts' total is stats.total_with_tags).
		const snapshot = await callRpc(this, 'automation_snapshot', { p_rule_id: ruleId, p_contact_limit: asTool ? DATA_API_MAX_ROWS : contactLimit, ...(owner && { p_user_id: owner }) }, i);
		if (!snapshot) {
			throw noSuchRule(this, ruleId, i);
		}
		if (!asTool) return [{ output: 0, json: { ...snapshot } as unknown as IDataObject }];
		const shown = Math.min(contactLimit, TOOL_CONTACTS_PER_LIST);
		const eligibleContacts = snapshot.eligibleContacts.slice(0, shown);
		const activeContacts = snapshot.activeContacts.slice(0, shown);
		const eligibleLeftOut = Math.max(0, Math.max(snapshot.stats.total_with_tags, snapshot.eligibleContacts.length) - eligibleContacts.length);
		const activeLeftOut = snapshot.activeContacts.length - activeContacts.length;
		const activeAtLeast = snapshot.activeContacts.length === DATA_API_MAX_ROWS;
		const leftOut = [
			eligibleLeftOut > 0 ? `${eligibleLeftOut} tagged contact${eligibleLeftOut === 1 ? '' : 's'} (eligibleContacts)` : '',
			activeLeftOut > 0 ? `${activeAtLeast ? 'at least ' : ''}${activeLeftOut} active contact${activeLeftOut === 1 ? '' : 's'} (activeContacts)` : '',
		].filter(Boolean);
		return [
			{
				output: 0,
				json: {
					...snapshot,
					eligibleContacts,
					activeContacts,
					eligibleContactsLeftOut: eligibleLeftOut,
					activeContactsLeftOut: activeLeftOut,
					...(leftOut.length > 0 && {
						note: `Left out of this answer (at most ${TOOL_CONTACTS_PER_LIST} contacts a list): ${leftOut.join(' and ')}; the stats count every contact. Read them a page at a time with Explain (Limit and Offset), or look one up with Timeline.`,
					}),
				} as unknown as IDataObject,
			},
		];
	});
}
