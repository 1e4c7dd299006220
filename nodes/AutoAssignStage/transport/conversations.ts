// Reads the Analyze operation needs besides Gemini, through supabase-js: a conversation's last
// messages, and the stage names of the pipeline the analysis may recommend from.
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { getSupabaseClient, toNodeApiError } from '../../shared/supabase';
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

/** The stage names of a pipeline, in order (the choices an analysis may recommend). */
export async function readStageNames(context: IExecuteFunctions, pipelineId: string): Promise<string[]> {
	const client = await getSupabaseClient(context);
	const { data, error } = await client.from('pipeline_stages').select('name, stage_order').eq('pipeline_id', pipelineId).order('stage_order');
	if (error) throw toNodeApiError(context, error, 'Reading the pipeline\'s stages failed');
	return ((data ?? []) as Array<{ name: string }>).map((row) => row.name);
}

export interface DueConversation {
	conversationId: string;
	senderName: string;
	pipelineId: string;
}

interface SettingRow {
	user_id: string;
	page_id: string;
	pipeline_id: string;
	update_mode: 'SKIP_EXISTING' | 'UPDATE_EXISTING';
}

interface CandidateRow {
	id: string;
	user_id: string;
	page_id: string;
	sender_name: string | null;
	last_customer_message_at: string;
	pipeline_contacts: Array<{ pipeline_id: string; analysed_at: string | null }>;
}

const PAGE_ROWS = 1000;

/**
 * The conversations due an analysis, oldest customer message first, at most `max`: on a Page with
 * auto-assignment enabled (pipeline_page_settings), with a customer message, and either not in the
 * Page's pipeline yet, or (update mode UPDATE_EXISTING) with a customer message after its last
 * analysis. A Page set to SKIP_EXISTING never has a placed contact analysed again (the analysis
 * would not be used). `owner`: only that user's Pages. Each page of candidates is one query (conversations with their places).
 */
export async function readDueConversations(context: IExecuteFunctions, max: number, owner: string | null): Promise<DueConversation[]> {
	const client = await getSupabaseClient(context);
	let settingsQuery = client.from('pipeline_page_settings').select('user_id, page_id, pipeline_id, update_mode').eq('enabled', true);
	if (owner) settingsQuery = settingsQuery.eq('user_id', owner);
	const settings = await settingsQuery;
	if (settings.error) throw toNodeApiError(context, settings.error, 'Reading the Pages\' pipeline settings failed');
	const settingOf = new Map(((settings.data ?? []) as SettingRow[]).map((row) => [`${row.user_id}/${row.page_id}`, row]));
	if (settingOf.size === 0) return [];
	const pageIds = [...new Set([...settingOf.values()].map((row) => row.page_id))];
	const due: DueConversation[] = [];
	for (let offset = 0; due.length < max; offset += PAGE_ROWS) {
		let query = client
			.from('messenger_conversations')
			.select('id, user_id, page_id, sender_name, last_customer_message_at, pipeline_contacts(pipeline_id, analysed_at)')
			.in('page_id', pageIds);
		if (owner) query = query.eq('user_id', owner);
		const { data, error } = await query
			.not('last_customer_message_at', 'is', null)
			.order('last_customer_message_at')
			.order('id')
			.range(offset, offset + PAGE_ROWS - 1);
		if (error) throw toNodeApiError(context, error, 'Reading the conversations due an analysis failed');
		const rows = (data ?? []) as unknown as CandidateRow[];
		for (const row of rows) {
			const setting = settingOf.get(`${row.user_id}/${row.page_id}`);
			if (!setting) continue;
			const place = row.pipeline_contacts.find((candidate) => candidate.pipeline_id === setting.pipeline_id);
			const stale = !place || (setting.update_mode === 'UPDATE_EXISTING' && (!place.analysed_at || Date.parse(place.analysed_at) < Date.parse(row.last_customer_message_at)));
			if (stale) due.push({ conversationId: row.id, senderName: row.sender_name ?? '', pipelineId: setting.pipeline_id });
			if (due.length >= max) break;
		}
		if (rows.length < PAGE_ROWS) break;
	}
	return due;
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
