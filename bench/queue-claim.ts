// Benchmark: Claim + Complete of WhatsApp messages in batches of 100 by 4 concurrent workers over the Data API, items/s end to end, the ledger written for every transition (target ≥ 5,000 items/s).
//   npm run bench -- queue-claim [--messages 20000] [--owners 10] [--workers 4] [--batch 100] [--rounds 3] [--compare <file.sql>] [--profile]
// Seeds, set-based and not timed, `owners` owners whose messages of one day are all due (prepared
// by queue_prepare), then per round: `workers` workers at once, each its own supabase-js client
// (as n8n workers are), each looping queue_claim(batch) → queue_complete(all sent) until nothing is
// due. The time is from the first claim to the last report; items/s = messages / time. Round 0 is
// a warm-up on its own messages. After each round the ledger is checked: every message has exactly
// one claimed and one sent row, its backlog item and lead one row each, and nothing was claimed
// twice. For comparison the same work through a direct Postgres connection per worker (the
// database's own time, no HTTP). Prints the medians, the machine's load and a yardstick (a plain
// 10,000-row UPDATE with four indexes). With --profile, each statement inside one worker's
// queue_claim and queue_complete of a batch, with its median time (auto_explain). Never a test: a
// slow machine fails no build.
// With --compare <file.sql> (a candidate migration) it measures instead, side by side on the same
// messages, one connection claiming and completing every message in batches, inside a transaction
// rolled back at the end: once as the database has it now, once with the file applied first in the
// transaction, alternating which goes first; it checks both wrote the same ledger rows.
import { readFileSync } from 'node:fs';
import { backendCpuMs, backendPid } from './backend-cpu';
import { statementLine, statementMedians } from './statements';
import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startStack, type StackInfo } from '../stack';
import { argument, loadAverage, machineLine, median } from './common';

/** Every message of the seeded day is due at this instant (the day after it, within the hours). */
const CLAIM_AT = '2026-11-27T12:00:00.000Z';
/** --profile: the claims and reports whose statements are timed, after 5 untimed. */
const PROFILE_RUNS = 11;

interface Claimed {
	item_id: string;
	attempt: number;
}

/** `owners` new owners with `perOwner` messages each, due at CLAIM_AT; returns the owners. */
async function seed(db: Client, owners: number, perOwner: number, tag: string): Promise<string[]> {
	const { rows } = await db.query<{ id: string }>(
		`insert into auth.users (email) select 'bench-claim-' || $2 || '-' || n || '-' || gen_random_uuid() || '@leadflow.test' from generate_series(1, $1) n returning id`,
		[owners, tag],
	);
	const ids = rows.map((row) => row.id);
	await db.query(
		`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, message)
		 select id, $2, '00:00', '24:00', 'UTC', '{1,2,3,4,5,6,7}', '{"type": "text", "text": "Hi {{name}}, thanks for your interest!"}' from unnest($1::uuid[]) id`,
		[ids, perOwner],
	);
	await db.query(
		`insert into public.leads (user_id, name, phone, source, lead_score)
		 select o, 'Lead ' || n, '+44' || lpad((row_number() over ())::text, 10, '0'), 'bench', n % 101 from unnest($1::uuid[]) o cross join generate_series(1, $2) n`,
		[ids, perOwner],
	);
	for (const id of ids) await db.query(`select public.queue_prepare($1, '2026-11-25T12:00:00Z')`, [id]);
	return ids;
}

/** One worker: claim a batch, report it sent, until nothing is due. Returns what it claimed. */
type Worker = (name: string) => Promise<Claimed[]>;

function restWorker(stack: StackInfo, batch: number): Worker {
	return async (name) => {
		const client = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		const claimed: Claimed[] = [];
		for (;;) {
			const { data, error } = await client.rpc('queue_claim', { p_worker: name, p_limit: batch, p_lease_seconds: 300, p_now: CLAIM_AT });
			if (error) throw new Error(`queue_claim: ${error.message}`);
			const items = data as Array<Claimed & { lead_id: string }>;
			if (items.length === 0) return claimed;
			claimed.push(...items);
			const results = items.map((item) => ({ item_id: item.item_id, outcome: 'sent', message_id: `wamid.${item.item_id}` }));
			const done = await client.rpc('queue_complete', { p_worker: name, p_results: results, p_now: CLAIM_AT });
			if (done.error) throw new Error(`queue_complete: ${done.error.message}`);
			if ((done.data as Array<{ accepted: boolean }>).some((row) => !row.accepted)) throw new Error('a report was refused');
		}
	};
}

function sqlWorker(stack: StackInfo, batch: number): Worker {
	return async (name) => {
		const db = new Client({ connectionString: stack.dbUrl });
		await db.connect();
		try {
			const claimed: Claimed[] = [];
			for (;;) {
				const { rows } = await db.query<Claimed>('select item_id, attempt from public.queue_claim($1, $2, 300, $3)', [name, batch, CLAIM_AT]);
				if (rows.length === 0) return claimed;
				claimed.push(...rows);
				const results = rows.map((item) => ({ item_id: item.item_id, outcome: 'sent', message_id: `wamid.${item.item_id}` }));
				await db.query('select count(*) from public.queue_complete($1, $2, $3)', [name, JSON.stringify(results), CLAIM_AT]);
			}
		} finally {
			await db.end();
		}
	};
}

