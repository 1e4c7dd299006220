// What every operation shares: the rule parameter (a resource locator: pick the rule from a list, or
// give its ID, e.g. from the trigger) and the validation of the IDs the operations read.
import { type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { readOwnerId } from '../../shared/owner-id';
import { FieldRefusedError } from '../../shared/per-item';
import { orEmpty, parameterText, UUID, UUID_PATTERN } from '../../shared/resource-locator';
import { requireToolOwner, toolOwnerAdvice } from '../../shared/tool-owner';

/**
 * What an AI agent can do about a refused ID: give another. As a tool the node's advice names only
 * that (a model cannot pick from the editor's list or write an expression, and "leave the field
 * empty" would widen the call: every owner's rules, or every failed contact of the rule); in the
 * editor it names what helps a person.
 */
export const AGENT_RULE_ADVICE = 'Give the rule\'s ID: a UUID, the rule_id Explain answers with each contact.';
export const AGENT_CONTACT_ADVICE = 'Give the contact\'s conversation_id: a UUID (Explain lists each contact with its conversation_id and reason).';

/**
 * The Contact parameter: a conversation picked from the chosen rule's contacts or given by ID;
 * `required` false: empty allowed (the operation's description says what empty means).
 */
export function contactProperty(required: boolean, description: string): INodeProperties {
	return {
		displayName: 'Contact',
		name: 'conversationId',
		type: 'resourceLocator',
		default: { mode: required ? 'list' : 'id', value: '' },
		required,
		description,
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
						properties: {
							regex: required ? UUID_PATTERN : orEmpty(UUID_PATTERN),
							errorMessage: 'Not a conversation ID: the id column of messenger_conversations is a UUID',
						},
					},
				],
			},
		],
	};
}

export function ruleIdProperty(required: boolean): INodeProperties {
	return {
		displayName: 'Rule',
		name: 'ruleId',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required,
		description: required
			? 'The follow-up rule (a row of ai_automation_rules)'
			: 'The follow-up rule (a row of ai_automation_rules); leave empty for every enabled rule',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: required ? 'Select a rule...' : 'Every enabled rule, or select one...',
				typeOptions: { searchListMethod: 'searchRules', searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f',
				validation: [
					{
						type: 'regex',
						properties: {
							regex: required ? UUID_PATTERN : orEmpty(UUID_PATTERN),
							errorMessage: 'Not a rule ID: the id column of ai_automation_rules is a UUID',
						},
					},
				],
			},
		],
	};
}

/** The id chosen for parameter `name` of item i, from a resource locator or a plain (older) string. */
function readId(context: IExecuteFunctions, name: string, itemIndex: number): string {
	const value = context.getNodeParameter(name, itemIndex, '', { extractValue: true }) as unknown;
	return parameterText(value);
}

/** The rule id of item i: a UUID, or null when empty and allowed. */
export function readRuleId(context: IExecuteFunctions, itemIndex: number, required: true): string;
export function readRuleId(context: IExecuteFunctions, itemIndex: number, required: boolean): string | null;
export function readRuleId(context: IExecuteFunctions, itemIndex: number, required: boolean): string | null {
	const raw = readId(context, 'ruleId', itemIndex);
	if (!raw && !required) return null;
	if (!UUID.test(raw)) {
		// Its failed item names the parameter (field: ruleId), which a webhook answers as its request's ruleId.
		throw new FieldRefusedError(
			context.getNode(),
			`The rule ID "${raw}" is not a UUID`,
			{
				itemIndex,
				description: runsAsTool(context)
					? AGENT_RULE_ADVICE
					: required
						? 'Pick the rule from the list, or use the id column of the ai_automation_rules table, e.g. {{ $json.ruleId }} from the trigger.'
						: 'Pick the rule from the list, use the id column of the ai_automation_rules table, or leave the field empty to process every enabled rule.',
			},
			'ruleId',
		);
	}
	return raw.toLowerCase();
}

export function readUuid(context: IExecuteFunctions, name: string, label: string, itemIndex: number): string {
	const raw = readId(context, name, itemIndex);
	if (!UUID.test(raw)) {
		throw new FieldRefusedError(
			context.getNode(),
			`The ${label} "${raw}" is not a UUID`,
			{
				itemIndex,
				description: runsAsTool(context) ? AGENT_CONTACT_ADVICE : `Pick it from the list, or use the ${label} from a previous Leadflow node, e.g. {{ $json.conversation_id }}.`,
			},
			name,
		);
	}
	return raw.toLowerCase();
}

/**
 * Owner User ID of Timeline and Requeue: only a rule of this owner (the database checks it:
 * automation_timeline's and automation_requeue's p_user_id, migration …2670; another owner's rule
 * answers as one that does not exist). Empty: any owner's, in a workflow only; as an AI agent's tool
 * it must be given (docs/nodes.md, "One owner per tool").
 */
export const OWNER_PROPERTY: INodeProperties = {
	displayName: 'Owner User ID',
	name: 'ownerUserId',
	type: 'string',
	default: '',
	description:
		'Only a rule of this owner (a Supabase Auth user ID): another owner\'s is answered as one that does not exist. Empty: any owner\'s, in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
};

/** Owner User ID of item i, lower case, or null (a workflow's empty one); as a tool refused when not given (nodes/shared/tool-owner.ts). */
export function readScopingOwner(context: IExecuteFunctions, itemIndex: number, operation: string, purpose: string, without: string): string | null {
	const field = { parameter: 'ownerUserId', displayName: 'Owner User ID' };
	requireToolOwner(context, itemIndex, field, { operation, purpose, without });
	const hint = runsAsTool(context) ? toolOwnerAdvice(context, field, { purpose, without }) : 'Use the id of the Supabase Auth user (auth.users) whose rule this is, or leave it empty for any owner\'s.';
	return readOwnerId(context, itemIndex, hint, true);
}
