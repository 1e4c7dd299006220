// The console's database calls (workflows/leadflow-console.json through the Leadflow Console node).

export interface MonitorPageArgs {
	/** Null: the list of rules only. */
	p_rule_id?: string | null;
	/** eligible, processing, recently_sent, stopped or skipped; null for every status. */
	p_status?: string | null;
	/** A reason code (a key of stats.skipped_by_reason); null for every reason. */
	p_reason?: string | null;
	/** A part of the contact's name or Messenger id. */
	p_search?: string | null;
	p_offset?: number;
	/** 1–500 contacts a page. */
	p_limit?: number;
	p_now?: string;
	/** The most rules to list, 1–1000 (`rulesLeftOut` then counts the rest); null: every rule (migration …2480). */
	p_rules_limit?: number | null;
	/** Only this owner's rules, and a rule only of this owner (another owner's: null, not found); null: any owner's (migration …2641). */
	p_user_id?: string | null;
}

export interface MonitorPageRule {
	id: string;
	name: string;
	enabled: boolean;
	page_id: string | null;
}

export interface MonitorPageContact {
	conversation_id: string;
	page_id: string;
	sender_id: string;
	sender_name: string | null;
	matching_tags: string[];
	is_being_processed: boolean;
	current_stage: string | null;
	contact_status: 'eligible' | 'processing' | 'recently_sent' | 'stopped' | 'skipped';
	status_reason: string | null;
	stop_reason: string | null;
	due_at: string | null;
	follow_up_count: number;
	last_follow_up_at: string | null;
	last_customer_message_at: string | null;
	window_closes_at: string | null;
	stage_entered_at: string | null;
	error_code: string | null;
	/** The state's retry time of its last failed send (null when none); since migration …1860. */
	retry_at: string | null;
}

/** automation_monitor_page's answer; null when the rule does not exist (or the caller may not see it). */
export interface MonitorPage {
	/** The rule's owner's rules (every owner's without a rule), in name order; at most p_rules_limit. */
	rules: MonitorPageRule[];
	/** With p_rules_limit: how many more rules there are than listed. */
	rulesLeftOut?: number;
	rule: (MonitorPageRule & { daily_limit: number; max_follow_ups: number; time_zone: string }) | null;
	generatedAt: string;
	/** automation_snapshot's stats, the same fields. */
	stats?: Record<string, unknown>;
	stages?: Array<{ stage: string; stage_order: number; contact_count: number; avg_seconds: number | null }>;
	contacts?: { total: number; offset: number; limit: number; rows: MonitorPageContact[] };
	activeContacts?: Array<Record<string, unknown>>;
}

/** The columns of ai_automation_rules the console may set (console_rule_write's p_settings). */
export interface RuleSettings {
	name?: string;
	enabled?: boolean;
	page_id?: string | null;
	include_tag_ids?: string[];
	tag_match?: 'any' | 'all';
	exclude_tag_ids?: string[];
	active_hours_start?: string;
	active_hours_end?: string;
	time_zone?: string;
	active_days?: number[];
	daily_limit?: number;
	max_follow_ups?: number;
	min_hours_between_follow_ups?: number;
	stop_on_reply?: boolean;
	instructions?: string;
	model?: string | null;
	language?: string | null;
	context_message_count?: number;
	resume_after_takeover_hours?: number | null;
}

/** A rule as written: every column. */
export type RuleRow = Required<RuleSettings> & {
	id: string;
	user_id: string;
	/** The key of the console save that created it (console_rule_write's p_create_key), or null. */
	create_key: string | null;
	created_at: string;
	updated_at: string;
};

export interface RuleTag {
	id: string;
	name: string;
}

export interface ConsoleRulesArgs {
	/** Null: every owner's rules and tags. */
	p_user_id?: string | null;
}

export interface ConsoleRules {
	rules: (RuleRow & { include_tags: RuleTag[]; exclude_tags: RuleTag[] })[];
	tags: (RuleTag & { user_id: string })[];
	owners: string[];
	/** The owners' Facebook Pages (connected ones with their names, and those of their conversations). */
	pages: Array<{ page_id: string; name: string | null; user_id: string }>;
}

export interface RuleWriteArgs {
	/** Null: a new rule of p_user_id. */
	p_rule_id?: string | null;
	p_user_id?: string | null;
	p_settings: RuleSettings;
	/** False: the preview only, nothing written. */
	p_save?: boolean;
	p_now?: string;
	/**
	 * A new rule's create key (one per new-rule form): a create with the key the owner already used
	 * answers the rule it made (repeat), nothing written. Ignored with p_rule_id or p_save false.
	 */
	p_create_key?: string | null;
}

/** The claim's judgement of the rule's tagged contacts, counted. */
export interface RuleExplain {
	tagged: number;
	due: number;
	/** Contacts not due, by reason code. */
	by_reason: Record<string, number>;
}

export interface RuleWriteResult {
	saved: boolean;
	rule?: RuleRow;
	explain?: RuleExplain;
	/** The database's refusal: the column it concerns (null when none), its message and hint. */
	error?: { field: string | null; message: string; hint: string | null };
	/** Set with error when the rule does not exist. */
	not_found?: boolean;
	/**
	 * A create whose key the owner already used: rule is the rule that key created, nothing
	 * written (saved true: the same settings; else error names the first setting that differs).
	 */
	repeat?: boolean;
}

export interface RuleDeleteArgs {
	p_rule_id: string;
	/** Only a rule of this owner (another owner's: deleted false, as none); null: any owner's (migration …2670). */
	p_user_id?: string | null;
}

export interface RuleDeleteResult {
	deleted: boolean;
	id: string;
}

export interface RulePromptArgs {
	/** Null: a new rule of p_user_id (as console_rule_write). */
	p_rule_id?: string | null;
	p_user_id?: string | null;
	/** The unsaved settings, judged by console_rule_write and rolled back. */
	p_settings: RuleSettings;
	/** One of the rule's tagged contacts; null: the first due one. */
	p_conversation_id?: string | null;
	/** How many tagged contacts to list for the picker (1–1000). */
	p_contact_limit?: number;
	p_now?: string;
}

/** A tagged contact of the rule, as the claim judges it now. */
export interface RulePromptContact {
	conversation_id: string;
	sender_name: string | null;
	due: boolean;
	/** Why not due (null: due). */
	reason: string | null;
}

export interface RulePromptResult {
	tagged?: number;
	/** The first p_contact_limit tagged contacts, due first, in the claim's order. */
	contacts?: RulePromptContact[];
	/** What the claim would hand GenerateFollowUp for the contact; null: nobody is tagged. */
	contact?: (RulePromptContact & { follow_up_number: number; messages: Array<{ direction: string; text: string; sent_at: string }> }) | null;
	rule?: { id: string | null; instructions: string; model: string | null; language: string | null; context_message_count: number };
	/** Refused (a setting, or a contact not tagged): as console_rule_write. */
	saved?: false;
	error?: { field: string | null; message: string; hint: string | null };
	not_found?: boolean;
}
