// Plans that follow the tables as they grow: pipeline_assign (migration 20261201000840),
// messenger_record (20261201000850), the pipeline outbox's report (20261201000860), the
// follow-up claims (20261201000950) and pipeline_move (20261201000960).
//
// A connection plans a function's statements once and keeps the plans. Planned while the tables
// were empty (a new project), a plan could read all of a table for each item: pipeline_assign's
// 20th call of 1,000 took 4.3 s instead of 0.2 s, and 10 Messenger events read 121,693
// conversation rows. These tests need tables that really are empty, so the file starts a stack of
// its own (and stops it); the Messenger test runs first and checks that no conversation exists yet.
//
// What they count is deterministic: the rows and index entries a call read on those tables, from
// the backend's own statistics (pg_stat_get_xact_tuples_returned), never a time.
import { Client } from 'pg';
import { startStack, type RunningStack } from '../../stack';
import { entriesRead } from '../helpers/reads';

const NOW = '2026-11-25T12:00:00.000Z';

let stack: RunningStack;
let loader: Client; // fills the tables, on a connection of its own
const opened: Client[] = [];

async function connect(): Promise<Client> {
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	opened.push(db);
	return db;
}

async function newOwner(): Promise<string> {
	const { rows } = await loader.query<{ id: string }>(`insert into auth.users (email) values ('plans-' || gen_random_uuid() || '@leadflow.test') returning id`);
	return rows[0].id;
}

beforeAll(async () => {
	stack = await startStack({ fast: true });
	loader = await connect();
}, 180_000);

afterAll(async () => {
	for (const db of opened) await db.end();
	await stack?.stop();
});

test('messenger_record: a connection that planned on an empty project reads conversations by key once thousands have come in', async () => {
	expect((await loader.query<{ n: number }>('select count(*)::int as n from public.messenger_conversations')).rows[0].n).toBe(0);
	const owner = await newOwner();
	await loader.query(`insert into public.messenger_pages (page_id, user_id) values ('5550002', $1)`, [owner]);
	await loader.query('vacuum analyze public.messenger_conversations, public.messenger_messages, public.ai_automation_stops, public.conversation_tags');
	let sent = 0;
	const events = (senders: number[]) =>
		senders.map((sender) => ({ type: 'message', page_id: '5550002', psid: String(7_000_000 + sender), mid: `m_plans_${++sent}`, text: 'hello', timestamp: Date.parse(NOW) + sent }));
	const record = async (db: Client, senders: number[]) =>
		(
			await db.query<{ outcome: string; n: number }>(
				`select outcome, count(*)::int as n from public.messenger_record_events($1::jsonb, '424242', null, $2) group by 1`,
				[JSON.stringify(events(senders)), NOW],
			)
		).rows;
	const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

	// The first Page deliveries, on one connection: past five calls it keeps generic plans.
	const planner = await connect();
	for (let call = 0; call < 6; call++) expect(await record(planner, range(call * 10, 10))).toEqual([{ outcome: 'recorded', n: 10 }]);
	// 3,000 more contacts write in, through another connection.
	for (let call = 0; call < 30; call++) expect(await record(loader, range(1000 + call * 100, 100))).toEqual([{ outcome: 'recorded', n: 100 }]);

	// The first connection again: 5 new contacts and 5 known ones, each reached by key (about 14
	// entries an event); with the plans kept from the empty table, over 10,000 rows.
	await planner.query('begin');
	try {
		const tables = ['public.messenger_conversations', 'public.messenger_messages', 'public.ai_automation_stops'];
		const before = await entriesRead(planner, tables);
		expect(await record(planner, [...range(5000, 5), ...range(1000, 5)])).toEqual([{ outcome: 'recorded', n: 10 }]);
		const read = (await entriesRead(planner, tables)) - before;
		expect(read).toBeGreaterThanOrEqual(5); // the known contacts were found
		expect(read).toBeLessThan(10 * 40);
	} finally {
		await planner.query('rollback');
	}
}, 120_000);

