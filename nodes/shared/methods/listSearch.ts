// The editor's searchable lists, the "From List" mode of our resource locators: follow-up rules,
// campaigns and Messenger contacts, read from the Supabase project behind the node's credential.
// Each page is one PostgREST query: the filter is a case-insensitive `ilike` on the name, run by the
// database; the list is ordered by name, then id (contacts: by name with the nameless last, then
// id; stages: by pipeline, then their order in it). Every list is paged by key, never by offset: the
// pagination token carries the last row's sort key (base64url JSON) and the next page is the rows
// after it in the same order, so a row added or deleted between two requests makes no entry come
// twice or not at all (an offset token of an editor opened before, all digits, reads as the first
// page). The credential's service role sees every owner's rows: when the
// node states its owner as a fixed user ID (`ownerUserId`), the lists keep to that owner's rows.
import type { ILoadOptionsFunctions, INodeListSearchItems, INodeListSearchResult } from 'n8n-workflow';
import { UUID } from '../resource-locator';
import { getSupabaseClient, toNodeApiError } from '../supabase';

export const LIST_PAGE_SIZE = 50;

/**
 * An ilike pattern for names containing `filter`, whatever the case; null for an empty filter.
 * LIKE's own wildcards typed in the filter are matched literally. PostgREST turns every `*` of a
 * pattern into `%`, so a typed `*` stands for any one character.
 */
export function containsPattern(filter: string | undefined): string | null {
	const text = (filter ?? '').trim();
	if (!text) return null;
	return `*${text.replace(/[\\%_]/g, (character) => `\\${character}`).replace(/\*/g, '_')}*`;
}

/** A page's sort key: the last row's name (null: a contact without one) and id. */
export interface PageKey {
	name: string | null;
	id: string;
}

