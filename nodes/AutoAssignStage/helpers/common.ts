// What the operations share: the pipeline and stage parameters (resource locators), reading ids,
// the settings of the Automations output, and the output numbers.
import { NodeOperationError, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import { orEmpty, parameterText, UUID, UUID_PATTERN } from '../../shared/resource-locator';
import { runsAsTool } from '../../shared/outputs';
import { FieldRefusedError } from '../../shared/per-item';
import { fromAIExpression, toolFieldMender } from '../../shared/tool-text';
import { notTextProblem } from '../../shared/valid-input';
import { deliveryProperties } from './automations';

export const CONTACTS = 0;
export const AUTOMATIONS = 1;
export const OUTPUT_COUNT = 2;

export function pipelineProperty(description: string, name = 'pipelineId', displayName = 'Pipeline'): INodeProperties {
	return {
		displayName,
		name,
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		description,
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'The Page\'s pipeline, or select one...',
				typeOptions: { searchListMethod: 'searchPipelines', searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f',
				validation: [{ type: 'regex', properties: { regex: orEmpty(UUID_PATTERN), errorMessage: 'Not a pipeline ID: the id column of pipelines is a UUID' } }],
			},
		],
	};
}

/** The id or text chosen for a resource locator or string parameter of item i ('' when empty). */
export function readLocator(context: IExecuteFunctions, name: string, itemIndex: number): string {
	const value = context.getNodeParameter(name, itemIndex, '', { extractValue: true }) as unknown;
	return parameterText(value);
}

export function invalid(context: IExecuteFunctions, itemIndex: number, message: string, description: string): NodeOperationError {
	return new NodeOperationError(context.getNode(), message, { itemIndex, description });
}

/**
 * A UUID field, lower case; empty → null when optional. Text only: a list holding one id (an
 * expression mapping an array, a request's JSON) is refused, never read as that id (String(['…']) is
 * the id), and an object is not shown as "[object Object]". Either refusal names its field (`field`:
 * the parameter's name, e.g. "conversationId", or the input item's field, e.g. "conversation_id"),
 * so the failed item says which value to mend and a webhook answers that request field.
 */
export function checkUuid(context: IExecuteFunctions, raw: unknown, label: string, field: string, itemIndex: number, hint: string, optional: true): string | null;
export function checkUuid(context: IExecuteFunctions, raw: unknown, label: string, field: string, itemIndex: number, hint: string, optional?: false): string;
export function checkUuid(context: IExecuteFunctions, raw: unknown, label: string, field: string, itemIndex: number, hint: string, optional = false): string | null {
	const notText = notTextProblem(raw);
	if (notText) throw new FieldRefusedError(context.getNode(), `${label.charAt(0).toUpperCase()}${label.slice(1)} ${notText}`, { itemIndex, description: hint }, field);
	const text = typeof raw === 'string' ? raw.trim() : '';
	if (!text && optional) return null;
	if (!UUID.test(text)) throw new FieldRefusedError(context.getNode(), `The ${label} "${text}" is not a UUID`, { itemIndex, description: hint }, field);
	return text.toLowerCase();
}

/** What an operation's Conversation ID names, for its advice as a tool: e.g. the "contact" "to move", "moves no contact". */
export interface ConversationWords {
	thing: 'conversation' | 'contact';
	purpose: string;
	without: string;
}

/**
 * What to do about a Conversation ID that is refused (not text, or not a UUID), for whoever can fix
 * it. In a workflow: `workflowHint` (the builder maps a field). As an AI agent's tool, the one rule of
 * nodes/shared/tool-text.ts toolFieldMender (the $fromAI type decides, not the value): a $fromAI typed
 * 'string' (or not typed), the model is told, by the key it knows, to give the id as a listing shows
 * it, also for a list or number it sent (AI Agent 3.x does not check its arguments against the type);
 * typed 'number', 'boolean' or 'json' (given or left out), or an expression around the call giving
 * something not text, the builder is told to type it 'string'; when the builder set the field, the
 * builder is told to set it or let the model give it. Never the builder's "{{ $json.… }}" to a model.
 */
export function conversationIdHint(context: IExecuteFunctions, raw: unknown, workflowHint: string, words: ConversationWords): string {
	if (!runsAsTool(context)) return workflowHint;
	const what = `the id of the ${words.thing} ${words.purpose}`;
	const mender = toolFieldMender(context, 'conversationId', raw);
	if (mender.by === 'settings') {
		return `Conversation ID (conversationId) is set in this tool's settings, not given by the model: set it there to ${what} (a UUID, the id column of messenger_conversations), or let the model give it with ${fromAIExpression('conversationId', what, 'string')}. This tool ${words.without} until then.`;
	}
	const key = mender.key ?? 'conversationId';
	if (mender.by === 'type') {
		return `Conversation ID (conversationId) in this tool's settings makes the model's answer something other than text, so no ${words.thing} can be given this way: the workflow's builder must change it to ${fromAIExpression(key, what, 'string')}. Tell the user this tool needs that change; this tool ${words.without} until then.`;
	}
	return `Give ${what} as ${key}: one UUID (e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f), the ${words.thing}'s conversation_id exactly as the listing you found it in shows it, not its name or its Facebook id. If you have no such id, find the ${words.thing} in a listing first or ask for it: this tool ${words.without} without it.`;
}

/**
 * The pipeline chosen on the node for item i, or null: what empty means is the operation's (the
 * Page's pipeline for Analyze and Assign; for Move, the one pipeline the contact is in), and the
 * refusal's hint says it.
 */
export function readPipelineId(context: IExecuteFunctions, itemIndex: number, empty = 'leave it empty for the Page\'s pipeline'): string | null {
	return checkUuid(context, readLocator(context, 'pipelineId', itemIndex), 'pipeline ID', 'pipelineId', itemIndex, `Pick the pipeline from the list, use the id column of pipelines, or ${empty}.`, true);
}

/** Assign's and Move's Automations output: whether to hand out what the changes fired, and how it counts as delivered. */
export const automationsProperties: INodeProperties[] = [
	{
		displayName: 'Hand Out Automations',
		name: 'handOutAutomations',
		type: 'boolean',
		default: true,
		description:
			'Whether to claim the webhook and notify actions these changes fired and put each on the Automations output (others are left for the Claim Automations operation)',
	},
	...deliveryProperties({ handOutAutomations: [true] }),
];
