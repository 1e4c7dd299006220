// The follow-up automation's SQL API (supabase/migrations/20261122000220_follow_up_automation_api.sql)
// as TypeScript: each function's arguments (exactly as `supabase.rpc` sends them) and the rows it
// returns. The names live in the map of index.ts; nodes call them through the typed `callRpc`
// (nodes/shared/supabase.ts), one call per batch of items. Timestamps travel as ISO 8601 strings;
// `p_now` exists so tests can fix the clock; production leaves it out.

/** The stages a contact state walks through (the database accepts only the machine's transitions). */
type AutomationStage =
	| 'queued'
	| 'checking'
	| 'eligible'
	| 'generating'
	| 'ready_to_send'
	| 'sending'
	| 'sent'
	| 'failed'
	| 'skipped'
	| 'completed';

/** Why a tagged contact is not due now (null in the API when it is due), in the order they are checked. */
export type NotDueReason =
	| 'in_progress'
	| 'rule_disabled'
	| 'excluded_tag'
	/** On a Page messenger_pages connects to another owner than the rule's: never claimed (migrations …1620, …1690). */
	| 'page_of_another_owner'
	| 'inactive'
	| 'stopped'
	| 'failed'
	| 'max_follow_ups'
	| 'interval_not_elapsed'
	| 'outside_window'
	| 'outside_active_hours'
	| 'daily_limit_reached';

/** The monitor's word for a tagged contact. */
type ContactStatus = 'eligible' | 'processing' | 'recently_sent' | 'stopped' | 'skipped';

type StopReason = 'replied' | 'human_takeover' | 'unavailable' | 'manual';

// =============================================================================================
// automation_claim
// =============================================================================================
export interface ClaimArgs {
	/** One rule; omit (null) for every enabled rule. */
	p_rule_id?: string | null;
	/** At most this many contacts in all (1–10,000). */
	p_limit: number;
	/** Who holds the claimed contacts: the n8n execution id. Every later call passes the same id. */
	p_execution_id: string;
	/** How long the claim holds a contact before another run may take it back (5–86,400 s). */
	p_lease_seconds?: number;
	p_now?: string;
}

/** automation_claim_explained's arguments: automation_claim's, and the Page to keep to. */
export interface ClaimExplainedArgs extends ClaimArgs {
	/**
	 * Only the contacts of this Facebook Page (1–32 digits), for the rules of this Page or of every
	 * Page; omit (null) for every Page. A workflow that sends as one Page sets it to that Page.
	 */
	p_page_id?: string | null;
}

/** The rule settings the AI and send steps need, as returned with each claimed contact. */
interface ClaimedRule {
	id: string;
	name: string;
	page_id: string | null;
	instructions: string;
	model: string | null;
	language: string | null;
	context_message_count: number;
	max_follow_ups: number;
	min_hours_between_follow_ups: number;
	stop_on_reply: boolean;
	daily_limit: number;
	time_zone: string;
}

interface ContextMessage {
	direction: 'inbound' | 'outbound';
	text: string | null;
	sent_at: string;
}

export interface ClaimedContact {
	state_id: string;
	rule_id: string;
	user_id: string;
	conversation_id: string;
	page_id: string;
	/** The PSID the Send API addresses. */
	recipient_id: string;
	sender_name: string | null;
	/** 1 for the first follow-up: follow_up_count + 1. */
	follow_up_number: number;
	/** All the contact's tag names. */
	tags: string[];
	/** The last `rule.context_message_count` messages, oldest first. */
	messages: ContextMessage[];
	last_customer_message_at: string;
	window_closes_at: string;
	lease_expires_at: string;
	execution_id: string;
	rule: ClaimedRule;
}

