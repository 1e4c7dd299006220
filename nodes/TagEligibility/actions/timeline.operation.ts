// timeline: one contact's stage events under a rule, oldest first.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { TIMELINE_FUNCTION, type StageEvent } from '../../shared/automation-api';
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

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	const output: INodeExecutionData[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const events = await callRpc<StageEvent[]>(
				this,
				TIMELINE_FUNCTION,
				{ p_rule_id: readRuleId(this, i, true), p_conversation_id: readUuid(this, 'conversationId', 'conversation ID', i) },
				i,
			);
			for (const event of events) output.push({ json: { ...event } as unknown as IDataObject, pairedItem: { item: i } });
		} catch (error) {
			if (!this.continueOnFail()) throw error;
			output.push({ json: { error: (error as Error).message }, pairedItem: { item: i } });
		}
	}
	return output;
}
