// The owner a node's call is about, read from its owner parameter: the one rule of Queue Ledger,
// Auto Assign Stage and Messenger Sync. n8n reaches Supabase with the service role, which bypasses
// row level security, so the owner is an argument; an empty one means every owner (or, for Messenger
// Sync, the Page's connected owner) where the operation allows it.
import type { IExecuteFunctions } from 'n8n-workflow';
import { FieldRefusedError } from './per-item';
import { notTextProblem, UUID } from './valid-input';

/** How a node names its owner parameter: the parameter, and the words of its refusal. */
export interface OwnerParameter {
	/** The parameter's name, what the refusal's `field` says. */
	parameter: string;
	/** The value's name in the refusal: `The <label> "…" <notId>`. */
	label: string;
	notId: string;
}

/** Queue Ledger's and Auto Assign Stage's Owner User ID. */
export const OWNER_USER_ID: OwnerParameter = { parameter: 'ownerUserId', label: 'owner user ID', notId: 'is not a UUID' };

/** Messenger Sync's Owner ID. */
export const SYNC_OWNER_ID: OwnerParameter = { parameter: 'owner', label: 'Owner ID', notId: 'is not a user id' };

/**
 * The owner parameter of item i: an auth.users id, lower case; empty (or only spaces) → null when
 * optional. Its refusal (not text, not a UUID) is a FieldRefusedError naming the parameter (`field`
 * on the failed item), so a workflow that gives it from its request (an X-Leadflow-Owner header)
 * answers that request field's 400 by the field, never by the message's words, and its own setting
 * as its 500. Text only: a list holding one id (an expression mapping an array) is refused, never
 * read as that id, and an object is not shown as "[object Object]".
 */
export function readOwnerId(context: IExecuteFunctions, itemIndex: number, hint: string, optional: true, names?: OwnerParameter): string | null;
export function readOwnerId(context: IExecuteFunctions, itemIndex: number, hint: string, optional: false, names?: OwnerParameter): string;
export function readOwnerId(context: IExecuteFunctions, itemIndex: number, hint: string, optional: boolean, names: OwnerParameter = OWNER_USER_ID): string | null {
	const raw = context.getNodeParameter(names.parameter, itemIndex, '') as unknown;
	const refuse = (message: string) => new FieldRefusedError(context.getNode(), message, { itemIndex, description: hint }, names.parameter);
	const notText = notTextProblem(raw);
	if (notText) throw refuse(`${names.label.charAt(0).toUpperCase()}${names.label.slice(1)} ${notText}`);
	const text = typeof raw === 'string' ? raw.trim() : '';
	if (!text && optional) return null;
	if (!UUID.test(text)) throw refuse(`The ${names.label} "${text}" ${names.notId}`);
	return text.toLowerCase();
}
