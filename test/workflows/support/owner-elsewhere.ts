// The webhooks whose one input is the X-Leadflow-Owner header, and which run for every owner without
// it (queue-run, queue-prepare, auto-assign), refuse an owner sent anywhere else, or a header left
// empty, before anything runs. The cases their tests share, and the request each makes.

export type OwnerElsewhere = 'query' | 'body' | 'array' | 'header';

/** [case, where the owner goes, the field the 400 names, its error]. */
export const OWNER_ELSEWHERE: Array<[string, OwnerElsewhere, string, RegExp]> = [
	['a query parameter', 'query', 'owner', /^Query parameter "owner": this webhook reads no query/],
	['a body field', 'body', 'ownerUserId', /^Unknown field "ownerUserId": this webhook takes no body/],
	['a body that is not an object', 'array', 'body', /^The body is not a JSON object$/],
	['an empty X-Leadflow-Owner', 'header', 'X-Leadflow-Owner', /^The X-Leadflow-Owner header is empty$/],
];

/** The webhook request of a case: the key's header, and the owner where the case puts it. */
export function ownerElsewhere(where: OwnerElsewhere, key: { name: string; value: string }, owner: string) {
	return {
		method: 'POST' as const,
		headers: { [key.name]: key.value, ...(where === 'header' ? { 'X-Leadflow-Owner': ' ' } : {}) },
		query: where === 'query' ? { owner } : undefined,
		body: where === 'body' ? { ownerUserId: owner } : where === 'array' ? [owner] : {},
	};
}
