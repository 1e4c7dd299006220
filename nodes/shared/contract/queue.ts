// The lead queue's SQL API (supabase/migrations/20261201000410_queue_ledger_api.sql) as TypeScript:
// each function's arguments (exactly as `supabase.rpc` sends them) and the rows it returns. The
// names live in the map of index.ts; the Queue Ledger node calls them through the typed `callRpc`
// (nodes/shared/supabase.ts), one call per batch of at most 1,000 items (the Data API answers at
// most 1,000 rows). Timestamps travel as ISO 8601 strings, days as YYYY-MM-DD; `p_now` exists so
// tests can fix the clock; production leaves it out. A malformed item fails the whole call (nothing
// written, SQLSTATE 22023) with a message naming it and its field, e.g. `p_items[3].phone: …`; an
// unknown lead or owner is SQLSTATE P0002.

/** leads.status: every value the check constraint accepts (docs/database.md says what each means). */
export const LEAD_STATUSES = ['new', 'queued', 'contacted', 'engaged', 'booked', 'not_interested', 'human_controlled', 'do_not_contact', 'invalid'] as const;
export type QueueLeadStatus = (typeof LEAD_STATUSES)[number];

/** whatsapp_message_queue.status and lead_processing_queue.status. */
export const QUEUE_ITEM_STATUSES = ['queued', 'claimed', 'sent', 'failed', 'cancelled', 'dead'] as const;
export type QueueItemStatus = (typeof QUEUE_ITEM_STATUSES)[number];

/** What a queued message says: the owner's settings' message, placeholders filled by the claim. */
export type QueueMessage = { type: 'text'; text: string } | { type: 'template'; name: string; language: string };

// =============================================================================================
// queue_add_leads
// =============================================================================================
export interface NewLead {
	user_id: string;
	name: string | null;
	/** E.164, or null for a lead reached otherwise (a Messenger conversation). */
	phone: string | null;
	conversation_id?: string | null;
	campaign_session_id?: string | null;
	source?: string | null;
	/** 0–100, a whole number. */
	lead_score?: number | null;
}

export interface AddLeadsArgs {
	p_items: NewLead[];
	p_now?: string;
	/**
	 * An item the database refuses (unknown owner, a conversation or campaign session that is not the
	 * owner's): raise (default) fails the call on the first, nothing written; answer makes each a row
	 * (outcome refused, field, message) and adds the others; check writes nothing and answers only them.
	 */
	p_refused?: 'raise' | 'answer' | 'check';
}

/** A lead added or found (what p_refused raise answers for every item). */
export interface AddLeadsResult {
	/** The item's position in p_items. */
	item_index: number;
	lead_id: string;
	/**
	 * existing: a lead with the same phone, conversation or campaign session was there already (or
	 * earlier in the call); it took the name, phone, conversation and session it lacked (never
	 * overwriting one, never taking one another lead holds).
	 */
	outcome: 'created' | 'existing';
	status: QueueLeadStatus;
	/** The stored lead's fields, after the fill (not necessarily the item's). */
	name: string | null;
	phone: string | null;
	conversation_id: string | null;
	campaign_session_id: string | null;
	field: null;
	message: null;
	reason: null;
}

/**
 * An item not added (migration 20261201001730): it would have made a new lead, and its campaign
 * session, or a session of the owner with its phone that no lead holds, was contacted or answered,
 * so nobody who answered the outreach gets the queue's first message. No lead: the item's name and
 * phone (its session's when it had none), conversation and session, and why.
 */
export interface AddLeadsSkipped {
	item_index: number;
	lead_id: null;
	outcome: 'skipped';
	status: null;
	name: string | null;
	phone: string | null;
	conversation_id: string | null;
	campaign_session_id: string | null;
	field: null;
	message: null;
	/** As the campaign import says it (AddLeadsFromCrmSkipped): the session's status, contacted, or an objective recorded. */
	reason: AddLeadsFromCrmSkipped['reason'];
}

/** An item the database refused (p_refused answer or check): the field and why; nothing written for it. */
export interface AddLeadsRefused {
	item_index: number;
	lead_id: null;
	outcome: 'refused';
	status: null;
	name: null;
	phone: null;
	conversation_id: null;
	campaign_session_id: null;
	/** user_id, conversation_id or campaign_session_id (not found), or phone (not its campaign session's). */
	field: string;
	message: string;
	reason: null;
}

export type AddLeadsRow = AddLeadsResult | AddLeadsSkipped | AddLeadsRefused;