// =============================================================================================
// automation_claim_explained: the claim plus why nothing, or fewer than asked, was claimed
// (supabase/migrations/20261201000700_follow_up_claim_explained.sql; docs/follow-up.md)
// =============================================================================================
/**
 * Why a rule gave what it gave:
 * - `filled`: as many as the call still wanted;
 * - `no_tagged_contacts`: no conversation carries the rule's include tags;
 * - `outside_active_hours`: the rule is outside its active hours now (`nextActiveAt`);
 * - `daily_limit_reached`: today's limit is used (claimed, sending or sent), or ran out during this claim;
 * - `no_more_due`: every due contact was claimed (perhaps none): `notClaimed` says why the others are not due;
 * - `rule_disabled`: the rule asked for is switched off.
 */
export type ClaimRuleStatus = 'filled' | 'no_tagged_contacts' | 'outside_active_hours' | 'daily_limit_reached' | 'no_more_due' | 'rule_disabled';

/** Tagged contacts not claimed, by the judgement's reason (outside_window: from the tag links, not judged further). */
export type NotClaimedCounts = Partial<Record<NotDueReason, number>>;

export interface ClaimRuleSummary {
	ruleId: string;
	ruleName: string;
	status: ClaimRuleStatus;
	claimed: number;
	notClaimed: NotClaimedCounts;
	dailyLimit: number;
	/** Today's sends plus contacts claimed and not yet sending (null: the rule is switched off). */
	usedToday: number | null;
	inActiveHours: boolean | null;
	/** When the rule's active hours next begin, when outside them now. */
	nextActiveAt: string | null;
}

export interface ClaimSummary {
	/** p_limit. */
	requested: number;
	/** p_page_id: the Page the claim kept to (null: every Page). */
	pageId: string | null;
	claimed: number;
	/** Null when `claimed` = `requested`; no_enabled_rules; the rules' status when they agree; else mixed. */
	reason: Exclude<ClaimRuleStatus, 'filled'> | 'no_enabled_rules' | 'mixed' | null;
	/** Every rule's notClaimed, added up. */
	notClaimed: NotClaimedCounts;
	/** The rules the claim went through, in id order (a disabled rule asked for by id first). */
	rules: ClaimRuleSummary[];
}

/** A claimed contact in automation_claim_explained's answer: its rule's settings are in `claimedRules`. */
export type ExplainedClaimedContact = Omit<ClaimedContact, 'rule'>;

export interface ClaimExplained {
	contacts: ExplainedClaimedContact[];
	/** The settings of each rule with a contact in `contacts`, once, by rule id (`contacts[].rule_id`). */
	claimedRules: Record<string, ClaimedRule>;
	summary: ClaimSummary;
}

// =============================================================================================
// automation_explain
// =============================================================================================
export interface ExplainArgs {
	/** One rule; omit for every enabled rule. */
	p_rule_id?: string | null;
	/** Only these conversations. */
	p_conversation_ids?: string[] | null;
	/** Due contacts first; at most this many rows. */
	p_limit?: number;
	p_now?: string;
	/** Only the due contacts (the limit counts those); default false: every tagged contact. */
	p_only_due?: boolean;
	/** Only rules of this owner (another owner's rule: no row, as an unknown one); null: any owner's (migration …2672). */
	p_user_id?: string | null;
}

export interface ContactJudgement {
	rule_id: string;
	rule_name: string;
	conversation_id: string;
	page_id: string;
	sender_id: string;
	sender_name: string | null;
	matching_tags: string[];
	due: boolean;
	contact_status: ContactStatus;
	reason: NotDueReason | null;
	stop_reason: StopReason | null;
	/**
	 * When the reason stops applying, where there is such a time (now when due; stopped: when a human
	 * takeover the rule resumes after ends); null when that time is at or after window_closes_at (the
	 * window closes first: nothing is sent unless the person writes again).
	 */
	due_at: string | null;
	current_stage: AutomationStage | null;
	follow_up_count: number;
	next_follow_up_number: number;
	max_follow_ups: number;
	last_follow_up_at: string | null;
	last_customer_message_at: string | null;
	window_closes_at: string | null;
	executions_last_7_days: number;
	last_execution_at: string | null;
}

