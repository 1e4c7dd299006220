// Reads the Analyze operation needs besides Gemini, each one call for a batch (of up to 1,000): the
// conversations' sender names and last messages, the stage names the analyses may recommend (with
// the conversations' Page pipelines), the conversations due an analysis, and those whose analysis
// Assign would not use.
import type { IExecuteFunctions } from 'n8n-workflow';
import type { AnalysisUnused, DueConversation } from '../../shared/contract';
import { callRpc } from '../../shared/supabase';
import type { ChatMessage } from '../helpers/analysis';
import { NotFoundError } from '../../shared/per-item';

export interface ConversationFacts {
	conversationId: string;
	senderName: string;
	/** Oldest first. */
	messages: ChatMessage[];
}

/** The most conversations one pipeline_conversation_messages call takes (the Data API's max-rows: one row each). */
const MESSAGES_BATCH = 1000;

/**
 * The sender name and last `limit` messages (oldest first) of each conversation asked, by id: one
 * call per 1,000 distinct conversations (pipeline_conversation_messages). An unknown conversation is
 * not in the map; with `owner`, neither is another owner's (the database checks it: p_user_id).
 */
export async function readConversations(context: IExecuteFunctions, conversationIds: readonly string[], limit: number, owner: string | null = null): Promise<Map<string, ConversationFacts>> {
	const distinct = [...new Set(conversationIds)];
	const facts = new Map<string, ConversationFacts>();
	for (let start = 0; start < distinct.length; start += MESSAGES_BATCH) {
		const rows = await callRpc(context, 'pipeline_conversation_messages', {
			p_conversation_ids: distinct.slice(start, start + MESSAGES_BATCH),
			p_max_messages: limit,
			...(owner && { p_user_id: owner }),
		});
		for (const row of rows) {
			facts.set(row.conversation_id, {
				conversationId: row.conversation_id,
				senderName: row.sender_name ?? '',
				messages: row.messages.map((message) => ({ direction: message.direction, text: message.text, sent_at: message.sent_at })),
			});
		}
	}
	return facts;
}

/**
 * The error of an item whose conversation does not exist, naming the field: a NotFoundError, so a
 * continue-on-fail item's code is not_found, as for Assign's and Move's unknown conversation (P0002).
 */
export function unknownConversation(context: IExecuteFunctions, conversationId: string, itemIndex: number): NotFoundError {
	return new NotFoundError(context.getNode(), `Conversation ID "${conversationId}" does not exist`, {
		itemIndex,
		description: 'Use an id of messenger_conversations, e.g. {{ $json.conversation_id }}.',
	});
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
 * enabled pipeline, or that does not exist, has none. With `owner` (migration …2780), another
 * owner's pipeline has no stage names and another owner's conversation no Page pipeline, as unknown ones.
 */
export async function readStageChoices(context: IExecuteFunctions, pipelineIds: string[], conversationIds: string[], owner: string | null = null): Promise<StageChoices> {
	const rows = await callRpc(context, 'pipeline_stage_names', {
		p_pipeline_ids: [...new Set(pipelineIds)],
		p_conversation_ids: [...new Set(conversationIds)],
		...(owner && { p_user_id: owner }),
	});
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
 * The conversations due an analysis, at most `max`, each with its Page's pipeline and its last
 * `maxMessages` messages: one call (pipeline_due_for_analysis, which says what "due" means and the
 * order: those inside the 24 h window and the older backlog take turns, three to one, oldest
 * customer message first in each; the fallback places last). `owner`: only that user's Pages.
 */
export async function readDueConversations(context: IExecuteFunctions, max: number, owner: string | null, maxMessages: number): Promise<DueConversation[]> {
	return await callRpc(context, 'pipeline_due_for_analysis', { p_limit: max, p_user_id: owner, p_max_messages: maxMessages });
}
