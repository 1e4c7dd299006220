// The limits every n8n worker and instance shares through the database
// (supabase/migrations/20261201000600_limits_send_rate.sql and …610_limits_gemini_keys.sql) as
// TypeScript: each function's arguments (exactly as `supabase.rpc` sends them) and the rows it
// returns. `p_now` exists so tests can fix the clock; production leaves it out. Durations travel as
// milliseconds relative to the database's clock, so a worker whose clock differs from the
// database's still acts at the right moment.

// =============================================================================================
// limit_take_send_slots
// =============================================================================================
export interface TakeSendSlotsArgs {
	/** The Facebook Page (digits). */
	p_page_id: string;
	/** How many slots (1–1,000). */
	p_count: number;
	/** The node's Messages per Second (above 0, at most 10,000). */
	p_per_second: number;
	/** Where the Page's calls go (the credential's base URL, without a trailing slash). */
	p_graph_url?: string;
	p_now?: string;
	/** No slot before this many ms after now (0–2,000; default 0): the worker's answers take that long to come back (…2760). */
	p_lead_ms?: number;
}

export interface SendSlots {
	/** When each slot taken may start: ms after database_now, ascending. Only slots within the next 250 ms; empty when none is free that soon. */
	starts_in_ms: number[];
	/** The database's now the slots are counted from (p_now). */
	database_now: string;
	/** When the next free slot after these starts, ms after database_now: ask again 250 ms before it. */
	next_in_ms: number;
	/** Set while a pause after a throttle runs. */
	paused_until: string | null;
}

// =============================================================================================
// limit_pause_sends
// =============================================================================================
export interface PauseSendsArgs {
	p_page_id: string;
	/** 1 ms – 24 h. */
	p_pause_ms: number;
	/** What Facebook answered, one line (kept for a person to read). */
	p_reason?: string | null;
	p_graph_url?: string;
	p_now?: string;
}

export interface PauseSendsResult {
	/** The pause now running (a longer one already running is kept). */
	paused_until: string;
	paused_for_ms: number;
}

/** Why a Gemini key rests. */
export type GeminiRestReason = 'throttled' | 'daily_quota' | 'refused';

// =============================================================================================
// limit_take_gemini_keys
// =============================================================================================
export interface TakeGeminiKeysArgs {
	/** The credential's keys as ids (hex SHA-256, never the keys), in its order; 1–100, each once. */
	p_key_ids: string[];
	/** How many turns (1–1,000). */
	p_count: number;
	p_now?: string;
}

export interface GeminiKeyTurns {
	/** The position in p_key_ids of the key each turn goes to, in turn order; empty when every key rests. */
	key_indexes: number[];
	/** When every key rests: ms until the first is back. */
	wait_ms: number | null;
	/** When every key rests: why. */
	rest_reason: GeminiRestReason | null;
	/**
	 * When every key rests: how many of them rest because Google refused them (20261201002880;
	 * absent from a database without that migration).
	 */
	refused_keys?: number | null;
}

// =============================================================================================
// limit_rest_gemini_key
// =============================================================================================
export interface RestGeminiKeyArgs {
	p_key_id: string;
	/** 1 ms – 48 h. */
	p_rest_ms: number;
	p_reason: GeminiRestReason;
	p_now?: string;
}

export interface GeminiKeyRest {
	/** The rest now running (a longer one already running is kept). */
	rested_until: string;
	rest_reason: GeminiRestReason;
}
