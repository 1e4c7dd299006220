// Reads the Analyze operation needs besides Gemini, through supabase-js: a conversation's last
// messages, the Page pipelines of a batch's conversations, the stage names of the pipelines the
// analyses may recommend from, and the conversations due an analysis.
import type { SupabaseClient } from '@supabase/supabase-js';
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import type { DueConversation } from '../../shared/contract';
import { callRpc, getSupabaseClient, toNodeApiError } from '../../shared/supabase';
import type { ChatMessage } from '../helpers/analysis';

export interface ConversationFacts {
	conversationId: string;
	senderName: string;
	/** Oldest first. */
	messages: ChatMessage[];
}

/** The last `limit` messages of each conversation (one query per conversation, oldest first). */
export async function readConversation(context: IExecuteFunctions, conversationId: string, limit: number, itemIndex: number): Promise<ConversationFacts> {
	const client = await getSupabaseClient(context);
	const conversation = await client.from('messenger_conversations').select('id, sender_name').eq('id', conversationId).maybeSingle();
	if (conversation.error) throw toNodeApiError(context, conversation.error, 'Reading the conversation failed', itemIndex);
	if (!conversation.data) {
		throw new NodeOperationError(context.getNode(), `Conversation ID "${conversationId}" does not exist`, {
			itemIndex,
			description: 'Use an id of messenger_conversations, e.g. {{ $json.conversation_id }}.',
		});
	}
	return {
		conversationId,
		senderName: (conversation.data as { sender_name: string | null }).sender_name ?? '',
		messages: await readMessages(context, conversationId, limit),
	};
}

/** How many ids one read names (they travel in the URL: 100 UUIDs are about 4 KB). */
const IDS_PER_READ = 100;

/** One page of a read where `column` is one of `ids` (a PostgREST query builder, not yet ranged). */
type ReadPage = (client: SupabaseClient, ids: string[]) => {
	range(from: number, to: number): PromiseLike<{ data: unknown; error: { message: string } | null; count: number | null }>;
};

/**
 * Every row a read of many ids returns: one request per IDS_PER_READ ids, paged while the Data API
 * holds rows back (its max rows), as the tag list does (nodes/shared/methods/loadOptions.ts).
 */
async function readByIds<Row>(context: IExecuteFunctions, ids: string[], what: string, read: ReadPage): Promise<Row[]> {
	const client = await getSupabaseClient(context);
	const rows: Row[] = [];
	for (let start = 0; start < ids.length; start += IDS_PER_READ) {
		const slice = ids.slice(start, start + IDS_PER_READ);
		for (let got = 0; ; ) {
			const { data, error, count } = await read(client, slice).range(got, got + 999);
			if (error) throw toNodeApiError(context, error, what);
			const page = (data ?? []) as Row[];
			rows.push(...page);
			got += page.length;
			if (page.length === 0 || got >= (count ?? 0)) break;
		}
	}
	return rows;
}

/**
 * Each conversation's Page pipeline: the pipeline of its owner's and Page's pipeline_page_settings,
 * when enabled (the one Assign places it in when the item names none). Conversations whose Page
 * has none, or that do not exist, are absent. Set-based: the conversations in one read, their
 * Pages' settings in another (per 100 ids), whatever the batch's size.
 */
export async function readPagePipelines(context: IExecuteFunctions, conversationIds: string[]): Promise<Map<string, string>> {
	const conversations = await readByIds<{ id: string; user_id: string; page_id: string }>(
		context,
		[...new Set(conversationIds)],
		'Reading the conversations\' Pages failed',
		(client, ids) => client.from('messenger_conversations').select('id, user_id, page_id', { count: 'exact' }).in('id', ids).order('id'),
	);
	const settings = await readByIds<{ user_id: string; page_id: string; pipeline_id: string }>(
		context,
		[...new Set(conversations.map((conversation) => conversation.page_id))],
		'Reading the Pages\' pipeline settings failed',
		(client, pages) =>
			client.from('pipeline_page_settings').select('user_id, page_id, pipeline_id', { count: 'exact' }).eq('enabled', true).in('page_id', pages).order('page_id').order('user_id'),
	);
	// A Page may be connected by several owners: each conversation takes its own owner's setting.
	const pipelineOf = new Map(settings.map((setting) => [`${setting.user_id}/${setting.page_id}`, setting.pipeline_id]));
	const pipelines = new Map<string, string>();
	for (const conversation of conversations) {
		const pipeline = pipelineOf.get(`${conversation.user_id}/${conversation.page_id}`);
		if (pipeline) pipelines.set(conversation.id, pipeline);
	}
	return pipelines;
}

/** The stage names of each pipeline, in order (the choices an analysis may recommend): one read for many pipelines. */
export async function readStageNames(context: IExecuteFunctions, pipelineIds: string[]): Promise<Map<string, string[]>> {
	const rows = await readByIds<{ pipeline_id: string; name: string }>(
		context,
		[...new Set(pipelineIds)],
		'Reading the pipelines\' stages failed',
		(client, ids) => client.from('pipeline_stages').select('pipeline_id, name', { count: 'exact' }).in('pipeline_id', ids).order('pipeline_id').order('stage_order').order('id'),
	);
	const names = new Map<string, string[]>();
	for (const row of rows) {
		const list = names.get(row.pipeline_id);
		if (list) list.push(row.name);
		else names.set(row.pipeline_id, [row.name]);
	}
	return names;
}

/**
 * The conversations due an analysis, oldest customer message first, at most `max`, each with its
 * Page's pipeline and its last `maxMessages` messages: one call (pipeline_due_for_analysis, which
 * says what "due" means). `owner`: only that user's Pages.
 */
export async function readDueConversations(context: IExecuteFunctions, max: number, owner: string | null, maxMessages: number): Promise<DueConversation[]> {
	return await callRpc(context, 'pipeline_due_for_analysis', { p_limit: max, p_user_id: owner, p_max_messages: maxMessages });
}

/** The last `limit` messages of a conversation, oldest first. */
export async function readMessages(context: IExecuteFunctions, conversationId: string, limit: number): Promise<ChatMessage[]> {
	const client = await getSupabaseClient(context);
	const { data, error } = await client
		.from('messenger_messages')
		.select('direction, text, sent_at')
		.eq('conversation_id', conversationId)
		.order('sent_at', { ascending: false })
		.limit(limit);
	if (error) throw toNodeApiError(context, error, 'Reading the conversation\'s messages failed');
	const rows = (data ?? []) as Array<{ direction: 'inbound' | 'outbound'; text: string | null; sent_at: string }>;
	return rows.reverse().map((row) => ({ direction: row.direction, text: row.text ?? '', sent_at: row.sent_at }));
}
