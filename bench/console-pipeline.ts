// Benchmark: the console's Pipeline tab for a pipeline of 10,000 contacts: console_pipeline_board (20 cards a stage) over the Data API, its size against every card's, and its time with and without pipeline_contacts_board_idx, alternating; medians.
// The contacts are placed by pipeline_assign (as AutoAssignStage does), 1,000 a call, so every place
// has its analysis and its history rows. A benchmark, never a unit test.
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { startStack } from '../stack';
import { median } from './common';

const CONTACTS = Number(process.env.CONTACTS ?? 10_000);
const RUNS = 21;

async function main() {
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const { rows: [{ id: userId }] } = await db.query(`insert into auth.users (email) values ('bench-' || gen_random_uuid() || '@leadflow.test') returning id`);
		const { rows: [{ id: pipelineId }] } = await db.query(`insert into public.pipelines (user_id, name) values ($1, 'Bench pipeline') returning id`, [userId]);
		await db.query(
			`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_score_min, lead_score_max, lead_statuses)
			 select $1, $2, s.name, s.ord, s.mi, s.ma, s.st::text[]
			   from (values ('New Lead', 1, 0, 20, '{}'), ('Contacted', 2, 21, 45, '{}'), ('Qualified', 3, 46, 70, '{}'),
			                ('Proposal', 4, 76, 100, '{}'), ('Won', 5, null, null, '{WON}'), ('Lost', 6, null, null, '{LOST}')) s (name, ord, mi, ma, st)`,
			[userId, pipelineId],
		);
		console.log(`Placing ${CONTACTS.toLocaleString('en')} contacts with pipeline_assign…`);
		await db.query(
			`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
			 select $1, '700002', (8100000000 + n)::text, 'Contact ' || n from generate_series(1, $2) n`,
			[userId, CONTACTS],
		);
		for (let from = 0; from < CONTACTS; from += 1000) {
			await db.query(
				`select count(*) from public.pipeline_assign((
				   select jsonb_agg(jsonb_build_object('conversation_id', c.id, 'pipeline_id', $2::uuid, 'lead_score', (c.n * 7) % 101,
				                                       'lead_status', 'CONTACTED', 'reasoning', 'Asked about the price.', 'confidence', 70,
				                                       'is_fallback', false, 'summary', 'Interested.', 'model', 'bench'))
				     from (select id, row_number() over (order by sender_id) as n from public.messenger_conversations where user_id = $1) c
				    where c.n > $3 and c.n <= $3 + 1000))`,
				[userId, pipelineId, from],
			);
		}
		await db.query('vacuum analyze');

		const headers = { apikey: stack.serviceRoleKey, Authorization: `Bearer ${stack.serviceRoleKey}`, 'Content-Type': 'application/json' };
		async function board(): Promise<{ ms: number; bytes: number; counted: number }> {
			const started = performance.now();
			const answer = await fetch(`${stack.supabaseUrl}/rest/v1/rpc/console_pipeline_board`, { method: 'POST', headers, body: JSON.stringify({ p_pipeline_id: pipelineId, p_limit: 20 }) });
			const text = await answer.text();
			const ms = performance.now() - started;
			if (!answer.ok) throw new Error(text);
			const counted = (JSON.parse(text) as { stages: Array<{ contact_count: number }> }).stages.reduce((sum, stage) => sum + stage.contact_count, 0);
			return { ms, bytes: Buffer.byteLength(text), counted };
		}
		const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

		const boardTimes: number[] = [];
		let boardBytes = 0;
		for (let run = -3; run < RUNS; run++) {
			const page = await board();
			if (page.counted !== CONTACTS) throw new Error(`the board counted ${page.counted} contacts, expected ${CONTACTS}`);
			if (run >= 0) boardTimes.push(page.ms);
			boardBytes = page.bytes;
		}
		// What the page would move every 2 s if it asked for every card (the same fields, built in SQL;
		// the Data API itself answers at most 1,000 rows a call).
		const { rows: [{ bytes: everyCard }] } = await db.query(
			`select octet_length(json_agg(json_build_object('conversation_id', pc.conversation_id, 'sender_id', c.sender_id, 'sender_name', c.sender_name,
			          'lead_score', pc.lead_score, 'lead_status', pc.lead_status, 'stage_entered_at', pc.stage_entered_at,
			          'reasoning', pc.analysis_reasoning, 'confidence', pc.analysis_confidence, 'is_fallback', pc.analysis_is_fallback))::text) as bytes
			   from public.pipeline_contacts pc join public.messenger_conversations c on c.id = pc.conversation_id where pc.pipeline_id = $1`,
			[pipelineId],
		);
		console.log(`Contacts in the pipeline: ${CONTACTS.toLocaleString('en')} (${RUNS} runs, medians; load average ${loadavg().map((n) => n.toFixed(1)).join(' ')})`);
		console.log(`console_pipeline_board, 20 cards a stage: ${median(boardTimes).toFixed(1)} ms, ${kb(boardBytes)}`);
		console.log(`every card (without the last activity):  ${kb(Number(everyCard))}`);

		// The index the board reads its pages from: the same calls with and without it, alternating
		// (dropped and made again between runs, outside the timing).
		const withIndex: number[] = [];
		const without: number[] = [];
		for (let run = -2; run < RUNS; run++) {
			const a = await board();
			await db.query('drop index public.pipeline_contacts_board_idx');
			const b = await board();
			await db.query('create index pipeline_contacts_board_idx on public.pipeline_contacts (pipeline_id, stage_id, stage_entered_at desc, conversation_id)');
			if (run >= 0) {
				withIndex.push(a.ms);
				without.push(b.ms);
			}
		}
		console.log(`with pipeline_contacts_board_idx: ${median(withIndex).toFixed(1)} ms; without: ${median(without).toFixed(1)} ms; ratio ${(median(without) / median(withIndex)).toFixed(2)} (load average ${loadavg().map((n) => n.toFixed(1)).join(' ')})`);
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
