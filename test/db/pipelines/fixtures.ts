// Builds an owner's CRM pipelines straight in Postgres (set-based), so each test starts from a known
// world; the functions under test are then reached through supabase-js as n8n reaches them, with
// the clock passed as p_now (never today's date).
import type { PostgrestError } from '@supabase/supabase-js';
import type { AnalysedContact, AssignResult, ManualMove, MoveResult } from '../../../nodes/shared/contract';
import { createTestUser, serviceClient, uniquePageId, withDb } from '../../helpers/stack';

/** The instant these suites judge at. Any fixed instant would do: nothing here depends on the date. */
export const NOW = '2026-11-25T12:00:00.000Z';
export const minutesAfter = (minutes: number, from = NOW) => new Date(Date.parse(from) + minutes * 60_000).toISOString();

export interface StageSpec {
	name: string;
	min?: number;
	max?: number;
	statuses?: string[];
	isDefault?: boolean;
}

/** A pipeline like the seed's: score ranges with a gap at 71–75 (so no range holds those), Won and Lost by status. */
export const SALES: StageSpec[] = [
	{ name: 'New Lead', min: 0, max: 20 },
	{ name: 'Contacted', min: 21, max: 45 },
	{ name: 'Qualified', min: 46, max: 70 },
	{ name: 'Proposal', min: 76, max: 100 },
	{ name: 'Won', statuses: ['WON'] },
	{ name: 'Lost', statuses: ['LOST'] },
];

export interface Pipeline {
	id: string;
	/** Stage ids by name. */
	stages: Record<string, string>;
}

export interface AutomationSpec {
	name?: string;
	pipelineId?: string;
	trigger_type: string;
	trigger_conditions?: Record<string, unknown>;
	actions: Array<Record<string, unknown>>;
	is_active?: boolean;
}

export interface PipelineWorld {
	userId: string;
	pageId: string;
	/** The first pipeline, built from SALES unless told otherwise; the Page's auto-assignment uses it. */
	pipeline: Pipeline;
	tags: Record<string, string>;
	contacts(count: number): Promise<string[]>;
	contact(): Promise<string>;
	addPipeline(name: string, stages: StageSpec[]): Promise<Pipeline>;
	settings(options: { pipelineId?: string; mode?: 'SKIP_EXISTING' | 'UPDATE_EXISTING'; enabled?: boolean }): Promise<void>;
	automation(spec: AutomationSpec): Promise<string>;
	rule(): Promise<string>;
}

let senderCounter = (Date.now() % 1_000_000) * 1000;

async function insertPipeline(userId: string, name: string, stages: StageSpec[]): Promise<Pipeline> {
	return withDb(async (db) => {
		const { rows } = await db.query<{ id: string }>('insert into public.pipelines (user_id, name) values ($1, $2) returning id', [userId, name]);
		const stageRows = await db.query<{ id: string; name: string }>(
			`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_score_min, lead_score_max, lead_statuses, is_default)
			 select $1, $2, s.name, s.ord, s.min, s.max, coalesce(s.statuses, '{}'), coalesce(s.is_default, false)
			   from jsonb_to_recordset($3::jsonb) as s (name text, ord integer, min integer, max integer, statuses text[], is_default boolean)
			 returning id, name`,
			[userId, rows[0].id, JSON.stringify(stages.map((stage, ord) => ({ name: stage.name, ord: ord + 1, min: stage.min ?? null, max: stage.max ?? null, statuses: stage.statuses ?? [], is_default: stage.isDefault ?? false })))],
		);
		return { id: rows[0].id, stages: Object.fromEntries(stageRows.rows.map((row) => [row.name, row.id])) };
	});
}

export async function createPipelineWorld(options: { stages?: StageSpec[]; mode?: 'SKIP_EXISTING' | 'UPDATE_EXISTING'; tags?: string[] } = {}): Promise<PipelineWorld> {
	const userId = await createTestUser('pipelines');
	const pageId = uniquePageId();
	const pipeline = await insertPipeline(userId, 'Sales', options.stages ?? SALES);
	const tags: Record<string, string> = {};
	await withDb(async (db) => {
		for (const name of options.tags ?? ['In pipeline', 'Hot', 'Qualified']) {
			const { rows } = await db.query<{ id: string }>('insert into public.tags (user_id, name) values ($1, $2) returning id', [userId, name]);
			tags[name] = rows[0].id;
		}
		await db.query(`insert into public.pipeline_page_settings (user_id, page_id, pipeline_id, update_mode) values ($1, $2, $3, $4)`, [
			userId,
			pageId,
			pipeline.id,
			options.mode ?? 'UPDATE_EXISTING',
		]);
	});

	const contacts = (count: number) =>
		withDb(async (db) => {
			const first = (senderCounter += count + 1) - count;
			const { rows } = await db.query<{ id: string }>(
				`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
				 select $1, $2, ($3::bigint + n)::text, 'Contact ' || n from generate_series(0, $4 - 1) n
				 returning id`,
				[userId, pageId, 9_100_000_000 + first, count],
			);
			return rows.map((row) => row.id);
		});

	return {
		userId,
		pageId,
		pipeline,
		tags,
		contacts,
		contact: async () => (await contacts(1))[0],
		addPipeline: (name, stages) => insertPipeline(userId, name, stages),
		settings: ({ pipelineId, mode, enabled }) =>
			withDb(async (db) => {
				await db.query(
					`update public.pipeline_page_settings set pipeline_id = coalesce($3, pipeline_id), update_mode = coalesce($4, update_mode),
					        enabled = coalesce($5, enabled)
					  where user_id = $1 and page_id = $2`,
					[userId, pageId, pipelineId ?? null, mode ?? null, enabled ?? null],
				);
			}),
		automation: (spec) =>
			withDb(async (db) => {
				const { rows } = await db.query<{ id: string }>(
					`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions, is_active)
					 values ($1, $2, $3, $4, $5, $6, $7) returning id`,
					[userId, spec.pipelineId ?? pipeline.id, spec.name ?? `${spec.trigger_type} automation`, spec.trigger_type,
						JSON.stringify(spec.trigger_conditions ?? {}), JSON.stringify(spec.actions), spec.is_active ?? true],
				);
				return rows[0].id;
			}),
		rule: () =>
			withDb(async (db) => {
				const { rows } = await db.query<{ id: string }>(
					`insert into public.ai_automation_rules (user_id, name, include_tag_ids, instructions) values ($1, 'Follow-up', $2, 'Be brief.') returning id`,
					[userId, [Object.values(tags)[0]]],
				);
				return rows[0].id;
			}),
	};
}