test('pipeline_assign, pipeline_move and the outbox report: a connection that planned on empty pipelines reads by key once they have grown', async () => {
	const owner = await newOwner();
	const { rows: created } = await loader.query<{ id: string }>(
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
		 select $1, '5550001', (9000000000 + n)::text, 'Contact ' || n from generate_series(1, 2040) n order by n
		 returning id`,
		[owner],
	);
	const conversations = created.map((row) => row.id);
	const { rows: pipelines } = await loader.query<{ id: string }>(`insert into public.pipelines (user_id, name) values ($1, 'Sales') returning id`, [owner]);
	const pipelineId = pipelines[0].id;
	const { rows: stages } = await loader.query<{ id: string; name: string }>(
		`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_score_min, lead_score_max, lead_statuses, is_default)
		 values ($1, $2, 'New', 0, 0, 45, '{}', true), ($1, $2, 'Qualified', 1, 46, 100, '{}', false), ($1, $2, 'Won', 2, null, null, '{WON}', false)
		 returning id, name`,
		[owner, pipelineId],
	);
	await loader.query(`insert into public.pipeline_page_settings (user_id, page_id, pipeline_id, update_mode) values ($1, '5550001', $2, 'SKIP_EXISTING')`, [owner, pipelineId]);
	const { rows: tags } = await loader.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'In pipeline') returning id`, [owner]);
	await loader.query(
		`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions) values
		   ($1, $2, 'Tag', 'ENTERED_PIPELINE', '{}', $3::jsonb),
		   ($1, $2, 'Won', 'STAGE_CHANGED', $4::jsonb, '[{"type": "stop_follow_up"}, {"type": "webhook", "url": "https://crm.example.test/won"}]')`,
		[owner, pipelineId, JSON.stringify([{ type: 'add_tag', tag_id: tags[0].id }]), JSON.stringify({ to_stage_id: stages.find((stage) => stage.name === 'Won')!.id })],
	);
	// The statistics of a new project: the tables the calls write, analysed while empty.
	await loader.query('vacuum analyze public.pipeline_contacts, public.conversation_tags, public.ai_automation_stops, public.pipeline_outbox');

	const analysis = (i: number, again?: { update_mode: 'UPDATE_EXISTING' }) => ({
		conversation_id: conversations[i],
		lead_score: ((i + (again ? 1 : 0)) * 37) % 101,
		lead_status: (i + (again ? 1 : 0)) % 5 === 0 ? 'WON' : 'QUALIFIED',
		summary: 'Asked about prices.',
		confidence: 80,
		reasoning: 'Engaged.',
		model: 'gemini-test',
		last_message_at: NOW,
		...again,
	});
	const assign = async (db: Client, from: number, to: number, again?: { update_mode: 'UPDATE_EXISTING' }) =>
		(
			await db.query<{ outcome: string; n: number }>(
				'select outcome, count(*)::int as n from public.pipeline_assign($1::jsonb, $2) group by 1 order by 1',
				[JSON.stringify(Array.from({ length: to - from }, (_, k) => analysis(from + k, again))), NOW],
			)
		).rows;

	/** The Automations output's round: claim the owner's webhook items, report them delivered. */
	const deliver = async (db: Client, execution: string, limit: number, measure = false) => {
		const { rows: items } = await db.query<{ outbox_id: string }>('select outbox_id from public.pipeline_claim_outbox($1, $2, 300, $3, null, $4)', [execution, limit, NOW, owner]);
		const before = measure ? await entriesRead(db, ['public.pipeline_outbox']) : 0;
		const { rows: reports } = await db.query<{ outcome: string }>('select outcome from public.pipeline_complete_outbox($1, $2, $3)', [
			execution,
			JSON.stringify(items.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' }))),
			NOW,
		]);
		return { delivered: reports.filter((report) => report.outcome === 'delivered').length, read: measure ? (await entriesRead(db, ['public.pipeline_outbox'])) - before : 0 };
	};

	/** Manual moves (the contact-move workflow's call) of contacts from..to-1 to a stage by name. */
	const move = async (db: Client, from: number, to: number, stage: string) =>
		(
			await db.query<{ outcome: string; n: number }>(
				'select outcome, count(*)::int as n from public.pipeline_move($1::jsonb, $2) group by 1 order by 1',
				[JSON.stringify(conversations.slice(from, to).map((id) => ({ conversation_id: id, stage_name: stage, reason: 'Called back' }))), NOW],
			)
		).rows;

	// One connection's first calls: its plans are made now, on empty tables.
	const planner = await connect();
	expect(await assign(planner, 0, 10)).toEqual([{ outcome: 'assigned', n: 10 }]);
	for (let round = 0; round < 6; round++) await deliver(planner, `first-${round}`, 1);
	for (let round = 0; round < 6; round++) {
		const moved = await move(planner, 0, 10, round % 2 === 0 ? 'Qualified' : 'New');
		expect(moved.reduce((sum, row) => sum + row.n, 0)).toBe(10);
	}
	// Another connection places 2,000 more contacts (2,000 more tag links, 400 more stops).
	expect(await assign(loader, 10, 1010)).toEqual([{ outcome: 'assigned', n: 1000 }]);
	expect(await assign(loader, 1010, 2010)).toEqual([{ outcome: 'assigned', n: 1000 }]);
	const { rows: counts } = await loader.query<{ places: number; links: number; stops: number }>(
		`select (select count(*)::int from public.pipeline_contacts where user_id = $1) as places,
		        (select count(*)::int from public.conversation_tags where user_id = $1) as links,
		        (select count(*)::int from public.ai_automation_stops where user_id = $1) as stops`,
		[owner],
	);
	expect(counts[0]).toEqual({ places: 2010, links: 2010, stops: 402 });
	expect((await deliver(loader, 'loader', 200)).delivered).toBe(200); // 200 of the 400 new webhook items stay pending

	// The first connection again: 30 new contacts, and 30 placed ones analysed again (moved or
	// kept, tagged already, some stopped). Each is looked up by key: a few index entries each. With
	// the plans kept from the empty tables, each read the whole pipeline's places or the tag's links:
	// over 16,000 entries.
	await planner.query('begin');
	try {
		const tables = ['public.pipeline_contacts', 'public.conversation_tags', 'public.ai_automation_stops'];
		const before = await entriesRead(planner, tables);
		expect(await assign(planner, 2010, 2040)).toEqual([{ outcome: 'assigned', n: 30 }]);
		const placed = await assign(planner, 1000, 1030, { update_mode: 'UPDATE_EXISTING' });
		expect(placed.reduce((sum, row) => sum + row.n, 0)).toBe(30);
		expect(placed.map((row) => row.outcome)).toEqual(['kept', 'moved']);
		const read = (await entriesRead(planner, tables)) - before;
		expect(read).toBeGreaterThanOrEqual(30); // the placed contacts' places, at least, were found
		expect(read).toBeLessThan(60 * 5);
		// 20 placed contacts moved by hand to Won, 4 of them there already (the automation stops the
		// others' follow-ups and queues a webhook each): read by key as well (56 entries; when its
		// lookups were joins, 2,178, whether the connection's plans were old or new).
		const beforeMoves = await entriesRead(planner, tables);
		expect(await move(planner, 1100, 1120, 'Won')).toEqual([
			{ outcome: 'kept', n: 4 },
			{ outcome: 'moved', n: 16 },
		]);
		const movesRead = (await entriesRead(planner, tables)) - beforeMoves;
		expect(movesRead).toBeGreaterThanOrEqual(20);
		expect(movesRead).toBeLessThan(20 * 5);
		// Reporting 10 delivered webhook items reads those 10 by key (the outbox holds over 400 rows;
		// with the plans kept from the small outbox, 434 read).
		const round = await deliver(planner, 'again', 10, true);
		expect(round.delivered).toBe(10);
		expect(round.read).toBeLessThan(10 * 10);
	} finally {
		await planner.query('rollback');
	}
}, 120_000);

