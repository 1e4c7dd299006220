// Queue Ledger's Owner User ID as an AI agent's tool (docs/nodes.md, "One owner per tool"): an
// operation whose Owner User ID may be empty in a workflow (Take Lead: any owner's lead; Prepare
// Tomorrow: every owner's queue) needs it as a tool. Empty, "null" or "undefined" is refused naming
// the field (ownerUserId), the advice and the first line's field name for whoever fills it: the
// model by its $fromAI key, else the workflow's builder (nodes/shared/tool-text.ts).
import type { IExecuteFunctions } from 'n8n-workflow';
import { FieldRefusedError } from '../../shared/per-item';
import { fieldAsKnown, filledByModel, fromAIKey, isNotGivenWord } from '../../shared/tool-text';
import { OWNER_FIELD } from './common';

/** What a refusal says of the owner: the operation, whose (after "the user ID of "), why, and what it does not do without. */
export interface ToolOwnerWords {
	operation: string;
	whose: string;
	/** After "the owner ": e.g. "whose lead to take over". */
	purpose: string;
	/** After "this tool ": e.g. "takes no lead". */
	without: string;
}

function advice(context: IExecuteFunctions, words: ToolOwnerWords): string {
	if (filledByModel(context, 'ownerUserId')) {
		const field = fromAIKey(context, 'ownerUserId') ?? `${OWNER_FIELD} (ownerUserId)`;
		return `Give the user ID of the owner ${words.purpose} as ${field}: a UUID, the id of the Supabase Auth user whose queue this is, as you were told it. If you were not told it, ask for it: this tool ${words.without} without it.`;
	}
	return `${OWNER_FIELD} (ownerUserId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner ${words.purpose} (a UUID, the id of the Supabase Auth user whose queue this is; a project with one owner sets it once), or let the model give it with {{ $fromAI('ownerUserId', 'the user ID of the owner ${words.purpose}') }}. This tool ${words.without} without it.`;
}

/** As a tool, Owner User ID must be given: refused naming the field when empty, "null" or "undefined". */
export function requireToolOwner(context: IExecuteFunctions, itemIndex: number, words: ToolOwnerWords): void {
	const given = context.getNodeParameter('ownerUserId', itemIndex, '') as unknown;
	if (given === null || given === undefined || (typeof given === 'string' && given.trim() === '') || isNotGivenWord(given)) {
		throw new FieldRefusedError(
			context.getNode(),
			`${words.operation} as an AI agent's tool needs the user ID of ${words.whose} (${fieldAsKnown(context, 'ownerUserId', `${OWNER_FIELD}, ownerUserId`)}), and none was given`,
			{ itemIndex, description: advice(context, words) },
			'ownerUserId',
		);
	}
}