// =============================================================================================
// queue_add_leads_from_crm
// =============================================================================================
export interface AddLeadsFromCrmArgs {
	p_user_id: string;
	/** The conversations carrying this tag (tags.id). Exactly one of tag and campaign. */
	p_tag_id?: string | null;
	/** The sessions of this campaign (campaign_info.id). */
	p_campaign_id?: string | null;
	p_now?: string;
	/** Paging: the from_id of the previous page's last row; rows are ordered by it. */
	p_after?: string | null;
	/** 1–1,000 (default 1,000): call again with p_after while a page is full. */
	p_limit?: number;
}

/** A lead added or found from a CRM row, as stored (like AddLeadsResult). */
export interface AddLeadsFromCrmLead {
	/** The conversation (tag) or campaign session (campaign) the row comes from: the next page's p_after. */
	from_id: string;
	lead_id: string;
	/**
	 * existing: the lead was there (by phone, conversation or session); it took the name,
	 * conversation or session it lacked (never overwriting one, never taking one another lead holds).
	 */
	outcome: 'created' | 'existing';
	status: QueueLeadStatus;
	source: string | null;
	/** The stored lead's fields, after the fill (the campaign_session_id is not from_id when the lead held another session). */
	name: string | null;
	phone: string | null;
	conversation_id: string | null;
	campaign_session_id: string | null;
	/**
	 * phone_holds_other_session: a campaign's session found as the lead of its phone, which holds
	 * another session (a phone in two campaigns of the owner has one lead). That lead is this
	 * session's lead all the same: its answers, its outreach's first contact and the queue's send
	 * follow it. Otherwise null.
	 */
	reason: 'phone_holds_other_session' | null;
}

/**
 * A session of the campaign whose outreach started (contacted, or an objective recorded) that has
 * no lead (none holds it, none has its phone): not added, so nobody already contacted, or who said
 * no, is queued.
 */
export interface AddLeadsFromCrmSkipped {
	/** The campaign session. */
	from_id: string;
	lead_id: null;
	outcome: 'skipped';
	status: null;
	source: null;
	/** The session's name and phone. */
	name: string | null;
	phone: string | null;
	conversation_id: null;
	campaign_session_id: string;
	/** session_contacted, session_interested, session_started_work, session_rejected, or session_objective_recorded (pending, a campaign's own objective recorded). */
	reason: 'session_contacted' | 'session_interested' | 'session_started_work' | 'session_rejected' | 'session_objective_recorded';
}

/** One row of queue_add_leads_from_crm: a lead added or found, or a campaign session skipped. */
export type AddLeadsFromCrmResult = AddLeadsFromCrmLead | AddLeadsFromCrmSkipped;

// =============================================================================================
// queue_prepare
// =============================================================================================
export interface PrepareArgs {
	/** null: every owner with queue settings. */
	p_user_id?: string | null;
	p_now?: string;
	/** A page of owners: those after this user_id (by user_id). */
	p_after_user_id?: string | null;
	/** Up to and including this user_id. */
	p_until_user_id?: string | null;
	/** At most this many owners (1 to 1000; null: all). Over the Data API an answer has at most 1,000 rows. */
	p_owner_limit?: number | null;
}

export interface PrepareResult {
	user_id: string;
	/** The owner's tomorrow (the local day after p_now's local day). */
	day: string;
	time_zone: string;
	capacity: number;
	/** Queued by this call. */
	queued: number;
	/** Queued for that day before this call (a second run queues nothing more). */
	already_queued: number;
	/** Why leads were not queued, by reason: taken_over, contacted_today, no_phone, over_capacity, not_a_sending_day… */
	skipped: Record<string, number>;
}

// =============================================================================================
// queue_claim
// =============================================================================================
export interface QueueClaimArgs {
	p_worker: string;
	p_limit?: number;
	p_lease_seconds?: number;
	p_now?: string;
	p_user_id?: string | null;
}

export interface ClaimedMessage {
	item_id: string;
	user_id: string;
	lead_id: string;
	lead_name: string | null;
	/** E.164 */
	phone: string;
	message: QueueMessage;
	/** 1 for the first try. */
	attempt: number;
	scheduled_for: string;
	lease_expires_at: string;
}

// =============================================================================================
// queue_complete
// =============================================================================================
export interface SendResult {
	item_id: string;
	/** released: not attempted (the batch stopped): back to the queue, no attempt counted. */
	outcome: 'sent' | 'failed' | 'released';
	message_id?: string | null;
	error?: {
		code?: string | null;
		message: string;
		/** Trying again cannot help: dead at once. */
		permanent?: boolean;
		/** Not due again before this many seconds (rate limits). */
		retry_after_seconds?: number;
	} | null;
}

export interface QueueCompleteArgs {
	p_worker: string;
	p_results: SendResult[];
	p_now?: string;
	/**
	 * true (Complete as an AI agent's tool): a sent or failed result for a message whose send never
	 * began (no queue_begin_send let it go) is refused, reason send_not_begun. Default false.
	 */
	p_send_begun_only?: boolean;
}

