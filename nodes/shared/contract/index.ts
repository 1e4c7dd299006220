// The typed database contract: every SQL function the nodes call through the Data API, with its
// arguments and its result. `callRpc` (nodes/shared/supabase.ts) accepts only the names in RPC and,
// for each, only its arguments, and returns its result type. The argument names are also kept at
// run time, so test/db/contract.test.ts can compare them with the database's own catalog: a renamed
// or retyped SQL argument fails there, not in a user's workflow. docs/database.md says who may call
// each function and why.
import type {
	CampaignSessionStats,
	CampaignSessionStatsArgs,
	CreateCampaignSessionsArgs,
	CreateCampaignSessionsResult,
	RecordSessionObjectiveArgs,
	RecordSessionObjectiveResult,
} from './campaign';
import type { BoardUnchanged, PipelineBoard, PipelineBoardArgs } from './console-pipeline';
import type { RequeueArgs, RequeueResult } from './requeue';
import type { QueuePage, QueuePageArgs } from './console-queue';
import type { ConsoleRules, ConsoleRulesArgs, MonitorPage, MonitorPageArgs, RuleDeleteArgs, RuleDeleteResult, RulePromptArgs, RulePromptResult, RuleWriteArgs, RuleWriteResult } from './console';
import type {
	AutomationSnapshot,
	BeginSendArgs,
	BeginSendResult,
	ClaimArgs,
	ClaimedContact,
	ClaimExplained,
	ClaimExplainedArgs,
	ContactJudgement,
	ExplainArgs,
	MarkGeneratingArgs,
	MarkGeneratingResult,
	RenewGeneratingArgs,
	RenewGeneratingResult,
	RecordGenerationArgs,
	RecordGenerationResult,
	RecordSendArgs,
	RecordSendResult,
	ReleaseArgs,
	ReleaseResult,
	SnapshotArgs,
	StageEvent,
	TimelineArgs,
} from './follow-up';
import type {
	OwnerIsUser,
	OwnerIsUserArgs,
	RecordedEvent,
	RecordEventsArgs,
	SyncBeginArgs,
	SyncFailArgs,
	SyncFailResult,
	SyncJob,
	SyncLease,
	SyncPageResult,
	SyncReadUntil,
	SyncReadUntilArgs,
	SyncRecordPageArgs,
	SyncRenewLeaseArgs,
} from './messenger';
import type {
	AssignArgs,
	AssignResult,
	CancelOutboxArgs,
	CancelOutboxResult,
	ClaimedOutboxItem,
	ClaimOutboxArgs,
	CompleteOutboxArgs,
	CompleteOutboxResult,
	DueConversation,
	DueForAnalysisArgs,
	MoveArgs,
	MoveResult,
	PipelineStageNames,
	StageNamesArgs,
	AnalysisUnused,
	AnalysisUnusedArgs,
	ConversationMessages,
	ConversationMessagesArgs,
} from './pipelines';
import type {
	AddLeadsArgs,
	AddLeadsFromCrmArgs,
	AddLeadsFromCrmResult,
	AddLeadsRow,
	BeginQueueSendArgs,
	BeginQueueSendResult,
	ClaimedMessage,
	DayMetrics,
	ExportArgs,
	ExportPage,
	ExportPagesArgs,
	ExportRow,
	MetricsArgs,
	PrepareArgs,
	PrepareResult,
	QueueClaimArgs,
	QueueCompleteArgs,
	QueueCompleteResult,
	SendNotMadeArgs,
	SendNotMadeRow,
	SettleLeadArgs,
	SettleLeadResult,
	TakeLeadArgs,
	TakeLeadResult,
} from './queue';
import type { GeminiKeyRest, GeminiKeyTurns, PauseSendsArgs, PauseSendsResult, RestGeminiKeyArgs, SendSlots, TakeGeminiKeysArgs, TakeSendSlotsArgs } from './limits';

