// The owner of the rows the node writes. The node talks to Supabase with the service role, which
// bypasses row level security, so whose campaign it is must be stated: the "Owner User ID"
// parameter (an auth.users id; an expression can take it from the request or a lookup).
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function readOwner(context: IExecuteFunctions, itemIndex: number): string {
	const owner = String(context.getNodeParameter('ownerUserId', itemIndex, '')).trim();
	if (!UUID.test(owner)) {
		throw new NodeOperationError(context.getNode(), `Owner User ID is not a user id: ${JSON.stringify(owner.slice(0, 60))}`, {
			itemIndex,
			description: 'Set "Owner User ID" to the Supabase Auth user (auth.users id, a UUID) who owns these campaigns.',
		});
	}
	return owner.toLowerCase();
}
