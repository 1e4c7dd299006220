// A database refusal in the caller's words. The queue functions name their own arguments
// (`p_actor_id: user … does not exist`, `p_from, p_to: p_from on or before p_to …`); whoever called
// the node set a parameter (Taken By, From Day), perhaps from a webhook field, and knows nothing of
// p_actor_id. A refusal naming only arguments an operation maps is given again with the
// parameters' names and without the function's name, its code and status kept (still a 400 or
// 404 on a webhook), with a hint in the same terms. The owner the same way: `p_user_id: user … does
// not exist` (or, for queue_prepare, `has no queue settings`) is Owner User ID's.
import { NodeApiError, type IExecuteFunctions } from 'n8n-workflow';
import { OWNER_FIELD } from './common';

/** `error` with each argument in `names` (argument → parameter display name) renamed, if it names only those. */
export function inParameterNames(context: IExecuteFunctions, error: unknown, itemIndex: number, names: Readonly<Record<string, string>>, description?: string): unknown {
	if (!(error instanceof NodeApiError)) return error;
	const response = error.errorResponse as { message?: unknown } | undefined;
	const raw = typeof response?.message === 'string' ? response.message : '';
	const named = /^(p_[a-z_]+(?:, p_[a-z_]+)*): /.exec(raw);
	if (!named || !named[1].split(', ').every((argument) => argument in names)) return error;
	// The database's words alone (not "queue_take_lead failed: …": the caller called no function).
	const message = raw.replace(/\bp_[a-z_]+\b/g, (argument) => names[argument] ?? argument);
	return new NodeApiError(context.getNode(), error.errorResponse ?? {}, { message, description: description ?? error.description ?? undefined, itemIndex });
}

/** What to do about a refused owner, for an operation that needs one. */
export const OWNER_HINT = `Set ${OWNER_FIELD} to the ID of a Supabase Auth user of this project (auth.users): the owner whose queue this is, e.g. from the X-Leadflow-Owner header.`;

/** `error` naming Owner User ID when the database refused the owner (p_user_id); `description`: what to do. */
export function inOwnerField(context: IExecuteFunctions, error: unknown, itemIndex: number, description = OWNER_HINT): unknown {
	return inParameterNames(context, error, itemIndex, { p_user_id: OWNER_FIELD }, description);
}
