// A database refusal in the caller's words. The SQL functions name their own arguments
// (`p_actor_id: user … does not exist`, `p_from, p_to: p_from on or before p_to …`); whoever called
// the node set a parameter (Taken By, From Day, Owner ID), perhaps from a webhook field, and knows
// nothing of p_actor_id. A refusal naming only arguments an operation maps is given again with the
// parameters' names and without the function's name, its code and status kept (still a 400 or
// 404 on a webhook), with a hint in the same terms.
import { NodeApiError, type IExecuteFunctions } from 'n8n-workflow';

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
