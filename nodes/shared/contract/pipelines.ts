// The CRM pipelines' SQL API (supabase/migrations/20261201000310_crm_pipelines_api.sql) as
// TypeScript: each function's arguments (exactly as `supabase.rpc` sends them) and the rows it
// returns. The names live in the map of index.ts; nodes call them through the typed `callRpc`
// (nodes/shared/supabase.ts), one call per batch of at most 1,000 items (the Data API answers at
// most 1,000 rows; the functions refuse longer batches rather than have an answer cut). Timestamps
// travel as ISO 8601 strings; `p_now` exists so tests can fix the clock; production leaves it out.
// A malformed item fails the whole call (nothing written) with a message naming it and its field,
// e.g. `p_items[3].lead_score: required, a whole number from 0 to 100 (got 120)`.

/** The lead statuses a contact may have (leadflow_private.pipeline_lead_statuses()). */
export type LeadStatus = 'NEW' | 'CONTACTED' | 'QUALIFIED' | 'PROPOSAL_SENT' | 'NEGOTIATING' | 'WON' | 'LOST' | 'UNRESPONSIVE';

/** The Page setting (pipeline_page_settings.update_mode), or an item's own. */
export type UpdateMode = 'SKIP_EXISTING' | 'UPDATE_EXISTING';

/** Which of the seed's priorities chose the stage, first to last. */
export type AssignPriority = 'status' | 'score_range' | 'ai_recommendation' | 'closest_score' | 'default_stage' | 'first_stage';

// =============================================================================================
// pipeline_assign
// =============================================================================================
/** The AI's analysis of one contact. Absent optional fields may also be null. */
export interface AnalysedContact {
	conversation_id: string;
	/** 0–100, a whole number. */
	lead_score: number;
	/** Any case; stored upper case. Absent: the contact's current status (NEW for a new one). */
	lead_status?: LeadStatus | null;
	/** A stage name, matched case-insensitively (priority 3). */
	recommended_stage?: string | null;
	summary?: string | null;
	/** 0–100. */
	confidence?: number | null;
	reasoning?: string | null;
	model?: string | null;
	/** The analysis is the fallback score (the model failed). Default false. */
	is_fallback?: boolean | null;
	/** The last message the analysis saw, an instant with its offset. */
	last_message_at?: string | null;
	/** Place the contact in this pipeline instead of its Page's (pipeline_page_settings). */
	pipeline_id?: string | null;
	/** Instead of the Page's update mode (default SKIP_EXISTING). */
	update_mode?: UpdateMode | null;
}

export interface AssignArgs {
	/** 1 to 1,000 analysed contacts, each conversation once. */
	p_items: AnalysedContact[];
	p_now?: string;
}

export interface AssignResult {
	/** The item's position in p_items. */
	item_index: number;
	conversation_id: string;
	/**
	 * assigned: placed in the pipeline; moved: to another stage; kept: in its stage (reason);
	 * skipped: its Page has no enabled auto-assignment and the item named no pipeline, it was moved
	 * out of the pipeline (left_pipeline: pipeline and stage say where it is now, if anywhere), or the
	 * pipeline has no stages yet (pipeline_has_no_stages: stage null, nothing written).
	 */
	outcome: 'assigned' | 'moved' | 'kept' | 'skipped';
	/**
	 * kept: why (fallback_analysis: the fallback score changes nothing placed; stale_analysis: the analysis is of older messages than
	 * the place's, nothing written; already_applied: the place already holds this very analysis (a retry or replay), nothing
	 * written or fired; skip_existing: nothing written, except the model's score and summary over a fallback score's place a
	 * person has moved since); skipped: auto_assign_off, left_pipeline or pipeline_has_no_stages; null otherwise.
	 */
	reason:
		| 'downgrade_protected'
		| 'same_stage'
		| 'skip_existing'
		| 'fallback_analysis'
		| 'stale_analysis'
		| 'already_applied'
		| 'auto_assign_off'
		| 'left_pipeline'
		| 'pipeline_has_no_stages'
		| null;
	/** The priority that chose the stage (for downgrade_protected: the stage refused); null when nothing was evaluated. */
	priority: AssignPriority | null;
	pipeline_id: string | null;
	/** Where the contact is now. */
	stage_id: string | null;
	stage_name: string | null;
	/** Where it was before this call (null: not in the pipeline). */
	from_stage_id: string | null;
	from_stage_name: string | null;
	/** downgrade_protected: the lower stage the analysis proposed. */
	proposed_stage_id: string | null;
	proposed_stage_name: string | null;
	/** The contact's score and status now (unchanged for fallback_analysis, stale_analysis, already_applied, skipped and skip_existing of a place the model scored). */
	lead_score: number | null;
	lead_status: LeadStatus | null;
	/** Automations fired for this contact by this call, chains included. */
	automations_fired: number;
	/** The webhook / notify actions this call queued for the contact (pipeline_claim_outbox's p_outbox_ids); empty when none. */
	outbox_ids: string[];
}