/** The token of the page after a row: its sort key's values as base64url JSON, so any name travels whole. */
function tokenOf(values: ReadonlyArray<string | number | null>): string {
	return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** The two values a token carries; undefined for the first page, an offset token of before (digits) or anything unreadable. */
function tokenValues(paginationToken: string | undefined): [unknown, unknown] | undefined {
	if (!paginationToken || /^\d+$/.test(paginationToken)) return undefined;
	try {
		const parsed: unknown = JSON.parse(Buffer.from(paginationToken, 'base64url').toString('utf8'));
		return Array.isArray(parsed) && parsed.length === 2 ? [parsed[0], parsed[1]] : undefined;
	} catch {
		return undefined;
	}
}

/** The name-and-id key a token carries, or undefined (see tokenValues). */
function keyOf(paginationToken: string | undefined): PageKey | undefined {
	const [name, id] = tokenValues(paginationToken) ?? [];
	if ((typeof name !== 'string' && name !== null) || typeof id !== 'string' || !UUID.test(id)) return undefined;
	return { name, id: id.toLowerCase() };
}

/** A value in a PostgREST logic tree (`or=(…)`): quoted, so a name's commas, dots or parentheses stay its own. */
const quoted = (value: string) => `"${value.replace(/["\\]/g, (character) => `\\${character}`)}"`;

/**
 * The rows after `key` in the order `column` (nulls last), then id: PostgREST's
 * `or=(column.gt."…",and(column.eq."…",id.gt.…)[,column.is.null])`, or for a null name the nameless
 * rows after its id.
 */
export function afterKey(column: string, key: PageKey, nullable: boolean): string {
	if (key.name === null) return `and(${column}.is.null,id.gt.${key.id})`;
	const name = quoted(key.name);
	return `${column}.gt.${name},and(${column}.eq.${name},id.gt.${key.id})${nullable ? `,${column}.is.null` : ''}`;
}

/** Rows fetched by key with one extra row past the page: that row says whether another page follows; the token is the page's last key. */
function keyedPageOf<Row>(rows: Row[], keyOfRow: (row: Row) => ReadonlyArray<string | number | null>, toItem: (row: Row) => INodeListSearchItems): INodeListSearchResult {
	const page = rows.slice(0, LIST_PAGE_SIZE);
	const results = page.map(toItem);
	return rows.length > LIST_PAGE_SIZE ? { results, paginationToken: tokenOf(keyOfRow(page[page.length - 1])) } : { results };
}

/** The node's owner when it is a fixed user ID (an expression is only known when the node runs). */
export function fixedOwner(context: ILoadOptionsFunctions): string | undefined {
	const raw = context.getCurrentNodeParameter('ownerUserId');
	const owner = typeof raw === 'string' ? raw.trim() : '';
	return UUID.test(owner) ? owner.toLowerCase() : undefined;
}

/** One page of an owner-scoped table listed by its `name` column, filtered by name (`columns` include `id` and `name`: the key). */
async function searchByName<Row extends { id: string; name: string }>(
	context: ILoadOptionsFunctions,
	list: { table: string; columns: string; what: string },
	filter: string | undefined,
	paginationToken: string | undefined,
	toItem: (row: Row) => INodeListSearchItems,
): Promise<INodeListSearchResult> {
	const client = await getSupabaseClient(context);
	const key = keyOf(paginationToken);
	const pattern = containsPattern(filter);
	const owner = fixedOwner(context);
	let query = client.from(list.table).select(list.columns);
	if (pattern) query = query.ilike('name', pattern);
	if (owner) query = query.eq('user_id', owner);
	// After the previous page's last row, in the list's order (name, then id).
	if (key?.name != null) query = query.or(afterKey('name', key, false));
	const { data, error } = await query.order('name').order('id').limit(LIST_PAGE_SIZE + 1);
	if (error) throw toNodeApiError(context, error, `Listing the ${list.what} failed`);
	return keyedPageOf(data as unknown as Row[], (row) => [row.name, row.id], toItem);
}

interface RuleRow {
	id: string;
	name: string;
	enabled: boolean;
}

/** Follow-up rules (ai_automation_rules) by name; a disabled rule says so. */
export async function searchRules(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const list = { table: 'ai_automation_rules', columns: 'id, name, enabled', what: 'follow-up rules' };
	return await searchByName<RuleRow>(this, list, filter, paginationToken, (rule) => ({
		name: rule.enabled ? rule.name : `${rule.name} (disabled)`,
		value: rule.id,
	}));
}

interface CampaignRow {
	id: string;
	name_uid: string;
	name: string;
}

/** Campaigns (campaign_info) by name; the value is the campaign ID the app and the webhook use (name_uid). */
export async function searchCampaigns(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const list = { table: 'campaign_info', columns: 'id, name_uid, name', what: 'campaigns' };
	return await searchByName<CampaignRow>(this, list, filter, paginationToken, (campaign) => ({
		name: campaign.name,
		value: campaign.name_uid,
		description: campaign.name_uid,
	}));
}

interface ConversationRow {
	id: string;
	sender_name: string | null;
	sender_id: string;
	page_id: string;
}

interface RuleScope {
	user_id: string;
	page_id: string | null;
}

/**
 * Messenger contacts (messenger_conversations) by name, or by PSID when the filter is digits. With
 * a rule chosen in the node, only the contacts that rule can follow up: its owner's, on its page.
 */
export async function searchConversations(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const client = await getSupabaseClient(this);
	const key = keyOf(paginationToken);
	const pattern = containsPattern(filter);

	let owner = fixedOwner(this);
	let pageId: string | null = null;
	const ruleId = this.getCurrentNodeParameter('ruleId', { extractValue: true });
	if (typeof ruleId === 'string' && UUID.test(ruleId.trim())) {
		const { data, error } = await client.from('ai_automation_rules').select('user_id, page_id').eq('id', ruleId.trim()).maybeSingle();
		if (error) throw toNodeApiError(this, error, 'Reading the chosen follow-up rule failed');
		const rule = data as RuleScope | null;
		if (rule) {
			owner = rule.user_id;
			pageId = rule.page_id;
		}
	}

	let query = client.from('messenger_conversations').select('id, sender_name, sender_id, page_id');
	// Digits only: a PSID too. Digits need no quoting in PostgREST's or=(…) syntax.
	if (pattern && /^\d+$/.test((filter ?? '').trim())) query = query.or(`sender_name.ilike.${pattern},sender_id.like.${pattern}`);
	else if (pattern) query = query.ilike('sender_name', pattern);
	if (owner) query = query.eq('user_id', owner);
	if (pageId) query = query.eq('page_id', pageId);
	// After the previous page's last contact, in the list's order (name with the nameless last, then
	// id). A second or=(…) is and-ed with the filter's.
	if (key) query = query.or(afterKey('sender_name', key, true));
	const { data, error } = await query
		.order('sender_name', { ascending: true, nullsFirst: false })
		.order('id')
		.limit(LIST_PAGE_SIZE + 1);
	if (error) throw toNodeApiError(this, error, 'Listing the Messenger contacts failed');
	const keyOfContact = (conversation: ConversationRow) => [conversation.sender_name, conversation.id];
	return keyedPageOf(data as ConversationRow[], keyOfContact, (conversation) => ({
		name: conversation.sender_name ?? `PSID ${conversation.sender_id}`,
		value: conversation.id,
		description: `PSID ${conversation.sender_id} on page ${conversation.page_id}`,
	}));
}

interface PipelineRow {
	id: string;
	name: string;
}

/** CRM pipelines (pipelines) by name. */
export async function searchPipelines(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const list = { table: 'pipelines', columns: 'id, name', what: 'pipelines' };
	return await searchByName<PipelineRow>(this, list, filter, paginationToken, (pipeline) => ({ name: pipeline.name, value: pipeline.id }));
}

interface StageRow {
	id: string;
	name: string;
	pipeline_id: string;
	stage_order: number;
	pipelines: { name: string } | null;
}

/**
 * Pipeline stages (pipeline_stages) by name, in pipeline order; with a pipeline chosen in the node
 * (`pipelineId`), only its stages. Each says which pipeline it belongs to.
 */
export async function searchStages(this: ILoadOptionsFunctions, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const client = await getSupabaseClient(this);
	const key = stageKeyOf(paginationToken);
	const pattern = containsPattern(filter);
	const owner = fixedOwner(this);
	const pipelineId = this.getCurrentNodeParameter('pipelineId', { extractValue: true });
	let query = client.from('pipeline_stages').select('id, name, pipeline_id, stage_order, pipelines(name)');
	if (pattern) query = query.ilike('name', pattern);
	if (owner) query = query.eq('user_id', owner);
	if (typeof pipelineId === 'string' && UUID.test(pipelineId.trim())) query = query.eq('pipeline_id', pipelineId.trim());
	// After the previous page's last stage: a later pipeline, or a later place in the same one
	// (stage_order is unique per pipeline, so the two make the key).
	if (key) query = query.or(`pipeline_id.gt.${key.pipelineId},and(pipeline_id.eq.${key.pipelineId},stage_order.gt.${key.order})`);
	const { data, error } = await query.order('pipeline_id').order('stage_order').limit(LIST_PAGE_SIZE + 1);
	if (error) throw toNodeApiError(this, error, 'Listing the pipeline stages failed');
	return keyedPageOf(data as unknown as StageRow[], (stage) => [stage.pipeline_id, stage.stage_order], (stage) => ({
		name: stage.name,
		value: stage.id,
		description: stage.pipelines ? `In ${stage.pipelines.name}` : `In pipeline ${stage.pipeline_id}`,
	}));
}

/** The stage key a token carries (its pipeline and order), or undefined (see tokenValues). */
function stageKeyOf(paginationToken: string | undefined): { pipelineId: string; order: number } | undefined {
	const [pipelineId, order] = tokenValues(paginationToken) ?? [];
	if (typeof pipelineId !== 'string' || !UUID.test(pipelineId) || typeof order !== 'number' || !Number.isSafeInteger(order)) return undefined;
	return { pipelineId: pipelineId.toLowerCase(), order };
}
