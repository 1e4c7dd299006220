// The console's pipeline board (console_pipeline_board, migration 20261201000780), called by the
// Leadflow Console node's Pipeline Board operation.

export interface PipelineBoardArgs {
	/** Null: the list of pipelines only. */
	p_pipeline_id?: string | null;
	/** 1–200 cards per stage. */
	p_limit?: number;
	/** The stage whose cards start at p_offset (the others answer their first page). */
	p_stage_id?: string | null;
	p_offset?: number;
	/** Each paged stage's offset, by stage id (the stages not named answer their first page); not
	 * with p_stage_id (migration 20261201002250). */
	p_offsets?: Record<string, number> | null;
	/** Only this owner's pipelines, and a pipeline only of this owner (another owner's: null, not found); null: any owner's (migration …2671). */
	p_user_id?: string | null;
	/** A part of the contact's name or Messenger id (wildcards taken literally). */
	p_search?: string | null;
	/** The version of an earlier answer: { unchanged: true } when the board is still the same. */
	p_known?: string | null;
	p_now?: string;
}

export interface BoardPipeline {
	id: string;
	name: string;
	user_id: string;
	/** Contacts in the pipeline. */
	contact_count: number;
}

export interface BoardCard {
	conversation_id: string;
	sender_id: string;
	sender_name: string | null;
	lead_score: number | null;
	lead_status: string;
	stage_entered_at: string;
	/** From stage_entered_at to the call's p_now. */
	seconds_in_stage: number;
	/** The last AI analysis (null: never analysed, e.g. moved in by hand). */
	analysis: {
		summary: string | null;
		reasoning: string | null;
		confidence: number | null;
		recommended_stage: string | null;
		model: string | null;
		is_fallback: boolean;
		analysed_at: string;
	} | null;
	/** The contact's latest entry of contact_activities in this pipeline. */
	last_activity: {
		type: string;
		title: string;
		description: string | null;
		actor: 'ai' | 'user' | 'automation';
		occurred_at: string;
		/** As written when it happened (the history is append-only): an AUTOMATION_FIRED row's results
		 * say `queued` for a webhook / notify action whatever became of it since. */
		metadata: Record<string, unknown>;
		/** AUTOMATION_FIRED only: its run's results as they are now, each webhook / notify action
		 * `queued`, `delivered`, `failed` (with `error`) or `cancelled` (with `reason` and `error`);
		 * null when the run is gone (migration 20261201001800). */
		run_results?: Array<Record<string, unknown>> | null;
	} | null;
}

export interface BoardStage {
	id: string;
	name: string;
	stage_order: number;
	color: string | null;
	is_default: boolean;
	lead_score_min: number | null;
	lead_score_max: number | null;
	lead_statuses: string[];
	/** Every contact in the stage. */
	contact_count: number;
	/** Those the search matches (contact_count without a search). */
	matching_count: number;
	/** The mean of (p_now − stage_entered_at) over the stage's contacts; null when empty. */
	avg_seconds_in_stage: number | null;
	offset: number;
	limit: number;
	/** One page, most recent arrivals first. */
	cards: BoardCard[];
}

/** console_pipeline_board's answer; null for an unknown pipeline (or one the caller may not see). */
export interface PipelineBoard {
	pipelines: BoardPipeline[];
	pipeline: { id: string; name: string; description: string | null; user_id: string } | null;
	generatedAt: string;
	search?: boolean;
	stages: BoardStage[];
	/** An md5 of the chosen pipeline's board without what only the clock moves (generatedAt, the
	 * seconds in stage); the pipelines to pick from are not part of it (migration 20261201000830). */
	version?: string;
}

/** The answer when p_known is the board's version: nothing but the clock moved since. */
export interface BoardUnchanged {
	unchanged: true;
	version: string;
	generatedAt: string;
	/** The pipelines to pick from, fresh on every answer (their counts move with other pipelines). */
	pipelines: BoardPipeline[];
}
