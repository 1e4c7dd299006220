// The campaign functions' SQL API (supabase/migrations/20261122000300_campaign_sessions.sql) as
// TypeScript: arguments exactly as `supabase.rpc` sends them, and the JSON each returns. All three
// take the owner as an argument and are callable by the service role only (docs/database.md).

export interface CreateCampaignSessionsArgs {
	p_owner: string;
	/** The campaign as checked by the node: id, name, job description, objectives. */
	p_campaign: object;
	/** One per phone, deduplicated: E.164 phone, optional session id and name (absent: null in SQL). */
	p_tasks: Array<{ phone: string; session?: string; name?: string }>;
	p_idempotency_key?: string | null;
	/** The instant the hand-outs are judged by (default: the database's clock). */
	p_now?: string | null;
	/** An existing session not contacted and without objectives is handed out again only when its last hand-out is older than this (60 to 2,592,000; default 3600). */
	p_emit_lease_seconds?: number;
	/** Who hands the sessions out (the n8n execution), stored for diagnosis. */
	p_holder?: string | null;
}

export interface CreatedSession {
	task_index: number;
	/** The session's row (session_info.id): what queue_add_leads takes as campaign_session_id. */
	campaign_session_id: string;
	/** The session's text id: the app's, or a random UUID made when the app sent none. */
	session: string;
	phone_number: string;
	name: string | null;
	status: string;
	created: boolean;
	/** An existing session that was contacted, reached an objective or is on the Queue Ledger (false for one created now). */
	outreach_started: boolean;
	/** Handed to the outreach by this call: created now, or not started and last handed out longer ago than the lease. */
	emitted: boolean;
	/** An existing session whose name this relaunch changed to its task's (never blanked; not on a replay of a key). */
	name_updated?: boolean;
}

export interface CreateCampaignSessionsResult {
	/** all_conflict: tasks were given and every one's session id belongs to another session; nothing was written (only `conflicts`). */
	outcome: 'ok' | 'idempotency_key_reused' | 'owner_not_found' | 'all_conflict';
	/**
	 * updated: a relaunch (not a replay of its Idempotency-Key) changed the stored name, job description or objectives.
	 * With idempotency_key_reused: the campaign the key launched (`id`, `name`) and whether this launch asked for it (`same_campaign`).
	 */
	campaign?: { id: string; name: string; created?: boolean; updated?: boolean; created_at?: string; same_campaign?: boolean };
	created?: number;
	existing?: number;
	/** How many of the sessions had their outreach started already. */
	outreach_started?: number;
	/** How many sessions this call hands to the outreach. */
	emitted?: number;
	/** Not started, but handed out by another call within the lease: not handed out again. */
	already_emitted?: number;
	/** The earliest instant one of the already_emitted sessions may be handed out again (its last hand-out + the lease); null when none. */
	emit_again_after?: string | null;
	/** How many existing sessions this relaunch gave their task's new name. */
	names_updated?: number;
	sessions?: CreatedSession[];
	conflicts?: Array<{ task_index: number; phone_number: string }>;
}

export interface RecordSessionObjectiveArgs {
	p_owner: string;
	p_session_id: string;
	p_objective: string;
	p_value?: unknown;
	p_source?: string;
	p_occurred_at?: string | null;
	p_event_key?: string | null;
}

export interface RecordSessionObjectiveResult {
	/** event_key_reused: the event key already recorded this objective with another value; nothing written. */
	outcome: 'ok' | 'session_not_found' | 'event_key_reused';
	recorded?: boolean;
	/** event_key_reused: the value first recorded under the key. */
	recorded_value?: unknown;
	session?: string;
	status?: string;
	objectives?: Record<string, unknown>;
	/** ok: the p_occurred_at given (ISO, UTC), when it was after the database's now and recorded at now instead. */
	occurred_at_adjusted?: string;
}

export interface CampaignSessionStatsArgs {
	p_owner: string;
	p_campaign: string;
}

/** Counts by status and objective; null when the owner has no such campaign. */
export type CampaignSessionStats = { [key: string]: CampaignStatsValue } | null;
type CampaignStatsValue = string | number | boolean | null | CampaignStatsValue[] | { [key: string]: CampaignStatsValue };
