// Benchmark: the pipeline's database calls for one batch, timed one by one in the database
// (no n8n, no HTTP): claim → mark_generating → record_generation → begin_send → record_send.
//   tsx bench/state-functions.ts [--contacts 1000] [--rounds 3]
// Each round seeds `contacts` due contacts for a new owner and rule (set-based, not timed) and
// walks them through every stage with one call per stage, as the nodes do. Prints the median
// time of each call and the total: what the workflow spends in the database per batch.
// Prints the figures; never a test, so a slow machine fails no build.
import { Client } from 'pg';
import { startStack } from '../stack';
import { argument, median } from './common';


async function timed<T>(times: Map<string, number[]>, name: string, fn: () => Promise<T>): Promise<T> {
	const started = performance.now();
	const result = await fn();
	const list = times.get(name) ?? [];
	list.push(performance.now() - started);
	times.set(name, list);
	return result;
}

async function main() {
	const contacts = argument('contacts', 1000);
	const rounds = argument('rounds', 3);
	const stack = await startStack({ fast: true });
	process.env.LEADFLOW_TEST_STACK = JSON.stringify(stack);
	const { dueContacts } = await import('../test/workflows/support/seeds');
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	const times = new Map<string, number[]>();
	try {
		for (let round = 0; round <= rounds; round += 1) {
			// Round 0 warms the plans and caches and is not counted.
			const seed = await dueContacts(contacts, contacts, `bench-state-${round}`);
			const execution = `bench-state-${round}`;
			const target = round === 0 ? new Map<string, number[]>() : times;
			const claimed = await timed(target, 'automation_claim', () =>
				db.query<{ state_id: string }>('select state_id from public.automation_claim($1, $2, $3)', [seed.ruleId, contacts, execution]),
			);
			const ids = claimed.rows.map((row) => row.state_id);
			if (ids.length !== contacts) throw new Error(`claimed ${ids.length} of ${contacts}`);
			await timed(target, 'automation_mark_generating', () =>
				db.query('select * from public.automation_mark_generating($1, $2)', [execution, ids]),
			);
			const generated = ids.map((id) => ({ state_id: id, message: 'Hi, any questions about the offer?', generation_ms: 5, model: 'gemini-3-flash', usage: { totalTokenCount: 42 } }));
			await timed(target, 'automation_record_generation', () =>
				db.query('select * from public.automation_record_generation($1, $2)', [execution, JSON.stringify(generated)]),
			);
			const begun = await timed(target, 'automation_begin_send', () =>
				db.query<{ outcome: string }>('select * from public.automation_begin_send($1, $2)', [execution, ids]),
			);
			if (begun.rows.some((row) => row.outcome !== 'send')) throw new Error('begin_send did not clear every contact to send');
			const sent = ids.map((id, index) => ({ state_id: id, outcome: 'sent', facebook_message_id: `m_${execution}_${index}` }));
			await timed(target, 'automation_record_send', () =>
				db.query('select * from public.automation_record_send($1, $2)', [execution, JSON.stringify(sent)]),
			);
		}
		let total = 0;
		console.log(`${contacts} contacts per batch, median of ${rounds} rounds:`);
		for (const [name, values] of times) {
			total += median(values);
			console.log(`  ${name.padEnd(30)} ${median(values).toFixed(1).padStart(8)} ms`);
		}
		console.log(`  ${'total'.padEnd(30)} ${total.toFixed(1).padStart(8)} ms`);
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
