// What every operation shares: the rule id parameter and its validation.
import { NodeOperationError, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function ruleIdProperty(required: boolean): INodeProperties {
	return {
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '',
		required,
		placeholder: 'e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f',
		description: required
			? 'The automation rule (ai_automation_rules.id)'
			: 'The automation rule (ai_automation_rules.id); leave empty for every enabled rule',
	};
}

/** The rule id of item i: a UUID, or null when empty and allowed. */
export function readRuleId(context: IExecuteFunctions, itemIndex: number, required: boolean): string | null {
	const raw = String(context.getNodeParameter('ruleId', itemIndex, '') ?? '').trim();
	if (!raw && !required) return null;
	if (!UUID.test(raw)) {
		throw new NodeOperationError(context.getNode(), `The rule ID "${raw}" is not a UUID`, {
			itemIndex,
			description: required
				? 'Use the id column of the ai_automation_rules table, e.g. {{ $json.ruleId }} from the trigger.'
				: 'Use the id column of the ai_automation_rules table, or leave the field empty to process every enabled rule.',
		});
	}
	return raw.toLowerCase();
}

export function readUuid(context: IExecuteFunctions, name: string, label: string, itemIndex: number): string {
	const raw = String(context.getNodeParameter(name, itemIndex, '') ?? '').trim();
	if (!UUID.test(raw)) {
		throw new NodeOperationError(context.getNode(), `The ${label} "${raw}" is not a UUID`, {
			itemIndex,
			description: `Use the ${label} from a previous Leadflow node, e.g. {{ $json.conversation_id }}.`,
		});
	}
	return raw.toLowerCase();
}
