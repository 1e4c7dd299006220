// Helpers every benchmark uses (not one itself): its numeric command-line options, the median of
// its timings, and the machine's speed at the time of the run.
import { loadavg } from 'node:os';
import type { Client } from 'pg';

/** `--name N` from the command line, or `fallback` when it is not given. */
export function argument(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** The middle value once sorted (the upper one of the two middle values of an even count). */
export function median(values: number[]): number {
	return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

const YARDSTICK_RUNS = 3;

/**
 * The machine's yardstick: a plain UPDATE of 10,000 rows of a 100,000-row table with four indexes,
 * the median of three (each rolled back), in a transaction rolled back at the end. A benchmark's
 * figures are read against it: the same code takes twice as long on a day the yardstick does.
 */
async function yardstick(db: Client): Promise<number> {
	await db.query('begin');
	try {
		await db.query(`create table bench_yardstick (id uuid primary key default gen_random_uuid(), user_id uuid, lead_id uuid, status text, key text, at timestamptz)`);
		await db.query(`insert into bench_yardstick (user_id, lead_id, status, key, at) select gen_random_uuid(), gen_random_uuid(), 'queued', 'k' || n, now() from generate_series(1, 100000) n`);
		await db.query('create index on bench_yardstick (lead_id); create unique index on bench_yardstick (user_id, key); create index on bench_yardstick (at) where status = \'queued\'');
		const times: number[] = [];
		for (let run = 0; run < YARDSTICK_RUNS; run++) {
			await db.query('savepoint yardstick');
			const started = performance.now();
			await db.query(`update bench_yardstick set status = 'claimed', at = now() where id in (select id from bench_yardstick limit 10000)`);
			times.push(performance.now() - started);
			await db.query('rollback to savepoint yardstick');
		}
		return median(times);
	} finally {
		await db.query('rollback');
	}
}

/** The machine's load averages over 1, 5 and 15 minutes, as "1.2 / 1.1 / 1.0". */
export function loadAverage(): string {
	return loadavg().map((l) => l.toFixed(1)).join(' / ');
}

/** One line on the machine: its load and its yardstick (above), to print beside a run's figures. */
export async function machineLine(db: Client): Promise<string> {
	const yard = await yardstick(db);
	return `Machine: load average ${loadAverage()} (1/5/15 min); yardstick: a plain UPDATE of 10,000 rows with four indexes took ${yard.toFixed(0)} ms (median of ${YARDSTICK_RUNS})`;
}
