// The editor's option lists (a parameter's `typeOptions.loadOptionsMethod`), read from the Supabase
// project behind the node's credential. `getTags` is for the tag parameters of the nodes to come:
// a node offers it with `methods = { loadOptions: { getTags } }` and a parameter of type 'options'
// (or 'multiOptions') with `typeOptions: { loadOptionsMethod: 'getTags' }`.
// The tags are read a batch at a time by key (name, then id, after the last one read), never by
// offset: a tag added or deleted between two requests would shift an offset's rows, so that one
// came twice or not at all.
import type { ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';
import { getSupabaseClient, toNodeApiError } from '../supabase';
import { afterKey, fixedOwner } from './listSearch';

/** Rows per request; each answer's count (the rows after the key) says whether more requests are needed (a project's PostgREST may also cap rows per answer, max-rows). */
const TAG_BATCH = 1000;

interface TagRow {
	id: string;
	name: string;
	user_id: string;
}

/**
 * The tags (public.tags) by name, their IDs as values. With a fixed owner in the node
 * (`ownerUserId`), that owner's tags; otherwise every owner's, each saying whose it is (two owners
 * may both have an "AI Lead").
 */
export async function getTags(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const client = await getSupabaseClient(this);
	const owner = fixedOwner(this);
	const tags: TagRow[] = [];
	for (;;) {
		let query = client.from('tags').select('id, name, user_id', { count: 'exact' });
		if (owner) query = query.eq('user_id', owner);
		// After the last tag read, in the list's order (name, then id).
		const last = tags.at(-1);
		if (last) query = query.or(afterKey('name', last, false));
		const { data, error, count } = await query.order('name').order('id').limit(TAG_BATCH);
		if (error) throw toNodeApiError(this, error, 'Listing the tags failed');
		const batch = data as TagRow[];
		tags.push(...batch);
		if (batch.length === 0 || batch.length >= (count ?? 0)) break;
	}
	return tags.map((tag) => (owner ? { name: tag.name, value: tag.id } : { name: tag.name, value: tag.id, description: `Owner ${tag.user_id}` }));
}