/** Runs the workers at once over the due messages; checks the ledger; returns items/s. */
async function round(db: Client, owners: string[], workers: number, make: Worker): Promise<{ perSecond: number; ms: number; items: number }> {
	const started = performance.now();
	const claims = (await Promise.all(Array.from({ length: workers }, (_, i) => make(`bench-worker-${i + 1}`)))).flat();
	const elapsed = performance.now() - started;
	const check = await db.query<{ messages: number; sent: number; claimed_rows: number; sent_rows: number; backlog_rows: number; lead_rows: number }>(
		`select (select count(*)::int from public.whatsapp_message_queue where user_id = any ($1)) as messages,
		        (select count(*)::int from public.whatsapp_message_queue where user_id = any ($1) and status = 'sent') as sent,
		        (select count(*)::int from public.queue_ledger where user_id = any ($1) and queue = 'whatsapp_message_queue' and to_status = 'claimed') as claimed_rows,
		        (select count(*)::int from public.queue_ledger where user_id = any ($1) and queue = 'whatsapp_message_queue' and to_status = 'sent') as sent_rows,
		        (select count(*)::int from public.queue_ledger where user_id = any ($1) and queue = 'lead_processing_queue' and to_status = 'sent') as backlog_rows,
		        (select count(*)::int from public.queue_ledger where user_id = any ($1) and queue = 'leads' and to_status = 'contacted') as lead_rows`,
		[owners],
	);
	const c = check.rows[0];
	const unique = new Set(claims.map((claim) => claim.item_id)).size;
	if (c.sent !== c.messages || c.claimed_rows !== c.messages || c.sent_rows !== c.messages || c.backlog_rows !== c.messages || c.lead_rows !== c.messages || unique !== claims.length || claims.length !== c.messages) {
		throw new Error(`ledger check failed: ${JSON.stringify({ ...c, claims: claims.length, unique })}`);
	}
	return { perSecond: (c.messages / elapsed) * 1000, ms: elapsed, items: c.messages };
}

/** The current definitions against the candidate file: one connection, every message, rolled back. */
async function compare(db: Client, candidate: string, messages: number, owners: number, batch: number, rounds: number) {
	const ids = await seed(db, owners, Math.ceil(messages / owners), 'compare');
	await db.query('vacuum analyze public.whatsapp_message_queue, public.leads, public.lead_processing_queue, public.queue_ledger');
	const times: Record<'current' | 'candidate', number[]> = { current: [], candidate: [] };
	const ledger: Record<string, string> = {};
	const cpu: Record<'current' | 'candidate', number[]> = { current: [], candidate: [] };
	const pid = await backendPid(db);
	for (let r = 0; r <= rounds; r++) {
		for (const variant of r % 2 === 0 ? (['current', 'candidate'] as const) : (['candidate', 'current'] as const)) {
			await db.query('begin');
			try {
				if (variant === 'candidate') await db.query(candidate);
				let items = 0;
				const cpuBefore = backendCpuMs(pid);
				const started = performance.now();
				for (let n = 0; ; n++) {
					const { rows } = await db.query<Claimed>('select item_id, attempt from public.queue_claim($1, $2, 300, $3)', [`bench-worker-${n % 4}`, batch, CLAIM_AT]);
					if (rows.length === 0) break;
					items += rows.length;
					const results = rows.map((item) => ({ item_id: item.item_id, outcome: 'sent', message_id: `wamid.${item.item_id}` }));
					await db.query('select count(*) from public.queue_complete($1, $2, $3)', [`bench-worker-${n % 4}`, JSON.stringify(results), CLAIM_AT]);
				}
				const elapsed = performance.now() - started;
				if (r > 0) {
					times[variant].push((items / elapsed) * 1000);
					cpu[variant].push((items / (backendCpuMs(pid) - cpuBefore)) * 1000);
				}
				const { rows } = await db.query(
					`select count(*)::int as n, md5(string_agg(concat_ws('|', g.queue, g.item_id, g.lead_id, g.day, g.from_status, g.to_status, g.attempt, g.worker, g.actor, g.reason, g.detail, g.scheduled_for, g.at), ',' order by g.queue, g.item_id, g.id)) as digest
					   from public.queue_ledger g where g.user_id = any ($1)`,
					[ids],
				);
				ledger[variant] ??= `${items} items, ${rows[0].n} ledger rows, ${rows[0].digest}`;
			} finally {
				await db.query('rollback');
			}
		}
	}
	const m = { current: median(times.current), candidate: median(times.candidate) };
	console.log(`Side by side, one connection, ${rounds} rounds alternating, items/s (current ${times.current.map((t) => t.toFixed(0)).join(', ')}; candidate ${times.candidate.map((t) => t.toFixed(0)).join(', ')}):`);
	const c = { current: median(cpu.current), candidate: median(cpu.candidate) };
	console.log(`  current   ${m.current.toFixed(0)} items/s; per second of Postgres CPU ${c.current.toFixed(0)} items (all: ${cpu.current.map((t) => t.toFixed(0)).join(', ')})`);
	console.log(`  candidate ${m.candidate.toFixed(0)} items/s; per second of Postgres CPU ${c.candidate.toFixed(0)} items (all: ${cpu.candidate.map((t) => t.toFixed(0)).join(', ')})`);
	console.log(`  candidate / current: ${(m.candidate / m.current).toFixed(2)}x items/s, ${(c.candidate / c.current).toFixed(2)}x items per CPU second`);
	console.log(`  same ledger rows: ${ledger.current === ledger.candidate ? 'yes' : 'NO'} (${ledger.current}); load average ${loadAverage()}`);
	if (ledger.current !== ledger.candidate) throw new Error(`the candidate wrote other ledger rows: ${ledger.candidate}`);
}

