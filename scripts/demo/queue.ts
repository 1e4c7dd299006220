// The lead queue part of `npm run demo`, for the demo owner, through the Queue Ledger node and the
// shipped queue workflows in n8n's engine in-process: 25 leads added from items (one duplicate, one
// refused with its problem), yesterday's queue (prepared as of two days ago, so its messages are due
// now: the demo sends at any hour), tomorrow's queue from workflows/queue-prepare.json, a person
// taking one lead over (workflows/queue-actions.json), a run of workflows/queue-run.json over the
// Graph simulator's WhatsApp Cloud API (one number not on WhatsApp, one rate-limited), the export of
// yesterday's queue as CSV and its metrics. What it reports is what the workflows answered and what
// the database holds. The editor (scripts/editor/data.ts) seeds the same leads with seedQueueDemo,
// with today's queue prepared instead, and leaves the runs to the person at the editor.
import { Client } from 'pg';
import type { IDataObject } from 'n8n-workflow';
import type { RunningSimulators } from '../../simulators';
import type { StackInfo } from '../../stack';
import { runWorkflow } from '../../test/harness';
import { WEBHOOK_KEY, type DemoDataSet } from './data-set';

const DAY_MS = 86_400_000;
const LEADS = 25;
const CAPACITY = 20;

export interface QueueDemo {
	added: Record<string, number>;
	refused: string[];
	yesterday: { day: string; queued: number; skipped: Record<string, number> };
	tomorrow: { day: string; queued: number; skipped: Record<string, number> };
	takenOver: { name: string; cancelled: number };
	run: IDataObject;
	statuses: Record<string, number>;
	csv: { rows: number; header: string; firstRow: string };
	metrics: IDataObject;
	seconds: number;
}

const counted = (values: string[]) => values.reduce<Record<string, number>>((counts, value) => ({ ...counts, [value]: (counts[value] ?? 0) + 1 }), {});
const list = (counts: Record<string, number>) =>
	Object.entries(counts)
		.filter(([, count]) => count > 0)
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([what, count]) => `${what} ${count}`)
		.join(', ') || 'none';

/** The leads as a form or a spreadsheet would hand them over: one duplicate number, one that is not a number. */
function leadItems(): IDataObject[] {
	const items: IDataObject[] = Array.from({ length: LEADS - 2 }, (_, index) => ({ name: `Lead ${index + 1}`, phone: `07853 72${String(4000 + index).padStart(4, '0')}`, lead_score: (index * 37) % 100 }));
	items.push({ name: 'Lead 1 (again)', phone: '+44 7853 724000' });
	items.push({ name: 'Wrong number', phone: '0123' });
	return items;
}

