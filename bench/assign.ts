// Benchmark: pipeline_assign of 10,000 analysed contacts, 6 stages, 5 automations, against the seed's way (a read and an update per contact over REST).
//   npm run bench -- assign [--contacts 10000] [--rounds 3] [--profile]
// Each round builds three identical owners (a Page, N conversations, a 6-stage pipeline with 5
// automations, set-based, not timed) and places the same N analysed contacts:
//   1. pipeline_assign over a direct Postgres connection, one call per batch of 1,000 (the most a
//      call takes: the Data API answers at most 1,000 rows): the time in the database;
//   2. pipeline_assign over supabase.rpc, one round trip per batch of 1,000, one call at a time;
//   3. the same two ways with two calls at a time (two connections; over the Data API as the node
//      calls it: CALLS_AT_ONCE in nodes/AutoAssignStage/helpers/stageChanges.ts);
//   4. the seed's way (src/lib/pipelines/auto-assign.ts in the product specification): per contact,
//      one read of its place over REST and one upsert, sequentially, the stage chosen in JavaScript
//      with the stages read once. It logs no activity and fires no automation, so it does less
//      than pipeline_assign; the ratio is what the batch saves even so.
// Then a second pipeline_assign of the first owner's contacts (UPDATE_EXISTING, new scores): the
// re-evaluation, with moves, kept contacts and the automations they fire. And the first assignment
// once more for a fourth owner whose automations are switched off: what the automations cost.
// Prints the medians, the ratios (against one call at a time and against the node's way), the machine's yardstick (bench/common.ts), what the calls did
// (outcomes by priority, runs, outbox items) and with --profile every statement inside one call
// (auto_explain). Never a test: a slow machine fails no build.
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startStack } from '../stack';
import { CALLS_AT_ONCE } from '../nodes/AutoAssignStage/helpers/stageChanges';
import { eachPieceAtOnce } from '../nodes/shared/supabase';
import { explainStatements, statementLines } from './statements';
import { argument, machineLine, median } from './common';

const BATCH = 1000;
const batches = <T>(items: T[]) => Array.from({ length: Math.ceil(items.length / BATCH) }, (_, i) => items.slice(i * BATCH, (i + 1) * BATCH));

/** pipeline_assign over pg, batch by batch; the outcomes counted by `group` (outcome/priority or outcome/reason). */
export async function assignInDb(db: Client, items: Analysis[], now: Date, group: 'priority' | 'reason'): Promise<Map<string, number>> {
	const counts = new Map<string, number>();
	for (const batch of batches(items)) {
		const { rows } = await db.query<{ outcome: string; detail: string | null; n: number }>(
			`select outcome, ${group} as detail, count(*)::int as n from public.pipeline_assign($1::jsonb, $2) group by 1, 2`,
			[JSON.stringify(batch), now.toISOString()],
		);
		for (const row of rows) {
			const key = row.detail ? `${row.outcome}/${row.detail}` : row.outcome;
			counts.set(key, (counts.get(key) ?? 0) + row.n);
		}
	}
	return counts;
}

/** pipeline_assign over one connection per lane, CALLS_AT_ONCE batches at a time, as the node sends them. */
async function assignAtOnce(dbs: Client[], items: Analysis[], now: Date): Promise<void> {
	const free = [...dbs];
	const outcomes = await eachPieceAtOnce(
		batches(items),
		dbs.length,
		async (batch) => {
			const db = free.pop()!;
			try {
				await db.query('select count(*) from public.pipeline_assign($1::jsonb, $2)', [JSON.stringify(batch), now.toISOString()]);
			} finally {
				free.push(db);
			}
		},
		true,
	);
	const failure = outcomes.find((outcome) => outcome?.status === 'rejected') as PromiseRejectedResult | undefined;
	if (failure) throw failure.reason;
}

