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
	const messages = await client
		.from('messenger_messages')
		.select('direction, text, sent_at')
		.eq('conversation_id', conversationId)
		.order('sent_at', { ascending: false })
		.limit(limit);
	if (messages.error) throw toNodeApiError(context, messages.error, 'Reading the conversation\'s messages failed', itemIndex);
	const rows = (messages.data ?? []) as Array<{ direction: 'inbound' | 'outbound'; text: string | null; sent_at: string }>;
	return {
		conversationId,
		senderName: (conversation.data as { sender_name: string | null }).sender_name ?? '',
		messages: rows.reverse().map((row) => ({ direction: row.direction, text: row.text ?? '', sent_at: row.sent_at })),
	};
}

/** The stage names of a pipeline, in order (the choices an analysis may recommend). */
export async function readStageNames(context: IExecuteFunctions, pipelineId: string): Promise<string[]> {
	const client = await getSupabaseClient(context);
	const { data, error } = await client.from('pipeline_stages').select('name, stage_order').eq('pipeline_id', pipelineId).order('stage_order');
	if (error) throw toNodeApiError(context, error, 'Reading the pipeline\'s stages failed');
	return ((data ?? []) as Array<{ name: string }>).map((row) => row.name);
}
