// timeline: one contact's stage events under a rule, oldest first.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { TIMELINE_FUNCTION, type StageEvent } from '../../shared/automation-api';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { readRuleId, readUuid, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	{
		displayName: 'Conversation ID',
		name: 'conversationId',
		type: 'string',
		default: '',
		required: true,
		description: 'The ID of the contact\'s conversation, as the claim or explain operation returns it',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['timeline'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	const [output] = await perItem(this, 1, async (i) => {
		const events = await callRpc<StageEvent[]>(
			this,
			TIMELINE_FUNCTION,
			{ p_rule_id: readRuleId(this, i, true), p_conversation_id: readUuid(this, 'conversationId', 'conversation ID', i) },
			i,
		);
		return events.map((event) => ({ output: 0, json: { ...event } as unknown as IDataObject }));
	});
	return output;
}
