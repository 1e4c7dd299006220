// rulePrompt: the prompt GenerateFollowUp would send Gemini for one of a rule's tagged contacts,
// with unsaved settings (the Rules form's preview). console_rule_prompt judges the settings as
// console_rule_write does (a refusal is the item { saved: false, error: { field, message, hint, advice } },
// nothing written) and answers what the claim would hand GenerateFollowUp for the contact (its
// name, follow-up number and last messages, the rule's instructions, model and language); the
// prompt is then built by GenerateFollowUp's own reader and builder (readPrompt, reading the row's
// fields as its default parameters do). No Gemini call is made. Owner ID, given with a Rule ID, reads
// only a rule of that owner (console_rule_write's not_found otherwise, as an unknown rule: the
// database checks it, migration …2670); as an AI agent's tool it must be given (tool-owner.ts):
// before 6 December 2026 a tool read a contact's last messages under any owner's rule.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { RuleSettings } from '../../shared/contract/console';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { DEFAULT_FIELD_READERS } from '../../GenerateFollowUp/helpers/itemFields';
import { readPrompt } from '../../GenerateFollowUp/helpers/jobs';
import { DEFAULT_MAX_MESSAGES } from '../../GenerateFollowUp/helpers/prompt';
import { optionalUuid, settingsObject } from './rule-input';
import { withAdvice } from './rule-refusal';
import { readConsoleOwner } from './tool-owner';

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.body?.ruleId ?? \'\' }}',
		description: 'The rule whose settings are changed; empty for a new rule',
	},
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '={{ $json.body?.userId ?? \'\' }}',
		description:
			'The owner of a new rule (the user ID of their tags); with a Rule ID, only a rule of this owner (another owner\'s is not found). Empty with a Rule ID: any owner\'s rule, in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
	},
	{
		displayName: 'Settings',
		name: 'settings',
		type: 'json',
		default: '={{ $json.body?.settings ?? {} }}',
		description: 'A JSON object of the rule\'s unsaved columns (instructions, language, context_message_count, tags, …); nothing is saved',
	},
	{
		displayName: 'Conversation ID',
		name: 'conversationId',
		type: 'string',
		default: '={{ $json.body?.conversationId ?? \'\' }}',
		description: 'One of the rule\'s tagged contacts; empty for the first one due now',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Max Messages in Prompt',
				name: 'maxMessages',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 1000 },
				default: DEFAULT_MAX_MESSAGES,
				description: 'As set on the Generate Follow-Up node (its Max Messages in Prompt option): only the last this many messages are shown. By default the rule\'s Messages of history decides.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['rulePrompt'] } }, properties);

/** How many tagged contacts the answer lists for the form's picker. */
const CONTACT_LIMIT = 100;

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const args = {
			p_rule_id: optionalUuid(this, 'ruleId', 'rule ID', i),
			p_user_id: readConsoleOwner(this, i, { purpose: 'whose rule\'s prompt to read', without: 'reads no prompt' }),
			p_settings: settingsObject(this, 'settings', i) as RuleSettings,
			p_conversation_id: optionalUuid(this, 'conversationId', 'conversation ID', i, 'Use the conversation id of one of the rule\'s tagged contacts, as the monitor lists them (GET …/api/monitor?ruleId=…), or leave it out for the first due one.'),
			p_contact_limit: CONTACT_LIMIT,
		};
		const result = await callRpc(this, 'console_rule_prompt', args, i);
		if (!result) throw new NodeOperationError(this.getNode(), 'The database answered no prompt context', { itemIndex: i });
		if (result.error || !result.rule) return [{ output: 0, json: { ...withAdvice(result) } as unknown as IDataObject }];
		const { contact, rule } = result;
		const base = { tagged: result.tagged ?? 0, contacts: result.contacts ?? [], rule };
		if (!contact) return [{ output: 0, json: { ...base, contact: null, prompt: null } as unknown as IDataObject }];
		// The contact as the claim hands it to GenerateFollowUp, read by its default parameters.
		const claimed: IDataObject = {
			sender_name: contact.sender_name,
			follow_up_number: contact.follow_up_number,
			messages: contact.messages as unknown as IDataObject[],
			rule: { instructions: rule.instructions, model: rule.model, language: rule.language },
		};
		const read = (name: string, _itemIndex: number, fallback: unknown) => DEFAULT_FIELD_READERS[name]?.(claimed) ?? fallback;
		const prompt = readPrompt(this, read, i);
		return [{
			output: 0,
			json: {
				...base,
				contact,
				prompt: { ...prompt, model: rule.model, followUpNumber: contact.follow_up_number },
			} as unknown as IDataObject,
		}];
	});
}