// =============================================================================================
// automation_snapshot (the monitor) and automation_timeline
// =============================================================================================
export interface SnapshotArgs {
	p_rule_id: string;
	/** At most this many rows in each contact list (the stats count all). */
	p_contact_limit?: number;
	p_now?: string;
	/** Only a rule of this owner (another owner's: null, as an unknown one); null: any owner's (migration …2672). */
	p_user_id?: string | null;
}

/** A row of the automation_monitor_summary view. */
interface MonitorSummary {
	rule_id: string;
	user_id: string;
	rule_name: string;
	enabled: boolean;
	total_with_tags: number;
	eligible_count: number;
	active_count: number;
	recently_sent_count: number;
	stopped_count: number;
	skipped_count: number;
	failed_count: number;
	skipped_by_reason: Partial<Record<NotDueReason, number>>;
	/** Guard rows sent since the daily limit's day began (local midnight, or the end of active hours past midnight). */
	sent_today_count: number;
	/**
	 * What the daily limit counts at this moment (automation_rule_usage): sends since its day began,
	 * also in progress or uncertain, plus contacts claimed and not yet sending. Contacts are refused
	 * daily_limit_reached once it reaches daily_limit.
	 */
	used_today: number;
	sent_last_24h_count: number;
	daily_limit: number;
	in_active_hours: boolean;
	next_active_at: string | null;
	queued_count: number;
	checking_count: number;
	generating_count: number;
	ready_to_send_count: number;
	sending_count: number;
	sent_count: number;
	completed_count: number;
	stage_failed_count: number;
	stage_skipped_count: number;
}

/** A row of the automation_live_stats view. */
interface StageStats {
	rule_id: string;
	user_id: string;
	stage: AutomationStage;
	stage_order: number;
	contact_count: number;
	/** Average seconds contacts spent in the stage over the last 7 days; null when none left it. */
	avg_seconds: number | null;
}

/** A row of the automation_eligible_contacts view. */
export interface EligibleContact {
	rule_id: string;
	rule_name: string;
	user_id: string;
	conversation_id: string;
	page_id: string;
	sender_id: string;
	sender_name: string | null;
	matching_tags: string[];
	is_being_processed: boolean;
	current_stage: AutomationStage | null;
	contact_status: ContactStatus;
	status_reason: NotDueReason | null;
	stop_reason: StopReason | null;
	due_at: string | null;
	follow_up_count: number;
	last_follow_up_at: string | null;
	last_customer_message_at: string | null;
	window_closes_at: string | null;
	stage_entered_at: string | null;
	error_code: string | null;
	executions_last_7_days: number;
	last_execution_at: string | null;
}

/** A row of the active_automation_contacts view. */
interface ActiveContact {
	state_id: string;
	rule_id: string;
	rule_name: string;
	user_id: string;
	conversation_id: string;
	page_id: string;
	sender_id: string;
	sender_name: string | null;
	current_stage: AutomationStage;
	stage_entered_at: string;
	seconds_in_stage: number;
	is_in_flight: boolean;
	follow_up_count: number;
	max_follow_ups: number;
	claimed_follow_up_number: number | null;
	last_follow_up_at: string | null;
	generated_message: string | null;
	generation_ms: number | null;
	generation_model: string | null;
	facebook_message_id: string | null;
	error_code: string | null;
	error_message: string | null;
	skip_reason: string | null;
	retry_at: string | null;
	execution_id: string | null;
	locked_by: string | null;
	locked_until: string | null;
}

/** The monitor for one rule (the live monitor's document). Null when the rule does not exist. */
export interface AutomationSnapshot {
	rule: Record<string, unknown>;
	generatedAt: string;
	stats: MonitorSummary;
	stages: StageStats[];
	eligibleContacts: Array<EligibleContact & { rank: number }>;
	activeContacts: ActiveContact[];
}

