// timeline: one contact's stage events under a rule, oldest first. No events: one read says why, a
// rule that does not exist (not_found, as Snapshot) or a contact the rule never took (not_found,
// naming both IDs); a contact with a state and no events has an empty timeline. With Owner User ID,
// only under a rule of that owner (another owner's is the rule that does not exist; the database
// checks it); as an AI agent's tool it must be given (common.ts, readScopingOwner).
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { NotFoundError, perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { findRule, noSuchRule } from '../transport/rules';
import { contactProperty, OWNER_PROPERTY, readRuleId, readScopingOwner, readUuid, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	contactProperty(
		true,
		'The contact\'s Messenger conversation (its conversation_id, as the claim or explain operation returns it). The list shows the chosen rule\'s contacts.',
	),
	OWNER_PROPERTY,
];

export const description = updateDisplayOptions({ show: { operation: ['timeline'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const ruleId = readRuleId(this, i, true);
		const conversationId = readUuid(this, 'conversationId', 'conversation ID', i);
		const owner = readScopingOwner(this, i, 'Timeline', 'whose contact\'s history to read', 'reads no history');
		const args = { p_rule_id: ruleId, p_conversation_id: conversationId, ...(owner && { p_user_id: owner }) };
		const events = await callRpc(this, 'automation_timeline', args, i);
		if (events.length === 0) {
			// No events: say whether the rule (of the owner) or the contact's place in it is missing, else none yet.
			const found = await findRule(this, args.p_rule_id, i, args.p_conversation_id, owner);
			if (!found.exists) throw noSuchRule(this, args.p_rule_id, i);
			if (!found.hasState) {
				throw new NotFoundError(this.getNode(), `Contact ${args.p_conversation_id} has no stage under rule ${args.p_rule_id}: no claim of the rule has taken it`, {
					itemIndex: i,
					description:
						'A contact enters a rule\'s stages when a claim takes it. Explain with this rule says why it is not due yet (or leaves it out when it is not tagged for the rule); check the contact ID against messenger_conversations.',
				});
			}
		}
		return rowsTo(0, events);
	});
}