function addLeadsWorkflow(owner: string) {
	return {
		name: 'Demo: add leads',
		nodes: [
			{ id: 'd1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'd2', name: 'Leads', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [200, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify({ leads: leadItems() }), options: {} } },
			{ id: 'd3', name: 'One Per Lead', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: [400, 0], parameters: { fieldToSplitOut: 'leads', options: {} } },
			{
				id: 'd4',
				name: 'Add Leads',
				type: 'n8n-nodes-leadflow.queueLedger',
				typeVersion: 1,
				position: [600, 0],
				parameters: { resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, defaultCountry: 'GB', leadSource: 'demo-form' },
				credentials: { leadflowSupabaseApi: { id: 'LfSupabaseApi001', name: 'Leadflow Supabase' } },
			},
		],
		connections: {
			Start: { main: [[{ node: 'Leads', type: 'main', index: 0 }]] },
			Leads: { main: [[{ node: 'One Per Lead', type: 'main', index: 0 }]] },
			'One Per Lead': { main: [[{ node: 'Add Leads', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

export interface QueueSeed {
	/** Add Leads' first output (one item per lead: `outcome` created / existing / …) and its Invalid output. */
	leads: IDataObject[];
	invalid: IDataObject[];
	/** The queue prepared: its day (the owner's, UTC here), how many messages, and why the others were left out. */
	prepared: { day: string; queued: number; skipped: Record<string, number> };
}

/**
 * The lead queue's data for the demo owner, as `npm run demo` and `npm run editor` start it: the
 * owner's queue settings (sending all day, every day, capacity 20), the leads added through the Queue
 * Ledger node (in-process), and one day's queue prepared: `yesterday` (as the day before
 * yesterday's run would have: every message due now, unsent) or `today` (as yesterday's run would
 * have: the messages scheduled before now are due, the rest later today).
 */
export async function seedQueueDemo(stack: StackInfo, dataSet: DemoDataSet, day: 'yesterday' | 'today'): Promise<QueueSeed> {
	const { owner, credentials } = dataSet;
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		// Sending all day, every day, so a run finds messages due whatever the hour.
		await db.query(
			`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, max_attempts, retry_backoff_seconds, message)
			 values ($1, $2, '00:00', '24:00', 'UTC', '{1,2,3,4,5,6,7}', 3, 300, $3)
			 on conflict (user_id) do nothing`,
			[owner.userId, CAPACITY, JSON.stringify({ type: 'text', text: 'Hi {{name}}, thanks for asking about the course! Shall I send you the dates?' })],
		);

		const add = await runWorkflow(addLeadsWorkflow(owner.userId) as never, { credentials });
		if (add.error) throw new Error(`Add Leads failed: ${add.error.message}`);
		const [leads = [], invalid = []] = add.nodeBranches['Add Leads'] ?? [];

		// Prepare Tomorrow as the run of one day (today) or two days (yesterday) ago made it.
		await db.query('begin');
		await db.query(`select set_config('leadflow.now', $1, true)`, [new Date(Date.now() - (day === 'yesterday' ? 2 : 1) * DAY_MS).toISOString()]);
		const { rows: [prepared] } = await db.query<QueueSeed['prepared']>('select day::text, queued, skipped from public.queue_prepare($1)', [owner.userId]);
		await db.query('commit');
		return { leads, invalid, prepared };
	} finally {
		await db.end();
	}
}

export async function runQueueDemo(stack: StackInfo, simulators: RunningSimulators, dataSet: DemoDataSet): Promise<QueueDemo> {
	const started = performance.now();
	const { owner, credentials } = dataSet;
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value, 'X-Leadflow-Owner': owner.userId };
	// Yesterday's queue: due now, unsent.
	const { leads, invalid, prepared: yesterday } = await seedQueueDemo(stack, dataSet, 'yesterday');
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const prepare = await runWorkflow('workflows/queue-prepare.json', { startNode: 'Prepare Now', webhook: { method: 'POST', headers, body: {} }, credentials });
		const [tomorrow] = (prepare.response?.body as { owners?: Array<{ day: string; queued: number; skipped: Record<string, number> }> } | undefined)?.owners ?? [];
		if (!tomorrow) throw new Error(`queue-prepare.json answered ${prepare.response?.statusCode}: ${JSON.stringify(prepare.response?.body)}`);

		const { rows: due } = await db.query<{ lead_id: string; name: string; phone: string }>(
			`select q.lead_id, l.name, l.phone from public.whatsapp_message_queue q join public.leads l on l.id = q.lead_id
			  where q.user_id = $1 and q.day = $2 order by q.scheduled_for, q.id`,
			[owner.userId, yesterday.day],
		);
		const [taken, notOnWhatsApp, rateLimited] = due;
		const take = await runWorkflow('workflows/queue-actions.json', {
			startNode: 'Take Lead Request',
			webhook: { method: 'POST', path: `leads/${taken.lead_id}/take`, headers, body: { reason: 'Called them back myself' } },
			credentials,
		});
		if (take.response?.statusCode !== 200) throw new Error(`the take-over answered ${take.response?.statusCode}: ${JSON.stringify(take.response?.body)}`);

		await simulators.graph.control.configureWhatsApp({ notOnWhatsApp: [notOnWhatsApp.phone] });
		const fault = await simulators.graph.control.addFault({ match: { recipient: rateLimited.phone }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 131056 } });
		const run = await runWorkflow('workflows/queue-run.json', { startNode: 'Run Now', webhook: { method: 'POST', headers, body: {} }, credentials });
		await simulators.graph.control.removeFault(fault.id).catch(() => undefined);
		if (run.response?.statusCode !== 200) throw new Error(`queue-run.json answered ${run.response?.statusCode}: ${JSON.stringify(run.response?.body)}`);

		const { rows: statuses } = await db.query<{ status: string }>('select status from public.whatsapp_message_queue where user_id = $1 and day = $2', [owner.userId, yesterday.day]);
		const exported = await runWorkflow('workflows/queue-actions.json', { startNode: 'Export Request', webhook: { method: 'GET', headers, query: { day: yesterday.day } }, credentials });
		const lines = Buffer.from(exported.response?.body as Buffer).toString('utf8').replace(/^\uFEFF/, '').trimEnd().split('\n');
		const metrics = await runWorkflow('workflows/queue-actions.json', { startNode: 'Metrics Request', webhook: { method: 'GET', headers, query: { day: yesterday.day } }, credentials });

		return {
			added: counted(leads.map((lead) => String(lead.outcome))),
			refused: invalid.map((item) => String(item.message)),
			yesterday,
			tomorrow,
			takenOver: { name: taken.name, cancelled: ((take.response?.body as IDataObject).cancelled as unknown[]).length },
			run: run.response?.body as IDataObject,
			statuses: counted(statuses.map((row) => row.status)),
			csv: { rows: lines.length - 1, header: lines[0], firstRow: lines[1] ?? '' },
			metrics: ((metrics.response?.body as { days: IDataObject[] }).days ?? [])[0] ?? {},
			seconds: (performance.now() - started) / 1000,
		};
	} finally {
		await db.end();
	}
}

export function printQueueDemo(demo: QueueDemo): void {
	console.log(`\nLead queue (Queue Ledger; workflows/queue-prepare.json, queue-run.json, queue-actions.json in-process; WhatsApp at the Graph simulator): ${demo.seconds.toFixed(1)} s`);
	console.log(`  leads added from ${LEADS} items: ${list(demo.added)}; refused ${demo.refused.length}: ${demo.refused.join('; ')}`);
	console.log(`  yesterday's queue (${demo.yesterday.day}, capacity ${CAPACITY}): queued ${demo.yesterday.queued}; left out: ${list(demo.yesterday.skipped)}`);
	console.log(`  tomorrow's queue (${demo.tomorrow.day}, Prepare Now): queued ${demo.tomorrow.queued}; left out: ${list(demo.tomorrow.skipped)}`);
	console.log(`  taken over by a person: ${demo.takenOver.name} (${demo.takenOver.cancelled} waiting items cancelled)`);
	const run = demo.run;
	const errors = (run.errors as Array<{ code: string; count: number }>).map((error) => `${error.code} ×${error.count}`).join(', ') || 'none';
	console.log(`  run (Run Now): claimed ${run.claimed}, sent ${run.sent}, failed ${run.failed} (due again later), dead ${run.dead}, released ${run.released}, cancelled ${run.cancelled} (taken over while being sent), refused ${run.refused}; Meta's errors: ${errors}`);
	console.log(`  yesterday's messages now: ${list(demo.statuses)}`);
	console.log(`  export (GET /webhook/leadflow/queue/export?day=${demo.yesterday.day}): ${demo.csv.rows} rows`);
	console.log(`    ${demo.csv.header}`);
	console.log(`    ${demo.csv.firstRow}`);
	const metrics = demo.metrics;
	console.log(`  metrics for ${metrics.day}: queued ${metrics.queued}, sent ${metrics.sent}, failed ${metrics.failed}, cancelled ${metrics.cancelled}, taken over ${metrics.taken_over}`);
	const leftOut = [...new Set([...Object.keys(demo.yesterday.skipped), ...Object.keys(demo.tomorrow.skipped)])].filter((reason) => LEFT_OUT[reason] && (demo.yesterday.skipped[reason] || demo.tomorrow.skipped[reason]));
	if (leftOut.length) console.log(`  left out: ${leftOut.map((reason) => `${reason}, ${LEFT_OUT[reason]}`).join('; ')}.`);
	console.log('  Meta\'s error codes and what each leads to: docs/whatsapp.md (What each error leads to).');
}

/** Why Prepare left a lead out of a day, in words (queue_prepare's reasons). */
const LEFT_OUT: Record<string, string> = {
	taken_over: 'a person controls the lead',
	not_new: 'the lead is no longer new',
	no_phone: 'the lead has no phone',
	contacted_today: 'the lead had a message sent today',
	already_queued_that_day: 'the lead has a message that day already',
	not_a_sending_day: 'that day is not one of the sending days',
	over_capacity: "eligible, but the day's capacity was used",
};
