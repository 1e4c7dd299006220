// Reads the Analyze operation needs besides Gemini, through supabase-js: a conversation's last
// messages, the stage names the analyses of a batch may recommend (with its conversations' Page
// pipelines), the conversations due an analysis, and those whose analysis Assign would not use.
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import type { AnalysisUnused, DueConversation } from '../../shared/contract';
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

/** The stage names the prompts may list, by pipeline, and each conversation's Page pipeline. */
export interface StageChoices {
	stageNames: Map<string, string[]>;
	pagePipelineOf: Map<string, string>;
}

/**
 * The stage names (in order) of the pipelines named and of the conversations' Page pipelines
 * (pipeline_page_settings, when enabled: where Assign places them), and which Page pipeline is each
 * conversation's: one call for the batch (pipeline_stage_names). A conversation whose Page has no
 * enabled pipeline, or that does not exist, has none.
 */
export async function readStageChoices(context: IExecuteFunctions, pipelineIds: string[], conversationIds: string[]): Promise<StageChoices> {
	const rows = await callRpc(context, 'pipeline_stage_names', { p_pipeline_ids: [...new Set(pipelineIds)], p_conversation_ids: [...new Set(conversationIds)] });
	const choices: StageChoices = { stageNames: new Map(), pagePipelineOf: new Map() };
	for (const row of rows) {
		choices.stageNames.set(row.pipeline_id, row.stage_names);
		for (const conversationId of row.conversation_ids) choices.pagePipelineOf.set(conversationId, row.pipeline_id);
	}
	return choices;
}

/** The most conversations one pipeline_analysis_unused call takes (the Data API's max-rows). */
const UNUSED_BATCH = 1000;

/**
 * Of the conversations asked (each with the pipeline named for it, or null: its Page's), those
 * whose analysis Assign would not use, by position in `asked`, with the outcome and reason it would
 * answer (pipeline_analysis_unused, which says the rules): one call per 1,000.
 */
export async function readUnusedAnalyses(context: IExecuteFunctions, asked: ReadonlyArray<{ conversationId: string; pipelineId: string | null }>): Promise<Map<number, AnalysisUnused>> {
	const unused = new Map<number, AnalysisUnused>();
	for (let start = 0; start < asked.length; start += UNUSED_BATCH) {
		const batch = asked.slice(start, start + UNUSED_BATCH);
		const rows = await callRpc(context, 'pipeline_analysis_unused', {
			p_conversation_ids: batch.map((entry) => entry.conversationId),
			p_pipeline_ids: batch.map((entry) => entry.pipelineId),
		});
		for (const row of rows) unused.set(start + row.item_index, row);
	}
	return unused;
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
