// The Leadflow Console's Owner ID (userId) as its operations read it, one rule for all of them
// (docs/nodes.md, "One owner per tool"): as an AI agent's tool an operation that reads or changes an
// owner's data needs the owner, set in the tool's settings or given by the model ($fromAI), and the
// database keeps the call to it (another owner's rule answers as a missing one). Empty, "null" or
// "undefined" is refused naming the field, the advice for whoever fills it (nodes/shared/tool-text.ts).
// In a workflow empty is as before (every owner's: the console key is trusted); given, it scopes the
// call too.
import type { IExecuteFunctions } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { FieldRefusedError } from '../../shared/per-item';
import { fieldAsKnown, filledByModel, fromAIKey, isNotGivenWord } from '../../shared/tool-text';
import { operationName } from './operation-names';
import { optionalUuid } from './rule-input';

/** What an operation's refusal and advice say of its owner (the refusal names the operation as the node lists it: operation-names.ts). */
export interface OwnerWords {
	/** Whose data, after "the owner ": e.g. "whose rules to list". */
	purpose: string;
	/** What the tool does not do without it, after "this tool ": e.g. "lists no rule". */
	without: string;
}

const agentAdvice = (words: OwnerWords, field: string): string =>
	`Give the user ID of the owner ${words.purpose} as ${field}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool ${words.without} without it.`;

const builderAdvice = (words: OwnerWords): string =>
	`Owner ID (userId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner ${words.purpose} (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('userId', 'the user ID of the owner ${words.purpose}') }}. This tool ${words.without} without it.`;

/** The advice for whoever fills Owner ID as a tool: the model by its $fromAI key, else the builder. */
export const toolOwnerAdvice = (context: IExecuteFunctions, words: OwnerWords): string =>
	filledByModel(context, 'userId') ? agentAdvice(words, fromAIKey(context, 'userId') ?? 'Owner ID (userId)') : builderAdvice(words);

/**
 * Owner ID of item i, lower case: as a tool it must be given (refused otherwise); in a workflow
 * empty is null (any owner's), and `workflowHint` is the advice for one that is not a UUID.
 */
export function readConsoleOwner(context: IExecuteFunctions, i: number, words: OwnerWords, workflowHint?: string): string | null {
	if (!runsAsTool(context)) return optionalUuid(context, 'userId', 'owner ID', i, workflowHint);
	const given = context.getNodeParameter('userId', i, '') as unknown;
	if (given === null || given === undefined || String(given).trim() === '' || isNotGivenWord(given)) {
		throw new FieldRefusedError(
			context.getNode(),
			`${operationName(context.getNodeParameter('operation', 0) as string)} as an AI agent's tool needs the user ID of the owner (${fieldAsKnown(context, 'userId', 'Owner ID, userId')}), and none was given`,
			{ itemIndex: i, description: toolOwnerAdvice(context, words) },
			'userId',
		);
	}
	return optionalUuid(context, 'userId', 'owner ID', i, toolOwnerAdvice(context, words));
}

/** Owner ID's description in the operations that take it only to keep the call to one owner. */
export const SCOPING_OWNER_DESCRIPTION =
	'Only a rule of this owner (a Supabase user ID): another owner\'s is answered as one that does not exist. Empty: any owner\'s, in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).';
