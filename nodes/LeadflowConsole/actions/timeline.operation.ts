// timeline: one contact's stage events under a rule as one item ({ events }), so a webhook answers
// an empty history too (TagEligibility's timeline gives one item per event: none for no events).
// With Owner ID, only under a rule of that owner (another owner's: no events, as an unknown rule; the
// database checks it). As an AI agent's tool Owner ID must be given (tool-owner.ts): before
// 6 December 2026 a tool read any owner's contact history.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { UUID } from '../../shared/valid-input';
import { idText, notAUuid } from './rule-input';
import { readConsoleOwner, SCOPING_OWNER_DESCRIPTION } from './tool-owner';

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
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '',
		description: SCOPING_OWNER_DESCRIPTION,
	},
];

export const description = updateDisplayOptions({ show: { operation: ['timeline'] } }, properties);

function uuid(context: IExecuteFunctions, name: string, label: string, i: number): string {
	const hint = `Use the ${label} from the monitor's answer.`;
	// Text only (rule-input.ts idText): a list's String() would read ["<id>"] as that id.
	const raw = idText(context, name, label, i, hint);
	if (!UUID.test(raw)) throw notAUuid(context, name, label, raw, i, hint);
	return raw.toLowerCase();
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const owner = readConsoleOwner(this, i, { purpose: 'whose contact\'s history to read', without: 'reads no history' });
		const args = {
			p_rule_id: uuid(this, 'ruleId', 'rule ID', i),
			p_conversation_id: uuid(this, 'conversationId', 'conversation ID', i),
			// Only when given: a workflow without an owner reads any owner's, as before.
			...(owner && { p_user_id: owner }),
		};
		const events = await callRpc(this, 'automation_timeline', args, i);
		return [{ output: 0, json: { events } as unknown as IDataObject }];
	});
}
