// The owner of the rows the node reads and writes. The node talks to Supabase with the service
// role, which bypasses row level security, so whose campaign it is must be stated: the "Owner User
// ID" parameter (an auth.users id). In the shipped workflow it comes from the caller's
// X-Leadflow-Owner header, so a wrong one is the caller's problem (400), not a crash, and the
// problem names what the caller sent: the header (`headers.x-leadflow-owner`, as the key's problem
// is `headers.idempotency-key`), or the parameter (`ownerUserId`) when it is typed or given otherwise.
import type { IExecuteFunctions } from 'n8n-workflow';
import { UUID } from '../../shared/valid-input';
import { shown, type Problem } from './problems';

export type OwnerResult = { owner: string } | { problem: Problem };

/** Where the owner came from: the request's X-Leadflow-Owner header when the parameter's expression reads it. */
export function ownerPath(context: IExecuteFunctions): string {
	const raw = context.getNode().parameters.ownerUserId;
	return typeof raw === 'string' && raw.startsWith('=') && /x-leadflow-owner/i.test(raw) ? 'headers.x-leadflow-owner' : 'ownerUserId';
}

export function readOwner(context: IExecuteFunctions, itemIndex: number): OwnerResult {
	const raw = context.getNodeParameter('ownerUserId', itemIndex, '') as unknown;
	const owner = typeof raw === 'string' ? raw.trim() : '';
	if (!UUID.test(owner)) {
		return { problem: { path: ownerPath(context), message: `is not a user id (a UUID from auth.users), got ${shown(raw)}` } };
	}
	return { owner: owner.toLowerCase() };
}

export function unknownOwner(context: IExecuteFunctions): Problem {
	return { path: ownerPath(context), message: 'is not a user of this Supabase project' };
}
