// Benchmark: what the limits shared through the database cost: a batch of 50 send slots of a Page
// (limit_take_send_slots, target ≤ 1 ms), a Page's pause, 32 turns of a credential's Gemini keys
// and a key's rest (docs/scaling.md).
//   tsx bench/limits.ts [--calls 2000]
// Each is timed three ways: inside the database (one statement calling the function `calls` times,
// each at its own p_now so every call finds slots free: the function's own cost), as one call over
// a Postgres connection (the round trip included), and as the nodes make it, `supabase.rpc` through
// the Data API. Also with 4 connections taking slots of the same Page at once, to show the Page's
// row lock is held for the statement only: the per-call time barely moves.
// Prints the figures; never a test, so a slow machine fails no build.
import { createHash, randomInt } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startStack } from '../stack';
import { argument, median } from './common';

const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)];
const ms = (value: number) => `${value.toFixed(3)} ms`;
const newPage = () => String(900_000_000_000 + randomInt(1e9));
const keyId = (text: string) => createHash('sha256').update(`leadflow:gemini-key:${text}`).digest('hex');

async function main() {
	const calls = argument('calls', 2000);
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	const rpc = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false, autoRefreshToken: false } });
	try {
		// Inside the database: `calls` calls in one statement, each 200 ms after the last (50 slots at
		// 300/s span 175 ms, so each call finds its 50 free), timed by the database's own clock.
		// Run twice (the first warms the plans), each time with fresh arguments: a Page or key of its own.
		const inside = async (label: string, sql: string, args: () => unknown[]) => {
			await db.query(sql, args());
			const { rows } = await db.query<{ ms: number; n: number }>(sql, args());
			if (rows.length === 0) throw new Error(`${label}: not every call got what it asked for`);
			console.log(`  ${label.padEnd(44)} ${ms(rows[0].ms / rows[0].n)} per call inside the database (${rows[0].n} calls)`);
		};
		console.log('Inside the database:');
		await inside(
			'limit_take_send_slots, 50 slots at 300/s',
			`with t as (select clock_timestamp() as t0),
			      c as (select count(*) as n, sum(cardinality(s.starts_in_ms)) as slots
			              from generate_series(1, $2::int) i,
			                   lateral public.limit_take_send_slots($1, 50, 300, 'https://graph.facebook.com', now() + make_interval(secs => i * 0.2)) s)
			 select (extract(epoch from clock_timestamp() - t.t0) * 1000)::float8 as ms, c.n::int as n from t, c
			  where c.slots = c.n * 50`,
			() => [newPage(), calls],
		);
		await inside(
			'limit_pause_sends',
			`with t as (select clock_timestamp() as t0),
			      c as (select count(*) as n from generate_series(1, $2::int) i, lateral public.limit_pause_sends($1, 1000, 'Graph 613: bench', 'https://graph.facebook.com', now() + make_interval(secs => i)) s)
			 select (extract(epoch from clock_timestamp() - t.t0) * 1000)::float8 as ms, c.n::int as n from t, c`,
			() => [newPage(), calls],
		);
		const keys = Array.from({ length: 5 }, (_, index) => keyId(`bench-${index}-${randomInt(1e9)}`));
		await inside(
			'limit_take_gemini_keys, 32 turns of 5 keys',
			`with t as (select clock_timestamp() as t0),
			      c as (select count(*) as n from generate_series(1, $2::int) i, lateral public.limit_take_gemini_keys($1::text[], 32, now() + i * interval '0') s)
			 select (extract(epoch from clock_timestamp() - t.t0) * 1000)::float8 as ms, c.n::int as n from t, c`,
			() => [Array.from({ length: 5 }, (_, index) => keyId(`bench-${index}-${randomInt(1e9)}`)), calls],
		);
		await inside(
			'limit_rest_gemini_key',
			`with t as (select clock_timestamp() as t0),
			      c as (select count(*) as n from generate_series(1, $2::int) i, lateral public.limit_rest_gemini_key($1, 60000, 'throttled', now() + make_interval(secs => i)) s)
			 select (extract(epoch from clock_timestamp() - t.t0) * 1000)::float8 as ms, c.n::int as n from t, c`,
			() => [keyId(`bench-rest-${randomInt(1e9)}`), calls],
		);

		// One call per round trip, over a Postgres connection and over the Data API.
		const roundTrips = async (label: string, run: (i: number) => Promise<unknown>) => {
			for (let i = 0; i < 50; i++) await run(i);
			const times: number[] = [];
			for (let i = 0; i < Math.min(calls, 1000); i++) {
				const started = performance.now();
				await run(i);
				times.push(performance.now() - started);
			}
			console.log(`  ${label.padEnd(44)} median ${ms(median(times))}, p95 ${ms(p95(times))}`);
		};
		console.log('One call per round trip:');
		const base = Date.now();
		const at = (i: number) => new Date(base + i * 200).toISOString();
		const pgPage = newPage();
		await roundTrips('Postgres: 50 slots', (i) => db.query(`select * from public.limit_take_send_slots($1, 50, 300, 'https://graph.facebook.com', $2)`, [pgPage, at(i + 100)]));
		const rpcPage = newPage();
		await roundTrips('supabase.rpc: 50 slots', async (i) => {
			const { error } = await rpc.rpc('limit_take_send_slots', { p_page_id: rpcPage, p_count: 50, p_per_second: 300, p_now: at(i + 100) });
			if (error) throw new Error(error.message);
		});
		await roundTrips('supabase.rpc: 32 Gemini turns', async () => {
			const { error } = await rpc.rpc('limit_take_gemini_keys', { p_key_ids: keys, p_count: 32 });
			if (error) throw new Error(error.message);
		});

		// Four connections taking slots of one Page at once, 1,000 calls each, against one connection
		// alone: the Page's row is locked for one statement, so the time per call barely moves (on a
		// machine with as many cores as connections; with fewer, they also share the CPU).
		console.log('Connections at once on one Page (50 slots at 10,000/s, the database\'s clock):');
		const alone = newPage();
		const aloneTimes: number[] = [];
		for (let i = 0; i < 1000; i++) {
			const t0 = performance.now();
			await db.query(`select * from public.limit_take_send_slots($1, 50, 10000)`, [alone]);
			aloneTimes.push(performance.now() - t0);
		}
		console.log(`  1 × 1,000 calls: median ${ms(median(aloneTimes))}, p95 ${ms(p95(aloneTimes))} per call`);
		const shared = newPage();
		const clients = await Promise.all(
			Array.from({ length: 4 }, async () => {
				const client = new Client({ connectionString: stack.dbUrl });
				await client.connect();
				return client;
			}),
		);
		const perCall: number[] = [];
		const started = performance.now();
		await Promise.all(
			clients.map(async (client) => {
				for (let i = 0; i < 1000; i++) {
					const t0 = performance.now();
					await client.query(`select * from public.limit_take_send_slots($1, 50, 10000)`, [shared]);
					perCall.push(performance.now() - t0);
				}
			}),
		);
		const wall = performance.now() - started;
		const { rows } = await db.query<{ slots_taken: string }>(`select slots_taken from leadflow_private.limit_send_rates where page_id = $1`, [shared]);
		console.log(`  4 × 1,000 calls: median ${ms(median(perCall))}, p95 ${ms(p95(perCall))} per call, ${(4000 / (wall / 1000)).toFixed(0)} calls/s; ${rows[0]?.slots_taken} slots taken`);
		await Promise.all(clients.map((client) => client.end()));
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