/** pipeline_assign over supabase.rpc, `atOnce` calls in flight. */
async function assignOverRest(supabase: SupabaseClient, items: Analysis[], now: Date, atOnce: number): Promise<void> {
	const outcomes = await eachPieceAtOnce(
		batches(items),
		atOnce,
		async (batch) => {
			const { data, error } = await supabase.rpc('pipeline_assign', { p_items: batch, p_now: now.toISOString() });
			if (error || (data as unknown[]).length !== batch.length) throw new Error(`pipeline_assign over REST: ${error?.message ?? (data as unknown[]).length}`);
		},
		true,
	);
	const failure = outcomes.find((outcome) => outcome?.status === 'rejected') as PromiseRejectedResult | undefined;
	if (failure) throw failure.reason;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;

interface Stage {
	id: string;
	name: string;
	stage_order: number;
	lead_score_min: number | null;
	lead_score_max: number | null;
	lead_statuses: string[];
	is_default: boolean;
}

interface World {
	userId: string;
	pipelineId: string;
	conversationIds: string[];
	stages: Stage[];
}

const STAGES = [
	{ name: 'New Lead', min: 0, max: 20, statuses: [], isDefault: true },
	{ name: 'Contacted', min: 21, max: 45, statuses: [], isDefault: false },
	{ name: 'Qualified', min: 46, max: 70, statuses: [], isDefault: false },
	{ name: 'Proposal', min: 76, max: 100, statuses: [], isDefault: false },
	{ name: 'Won', min: null, max: null, statuses: ['WON'], isDefault: false },
	{ name: 'Lost', min: null, max: null, statuses: ['LOST'], isDefault: false },
];

/** One owner: a Page with `count` conversations, its pipeline (auto-assign on), tags, a rule, 5 automations. */
export async function seedWorld(db: Client, count: number, mode: 'SKIP_EXISTING' | 'UPDATE_EXISTING'): Promise<World> {
	const { rows: users } = await db.query<{ id: string }>(
		`insert into auth.users (email) values ('bench-assign-' || gen_random_uuid() || '@leadflow.test') returning id`,
	);
	const userId = users[0].id;
	const pageId = String(100_000_000 + Math.floor(Math.random() * 800_000_000));
	const { rows: conversations } = await db.query<{ id: string }>(
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
		 select $1, $2, (8000000000 + n)::text, 'Contact ' || n from generate_series(1, $3) n
		 returning id`,
		[userId, pageId, count],
	);
	const { rows: pipelines } = await db.query<{ id: string }>(`insert into public.pipelines (user_id, name) values ($1, 'Sales') returning id`, [userId]);
	const pipelineId = pipelines[0].id;
	const { rows: stages } = await db.query<Stage>(
		`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_score_min, lead_score_max, lead_statuses, is_default)
		 select $1, $2, s.name, s.ord, s.min, s.max, s.statuses, s.is_default
		   from jsonb_to_recordset($3::jsonb) as s (name text, ord integer, min integer, max integer, statuses text[], is_default boolean)
		 returning id, name, stage_order, lead_score_min, lead_score_max, lead_statuses, is_default`,
		[userId, pipelineId, JSON.stringify(STAGES.map((stage, ord) => ({ name: stage.name, ord, min: stage.min, max: stage.max, statuses: stage.statuses, is_default: stage.isDefault })))],
	);
	await db.query(`insert into public.pipeline_page_settings (user_id, page_id, pipeline_id, update_mode) values ($1, $2, $3, $4)`, [userId, pageId, pipelineId, mode]);
	const { rows: tags } = await db.query<{ id: string; name: string }>(
		`insert into public.tags (user_id, name) select $1, unnest(array['In pipeline', 'Qualified']) returning id, name`,
		[userId],
	);
	const tag = (name: string) => tags.find((row) => row.name === name)!.id;
	const stage = (name: string) => stages.find((row) => row.name === name)!.id;
	const automations = [
		{ name: 'Tag every new contact', trigger_type: 'ENTERED_PIPELINE', trigger_conditions: {}, actions: [{ type: 'add_tag', tag_id: tag('In pipeline') }] },
		{
			name: 'Qualified: tag and tell the CRM',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: stage('Qualified') },
			actions: [{ type: 'add_tag', tag_id: tag('Qualified') }, { type: 'webhook', url: 'https://crm.example.test/hooks/qualified' }],
		},
		{
			name: 'Won: stop follow-ups, tell the team',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: stage('Won') },
			actions: [{ type: 'stop_follow_up' }, { type: 'notify', channel: 'slack', message: 'A deal was won' }],
		},
		{ name: 'Lost: untag', trigger_type: 'STATUS_CHANGED', trigger_conditions: { to_status: 'LOST' }, actions: [{ type: 'remove_tag', tag_id: tag('In pipeline') }] },
		{ name: 'Hot lead', trigger_type: 'SCORE_CROSSED', trigger_conditions: { threshold: 76, direction: 'up' }, actions: [{ type: 'notify', message: 'A lead got hot' }] },
	];
	await db.query(
		`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions)
		 select $1, $2, a.name, a.trigger_type, a.trigger_conditions, a.actions
		   from jsonb_to_recordset($3::jsonb) as a (name text, trigger_type text, trigger_conditions jsonb, actions jsonb)`,
		[userId, pipelineId, JSON.stringify(automations)],
	);
	return { userId, pipelineId, conversationIds: conversations.map((row) => row.id), stages };
}

interface Analysis {
	conversation_id: string;
	lead_score: number;
	lead_status: string;
	recommended_stage: string | null;
	summary: string;
	confidence: number;
	reasoning: string;
	model: string;
	is_fallback: boolean;
	last_message_at: string;
}

/** The AI's analyses: every priority decides some (status, score range, recommendation, closest score). */
export function analyses(world: World, now: Date, round: number): Analysis[] {
	return world.conversationIds.map((conversationId, i) => {
		const kind = (i + round * 3) % 10;
		const score = kind === 7 ? 72 : kind === 8 ? 73 : (i * 37 + round * 11) % 101;
		return {
			conversation_id: conversationId,
			lead_score: kind === 7 || kind === 8 ? score : score === 72 || score === 73 ? 74 : score,
			lead_status: kind === 0 ? 'WON' : kind === 1 ? 'LOST' : score > 45 ? 'QUALIFIED' : 'CONTACTED',
			recommended_stage: kind === 7 ? 'qualified' : null,
			summary: `Asked about prices and delivery (${i}).`,
			confidence: 60 + (i % 40),
			reasoning: 'Engaged, asked concrete questions, no commitment yet.',
			model: 'gemini-3-flash',
			is_fallback: i % 50 === 0,
			last_message_at: new Date(now.getTime() - (i % 600) * 60_000).toISOString(),
		};
	});
}

/** The seed's stage choice, in JavaScript: status, score range, name, closest range, first. */
function seedsStage(stages: Stage[], analysis: Analysis): Stage {
	const ordered = [...stages].sort((a, b) => a.stage_order - b.stage_order);
	const ranged = ordered.filter((stage) => stage.lead_score_min !== null && stage.lead_score_max !== null);
	const distance = (stage: Stage) => Math.max(stage.lead_score_min! - analysis.lead_score, analysis.lead_score - stage.lead_score_max!, 0);
	return (
		ordered.find((stage) => stage.lead_statuses.includes(analysis.lead_status)) ??
		ranged.find((stage) => distance(stage) === 0) ??
		ordered.find((stage) => stage.name.toLowerCase() === (analysis.recommended_stage ?? '').toLowerCase()) ??
		[...ranged].sort((a, b) => distance(a) - distance(b) || a.stage_order - b.stage_order)[0] ??
		ordered[0]
	);
}

/** The seed's autoAssignContactToPipeline, per contact over REST: read the place, write it. */
async function assignTheSeedsWay(client: SupabaseClient, world: World, items: Analysis[], now: Date) {
	const byId = new Map(world.stages.map((stage) => [stage.id, stage]));
	for (const item of items) {
		const { data: place, error } = await client
			.from('pipeline_contacts')
			.select('id, stage_id, lead_score')
			.eq('conversation_id', item.conversation_id)
			.eq('pipeline_id', world.pipelineId)
			.maybeSingle();
		if (error) throw new Error(error.message);
		const proposed = seedsStage(world.stages, item);
		const current = place ? byId.get(place.stage_id) : undefined;
		if (current && proposed.stage_order < current.stage_order && current.lead_score_min !== null && item.lead_score >= current.lead_score_min) continue;
		const write = await client.from('pipeline_contacts').upsert(
			{
				user_id: world.userId,
				conversation_id: item.conversation_id,
				pipeline_id: world.pipelineId,
				stage_id: proposed.id,
				stage_entered_at: now.toISOString(),
				lead_score: item.lead_score,
				lead_status: item.lead_status,
			},
			{ onConflict: 'conversation_id,pipeline_id' },
		);
		if (write.error) throw new Error(write.error.message);
	}
}

async function main() {
	const contacts = argument('contacts', 10_000);
	const rounds = argument('rounds', 3);
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	const lanes = Array.from({ length: CALLS_AT_ONCE }, () => new Client({ connectionString: stack.dbUrl }));
	for (const lane of lanes) await lane.connect();
	const supabase = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
	// The seed's way writes places directly, which the migrations let only the functions do: this
	// throwaway stack lets the service role write them, for the comparison only.
	await db.query('grant insert, update on public.pipeline_contacts to service_role');
	const now = new Date('2026-11-25T12:00:00Z');
	const later = new Date('2026-11-25T13:00:00Z');
	const inDb: number[] = [];
	const overRest: number[] = [];
	const inDbAtOnce: number[] = [];
	const overRestAtOnce: number[] = [];
	const reassess: number[] = [];
	const withoutAutomations: number[] = [];
	const seedsWay: number[] = [];
	try {
		// The warm-up has one batch per lane, so both connections (and PostgREST's two) have run the
		// function before round 1 is timed.
		const warmUp = CALLS_AT_ONCE * BATCH;
		console.log(`${contacts} analysed contacts, 6 stages, 5 automations; ${rounds} rounds (and one warm-up round of ${warmUp})`);
		for (let round = -1; round < rounds; round++) {
			const size = round < 0 ? warmUp : contacts;
			const direct = await seedWorld(db, size, 'UPDATE_EXISTING');
			const viaRest = await seedWorld(db, size, 'UPDATE_EXISTING');
			const seeds = await seedWorld(db, size, 'UPDATE_EXISTING');
			const quiet = await seedWorld(db, size, 'UPDATE_EXISTING');
			const directAtOnce = await seedWorld(db, size, 'UPDATE_EXISTING');
			const viaRestAtOnce = await seedWorld(db, size, 'UPDATE_EXISTING');
			await db.query('update public.pipeline_automations set is_active = false where user_id = $1', [quiet.userId]);
			await db.query('analyze');

			let started = performance.now();
			const firstOutcomes = await assignInDb(db, analyses(direct, now, 0), now, 'priority');
			const dbTime = performance.now() - started;

			let items = analyses(viaRest, now, 0);
			started = performance.now();
			await assignOverRest(supabase, items, now, 1);
			const restTime = performance.now() - started;

			items = analyses(directAtOnce, now, 0);
			started = performance.now();
			await assignAtOnce(lanes, items, now);
			const dbAtOnceTime = performance.now() - started;

			items = analyses(viaRestAtOnce, now, 0);
			started = performance.now();
			await assignOverRest(supabase, items, now, CALLS_AT_ONCE);
			const restAtOnceTime = performance.now() - started;

			started = performance.now();
			const againOutcomes = await assignInDb(db, analyses(direct, later, 1), later, 'reason');
			const reassessTime = performance.now() - started;

			started = performance.now();
			await assignInDb(db, analyses(quiet, now, 0), now, 'priority');
			const quietTime = performance.now() - started;

			let seedsTime = 0;
			if (round >= 0) {
				started = performance.now();
				await assignTheSeedsWay(supabase, seeds, analyses(seeds, now, 0), now);
				seedsTime = performance.now() - started;
				const placed = await db.query<{ n: number }>('select count(*)::int as n from public.pipeline_contacts where user_id = $1', [seeds.userId]);
				if (placed.rows[0].n !== size) throw new Error(`the seed's way placed ${placed.rows[0].n} of ${size}`);
			}

			if (round === 0) {
				const did = await db.query(
					`select (select count(*)::int from public.pipeline_automation_runs where user_id = $1) as runs,
					        (select count(*)::int from public.pipeline_outbox where user_id = $1) as outbox_items,
					        (select count(*)::int from public.contact_activities where user_id = $1) as activities,
					        (select count(*)::int from public.conversation_tags where user_id = $1) as tag_links,
					        (select count(*)::int from public.ai_automation_stops where user_id = $1) as stops`,
					[direct.userId],
				);
				const list = (counts: Map<string, number>) => [...counts].sort().map(([key, n]) => `${key}: ${n}`).join(', ');
				console.log('\nFirst assignment, outcomes by priority:', list(firstOutcomes));
				console.log('Re-evaluation (UPDATE_EXISTING), outcomes by reason:', list(againOutcomes));
				console.log('After both, in the database:', did.rows[0]);
			}
			if (round >= 0) {
				inDb.push(dbTime);
				overRest.push(restTime);
				inDbAtOnce.push(dbAtOnceTime);
				overRestAtOnce.push(restAtOnceTime);
				reassess.push(reassessTime);
				withoutAutomations.push(quietTime);
				seedsWay.push(seedsTime);
				console.log(
					`round ${round + 1}: ${ms(dbTime)} in the database, ${ms(restTime)} over supabase.rpc; ${CALLS_AT_ONCE} at a time ${ms(dbAtOnceTime)} and ${ms(restAtOnceTime)}; re-evaluation ${ms(reassessTime)}, ` +
						`automations off ${ms(quietTime)}, the seed's way ${(seedsTime / 1000).toFixed(1)} s`,
				);
			}
		}

		const calls = Math.ceil(contacts / BATCH);
		console.log(`\npipeline_assign of ${contacts} (median of ${rounds}): ${ms(median(inDb))} in the database (${calls} calls of up to ${BATCH}), ${ms(median(overRest))} over supabase.rpc (${calls} round trips)`);
		console.log(
			`${CALLS_AT_ONCE} calls at a time (median of ${rounds}): ${ms(median(inDbAtOnce))} in the database (${CALLS_AT_ONCE} connections), ` +
				`${ms(median(overRestAtOnce))} over supabase.rpc, as the node sends them`,
		);
		console.log(`Re-evaluation of the same ${contacts} (UPDATE_EXISTING): ${ms(median(reassess))} in the database`);
		console.log(`The first assignment with the 5 automations switched off: ${ms(median(withoutAutomations))} in the database`);
		console.log(`Seed's way (median of ${rounds}): ${(median(seedsWay) / 1000).toFixed(1)} s (${contacts * 2} REST requests, no history, no automations)`);
		console.log(`Ratio (seed's way / pipeline_assign over supabase.rpc, one call at a time): ${(median(seedsWay) / median(overRest)).toFixed(1)}×`);
		console.log(`Ratio (seed's way / pipeline_assign over supabase.rpc as the node sends them, ${CALLS_AT_ONCE} at a time): ${(median(seedsWay) / median(overRestAtOnce)).toFixed(1)}×`);
		console.log(await machineLine(db));

		if (process.argv.includes('--profile')) {
			const world = await seedWorld(db, contacts, 'UPDATE_EXISTING');
			const plans = process.argv.includes('--plans');
			const statements = await explainStatements(
				db,
				() => db.query('select count(*) from public.pipeline_assign($1::jsonb, $2)', [JSON.stringify(analyses(world, now, 0).slice(0, BATCH)), now.toISOString()]),
				{ minMs: 1, analyze: plans },
			);
			const profile = statementLines(statements, plans ? 20 : Infinity);
			console.log(`\nStatements over 1 ms inside one pipeline_assign of ${BATCH} (auto_explain; --plans: with their plans, analyze on):\n${profile.join('\n')}`);
		}
	} finally {
		for (const lane of lanes) await lane.end();
		await db.end();
		await stack.stop();
	}
}

if (require.main === module) {
	main().catch((error) => {
		console.error(error);
		process.exitCode = 1;
	});
}
