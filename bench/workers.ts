// Benchmark: nothing serialises the workers: 1, 2 and 4 executions at once on the same rule's due
// contacts, each on its own connection as queue-mode workers are, making the pipeline's database
// calls batch after batch (claim 100 as the node claims, automation_claim_explained → mark_generating → record_generation → the Page's send slots
// at a rate set high → begin_send → record_send) until nothing is due.
//   tsx bench/workers.ts [--contacts 2000] [--batch 100] [--think-ms 0]
// For each run: the database time per contact (each call's time inside the database, from the
// statement's start to its last row, summed over every call of every execution, divided by the
// contacts), against one execution's; the wall-clock throughput; and every wait on a lock seen by
// sampling pg_stat_activity each 2 ms while it runs (which call waited, for what). `--think-ms`
// puts that pause between calls, as an execution spends its time with Gemini and Facebook.
// On a machine with fewer cores than executions, the database time also grows with the CPU the
// executions share: the lock samples tell that apart from waiting on each other, and so does the
// CPU time the executions' Postgres backends used per contact (from /proc, as bench/backend-cpu.ts
// reads it), which does not grow with waiting for a core.
// Prints the figures; never a test, so a slow machine fails no build.
import { Client } from 'pg';
import { startStack } from '../stack';
import { backendCpuMs, backendPid } from './backend-cpu';
import { argument } from './common';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Timed<Row> {
	rows: Row[];
	ms: number;
}

/** Runs `select … from fn(…)` and also answers how long the statement ran inside the database. */
async function call<Row>(db: Client, fn: string, args: unknown[], columns = '*'): Promise<Timed<Row>> {
	const placeholders = args.map((_, index) => `$${index + 1}`).join(', ');
	const { rows } = await db.query<{ result: Row[] | null; ms: number }>(
		`select (select coalesce(jsonb_agg(to_jsonb(r)), '[]') from (select ${columns} from public.${fn}(${placeholders})) r) as result,
		        extract(epoch from clock_timestamp() - statement_timestamp())::float8 * 1000 as ms`,
		args,
	);
	return { rows: rows[0].result ?? [], ms: rows[0].ms };
}

interface Execution {
	contacts: number;
	dbMs: number;
	byCall: Map<string, number>;
}

async function execution(db: Client, name: string, ruleId: string, page: string, batch: number, thinkMs: number): Promise<Execution> {
	const result: Execution = { contacts: 0, dbMs: 0, byCall: new Map() };
	const add = (fn: string, ms: number) => {
		result.dbMs += ms;
		result.byCall.set(fn, (result.byCall.get(fn) ?? 0) + ms);
	};
	for (let round = 0; ; round++) {
		const holder = `${name}-${round}`;
		// As Tag Eligibility's Claim calls it: automation_claim_explained, its contacts' state ids.
		const claimed = await call<{ state_id: string }>(db, 'automation_claim_explained', [ruleId, batch, holder], `json_array_elements(automation_claim_explained -> 'contacts') ->> 'state_id' as state_id`);
		add('claim', claimed.ms);
		const ids = claimed.rows.map((row) => row.state_id);
		if (ids.length === 0) return result;
		await sleep(thinkMs);
		add('mark_generating', (await call(db, 'automation_mark_generating', [holder, ids])).ms);
		const generated = ids.map((id) => ({ state_id: id, message: 'Hi, any questions about the offer?', generation_ms: 5, model: 'gemini-3-flash' }));
		await sleep(thinkMs);
		add('record_generation', (await call(db, 'automation_record_generation', [holder, JSON.stringify(generated)])).ms);
		add('begin_send', (await call(db, 'automation_begin_send', [holder, ids])).ms);
		// The Page's slots at a rate set high (10,000/s: 250 ms holds all of them), in parts of 50 as the node takes them.
		for (let from = 0; from < ids.length; from += 50) {
			add('take_send_slots', (await call(db, 'limit_take_send_slots', [page, Math.min(50, ids.length - from), 10_000])).ms);
		}
		await sleep(thinkMs);
		const sent = ids.map((id, index) => ({ state_id: id, outcome: 'sent', facebook_message_id: `m_${holder}_${index}` }));
		add('record_send', (await call(db, 'automation_record_send', [holder, JSON.stringify(sent)])).ms);
		result.contacts += ids.length;
	}
}