export interface TimelineArgs {
	p_rule_id: string;
	p_conversation_id: string;
	/** Only under a rule of this owner (another owner's: no events, as an unknown rule); null: any owner's (migration …2670). */
	p_user_id?: string | null;
}

export interface StageEvent {
	event_id: number;
	state_id: string;
	rule_id: string;
	conversation_id: string;
	from_stage: AutomationStage | null;
	to_stage: AutomationStage;
	occurred_at: string;
	seconds_in_previous_stage: number | null;
	execution_id: string | null;
	detail: Record<string, unknown> | null;
}

// =============================================================================================
// Batched transitions for GenerateFollowUp and FacebookSend (n items = one call each)
// =============================================================================================
/** Answered for an item whose contact this execution no longer holds (or that is not at the expected stage). */
type LeaseLost = 'lease_lost';

export interface MarkGeneratingArgs {
	p_execution_id: string;
	p_state_ids: string[];
	/** Extends the lease to at least now + this (default 600). */
	p_lease_seconds?: number;
	p_now?: string;
}

export interface MarkGeneratingResult {
	state_id: string;
	/**
	 * generating: moved; ready_to_send: not moved, its follow-up already generated (waiting for its
	 * send); lease_lost: not moved, for any other reason.
	 */
	outcome: 'generating' | 'ready_to_send' | LeaseLost;
}

/** The heartbeat of a generating batch: the holder's still-generating contacts are held longer. */
export interface RenewGeneratingArgs {
	p_execution_id: string;
	p_state_ids: string[];
	/** The lease ends this long after p_now (5–86400, default 180), never earlier than it did. */
	p_lease_seconds?: number;
	p_now?: string;
}

export interface RenewGeneratingResult {
	state_id: string;
	/** generating: renewed until locked_until; lease_lost: not this execution's generating contact (left as it is). */
	outcome: 'generating' | LeaseLost;
	locked_until: string | null;
}

/**
 * A node that failed as a node gives back the contacts it was handed (automation_release): those
 * the holder still has before their send began (eligible, generating, ready_to_send) go back to
 * queued, their lease ended, claimable again at once; any other is left as it is.
 */
export interface ReleaseArgs {
	p_execution_id: string;
	/** At most 1,000 a call. */
	p_state_ids: string[];
	/** Why, in the stage history: generation_setup_failed (Generate Follow-Up), send_setup_failed (Facebook Send). */
	p_reason: string;
	p_now?: string;
}

export interface ReleaseResult {
	state_id: string;
	/** released: given back; not_held: not this execution's before its send (another run's, sending, recorded, released already). */
	outcome: 'released' | 'not_held';
	/** The stage it left (released), or the one it is in (not_held; null: no such contact). */
	stage: AutomationStage | null;
}

/** Error codes GenerateFollowUp reports; any short machine word is accepted. */
type GenerationErrorCode = 'quota' | 'blocked' | 'timeout' | 'gemini_error' | 'invalid_message' | (string & {});

export interface GenerationSuccess {
	state_id: string;
	/** Non-empty, at most 2,000 characters (else the contact fails with invalid_message). */
	message: string;
	generation_ms: number;
	model: string;
	usage?: { promptTokenCount?: number; candidatesTokenCount?: number; totalTokenCount?: number } | null;
}

export interface GenerationFailure {
	state_id: string;
	error_code: GenerationErrorCode;
	error_message?: string | null;
	/** Claimable again after this many seconds; omit to leave the contact failed until a person acts. */
	retry_after_seconds?: number | null;
	generation_ms?: number | null;
	model?: string | null;
}

export interface RecordGenerationArgs {
	p_execution_id: string;
	p_items: Array<GenerationSuccess | GenerationFailure>;
	p_now?: string;
}

export interface RecordGenerationResult {
	state_id: string;
	outcome: 'ready_to_send' | 'failed' | LeaseLost;
}

