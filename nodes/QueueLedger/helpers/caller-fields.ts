// The Queue Ledger's refusals in the caller's words (nodes/shared/caller-fields.ts): the owner's
// `p_user_id: user … does not exist` (or, for queue_prepare, `has no queue settings`) is Owner User
// ID's.
import type { IExecuteFunctions } from 'n8n-workflow';
import { inParameterNames } from '../../shared/caller-fields';
import { OWNER_FIELD } from './common';

/** What to do about a refused owner, for an operation that needs one. */
export const OWNER_HINT = `Set ${OWNER_FIELD} to the ID of a Supabase Auth user of this project (auth.users): the owner whose queue this is, e.g. from the X-Leadflow-Owner header.`;

/** `error` naming Owner User ID when the database refused the owner (p_user_id); `description`: what to do. */
export function inOwnerField(context: IExecuteFunctions, error: unknown, itemIndex: number, description = OWNER_HINT): unknown {
	return inParameterNames(context, error, itemIndex, { p_user_id: OWNER_FIELD }, description);
}
