// timeline: one contact's stage events under a rule as one item ({ events }), so a webhook answers
// an empty history too (TagEligibility's timeline gives one item per event: none for no events).
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { UUID } from '../../shared/valid-input';

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.query?.ruleId ?? \'\' }}',
		description: 'The follow-up rule (the ID column of ai_automation_rules)',
	},
	{
		displayName: 'Conversation ID',
		name: 'conversationId',
		type: 'string',
		default: '={{ $json.query?.conversationId ?? \'\' }}',
		description: 'The contact (the ID column of messenger_conversations)',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['timeline'] } }, properties);

function uuid(context: IExecuteFunctions, name: string, label: string, i: number): string {
	const raw = String(context.getNodeParameter(name, i, '') ?? '').trim();
	if (!UUID.test(raw)) {
		throw new NodeOperationError(context.getNode(), `The ${label} "${raw.slice(0, 60)}" is not a UUID`, {
			itemIndex: i,
			description: `Use the ${label} from the monitor's answer.`,
		});
	}
	return raw.toLowerCase();
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const args = { p_rule_id: uuid(this, 'ruleId', 'rule ID', i), p_conversation_id: uuid(this, 'conversationId', 'conversation ID', i) };
		const events = await callRpc(this, 'automation_timeline', args, i);
		return [{ output: 0, json: { events } as unknown as IDataObject }];
	});
}
