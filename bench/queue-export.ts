// Benchmark: Queue Ledger's Export of 100,000 messages to CSV, streamed page by page into n8n's filesystem binary data, time and memory (target ≤ 3 s, memory flat).
//   npm run bench -- queue-export [--rows 100000] [--rounds 3]
// One owner's day of N messages (leads and their queue items, set-based, not timed), then per round
// the node's Export in a one-node workflow through n8n's engine in-process, against a local stack:
//   1. n8n's filesystem binary data mode (its default): queue_export's keyset pages of 1,000 written
//      through csv-stringify to a file as they come;
//   2. n8n's memory mode (N8N_DEFAULT_BINARY_DATA_MODE=default, one child process): the same stream,
//      which n8n itself then buffers whole into the item (base64), for comparison.
// Memory is sampled every 10 ms during the run (heap and RSS above the idle process); "flat" means
// the peak does not grow with the file: a second owner's day of a tenth of the rows is exported the
// same way in filesystem mode, and the two peaks are printed side by side. (The peak of the heap in
// use counts garbage not yet collected, so it is compared between sizes, not with the file.)
// Prints the medians, the file sizes, and the database calls.
// Never a test: a slow machine fails no build.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startStack, type StackInfo } from '../stack';
import { argument, median } from './common';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** One owner with `rows` messages queued for one day (two days ago), through queue_prepare. */
async function seed(stack: StackInfo, rows: number): Promise<{ owner: string; day: string }> {
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const { rows: users } = await db.query<{ id: string }>(`insert into auth.users (email) values ('bench-export-' || gen_random_uuid() || '@leadflow.test') returning id`);
		const owner = users[0].id;
		await db.query(
			`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, message)
			 values ($1, $2, '00:00', '24:00', 'UTC', '{1,2,3,4,5,6,7}', '{"type": "text", "text": "Hi {{name}}, thanks for your interest!"}')`,
			[owner, rows],
		);
		await db.query(
			`insert into public.leads (user_id, name, phone, source, lead_score)
			 select $1, 'Lead ' || n, '+4478' || lpad(n::text, 8, '0'), case when n % 10 = 0 then '=import' else 'web' end, n % 101
			   from generate_series(1, $2) n`,
			[owner, rows],
		);
		await db.query('begin');
		await db.query(`select set_config('leadflow.now', $1, true)`, [new Date(Date.now() - 2 * 86_400_000).toISOString()]);
		const { rows: prepared } = await db.query<{ day: string; queued: number }>('select day::text, queued from public.queue_prepare($1)', [owner]);
		await db.query('commit');
		if (prepared[0].queued !== rows) throw new Error(`prepared ${prepared[0].queued} messages, not ${rows}`);
		return { owner, day: prepared[0].day };
	} finally {
		await db.end();
	}
}

interface Measure {
	ms: number;
	rows: number;
	bytes: number;
	peakHeap: number;
	peakRss: number;
	mode: string;
}

