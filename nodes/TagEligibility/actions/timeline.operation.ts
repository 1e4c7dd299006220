// timeline: one contact's stage events under a rule, oldest first.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { UUID_PATTERN } from '../../shared/resource-locator';
import { readRuleId, readUuid, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	{
		displayName: 'Contact',
		name: 'conversationId',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description:
			'The contact\'s Messenger conversation (its conversation_id, as the claim or explain operation returns it). The list shows the chosen rule\'s contacts.',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'Select a contact...',
				typeOptions: { searchListMethod: 'searchConversations', searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. 5f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b',
				validation: [
					{
						type: 'regex',
						properties: { regex: UUID_PATTERN, errorMessage: 'Not a conversation ID: the id column of messenger_conversations is a UUID' },
					},
				],
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['timeline'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const args = { p_rule_id: readRuleId(this, i, true), p_conversation_id: readUuid(this, 'conversationId', 'conversation ID', i) };
		return rowsTo(0, await callRpc(this, 'automation_timeline', args, i));
	});
}
