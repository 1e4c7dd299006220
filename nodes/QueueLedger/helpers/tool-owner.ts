// Queue Ledger's Owner User ID as an AI agent's tool (docs/nodes.md, "One owner per tool"): an
// operation whose Owner User ID may be empty in a workflow (Take Lead: any owner's lead; Prepare
// Tomorrow: every owner's queue) needs it as a tool. Empty, "null" or "undefined" is refused naming
// the field (ownerUserId), in the one wording of nodes/shared/tool-owner.ts: the advice and the first
// line's field name for whoever fills it, the model by its $fromAI key, else the workflow's builder.
import type { IExecuteFunctions } from 'n8n-workflow';
import { requireToolOwner as requireSharedToolOwner, type ToolOwnerWords } from '../../shared/tool-owner';
import { OWNER_FIELD } from './common';

/** As a tool, Owner User ID must be given as text: refused naming the field when empty, "null", "undefined" or not text (nodes/shared/tool-owner.ts). */
export function requireToolOwner(context: IExecuteFunctions, itemIndex: number, words: ToolOwnerWords): void {
	requireSharedToolOwner(context, itemIndex, { parameter: 'ownerUserId', displayName: OWNER_FIELD }, words);
}