// =============================================================================================
// pipeline_move
// =============================================================================================
/** A manual move: stage_id, or stage_name (in pipeline_id, or the one pipeline the contact is in). */
export interface ManualMove {
	conversation_id: string;
	stage_id?: string | null;
	stage_name?: string | null;
	pipeline_id?: string | null;
	/** Move from this pipeline (its place there is left; score, status and analysis come along). */
	from_pipeline_id?: string | null;
	/** Why: written to the MANUAL_MOVE activity. */
	reason?: string | null;
	/** Who asked: a person in the app (default) or an AI agent. */
	actor?: 'user' | 'ai' | null;
	/** The user's id, the agent's name. */
	actor_id?: string | null;
	/** Only a contact of this owner (a user id): another owner's is refused as not existing. Null: any owner's. */
	owner_user_id?: string | null;
}

export interface MoveArgs {
	/** 1 to 1,000 moves, each conversation once. */
	p_items: ManualMove[];
	p_now?: string;
}

export interface MoveResult {
	item_index: number;
	conversation_id: string;
	/** moved: to another stage (or from another pipeline); assigned: entered the pipeline; kept: already there. */
	outcome: 'moved' | 'assigned' | 'kept';
	reason: 'same_stage' | null;
	pipeline_id: string;
	stage_id: string;
	stage_name: string;
	from_stage_id: string | null;
	from_stage_name: string | null;
	/** The pipeline the contact left (from_pipeline_id), when it did. */
	left_pipeline_id: string | null;
	automations_fired: number;
	/** The webhook / notify actions this call queued for the contact (pipeline_claim_outbox's p_outbox_ids); empty when none. */
	outbox_ids: string[];
}

// =============================================================================================
// pipeline_claim_outbox / pipeline_complete_outbox: webhook and notify actions
// =============================================================================================
export interface ClaimOutboxArgs {
	/** Who holds the claimed items: the n8n execution id. pipeline_complete_outbox passes the same. */
	p_execution_id: string;
	/** 1–1,000. */
	p_limit?: number;
	/** How long an item stays this execution's before it is handed out again (5–86,400 s). */
	p_lease_seconds?: number;
	p_now?: string;
	/** Only the items of these conversations (whoever queued them); omit for every due item. */
	p_conversation_ids?: string[] | null;
	/** Only this owner's items; omit for every owner's. */
	p_user_id?: string | null;
	/** Only these items (the outbox_ids a pipeline_assign / pipeline_move call answered: what it queued); omit for any. */
	p_outbox_ids?: string[] | null;
}

/** What an automation's webhook / notify action is about. */
export interface OutboxPayload {
	/** The item's id: a receiver dedupes on it (confirmed delivery is at least once). Absent on items queued before migration 20261201001780. */
	outbox_id?: string;
	/** The owner (the business) whose automation fired. Absent on items queued before migration 20261201001780. */
	user_id?: string;
	/** The action as the automation declares it: {type: 'webhook', url, method?, body?} or {type: 'notify', message, channel?, to?}. */
	action: { type: 'webhook' | 'notify'; [field: string]: unknown };
	automation: { id: string; name: string };
	contact: { conversation_id: string; page_id: string; sender_id: string; sender_name: string | null };
	pipeline: { id: string; name: string };
	change: {
		trigger_type: 'STAGE_CHANGED' | 'ENTERED_PIPELINE' | 'STATUS_CHANGED' | 'SCORE_CROSSED';
		/** 0: an analysis or a manual move; n: n automation steps after it. */
		depth: number;
		from_stage: { id: string; name: string } | null;
		to_stage: { id: string; name: string } | null;
		from_score: number | null;
		to_score: number | null;
		from_status: LeadStatus | null;
		to_status: LeadStatus | null;
		/** Who made the change, as its history says: `user` (a person), `ai` (an analysis or an AI agent's move), `automation`. */
		actor?: 'user' | 'ai' | 'automation' | null;
		/** The person's id or the agent's name a move named, the model of an analysis (`fallback-score` when the fallback score placed the contact: the model failed), the id of the automation that made the change. */
		actor_id?: string | null;
		/** Why: a move's reason, an analysis' reasoning; null for an automation's change. */
		reason?: string | null;
	};
	occurred_at: string;
}

export interface ClaimedOutboxItem {
	outbox_id: string;
	kind: 'webhook' | 'notify';
	payload: OutboxPayload;
	/** 1 the first time it is handed out; more after a lease ran out or a retry. */
	attempt: number;
	lease_expires_at: string;
	run_id: string;
	automation_id: string;
	conversation_id: string;
	created_at: string;
}

export interface OutboxReport {
	outbox_id: string;
	outcome: 'delivered' | 'failed';
	error?: string | null;
	/** failed: hand it out again after this many seconds (0–604,800); absent: failed for good. */
	retry_after_seconds?: number | null;
}

export interface CompleteOutboxArgs {
	p_execution_id: string;
	p_items: OutboxReport[];
	p_now?: string;
}

