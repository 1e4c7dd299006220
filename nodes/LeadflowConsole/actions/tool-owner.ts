// The Leadflow Console's Owner ID (userId) as its operations read it, one rule for all of them
// (docs/nodes.md, "One owner per tool"): as an AI agent's tool an operation that reads or changes an
// owner's data needs the owner, set in the tool's settings or given by the model ($fromAI), and the
// database keeps the call to it (another owner's rule answers as a missing one). Empty, "null" or
// "undefined" is refused naming the field, the advice for whoever fills it (nodes/shared/tool-owner.ts).
// In a workflow empty is as before (every owner's: the console key is trusted); given, it scopes the
// call too.
import type { IExecuteFunctions } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { noToolOwner, requireToolOwner, toolOwnerAdvice as sharedToolOwnerAdvice, type ToolOwnerField } from '../../shared/tool-owner';
import { operationName } from './operation-names';
import { optionalUuid } from './rule-input';

/** What an operation's refusal and advice say of its owner (the refusal names the operation as the node lists it: operation-names.ts). */
export interface OwnerWords {
	/** Whose data, after "the owner ": e.g. "whose rules to list". */
	purpose: string;
	/** What the tool does not do without it, after "this tool ": e.g. "lists no rule". */
	without: string;
}

/** The console's owner field, as the node lists it. */
const OWNER_ID: ToolOwnerField = { parameter: 'userId', displayName: 'Owner ID' };

/** The advice for whoever fills Owner ID as a tool: the model by its $fromAI key, else the builder (nodes/shared/tool-owner.ts). */
export const toolOwnerAdvice = (context: IExecuteFunctions, words: OwnerWords, value?: unknown): string => sharedToolOwnerAdvice(context, OWNER_ID, words, value);

/**
 * Owner ID of item i, lower case: as a tool it must be given (refused otherwise, in the one wording of
 * nodes/shared/tool-owner.ts); in a workflow empty is null (any owner's), and `workflowHint` is the
 * advice for one that is not a UUID.
 */
export function readConsoleOwner(context: IExecuteFunctions, i: number, words: OwnerWords, workflowHint?: string): string | null {
	if (!runsAsTool(context)) return optionalUuid(context, 'userId', 'owner ID', i, workflowHint);
	const ownerWords = { operation: operationName(context.getNodeParameter('operation', 0) as string), ...words };
	// Refused unless non-blank text, with the tool's words (nodes/shared/tool-owner.ts): [] or [""] is
	// "none was given", a list, object, number, true or false is not one owner.
	requireToolOwner(context, i, OWNER_ID, ownerWords);
	const advice = toolOwnerAdvice(context, words, context.getNodeParameter('userId', i, '') as unknown);
	const owner = optionalUuid(context, 'userId', 'owner ID', i, advice, advice);
	if (owner === null) throw noToolOwner(context, i, OWNER_ID, ownerWords);
	return owner;
}

/** Owner ID's description in the operations that take it only to keep the call to one owner. */
export const SCOPING_OWNER_DESCRIPTION =
	'Only a rule of this owner (a Supabase user ID): another owner\'s is answered as one that does not exist. Empty: any owner\'s, in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).';