/** One Export run in this process: time, rows, file size, memory peaks above the idle process. */
async function exportOnce(stack: StackInfo, owner: string, day: string): Promise<Measure> {
	const { runWorkflow } = await import('../test/harness');
	const { Container } = await import('@n8n/di');
	const { BinaryDataService } = await import('n8n-core');
	global.gc?.();
	const base = process.memoryUsage();
	let peakHeap = 0;
	let peakRss = 0;
	const sampler = setInterval(() => {
		const now = process.memoryUsage();
		peakHeap = Math.max(peakHeap, now.heapUsed - base.heapUsed);
		peakRss = Math.max(peakRss, now.rss - base.rss);
	}, 10);
	const started = performance.now();
	const result = await runWorkflow(
		{
			name: 'Export bench',
			nodes: [
				{ id: 'b1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: 'b2',
					name: 'Export',
					type: 'n8n-nodes-leadflow.queueLedger',
					typeVersion: 1,
					position: [200, 0],
					parameters: { resource: 'report', operation: 'export', ownerUserId: owner, fromDay: day, toDay: day },
					credentials: { leadflowSupabaseApi: { id: 's', name: 'S' } },
				},
			],
			connections: { Start: { main: [[{ node: 'Export', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as never,
		{ credentials: { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } } },
	);
	const ms = performance.now() - started;
	clearInterval(sampler);
	if (result.error) throw new Error(`Export failed: ${result.error.message}`);
	const item = result.run!.data.resultData.runData.Export[0].data!.main[0]![0];
	const binary = item.binary!.data;
	const bytes = binary.id ? (await Container.get(BinaryDataService).getAsBuffer(binary)).length : Buffer.from(binary.data, 'base64').length;
	return { ms, rows: Number(item.json.rows), bytes, peakHeap, peakRss, mode: binary.id ? 'filesystem' : 'memory' };
}

/** Child process entry: `--child <mode>` runs the rounds in one binary data mode and prints JSON. */
async function child(mode: string, stack: StackInfo, owner: string, day: string, rounds: number) {
	const { Container } = await import('@n8n/di');
	const { BinaryDataService } = await import('n8n-core');
	const storage = mkdtempSync(path.join(tmpdir(), 'leadflow-bench-binary-'));
	try {
		if (mode === 'filesystem') {
			process.env.N8N_BINARY_DATA_STORAGE_PATH = storage;
			await Container.get(BinaryDataService).init();
		}
		await exportOnce(stack, owner, day); // warm-up: module loading and the first connections
		const measures: Measure[] = [];
		for (let round = 0; round < rounds; round++) measures.push(await exportOnce(stack, owner, day));
		process.stdout.write(`${JSON.stringify(measures)}\n`);
	} finally {
		rmSync(storage, { recursive: true, force: true });
	}
}

/** The rounds in a child process (one binary data mode per process). Not spawnSync: the stack's gateway runs in this process. */
function runChild(mode: string, stack: StackInfo, owner: string, day: string, rounds: number): Promise<Measure[]> {
	return new Promise((resolve, reject) => {
		const args = [...process.execArgv, '--expose-gc', __filename, '--child', mode, '--stack', JSON.stringify(stack), '--owner', owner, '--day', day, '--rounds', String(rounds)];
		const child = spawn(process.execPath, args, { env: { ...process.env, N8N_DEFAULT_BINARY_DATA_MODE: mode === 'filesystem' ? 'filesystem' : 'default' }, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
		child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
		child.on('error', reject);
		child.on('close', (code) => {
			if (code !== 0) reject(new Error(`the ${mode} run failed:\n${stderr}`));
			else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Measure[]);
		});
	});
}

async function main() {
	const childIndex = process.argv.indexOf('--child');
	if (childIndex >= 0) {
		const value = (name: string) => process.argv[process.argv.indexOf(`--${name}`) + 1];
		await child(process.argv[childIndex + 1], JSON.parse(value('stack')) as StackInfo, value('owner'), value('day'), Number(value('rounds')));
		return;
	}
	const rows = argument('rows', 100_000);
	const rounds = argument('rounds', 3);
	console.log(`Queue Ledger Export: ${rows.toLocaleString('en')} messages of one owner's day to CSV, ${rounds} rounds (after a warm-up) per binary data mode`);
	const stack = await startStack({ fast: true });
	try {
		const seedStarted = performance.now();
		const { owner, day } = await seed(stack, rows);
		const tenth = Math.ceil(rows / 10);
		const small = await seed(stack, tenth);
		console.log(
			`  seeded ${rows.toLocaleString('en')} leads and their messages for ${day}, and another owner's day of ${tenth.toLocaleString('en')}, in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s (not timed)`,
		);
		const info: StackInfo = { supabaseUrl: stack.supabaseUrl, anonKey: stack.anonKey, serviceRoleKey: stack.serviceRoleKey, jwtSecret: stack.jwtSecret, dbUrl: stack.dbUrl };
		const report = (label: string, measures: Measure[]) => {
			const [first] = measures;
			console.log(
				`  ${label.padEnd(22)} median ${median(measures.map((m) => m.ms)).toFixed(0)} ms (${measures.map((m) => m.ms.toFixed(0)).join(', ')}); ${first.rows.toLocaleString('en')} rows, ${mb(first.bytes)} of CSV, ` +
					`${Math.ceil(first.rows / 1000)} queue_export calls; peak above idle: heap ${mb(median(measures.map((m) => m.peakHeap)))}, RSS ${mb(median(measures.map((m) => m.peakRss)))}`,
			);
			return measures;
		};
		const whole = report('filesystem', await runChild('filesystem', info, owner, day, rounds));
		const part = report(`filesystem, a tenth`, await runChild('filesystem', info, small.owner, small.day, rounds));
		report('memory', await runChild('memory', info, owner, day, rounds));
		const peak = (measures: Measure[]) => median(measures.map((m) => m.peakHeap));
		console.log(
			`  10× the rows against a tenth (filesystem mode): peak heap ${mb(peak(whole))} against ${mb(peak(part))} (${(peak(whole) / peak(part)).toFixed(2)}×), ` +
				`peak RSS ${mb(median(whole.map((m) => m.peakRss)))} against ${mb(median(part.map((m) => m.peakRss)))}`,
		);
		console.log('  target: ≤ 3,000 ms in filesystem mode, and memory flat: the peaks of 10× the rows about those of a tenth, not 10×');
	} finally {
		await stack.stop();
	}
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