export interface CompleteOutboxResult {
	outbox_id: string;
	/**
	 * delivered, failed, retrying: recorded now, or by this holder's same report before (a repeat,
	 * e.g. n8n's Retry On Fail after a lost answer, gets the first answer and writes nothing).
	 * already_completed: this holder completed the item before with another report, which stands
	 * (a delivered item is never made failed, nor a failed one delivered); nothing written.
	 * lease_lost: no longer this execution's: another execution claimed it after the lease ran out,
	 * or this one gave it back for a retry; whoever holds it now reports it. not_found: no such item.
	 * cancelled: the item was cancelled under its holder (its automation switched off or its action
	 * changed, seen by a later claim, or pipeline_cancel_outbox); nothing written. A retry asked at
	 * the 10th attempt is failed: the item is failed for good.
	 */
	outcome: 'delivered' | 'failed' | 'retrying' | 'already_completed' | 'lease_lost' | 'not_found' | 'cancelled';
}

export interface CancelOutboxArgs {
	/** The owner: only its items are cancelled (another owner's are not_found). */
	p_user_id: string;
	/** 1–1,000 outbox item ids. */
	p_outbox_ids: string[];
	p_now?: string;
}

export interface CancelOutboxResult {
	outbox_id: string;
	/**
	 * cancelled: never handed out again (it was pending, or claimed and its lease had run out).
	 * held: being delivered now (claimed under a live lease): its holder's report decides.
	 * already_completed: delivered, failed or cancelled before. not_found: no such item of this owner.
	 */
	outcome: 'cancelled' | 'held' | 'already_completed' | 'not_found';
}

// =============================================================================================
// pipeline_due_for_analysis: the conversations an analysis is due for, with their messages
// =============================================================================================
export interface DueForAnalysisArgs {
	/** 1–1,000: how many conversations one run analyses; the rest are due in the next. */
	p_limit?: number;
	/** Only this owner's Pages; omit for every owner's. */
	p_user_id?: string | null;
	/** 1–200: the last messages returned per conversation. */
	p_max_messages?: number;
	p_now?: string;
}

export interface DueConversation {
	conversation_id: string;
	user_id: string;
	page_id: string;
	sender_name: string | null;
	/** The Page's pipeline (pipeline_page_settings). */
	pipeline_id: string;
	update_mode: UpdateMode;
	/**
	 * not_in_pipeline: not in the Page's pipeline yet (and never moved out of it); new_messages: the customer wrote after the
	 * last analysis; fallback_analysis: placed by the fallback score, the model's analysis still to come.
	 */
	reason: 'not_in_pipeline' | 'new_messages' | 'fallback_analysis';
	last_customer_message_at: string;
	/** The last message the last analysis saw (or when it ran); null when never analysed. */
	last_analysed_message_at: string | null;
	/** The last p_max_messages messages, oldest first. */
	messages: Array<{ direction: 'inbound' | 'outbound'; text: string; sent_at: string }>;
}

// =============================================================================================
// pipeline_stage_names: the stage names the analyses of a batch may recommend
// =============================================================================================
export interface StageNamesArgs {
	/** Pipelines named by the caller. */
	p_pipeline_ids?: string[];
	/** Conversations whose Page pipeline (pipeline_page_settings, when enabled) is wanted. */
	p_conversation_ids?: string[];
	/** Only this owner's pipelines and conversations (another's: as unknown); omit for every owner's (migration …2780). */
	p_user_id?: string | null;
}

export interface PipelineStageNames {
	pipeline_id: string;
	/** Its stages' names in stage_order (empty for an unknown pipeline). */
	stage_names: string[];
	/** The conversations asked for whose Page pipeline this is. */
	conversation_ids: string[];
}

// =============================================================================================
// pipeline_analysis_unused: the conversations of a batch whose analysis Assign would not use
// =============================================================================================
export interface AnalysisUnusedArgs {
	/** The conversations to analyse, at most 1,000. */
	p_conversation_ids: string[];
	/** The pipeline named for each (null: its Page's pipeline), in the same order; empty: every one its Page's. */
	p_pipeline_ids?: Array<string | null>;
}

export interface AnalysisUnused {
	/** The position in p_conversation_ids (from 0). */
	item_index: number;
	conversation_id: string;
	/** What pipeline_assign would answer: skipped (auto_assign_off, left_pipeline, pipeline_has_no_stages) or kept (skip_existing). */
	outcome: 'skipped' | 'kept';
	reason: 'auto_assign_off' | 'left_pipeline' | 'pipeline_has_no_stages' | 'skip_existing';
}

// =============================================================================================
// pipeline_conversation_messages: the sender names and last messages of a batch of conversations
// =============================================================================================
export interface ConversationMessagesArgs {
	/** The conversations to read, at most 1,000. */
	p_conversation_ids: string[];
	/** 1–200: the last messages returned per conversation. */
	p_max_messages?: number;
	/** Only this owner's conversations; omit for every owner's. */
	p_user_id?: string | null;
}

export interface ConversationMessages {
	conversation_id: string;
	sender_name: string | null;
	/** The last p_max_messages messages, oldest first. */
	messages: Array<{ direction: 'inbound' | 'outbound'; text: string; sent_at: string }>;
}