test('the follow-up claims: a connection that planned while the rule had no contact states reads them by key once it has thousands', async () => {
	const owner = await newOwner();
	const { rows: tags } = await loader.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Follow up'), ($1, 'Do not contact') returning id`, [owner]);
	// 3,000 contacts of the Page, every one tagged, their 24 h windows open (closing a minute apart).
	const { rows: created } = await loader.query<{ id: string }>(
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, last_customer_message_at, last_message_at)
		 select $1, '5550003', (6000000000 + n)::text, 'Contact ' || n, $2::timestamptz - (1400 - n * 0.4) * interval '1 minute',
		        $2::timestamptz - (1400 - n * 0.4) * interval '1 minute'
		   from generate_series(1, 3000) n order by n
		 returning id`,
		[owner, NOW],
	);
	await loader.query(`insert into public.conversation_tags (conversation_id, tag_id, user_id) select unnest($1::uuid[]), $2, $3`, [created.map((row) => row.id), tags[0].id, owner]);
	const { rows: rules } = await loader.query<{ id: string }>(
		`insert into public.ai_automation_rules (user_id, name, page_id, include_tag_ids, exclude_tag_ids, daily_limit, max_follow_ups,
		                                         min_hours_between_follow_ups, active_hours_start, active_hours_end, time_zone, instructions)
		 values ($1, 'Follow-up', '5550003', array[$2::uuid], array[$3::uuid], 1000000, 10, 4, '00:00', '00:00', 'UTC', 'Follow up kindly.')
		 returning id`,
		[owner, tags[0].id, tags[1].id],
	);
	const ruleId = rules[0].id;
	// The statistics of a new project: no contact state, no past send.
	await loader.query('vacuum analyze public.ai_automation_contact_states, public.ai_automation_executions, public.ai_automation_stops');

	const claim = async (db: Client, fn: 'automation_claim' | 'automation_claim_explained', execution: string, limit: number) => {
		if (fn === 'automation_claim') {
			const { rows } = await db.query<{ n: number }>('select count(*)::int as n from public.automation_claim($1, $2, $3, 600, $4)', [ruleId, limit, execution, NOW]);
			return rows[0].n;
		}
		const { rows } = await db.query<{ j: { summary: { claimed: number } } }>('select public.automation_claim_explained($1, $2, $3, 600, $4) as j', [ruleId, limit, execution, NOW]);
		return rows[0].j.summary.claimed;
	};

	// One connection's first claims (a contact each, put back after): its plans are made now.
	const planner = await connect();
	for (let call = 0; call < 6; call++) {
		for (const fn of ['automation_claim', 'automation_claim_explained'] as const) {
			expect(await claim(planner, fn, `first-${fn}-${call}`, 1)).toBe(1);
			await loader.query(`update public.ai_automation_contact_states set current_stage = 'queued', locked_by = null, locked_until = null where rule_id = $1`, [ruleId]);
		}
	}
	// A day's sends, through other connections: 2,900 contacts followed up an hour ago (their state
	// rows say "not yet": the walk passes over each with one probe of its row).
	await loader.query(
		`insert into public.ai_automation_contact_states (user_id, rule_id, conversation_id, current_stage, stage_entered_at, follow_up_count, last_follow_up_at, execution_id)
		 select $1, $2, c, 'queued', $3::timestamptz - interval '1 hour', 1, $3::timestamptz - interval '1 hour', 'earlier'
		   from unnest($4::uuid[]) c
		 on conflict (rule_id, conversation_id) do update set follow_up_count = 1, last_follow_up_at = excluded.last_follow_up_at`,
		[owner, ruleId, NOW, created.slice(0, 2900).map((row) => row.id)],
	);

	// The first connection claims 10 again, with each function: the walk passes over 2,900 links
	// with a probe of each one's state row (a few entries each). With plans kept from the empty
	// states, each probe read every state row: millions of rows.
	for (const fn of ['automation_claim', 'automation_claim_explained'] as const) {
		await planner.query('begin');
		try {
			const before = await entriesRead(planner, ['public.ai_automation_contact_states']);
			expect(await claim(planner, fn, `again-${fn}`, 10)).toBe(10);
			const read = (await entriesRead(planner, ['public.ai_automation_contact_states'])) - before;
			expect({ fn, read: read >= 2900 }).toEqual({ fn, read: true }); // every passed-over link's state was read
			expect({ fn, read: read < 2910 * 10 }).toEqual({ fn, read: true });
		} finally {
			await planner.query('rollback');
		}
	}
}, 120_000);
