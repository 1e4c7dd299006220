// Benchmark: the console's Queue tab poll for an owner's day of 10,000 messages: console_queue_page's first page (25 rows, and filtered, and searched) over the Data API, against reading the whole day through queue_export's pages; medians, answer sizes and the function's plan.
//   npm run bench -- console-queue [--rows 10000]
// One owner's day (today in UTC) prepared by queue_prepare the day before (beside their six days
// before and another owner's day as large), a tenth of it claimed
// and reported (sent, failed) so that the counts and the ledger are not trivial (not timed). The
// plan is printed by auto_explain at NOTICE level for one call (nested statements included). A
// benchmark, never a unit test.
import { Client } from 'pg';
import { startStack } from '../stack';
import { argument, median } from './common';

const ROWS = argument('rows', 10_000);
const RUNS = 21;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

async function main() {
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		// The owner measured with the six days before, and another owner with a day as large: the day
		// read is an eighth of the table, as in an account with a history, and the plan must find it.
		const seedOwner = async (label: string, days: number) => {
			const { rows: [{ id }] } = await db.query<{ id: string }>(`insert into auth.users (email) values ('bench-queue-${label}-' || gen_random_uuid() || '@leadflow.test') returning id`);
			await db.query(
				`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, message)
				 values ($1, $2, '00:00', '23:59', 'UTC', '{1,2,3,4,5,6,7}', '{"type": "text", "text": "Hi {{name}}!"}')`,
				[id, ROWS],
			);
			await db.query(
				`insert into public.leads (user_id, name, phone, source, lead_score)
				 select $1, 'Lead ' || n, '+44' || $3::text || lpad(n::text, 8, '0'), 'web', n % 101 from generate_series(1, $2) n`,
				[id, ROWS * days, label === 'measured' ? '78' : '79'],
			);
			for (let back = days; back >= 1; back--) {
				await db.query('begin');
				await db.query(`select set_config('leadflow.now', (now() - make_interval(days => $1))::text, true)`, [back]);
				await db.query('select public.queue_prepare($1)', [id]);
				await db.query('commit');
			}
			return id;
		};
		console.log(`Seeding 8 days of ${ROWS.toLocaleString('en')} messages (7 of the measured owner, 1 of another)…`);
		const owner = await seedOwner('measured', 7);
		await seedOwner('other', 1);
		// A tenth of the day claimed and reported (at the end of the day, when all are due).
		const { rows: claimed } = await db.query<{ item_id: string }>(
			`select item_id from public.queue_claim('bench', $2, 300, date_trunc('day', now()) + interval '23 hours 58 minutes', $1)`, [owner, Math.min(1000, Math.floor(ROWS / 10))]);
		await db.query(`select public.queue_complete('bench', $1, date_trunc('day', now()) + interval '23 hours 58 minutes')`, [
			JSON.stringify(claimed.map((row, i) => (i % 4 === 0 ? { item_id: row.item_id, outcome: 'failed', error: { code: '131000', message: 'x' } } : { item_id: row.item_id, outcome: 'sent', message_id: `wamid.${i}` }))),
		]);
		await db.query('vacuum analyze');

		const call = async (name: string, args: Record<string, unknown>) => {
			const started = performance.now();
			const response = await fetch(`${stack.supabaseUrl}/rest/v1/rpc/${name}`, {
				method: 'POST',
				headers: { apikey: stack.serviceRoleKey, Authorization: `Bearer ${stack.serviceRoleKey}`, 'Content-Type': 'application/json' },
				body: JSON.stringify(args),
			});
			const text = await response.text();
			if (!response.ok) throw new Error(text);
			return { ms: performance.now() - started, text };
		};
		const { rows: [{ day }] } = await db.query<{ day: string }>(`select (now() at time zone 'UTC')::date::text as day`);
		const variants: Array<[string, Record<string, unknown>]> = [
			['first page of 25', { p_user_id: owner, p_limit: 25 }],
			['status failed, 25', { p_user_id: owner, p_limit: 25, p_status: 'failed' }],
			['search "Lead 4242"', { p_user_id: owner, p_limit: 25, p_search: 'Lead 4242' }],
			// A phone as the owner writes it (trunk 0, spaces): +447800004242's digits.
			['search "07800 004242"', { p_user_id: owner, p_limit: 25, p_search: '07800 004242' }],
			['page 200 of 25', { p_user_id: owner, p_limit: 25, p_offset: Math.max(0, ROWS - 25) }],
		];
		const times = new Map<string, number[]>(variants.map(([label]) => [label, []]));
		const bytes = new Map<string, number>();
		const whole: number[] = [];
		let wholeBytes = 0;
		for (let run = -3; run < RUNS; run++) {
			for (const [label, args] of variants) {
				const { ms, text } = await call('console_queue_page', args);
				if (run >= 0) times.get(label)!.push(ms);
				bytes.set(label, Buffer.byteLength(text));
				if (label === 'first page of 25' && JSON.parse(text).counts.total !== ROWS) throw new Error(`counted ${JSON.parse(text).counts.total} messages, not ${ROWS}`);
			}
			// The whole day, as a page that sent every row would need it: queue_export's pages of 1,000.
			let after: string | null = null;
			let ms = 0;
			let size = 0;
			for (;;) {
				const page = await call('queue_export', { p_user_id: owner, p_from: day, p_to: day, p_after: after, p_limit: 1000 });
				ms += page.ms;
				size += Buffer.byteLength(page.text);
				const rows = JSON.parse(page.text) as Array<{ item_id: string }>;
				if (rows.length < 1000) break;
				after = rows[rows.length - 1].item_id;
			}
			if (run >= 0) whole.push(ms);
			wholeBytes = size;
		}
		console.log(`One owner's day of ${ROWS.toLocaleString('en')} messages (${RUNS} runs each, medians, alternating):`);
		for (const [label] of variants) console.log(`  console_queue_page, ${label.padEnd(22)} ${median(times.get(label)!).toFixed(1).padStart(7)} ms, ${kb(bytes.get(label)!)}`);
		console.log(`  queue_export, the whole day (pages of 1,000)  ${median(whole).toFixed(1).padStart(7)} ms, ${kb(wholeBytes)}`);
		console.log(`  ratio whole day / first page: ${(median(whole) / median(times.get('first page of 25')!)).toFixed(1)}`);

		// The plan of one call (its statements, through auto_explain at NOTICE).
		await db.query(`load 'auto_explain'`);
		await db.query(`set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_buffers = on;
		                set auto_explain.log_nested_statements = on; set auto_explain.log_level = notice; set client_min_messages = notice`);
		const notices: string[] = [];
		db.on('notice', (notice) => notices.push(notice.message ?? ''));
		await db.query('set role service_role');
		await db.query('select public.console_queue_page($1, null, null, null, 0, 25)', [owner]);
		await db.query('reset role');
		console.log(notices.filter((text) => /console_queue_page|whatsapp_message_queue/.test(text) && /day_items/.test(text)).join('\n') || notices.join('\n'));
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
