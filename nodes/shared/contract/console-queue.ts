// console_queue_page: the console's Queue tab (an owner's queue day, its counts, one page of rows).

export interface QueuePageArgs {
	/** The owner; null: the first owner with queue settings. */
	p_user_id?: string | null;
	/** The queue day (YYYY-MM-DD); null: today in the owner's time zone. */
	p_day?: string | null;
	p_status?: 'queued' | 'claimed' | 'sent' | 'failed' | 'cancelled' | 'dead' | null;
	p_search?: string | null;
	p_offset?: number;
	p_limit?: number;
	/** false: leave the owners list out (the page's poll between two refreshes of its picker). */
	p_owners?: boolean;
	p_now?: string;
}

export interface QueuePageRow {
	item_id: string;
	lead_id: string;
	name: string | null;
	phone: string;
	lead_status: string;
	lead_score: number | null;
	status: string;
	attempts: number;
	scheduled_for: string;
	completed_at: string | null;
	message_id: string | null;
	/** "code: message" of the last failure. */
	last_error: string | null;
	taken_over_at: string | null;
	taken_over_by: string | null;
	/** The lead's Messenger conversation, or null. */
	conversation_id: string | null;
	/**
	 * Its conversation is stopped for every follow-up rule until the stop is deleted (rule_id null, no
	 * last_human_message_at: not a Page-inbox takeover a rule may resume after); false without one.
	 */
	follow_ups_stopped: boolean;
	/**
	 * The outcomes queue_settle_lead accepts now for this row (migration 20261201002942): both for the
	 * lead's last message dead `uncertain`, never settled, its lead new or queued and its backlog item
	 * dead; `delivered` only when that backlog item is queued again (set to new after the death); []
	 * for every other row.
	 */
	settle_outcomes: Array<'delivered' | 'send_again'>;
	/** The lead's most recent ledger row (any of its queues). */
	last_event: { queue: string; from_status: string | null; to_status: string; reason: string; actor: string; worker: string | null; at: string } | null;
}

export interface QueuePage {
	/** Left out when p_owners is false. */
	owners?: string[];
	owner: string | null;
	generatedAt: string;
	settings?: { time_zone: string; daily_capacity: number; send_from: string; send_until: string; days_of_week: number[]; max_attempts: number } | null;
	timeZone?: string;
	today?: string;
	day?: string;
	counts?: { total: number; queued: number; claimed: number; sent: number; failed: number; cancelled: number; dead: number };
	rows?: { total: number; offset: number; limit: number; rows: QueuePageRow[] };
}