export interface QueueCompleteResult {
	item_index: number;
	item_id: string;
	/** The item's status after the call: sent, failed (to be tried again at next_attempt_at), dead (no attempt left) or queued (released). */
	status: QueueItemStatus;
	/**
	 * false: nothing was recorded (reason: not_found, not_held by this worker, cancelled, already_completed,
	 * send_not_begun: p_send_begun_only and a sent or failed report of a message whose send never began).
	 * The same report again from the same worker, the message still as it left it: the first answer again (true, reason null), nothing recorded twice.
	 */
	accepted: boolean;
	reason: string | null;
	/** A failed item: when it is due again. */
	next_attempt_at: string | null;
}

// =============================================================================================
// queue_send_not_made
// =============================================================================================
/**
 * Send's own: the messages it let go (queue_begin_send) whose request it did not make (Meta refused
 * it, the batch stopped, the run was cancelled, a later check of the group failed). Their send's mark
 * (send_started_at) is cleared, those the worker still holds claimed, so that their release is taken:
 * queue_complete refuses any release of a message whose send began (20261201002770).
 */
export interface SendNotMadeArgs {
	p_worker: string;
	/** At most 1000. */
	p_item_ids: string[];
	p_now?: string;
	/**
	 * The key of the queue_begin_send call that let the messages go (or may have: its answer lost):
	 * only the marks that key set are cleared, never another Send's (20261201002810). Default null:
	 * every begun mark of the worker's messages asked.
	 */
	p_begin_key?: string | null;
}

/** One message whose mark was cleared. */
export interface SendNotMadeRow {
	item_id: string;
}

// =============================================================================================
// queue_begin_send
// =============================================================================================
export interface BeginQueueSendArgs {
	p_worker: string;
	/** The messages about to be sent (at most 1000). */
	p_item_ids: string[];
	/** The phone each message is about to be sent to, in the order of p_item_ids: one not the message's (its lead's) is refused, phone_mismatch. */
	p_phones: string[];
	/**
	 * Messages whose send began earlier in the same run (at most 1000): their leases only are
	 * renewed (those the worker still holds); never let go again, no row answered for them.
	 */
	p_renew_item_ids?: string[];
	/** How long the lease of each message still held runs from now. */
	p_lease_seconds?: number;
	p_now?: string;
	/**
	 * This call's own key (a random UUID), stored with the marks it sets (begin_key): the same call
	 * repeated with it (its answer lost) answers send again for the messages it let go, still held;
	 * any other key, or none, is answered already_sending for them (20261201002810). Default null.
	 */
	p_begin_key?: string | null;
}

export interface BeginQueueSendResult {
	item_id: string;
	/** true: still held by the worker, its lease renewed: send it. false: do not send (reason). */
	send: boolean;
	/** The message's status now ('not_found' when there is none). */
	status: QueueItemStatus | 'not_found';
	/**
	 * Why it must not be sent: not_held (claimed by another worker, or released), cancelled (its lead
	 * taken over or stopped), phone_changed (its lead's phone changed or was removed after the claim:
	 * released to the new number, or cancelled), phone_mismatch (the phone given is not the
	 * message's, its lead's: this worker still holds it, nothing written), already_sending (this worker
	 * holds it and its send began already, or it is listed again in the same call: never let go
	 * twice, nothing written), already_completed, not_found.
	 */
	reason: 'not_held' | 'cancelled' | 'phone_changed' | 'phone_mismatch' | 'already_sending' | 'already_completed' | 'not_found' | null;
	lease_expires_at: string | null;
}

// =============================================================================================
// queue_take_lead
// =============================================================================================
export interface TakeLeadArgs {
	/**
	 * A do_not_contact, not_interested or invalid lead keeps its status (status_kept): what waits is
	 * cancelled and its follow-ups stopped all the same.
	 */
	p_lead_id: string;
	/** The user who takes the lead over. */
	p_actor_id?: string | null;
	p_reason?: string | null;
	p_now?: string;
	/** The owner the caller acts for: a lead of another owner is then unknown (P0002). */
	p_user_id?: string | null;
}