export interface BeginSendArgs {
	p_execution_id: string;
	p_state_ids: string[];
	/** How long the send may take before the reaper calls it send_uncertain (default 120). */
	p_lease_seconds?: number;
	p_now?: string;
	/**
	 * This begin's own key (a random UUID), the same when the call is repeated: the contacts this key
	 * began and left where they are get the first answer again (send, skipped), nothing written.
	 * Null (the default): every contact is judged as new (duplicate or lease_lost once begun).
	 */
	p_begin_key?: string | null;
}

/**
 * Why begin-send skipped a contact (it moved to `skipped` with this skip_reason). What the rule
 * allows is checked again at the begin, not only at the claim (migration …1820): switched off,
 * the contact no longer carrying its include tags (`not_tagged`), no longer on the rule's Page
 * (`not_on_rule_page`: the rule or the conversation moved to another Page, migration …1850), carrying
 * an excluded tag, on a Page another owner connected (`page_of_another_owner`, …1850), the
 * follow-up past its maximum; then the stops, the conversation, the 24 h window.
 */
type BeginSendSkipReason =
	| 'rule_disabled'
	| 'not_tagged'
	| 'not_on_rule_page'
	| 'excluded_tag'
	| 'page_of_another_owner'
	| 'stopped'
	| 'inactive'
	| 'max_follow_ups'
	| 'outside_window';

export type BeginSendResult =
	| {
			state_id: string;
			/** Call the Graph API now, then automation_record_send. */
			outcome: 'send';
			reason: null;
			attempt_id: string;
			follow_up_number: number;
			page_id: string;
			recipient_id: string;
			message: string;
			window_closes_at: string;
	  }
	| {
			state_id: string;
			/** The guard for this follow-up is taken already: do not call the Graph API. reason: the guard's status. */
			outcome: 'duplicate';
			reason: 'sending' | 'sent' | 'failed' | 'uncertain';
			attempt_id: string | null;
			follow_up_number: number;
			page_id: string;
			recipient_id: string;
			message: null;
			window_closes_at: string | null;
	  }
	| {
			state_id: string;
			outcome: 'skipped';
			reason: BeginSendSkipReason;
			attempt_id: null;
			follow_up_number: number;
			page_id: string;
			recipient_id: string;
			message: null;
			window_closes_at: string | null;
	  }
	| {
			state_id: string;
			outcome: LeaseLost;
			/** The contact's current stage, or not_found. */
			reason: string;
			attempt_id: null;
			follow_up_number: number | null;
			page_id: string | null;
			recipient_id: string | null;
			message: null;
			window_closes_at: string | null;
	  };

export type SendOutcomeItem =
	| { state_id: string; outcome: 'sent'; facebook_message_id: string }
	| {
			state_id: string;
			outcome: 'skipped';
			/** outside_window (Graph code 10) or unavailable (551: also stops the contact for every rule). */
			reason: 'outside_window' | 'unavailable' | (string & {});
			error_code?: string | null;
			error_message?: string | null;
	  }
	| {
			state_id: string;
			outcome: 'failed';
			/** The Graph error as `<code>` or `<code>/<subcode>`, or a word such as throttled. */
			error_code: string;
			error_message?: string | null;
			/** Retryable failures (throttled, temporary): claimable again after this long, guard released. Omit for permanent ones. */
			retry_after_seconds?: number | null;
	  }
	| {
			state_id: string;
			/**
			 * No answer (timeout, 5xx without a Graph error): the message may have been delivered. The guard is
			 * kept with status uncertain and the contact becomes failed send_uncertain: never resent automatically.
			 */
			outcome: 'uncertain';
			error_message?: string | null;
	  };

export interface RecordSendArgs {
	p_execution_id: string;
	p_items: SendOutcomeItem[];
	p_now?: string;
}

export interface RecordSendResult {
	state_id: string;
	outcome: 'sent' | 'completed' | 'skipped' | 'failed' | 'uncertain' | LeaseLost;
}
