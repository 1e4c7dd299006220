// The owner of the rows the node reads and writes. The node talks to Supabase with the service
// role, which bypasses row level security, so whose campaign it is must be stated: the "Owner User
// ID" parameter (an auth.users id). In the shipped workflow it comes from the caller's
// X-Leadflow-Owner header, so a wrong one is the caller's problem (400), not a crash.
import type { IExecuteFunctions } from 'n8n-workflow';
import { UUID } from '../../shared/valid-input';
import { shown, type Problem } from './problems';

export type OwnerResult = { owner: string } | { problem: Problem };

export function readOwner(context: IExecuteFunctions, itemIndex: number): OwnerResult {
	const raw = context.getNodeParameter('ownerUserId', itemIndex, '') as unknown;
	const owner = typeof raw === 'string' ? raw.trim() : '';
	if (!UUID.test(owner)) {
		return { problem: { path: 'owner', message: `is not a user id (a UUID from auth.users), got ${shown(raw)}` } };
	}
	return { owner: owner.toLowerCase() };
}

export const unknownOwner: Problem = { path: 'owner', message: 'is not a user of this Supabase project' };