async function main() {
	const contacts = argument('contacts', 2000);
	const batch = argument('batch', 100);
	const thinkMs = argument('think-ms', 0);
	const stack = await startStack({ fast: true });
	process.env.LEADFLOW_TEST_STACK = JSON.stringify(stack);
	const { dueContacts } = await import('../test/workflows/support/seeds');
	const connect = async (name: string) => {
		const db = new Client({ connectionString: stack.dbUrl, application_name: name });
		await db.connect();
		return db;
	};
	const monitor = await connect('bench-monitor');
	const pool = await Promise.all(Array.from({ length: 4 }, (_, index) => connect(`bench-worker-${index + 1}`)));
	const pids = await Promise.all(pool.map((db) => backendPid(db)));
	const cpuOf = (workers: number) => pids.slice(0, workers).reduce((sum, pid) => sum + backendCpuMs(pid), 0);
	console.log(`${contacts} due contacts of one rule per run, claims of ${batch}, ${thinkMs} ms between calls`);
	try {
		// A warm-up run, not counted: plans and caches.
		const warm = await dueContacts(300, 100_000, 'bench-workers-warm');
		await execution(pool[0], 'warm', warm.ruleId, warm.owner.pageId, batch, 0);

		let single = 0;
		let singleCpu = 0;
		for (const workers of [1, 2, 4]) {
			const seed = await dueContacts(contacts, 100_000, `bench-workers-${workers}`);
			const waits: Array<{ worker: string; event: string; query: string }> = [];
			let samples = 0;
			let sampling = true;
			const sampler = (async () => {
				while (sampling) {
					const { rows } = await monitor.query<{ application_name: string; wait_event_type: string | null; wait_event: string | null; query: string }>(
						`select application_name, wait_event_type, wait_event, query from pg_stat_activity where application_name like 'bench-worker-%' and state = 'active'`,
					);
					samples += rows.length;
					for (const row of rows) {
						if (row.wait_event_type === 'Lock') waits.push({ worker: row.application_name, event: `${row.wait_event_type}/${row.wait_event}`, query: (/public\.(\w+)\(/.exec(row.query) ?? [])[1] ?? row.query.slice(0, 40) });
					}
					await sleep(2);
				}
			})();
			const cpuBefore = cpuOf(workers);
			const started = performance.now();
			const runs = await Promise.all(pool.slice(0, workers).map((db, index) => execution(db, `run${workers}-w${index + 1}`, seed.ruleId, seed.owner.pageId, batch, thinkMs)));
			const wall = (performance.now() - started) / 1000;
			const cpu = cpuOf(workers) - cpuBefore;
			sampling = false;
			await sampler;

			const done = runs.reduce((sum, run) => sum + run.contacts, 0);
			const dbMs = runs.reduce((sum, run) => sum + run.dbMs, 0);
			const perContact = dbMs / done;
			const cpuPerContact = cpu / done;
			if (workers === 1) {
				single = perContact;
				singleCpu = cpuPerContact;
			}
			const byCall = new Map<string, number>();
			for (const run of runs) for (const [fn, ms] of run.byCall) byCall.set(fn, (byCall.get(fn) ?? 0) + ms);
			console.log(
				`${workers} at once: ${done} contacts (${runs.map((run) => run.contacts).join(' + ')}) in ${wall.toFixed(2)} s = ${(done / wall).toFixed(0)} contacts/s; ` +
					`database ${perContact.toFixed(3)} ms per contact (${(perContact / single).toFixed(2)}× one execution's); ` +
					`its backends' CPU ${cpuPerContact.toFixed(3)} ms per contact (${(cpuPerContact / singleCpu).toFixed(2)}×)`,
			);
			console.log(`  per contact: ${[...byCall].map(([fn, ms]) => `${fn} ${(ms / done).toFixed(3)}`).join(', ')} ms`);
			const byQuery = new Map<string, number>();
			for (const wait of waits) byQuery.set(`${wait.query} (${wait.event})`, (byQuery.get(`${wait.query} (${wait.event})`) ?? 0) + 1);
			console.log(
				`  lock waits seen: ${waits.length} of ${samples} samples of an active worker connection` + (waits.length > 0 ? `: ${[...byQuery].map(([what, count]) => `${what} × ${count}`).join(', ')}` : ''),
			);
		}
	} finally {
		await Promise.all([...pool, monitor].map((db) => db.end()));
		await stack.stop();
	}
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
