// Messenger inbound's SQL API (supabase/migrations/20261201000500_messenger_inbound.sql and
// 20261201000510_messenger_sync.sql) as TypeScript: each function's arguments, exactly as
// `supabase.rpc` sends them, and the rows it returns. Timestamps in rows travel as ISO 8601 strings;
// event times go in as epoch milliseconds, as Meta sends them. A malformed event fails the whole call
// (SQLSTATE 22023, `p_events[3].psid: …`) before anything is written.

/** The events the database records, in the shape the Messenger nodes send (one per Meta messaging event). */
export type MessengerEventType = 'message' | 'postback' | 'echo' | 'delivery' | 'read';

interface EventBase {
	/** The Page's id (digits). */
	page_id: string;
	/** The person's page-scoped id (digits). */
	psid: string;
	/** The person's name, when known (a sync reads it from the conversation's participants). */
	name?: string | null;
}

export interface MessengerMessageEvent extends EventBase {
	/** message: the person wrote; postback: the person pressed a button; echo: the Page sent it. */
	type: 'message' | 'postback' | 'echo';
	/** Messenger's message id: a message is recorded once per id. */
	mid: string;
	text?: string | null;
	/** When it was sent, epoch milliseconds. */
	timestamp: number;
	/** echo: the app that sent it (Meta's `app_id`); another app than this one's is a person. */
	app_id?: string | null;
}

export interface MessengerReceiptEvent extends EventBase {
	type: 'delivery' | 'read';
	/** Every message the Page sent up to this instant was delivered / read, epoch milliseconds. */
	watermark: number;
}

export type MessengerEvent = MessengerMessageEvent | MessengerReceiptEvent;

// =============================================================================================
// messenger_record_events
// =============================================================================================
export interface RecordEventsArgs {
	/** At most 1,000. */
	p_events: MessengerEvent[];
	/** The Facebook app the webhook belongs to: its own echoes are not a human takeover. */
	p_app_id?: string | null;
	/** Connects a Page not connected yet to this owner (auth.users id); events of a Page connected to another owner are ignored. */
	p_owner?: string | null;
	p_now?: string;
}

export type RecordedEventOutcome =
	/** A message seen for the first time. */
	| 'recorded'
	/** A message recorded before (a redelivery, an event listed twice, or a message Messenger Sync or automation_record_send recorded first). */
	| 'duplicate'
	/** A receipt that moved its conversation's watermark. */
	| 'updated'
	/** Nothing written; `reason` says why. */
	| 'ignored';

export type IgnoredEventReason = 'page_not_connected' | 'page_of_another_owner' | 'owner_not_a_user' | 'unknown_conversation';

export interface RecordedEvent {
	/** The event's position in p_events. */
	item_index: number;
	type: MessengerEventType;
	outcome: RecordedEventOutcome;
	reason: IgnoredEventReason | null;
	page_id: string;
	psid: string;
	conversation_id: string | null;
	/** The conversation was created by this call (true on its first event only). */
	new_conversation: boolean;
	facebook_message_id: string | null;
	direction: 'inbound' | 'outbound' | null;
	text: string | null;
	sent_at: string | null;
	/**
	 * This event stopped the contact's follow-ups (on the conversation's newest such event of the call).
	 * A `duplicate` echo may: a person's echo whose message a sync recorded first takes the contact over.
	 */
	stopped_automations: boolean;
	stop_reason: 'replied' | 'human_takeover' | null;
}

// messenger_owner_is_user: whether an Owner ID is a user of this project (the Trigger's activation check).
export interface OwnerIsUserArgs {
	p_owner: string;
}

export interface OwnerIsUser {
	owner_is_user: boolean;
}

// =============================================================================================
// messenger_sync_begin / messenger_sync_record_page / messenger_sync_fail
// =============================================================================================
export type SyncJobStatus = 'running' | 'failed' | 'completed' | 'cancelled';

export interface SyncBeginArgs {
	p_page_id: string;
	/** Who runs the sync (the n8n execution id). */
	p_holder: string;
	p_owner?: string | null;
	/** Read every conversation, not only those updated since the last completed sync (an unfinished job is cancelled). */
	p_full?: boolean;
	p_lease_seconds?: number;
	p_now?: string;
}

export interface SyncJob {
	job_id: string;
	user_id: string;
	page_id: string;
	status: SyncJobStatus;
	/** An unfinished job taken up again at its cursor. */
	resumed: boolean;
	/** Conversations updated after this are read; null: all. */
	since: string | null;
	/** The Graph cursor of the next page; null: the first. */
	cursor: string | null;
	pages_read: number;
	conversations: number;
	messages: number;
	duplicates: number;
	errors: number;
}

export interface SyncRecordPageArgs {
	p_job_id: string;
	p_holder: string;
	/** The page's messages; at most 10,000. */
	p_events: MessengerEvent[];
	p_next_cursor?: string | null;
	p_conversations?: number;
	/** The page's conversations read whole (every message not recorded before): how far the sync has read them. */
	p_read?: SyncRead[] | null;
	p_newest_updated_at?: string | null;
	p_errors?: number;
	/** The job is complete after this page (p_page_done must be true). */
	p_done?: boolean;
	/** This call holds the page's last part, or all of it (the default): only it counts the page in pages_read. */
	p_page_done?: boolean;
	p_lease_seconds?: number;
	p_now?: string;
}

/** A conversation read whole by the sync: its person and its updated_time when read. */
export interface SyncRead {
	psid: string;
	updated_at: string;
}

export interface SyncReadUntilArgs {
	p_job_id: string;
	/** At most 1,000. */
	p_psids: string[];
}

/** How far the sync has read a conversation (every message up to read_until is recorded); a PSID without a row has never been read whole. */
export interface SyncReadUntil {
	psid: string;
	read_until: string;
}

export interface SyncPageResult {
	job_id: string;
	status: SyncJobStatus;
	pages_read: number;
	conversations: number;
	messages: number;
	duplicates: number;
	errors: number;
	page_messages: number;
	page_duplicates: number;
	page_new_conversations: number;
	cursor: string | null;
}

export interface SyncFailArgs {
	p_job_id: string;
	p_holder: string;
	p_error: string;
	p_errors?: number;
	p_now?: string;
}

export interface SyncFailResult {
	job_id: string;
	status: SyncJobStatus;
	cursor: string | null;
	errors: number;
	last_error: string | null;
}

/** messenger_sync_renew_lease: the running job's holder keeps it (55P03 for anyone else). */
export interface SyncRenewLeaseArgs {
	p_job_id: string;
	p_holder: string;
	p_lease_seconds?: number;
	p_now?: string;
}

export interface SyncLease {
	job_id: string;
	held_until: string;
}