/** One function's signature: its argument names at run time, its argument and result types for the compiler. */
export interface RpcSignature<Args, Result> {
	/** In the order the SQL function declares them. */
	readonly args: readonly string[];
	/** Types only: never set. */
	readonly types?: { args: Args; result: Result };
}

/** Every argument of Args must be listed once, in the SQL's order (the object's key order). */
function rpc<Args, Result>(args: { [Name in keyof Required<Args>]: true }): RpcSignature<Args, Result> {
	return { args: Object.keys(args) };
}

export const RPC = {
	automation_claim: rpc<ClaimArgs, ClaimedContact[]>({ p_rule_id: true, p_limit: true, p_execution_id: true, p_lease_seconds: true, p_now: true }),
	automation_claim_explained: rpc<ClaimExplainedArgs, ClaimExplained>({
		p_rule_id: true,
		p_limit: true,
		p_execution_id: true,
		p_lease_seconds: true,
		p_now: true,
		p_page_id: true,
	}),
	automation_explain: rpc<ExplainArgs, ContactJudgement[]>({ p_rule_id: true, p_conversation_ids: true, p_limit: true, p_now: true, p_only_due: true, p_user_id: true }),
	automation_snapshot: rpc<SnapshotArgs, AutomationSnapshot | null>({ p_rule_id: true, p_contact_limit: true, p_now: true, p_user_id: true }),
	automation_timeline: rpc<TimelineArgs, StageEvent[]>({ p_rule_id: true, p_conversation_id: true, p_user_id: true }),
	automation_requeue: rpc<RequeueArgs, RequeueResult[]>({ p_rule_id: true, p_conversation_ids: true, p_uncertain: true, p_now: true, p_user_id: true }),
	automation_monitor_page: rpc<MonitorPageArgs, MonitorPage | null>({
		p_rule_id: true,
		p_status: true,
		p_reason: true,
		p_search: true,
		p_offset: true,
		p_limit: true,
		p_now: true,
		p_rules_limit: true,
		p_user_id: true,
	}),
	console_pipeline_board: rpc<PipelineBoardArgs, PipelineBoard | BoardUnchanged | null>({
		p_pipeline_id: true,
		p_limit: true,
		p_stage_id: true,
		p_offset: true,
		p_search: true,
		p_known: true,
		p_now: true,
		p_offsets: true,
		p_user_id: true,
	}),
	console_rules: rpc<ConsoleRulesArgs, ConsoleRules>({ p_user_id: true }),
	console_rule_write: rpc<RuleWriteArgs, RuleWriteResult>({ p_rule_id: true, p_user_id: true, p_settings: true, p_save: true, p_now: true, p_create_key: true }),
	console_rule_delete: rpc<RuleDeleteArgs, RuleDeleteResult>({ p_rule_id: true, p_user_id: true }),
	console_rule_prompt: rpc<RulePromptArgs, RulePromptResult>({
		p_rule_id: true,
		p_user_id: true,
		p_settings: true,
		p_conversation_id: true,
		p_contact_limit: true,
		p_now: true,
	}),
	console_queue_page: rpc<QueuePageArgs, QueuePage>({ p_user_id: true, p_day: true, p_status: true, p_search: true, p_offset: true, p_limit: true, p_owners: true, p_now: true }),
	automation_mark_generating: rpc<MarkGeneratingArgs, MarkGeneratingResult[]>({ p_execution_id: true, p_state_ids: true, p_lease_seconds: true, p_now: true }),
	automation_renew_generating: rpc<RenewGeneratingArgs, RenewGeneratingResult[]>({ p_execution_id: true, p_state_ids: true, p_lease_seconds: true, p_now: true }),
	automation_record_generation: rpc<RecordGenerationArgs, RecordGenerationResult[]>({ p_execution_id: true, p_items: true, p_now: true }),
	automation_release: rpc<ReleaseArgs, ReleaseResult[]>({ p_execution_id: true, p_state_ids: true, p_reason: true, p_now: true }),
	automation_begin_send: rpc<BeginSendArgs, BeginSendResult[]>({ p_execution_id: true, p_state_ids: true, p_lease_seconds: true, p_now: true, p_begin_key: true }),
	automation_record_send: rpc<RecordSendArgs, RecordSendResult[]>({ p_execution_id: true, p_items: true, p_now: true }),
	create_campaign_sessions: rpc<CreateCampaignSessionsArgs, CreateCampaignSessionsResult>({
		p_owner: true,
		p_campaign: true,
		p_tasks: true,
		p_idempotency_key: true,
		p_now: true,
		p_emit_lease_seconds: true,
		p_holder: true,
	}),
	record_session_objective: rpc<RecordSessionObjectiveArgs, RecordSessionObjectiveResult>({
		p_owner: true,
		p_session_id: true,
		p_objective: true,
		p_value: true,
		p_source: true,
		p_occurred_at: true,
		p_event_key: true,
	}),
	campaign_session_stats: rpc<CampaignSessionStatsArgs, CampaignSessionStats>({ p_owner: true, p_campaign: true }),
	pipeline_assign: rpc<AssignArgs, AssignResult[]>({ p_items: true, p_now: true }),
	pipeline_move: rpc<MoveArgs, MoveResult[]>({ p_items: true, p_now: true }),
	pipeline_claim_outbox: rpc<ClaimOutboxArgs, ClaimedOutboxItem[]>({
		p_execution_id: true,
		p_limit: true,
		p_lease_seconds: true,
		p_now: true,
		p_conversation_ids: true,
		p_user_id: true,
		p_outbox_ids: true,
	}),
	pipeline_complete_outbox: rpc<CompleteOutboxArgs, CompleteOutboxResult[]>({ p_execution_id: true, p_items: true, p_now: true }),
	pipeline_cancel_outbox: rpc<CancelOutboxArgs, CancelOutboxResult[]>({ p_user_id: true, p_outbox_ids: true, p_now: true }),
	pipeline_due_for_analysis: rpc<DueForAnalysisArgs, DueConversation[]>({ p_limit: true, p_user_id: true, p_max_messages: true, p_now: true }),
	pipeline_stage_names: rpc<StageNamesArgs, PipelineStageNames[]>({ p_pipeline_ids: true, p_conversation_ids: true, p_user_id: true }),
	pipeline_analysis_unused: rpc<AnalysisUnusedArgs, AnalysisUnused[]>({ p_conversation_ids: true, p_pipeline_ids: true }),
	pipeline_conversation_messages: rpc<ConversationMessagesArgs, ConversationMessages[]>({ p_conversation_ids: true, p_max_messages: true, p_user_id: true }),
	messenger_record_events: rpc<RecordEventsArgs, RecordedEvent[]>({ p_events: true, p_app_id: true, p_owner: true, p_now: true }),
	messenger_owner_is_user: rpc<OwnerIsUserArgs, OwnerIsUser[]>({ p_owner: true }),
	messenger_sync_begin: rpc<SyncBeginArgs, SyncJob[]>({ p_page_id: true, p_holder: true, p_owner: true, p_full: true, p_lease_seconds: true, p_now: true }),
	messenger_sync_record_page: rpc<SyncRecordPageArgs, SyncPageResult[]>({
		p_job_id: true,
		p_holder: true,
		p_events: true,
		p_next_cursor: true,
		p_conversations: true,
		p_read: true,
		p_newest_updated_at: true,
		p_errors: true,
		p_done: true,
		p_page_done: true,
		p_lease_seconds: true,
		p_now: true,
	}),
	messenger_sync_read_until: rpc<SyncReadUntilArgs, SyncReadUntil[]>({ p_job_id: true, p_psids: true }),
	messenger_sync_fail: rpc<SyncFailArgs, SyncFailResult[]>({ p_job_id: true, p_holder: true, p_error: true, p_errors: true, p_now: true }),
	messenger_sync_renew_lease: rpc<SyncRenewLeaseArgs, SyncLease[]>({ p_job_id: true, p_holder: true, p_lease_seconds: true, p_now: true }),
	queue_add_leads: rpc<AddLeadsArgs, AddLeadsRow[]>({ p_items: true, p_now: true, p_refused: true }),
	queue_add_leads_from_crm: rpc<AddLeadsFromCrmArgs, AddLeadsFromCrmResult[]>({
		p_user_id: true,
		p_tag_id: true,
		p_campaign_id: true,
		p_now: true,
		p_after: true,
		p_limit: true,
	}),
	queue_prepare: rpc<PrepareArgs, PrepareResult[]>({ p_user_id: true, p_now: true, p_after_user_id: true, p_until_user_id: true, p_owner_limit: true }),
	queue_claim: rpc<QueueClaimArgs, ClaimedMessage[]>({ p_worker: true, p_limit: true, p_lease_seconds: true, p_now: true, p_user_id: true }),
	queue_begin_send: rpc<BeginQueueSendArgs, BeginQueueSendResult[]>({ p_worker: true, p_item_ids: true, p_phones: true, p_renew_item_ids: true, p_lease_seconds: true, p_now: true, p_begin_key: true }),
	queue_complete: rpc<QueueCompleteArgs, QueueCompleteResult[]>({ p_worker: true, p_results: true, p_now: true, p_send_begun_only: true }),
	queue_send_not_made: rpc<SendNotMadeArgs, SendNotMadeRow[]>({ p_worker: true, p_item_ids: true, p_now: true, p_begin_key: true }),
	queue_take_lead: rpc<TakeLeadArgs, TakeLeadResult[]>({ p_lead_id: true, p_actor_id: true, p_reason: true, p_now: true, p_user_id: true }),
	queue_settle_lead: rpc<SettleLeadArgs, SettleLeadResult[]>({ p_lead_id: true, p_outcome: true, p_actor_id: true, p_reason: true, p_now: true, p_user_id: true }),
	queue_export: rpc<ExportArgs, ExportRow[]>({ p_user_id: true, p_from: true, p_to: true, p_statuses: true, p_after: true, p_limit: true }),
	queue_export_pages: rpc<ExportPagesArgs, ExportPage[]>({ p_user_id: true, p_from: true, p_to: true, p_statuses: true, p_rows: true }),
	queue_metrics: rpc<MetricsArgs, DayMetrics[]>({ p_user_id: true, p_from: true, p_to: true, p_now: true }),
	limit_take_send_slots: rpc<TakeSendSlotsArgs, SendSlots[]>({ p_page_id: true, p_count: true, p_per_second: true, p_graph_url: true, p_now: true, p_lead_ms: true }),
	limit_pause_sends: rpc<PauseSendsArgs, PauseSendsResult[]>({ p_page_id: true, p_pause_ms: true, p_reason: true, p_graph_url: true, p_now: true }),
	limit_take_gemini_keys: rpc<TakeGeminiKeysArgs, GeminiKeyTurns[]>({ p_key_ids: true, p_count: true, p_now: true }),
	limit_rest_gemini_key: rpc<RestGeminiKeyArgs, GeminiKeyRest[]>({ p_key_id: true, p_rest_ms: true, p_reason: true, p_now: true }),
} as const;

export type RpcName = keyof typeof RPC;
type SignatureOf<Name extends RpcName> = NonNullable<(typeof RPC)[Name]['types']>;
export type RpcArgs<Name extends RpcName> = SignatureOf<Name>['args'];
export type RpcResult<Name extends RpcName> = SignatureOf<Name>['result'];

export type * from './campaign';
export type * from './console-pipeline';
export type * from './console-queue';
export type * from './follow-up';
export type * from './messenger';
export type * from './pipelines';
export type * from './queue';
export type * from './limits';
export type * from './requeue';