async function main() {
	const messages = argument('messages', 20_000);
	const owners = argument('owners', 10);
	const workers = argument('workers', 4);
	const batch = argument('batch', 100);
	const rounds = argument('rounds', 3);
	const perOwner = Math.ceil(messages / owners);
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const compareIndex = process.argv.indexOf('--compare');
		if (compareIndex >= 0) {
			await compare(db, readFileSync(process.argv[compareIndex + 1], 'utf8'), messages, owners, batch, rounds);
			return;
		}
		console.log(`${workers} workers, batches of ${batch}, ${owners * perOwner} messages of ${owners} owners per round; ${rounds} rounds over the Data API, ${rounds} over direct connections, a warm-up first`);
		const rest: Array<{ perSecond: number; ms: number }> = [];
		const sql: Array<{ perSecond: number; ms: number }> = [];
		for (let r = 0; r <= rounds; r++) {
			for (const [kind, make, into] of [
				['Data API', restWorker(stack, batch), rest],
				['direct', sqlWorker(stack, batch), sql],
			] as const) {
				const round0 = r === 0;
				const ids = await seed(db, round0 ? 2 : owners, round0 ? 1000 : perOwner, `${kind}-${r}`);
				await db.query('vacuum analyze public.whatsapp_message_queue, public.leads, public.lead_processing_queue, public.queue_ledger');
				const result = await round(db, ids, workers, make);
				if (!round0) {
					into.push(result);
					console.log(`  round ${r} (${kind}): ${result.items} messages in ${result.ms.toFixed(0)} ms = ${result.perSecond.toFixed(0)} items/s`);
				}
			}
		}
		const machine = await machineLine(db);
		const restMedian = median(rest.map((r) => r.perSecond));
		console.log(`\nClaim + Complete, ${workers} workers, batches of ${batch} (median of ${rounds}):`);
		console.log(`  over the Data API (supabase.rpc, as the node calls it): ${restMedian.toFixed(0)} items/s`);
		console.log(`  direct connections (the database's time, no HTTP): ${median(sql.map((r) => r.perSecond)).toFixed(0)} items/s`);
		console.log(`  every message: one claimed and one sent ledger row, its backlog item and lead one row each; none claimed twice`);
		console.log(`  target ≥ 5,000 items/s over the Data API: ${restMedian >= 5000 ? 'met' : 'NOT met'} on this machine`);
		console.log(machine);

		// --profile: where one worker's claim and report of a batch spend the database's time.
		if (process.argv.includes('--profile')) {
			const [owner] = await seed(db, 1, batch * (PROFILE_RUNS + 5), 'profile');
			await db.query('vacuum analyze public.whatsapp_message_queue, public.leads, public.lead_processing_queue, public.queue_ledger');
			const claimAndReport = async () => {
				const { rows } = await db.query<Claimed>('select item_id, attempt from public.queue_claim($1, $2, 300, $3)', ['bench-profile', batch, CLAIM_AT]);
				const results = rows.map((item) => ({ item_id: item.item_id, outcome: 'sent', message_id: `wamid.${item.item_id}` }));
				await db.query('select count(*) from public.queue_complete($1, $2, $3)', ['bench-profile', JSON.stringify(results), CLAIM_AT]);
			};
			for (let warm = 0; warm < 5; warm++) await claimAndReport();
			const statements = await statementMedians(db, PROFILE_RUNS, claimAndReport, { minMs: 0 });
			console.log(
				`\nStatements of 0.1 ms or more inside queue_claim and queue_complete of ${batch} (auto_explain, one connection, medians of ${PROFILE_RUNS}; each call last, its statements above it; its logging slows each call, so read the times as shares):\n` +
					statements.filter((statement) => statement.ms >= 0.1).map((statement) => statementLine(statement)).join('\n'),
			);
			const left = await db.query<{ n: number }>(`select count(*)::int as n from public.whatsapp_message_queue where user_id = $1 and status <> 'sent'`, [owner]);
			if (left.rows[0].n !== 0) throw new Error(`the profile left ${left.rows[0].n} messages unsent`);
		}
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