export interface TakeLeadResult {
	lead_id: string;
	user_id: string;
	/** human_controlled; or the lead's own status when it was kept (status_kept). */
	status: QueueLeadStatus;
	/** The lead was human-controlled already: nothing changed. */
	already_taken: boolean;
	/** What the take-over cancelled: the lead's messages and backlog item that had not begun sending. */
	cancelled: Array<{ queue: string; item_id: string; from_status: QueueItemStatus }>;
	/**
	 * Messenger follow-up rules stopped for the lead's conversation: the enabled rules of its Page that
	 * no stop held until deleted before (a Page-inbox takeover's stop, which a rule may resume after,
	 * becomes the take's, lasting until deleted).
	 */
	stopped_rules: number;
	/**
	 * The lead's messages whose send had begun (queue_begin_send let them go): not cancelled, they
	 * may have reached the lead; their worker's Complete records them (sent, or cancelled if the
	 * send failed). [] when none.
	 */
	sending: Array<{ item_id: string; send_started_at: string; worker: string }>;
	/**
	 * The lead is one nobody may message (do_not_contact, not_interested, invalid): its status was
	 * kept, not made human_controlled (given back, it would be queued again); its waiting items were
	 * cancelled and its Messenger follow-ups stopped all the same. False for an ordinary take.
	 */
	status_kept: boolean;
	/** When status_kept: the status kept, why, and whether follow-ups were stopped or there was no conversation. */
	explanation: string | null;
}

// =============================================================================================
// queue_settle_lead
// =============================================================================================
export interface SettleLeadArgs {
	/** A lead whose last WhatsApp message ended dead. */
	p_lead_id: string;
	/**
	 * delivered: it arrived, the lead becomes contacted (only for a message dead `uncertain`: one Meta
	 * answered with an error code was not delivered); send_again: its backlog item is queued again and
	 * the lead made new, so the next Prepare writes a new message.
	 */
	p_outcome: 'delivered' | 'send_again';
	/** The user who settles it, kept in the ledger. */
	p_actor_id?: string | null;
	p_reason?: string | null;
	p_now?: string;
	/** The owner the caller acts for: a lead of another owner is then unknown (P0002). */
	p_user_id?: string | null;
}

export interface SettleLeadResult {
	lead_id: string;
	user_id: string;
	outcome: 'delivered' | 'send_again';
	/** The message is settled: by this call, or (already_settled) by an earlier one with the same outcome. */
	settled: boolean;
	/** An earlier call settled it with this outcome: nothing changed. */
	already_settled: boolean;
	/** not_settleable when the lead cannot be settled (explanation says why); null when settled. */
	refusal: 'not_settleable' | null;
	/** The input at fault when refused: lead_id (the lead's or its message's state) or outcome (that outcome does not apply). */
	field: 'lead_id' | 'outcome' | null;
	/** The lead's status now. */
	status: QueueLeadStatus;
	/** The lead's last WhatsApp message (null when it has none). */
	item_id: string | null;
	message_status: QueueItemStatus | null;
	/** Its error code (uncertain, or Meta's), when it has one. */
	error_code: string | null;
	/** What was done, or why nothing was, in words. */
	explanation: string;
}

// =============================================================================================
// queue_export
// =============================================================================================
export interface ExportArgs {
	p_user_id: string;
	p_from: string;
	p_to: string;
	p_statuses?: QueueItemStatus[] | null;
	/** Keyset paging: the last item_id of the previous page. */
	p_after?: string | null;
	p_limit?: number;
}

export interface ExportRow {
	item_id: string;
	/** The owner's local day the message was prepared for. */
	day: string;
	status: QueueItemStatus;
	/**
	 * This and created_at, updated_at: ISO 8601 in the owner's time zone with that instant's offset
	 * (2026-12-04T09:00:00+05:30), the clock of `day` (migration …1960).
	 */
	scheduled_for: string | null;
	attempts: number;
	message_id: string | null;
	last_error: string | null;
	lead_id: string;
	lead_name: string | null;
	phone: string | null;
	lead_status: QueueLeadStatus;
	lead_score: number | null;
	source: string | null;
	created_at: string;
	updated_at: string;
}

// =============================================================================================
// queue_export_pages
// =============================================================================================
export interface ExportPagesArgs {
	p_user_id: string;
	p_from: string;
	p_to: string;
	p_statuses?: QueueItemStatus[] | null;
	/** Rows per page (queue_export's p_limit), 1–1000. */
	p_rows?: number;
}

/** Where one page of queue_export starts and ends. */
export interface ExportPage {
	/** From 1. */
	page: number;
	/** queue_export's p_after for this page; null for the first. */
	after_item_id: string | null;
	/** The page's last item id; null for the last page (it runs to the end). */
	last_item_id: string | null;
}

// =============================================================================================
// queue_metrics
// =============================================================================================
export interface MetricsArgs {
	p_user_id: string;
	/** Null: 6 days before p_to. */
	p_from?: string | null;
	/** Null: the owner's local day at p_now (their time zone), so both null are the owner's last 7 days. */
	p_to?: string | null;
	p_now?: string;
}

export interface DayMetrics {
	day: string;
	queued: number;
	sent: number;
	failed: number;
	cancelled: number;
	taken_over: number;
	mean_wait_seconds: number | null;
	mean_processing_seconds: number | null;
}
