// pipeline_assign's plans follow its tables as they grow (migration 20261201000840).
//
// A connection plans each of the function's statements once and keeps the plan. Planned while the
// places, tag links and follow-up stops were empty (a new project), a plan could read all of a
// table for each contact: the 20th call of 1,000 took 4.3 s instead of 0.2 s. This suite needs
// tables that really are empty, so it starts a stack of its own (and stops it).
//
// What it counts is deterministic: the index entries the call read on those tables, from the
// transaction's own statistics (pg_stat_get_xact_tuples_returned), never a time.
import { Client } from 'pg';
import { startStack, type RunningStack } from '../../../stack';

const NOW = '2026-11-25T12:00:00.000Z';

let stack: RunningStack;
let planner: Client; // the connection whose plans are made while the tables are empty
let loader: Client; // another connection, which fills them
let userId: string;
let conversations: string[];

const analysis = (conversationId: string, i: number) => ({
	conversation_id: conversationId,
	lead_score: (i * 37) % 101,
	lead_status: i % 5 === 0 ? 'WON' : 'QUALIFIED',
	summary: 'Asked about prices.',
	confidence: 80,
	reasoning: 'Engaged.',
	model: 'gemini-test',
	last_message_at: NOW,
});
const assign = async (db: Client, from: number, to: number, again?: { update_mode: 'UPDATE_EXISTING' }) =>
	(
		await db.query<{ outcome: string; n: number }>(
			'select outcome, count(*)::int as n from public.pipeline_assign($1::jsonb, $2) group by 1 order by 1',
			[JSON.stringify(conversations.slice(from, to).map((id, k) => ({ ...analysis(id, from + k + (again ? 1 : 0)), ...again }))), NOW],
		)
	).rows;

/** Index entries read, this transaction, on the tables pipeline_assign probes by key. */
const indexEntriesRead = async (db: Client) =>
	(
		await db.query<{ n: string }>(
			`select coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0)::bigint as n
			   from pg_index i
			  where i.indrelid in ('public.pipeline_contacts'::regclass, 'public.conversation_tags'::regclass, 'public.ai_automation_stops'::regclass)`,
		)
	).rows[0].n;

beforeAll(async () => {
	stack = await startStack({ fast: true });
	planner = new Client({ connectionString: stack.dbUrl });
	loader = new Client({ connectionString: stack.dbUrl });
	await planner.connect();
	await loader.connect();
	const { rows } = await loader.query<{ id: string }>(`insert into auth.users (email) values ('plans@leadflow.test') returning id`);
	userId = rows[0].id;
	const created = await loader.query<{ id: string }>(
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
		 select $1, '5550001', (9000000000 + n)::text, 'Contact ' || n from generate_series(1, 2040) n order by n
		 returning id`,
		[userId],
	);
	conversations = created.rows.map((row) => row.id);
	const pipeline = await loader.query<{ id: string }>(`insert into public.pipelines (user_id, name) values ($1, 'Sales') returning id`, [userId]);
	const pipelineId = pipeline.rows[0].id;
	const stages = await loader.query<{ id: string; name: string }>(
		`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_score_min, lead_score_max, lead_statuses, is_default)
		 values ($1, $2, 'New', 0, 0, 45, '{}', true), ($1, $2, 'Qualified', 1, 46, 100, '{}', false), ($1, $2, 'Won', 2, null, null, '{WON}', false)
		 returning id, name`,
		[userId, pipelineId],
	);
	await loader.query(`insert into public.pipeline_page_settings (user_id, page_id, pipeline_id, update_mode) values ($1, '5550001', $2, 'SKIP_EXISTING')`, [userId, pipelineId]);
	const tag = await loader.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'In pipeline') returning id`, [userId]);
	const won = stages.rows.find((stage) => stage.name === 'Won')!.id;
	await loader.query(
		`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions) values
		   ($1, $2, 'Tag', 'ENTERED_PIPELINE', '{}', $3::jsonb),
		   ($1, $2, 'Won', 'STAGE_CHANGED', $4::jsonb, '[{"type": "stop_follow_up"}]')`,
		[userId, pipelineId, JSON.stringify([{ type: 'add_tag', tag_id: tag.rows[0].id }]), JSON.stringify({ to_stage_id: won })],
	);
	// The statistics of a new project: every table the calls write, analysed while empty.
	await loader.query('vacuum analyze public.pipeline_contacts, public.conversation_tags, public.ai_automation_stops');
}, 180_000);

afterAll(async () => {
	await planner?.end();
	await loader?.end();
	await stack?.stop();
});

test('a connection that planned while the tables were empty reads by key once they have grown', async () => {
	// The planner connection's first call: its plans are made now, on empty tables.
	expect(await assign(planner, 0, 10)).toEqual([{ outcome: 'assigned', n: 10 }]);
	// Another connection places 2,000 more contacts (2,000 more tag links, 400 more stops).
	expect(await assign(loader, 10, 1010)).toEqual([{ outcome: 'assigned', n: 1000 }]);
	expect(await assign(loader, 1010, 2010)).toEqual([{ outcome: 'assigned', n: 1000 }]);
	const { rows: counts } = await loader.query<{ places: number; links: number; stops: number }>(
		`select (select count(*)::int from public.pipeline_contacts where user_id = $1) as places,
		        (select count(*)::int from public.conversation_tags where user_id = $1) as links,
		        (select count(*)::int from public.ai_automation_stops where user_id = $1) as stops`,
		[userId],
	);
	expect(counts[0]).toEqual({ places: 2010, links: 2010, stops: 402 });

	// The planner connection again: 30 new contacts, and 30 placed ones analysed again (moved or
	// kept, tagged already, some stopped). Each is looked up by key: a few index entries each. With
	// the plans kept from the empty tables, each read the whole pipeline's places or the tag's links:
	// over 10,000 entries.
	await planner.query('begin');
	try {
		expect(await assign(planner, 2010, 2040)).toEqual([{ outcome: 'assigned', n: 30 }]);
		const placed = await assign(planner, 1000, 1030, { update_mode: 'UPDATE_EXISTING' });
		expect(placed.reduce((sum, row) => sum + row.n, 0)).toBe(30);
		expect(placed.map((row) => row.outcome)).toEqual(['kept', 'moved']);
		const read = Number(await indexEntriesRead(planner));
		expect(read).toBeGreaterThanOrEqual(30); // the placed contacts' places, at least, were found
		expect(read).toBeLessThan(60 * 5);
	} finally {
		await planner.query('rollback');
	}
}, 120_000);