/** An analysis of one contact, with the fields the seed's AI gives. */
export function analysis(conversationId: string, score: number, extra: Partial<AnalysedContact> = {}): AnalysedContact {
	return {
		conversation_id: conversationId,
		lead_score: score,
		lead_status: 'CONTACTED',
		summary: 'Asked about the price and delivery.',
		confidence: 80,
		reasoning: `Score ${score}: engaged, asked concrete questions.`,
		model: 'gemini-3-flash',
		is_fallback: false,
		last_message_at: minutesAfter(-30),
		...extra,
	};
}

export class RpcError extends Error {
	constructor(readonly error: PostgrestError) {
		super(error.message);
	}
}

const service = serviceClient();

export async function rpc<T>(name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await service.rpc(name, args);
	if (error) throw new RpcError(error);
	return data as T;
}

export const assign = (items: AnalysedContact[], now = NOW) => rpc<AssignResult[]>('pipeline_assign', { p_items: items, p_now: now });
export const move = (items: ManualMove[], now = NOW) => rpc<MoveResult[]>('pipeline_move', { p_items: items, p_now: now });

/** The error a call fails with (fails the test when it succeeds). */
export async function failure(call: Promise<unknown>): Promise<PostgrestError> {
	try {
		await call;
	} catch (error) {
		if (error instanceof RpcError) return error.error;
		throw error;
	}
	throw new Error('expected the call to fail, it succeeded');
}

export interface Place {
	conversation_id: string;
	pipeline_id: string;
	stage_id: string;
	lead_score: number | null;
	lead_status: string;
	stage_entered_at: Date;
	analysis_summary: string | null;
	analysis_confidence: string | null;
	analysis_reasoning: string | null;
	analysis_recommended_stage: string | null;
	analysis_model: string | null;
	analysis_is_fallback: boolean | null;
	analysis_last_message_at: Date | null;
	analysed_at: Date | null;
	/** The last message of the latest analysis the model failed on while the contact was placed. */
	failed_analysis_last_message_at: Date | null;
	updated_at: Date;
}

/** The owner's places (timestamps as Dates: read straight from Postgres). */
export const places = (userId: string) =>
	withDb(async (db) => (await db.query<Place>('select * from public.pipeline_contacts where user_id = $1', [userId])).rows);

export interface Activity {
	id: string;
	conversation_id: string;
	pipeline_id: string;
	type: string;
	title: string;
	description: string | null;
	from_stage_id: string | null;
	to_stage_id: string | null;
	actor: string;
	actor_id: string | null;
	automation_id: string | null;
	depth: number;
	metadata: Record<string, unknown>;
	occurred_at: Date;
}

/** A contact's history, in the documented order. */
export const activities = (conversationId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<Activity>(
					'select * from public.contact_activities where conversation_id = $1 order by occurred_at, depth, id',
					[conversationId],
				)
			).rows,
	);

export interface Run {
	id: string;
	automation_id: string;
	conversation_id: string;
	trigger_type: string;
	from_stage_id: string | null;
	to_stage_id: string | null;
	depth: number;
	status: string;
	results: Array<Record<string, unknown>>;
	fired_at: Date;
}

export const runs = (userId: string) =>
	withDb(
		async (db) =>
			(await db.query<Run>('select * from public.pipeline_automation_runs where user_id = $1 order by fired_at, depth, conversation_id, automation_id', [userId]))
				.rows,
	);

export const tagsOf = (conversationId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<{ name: string }>(
					'select t.name from public.conversation_tags ct join public.tags t on t.id = ct.tag_id where ct.conversation_id = $1 order by 1',
					[conversationId],
				)
			).rows.map((row) => row.name),
	);
