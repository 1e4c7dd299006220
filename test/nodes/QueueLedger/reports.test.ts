// Queue Ledger's Export and Get Metrics through n8n's engine against the local stack: the queue with
// its leads as a CSV file in the item's binary data (real rows, filtered by day and status, formula
// cells neutralised, headers only when empty); the metrics per day equal what happened; bad ranges
// are refused naming the field. (export-filesystem.test.ts: a large export streamed to a file.)
// The queue is prepared, sent and read at fixed instants and days, never the machine's clock: the
// days of a run that crossed midnight UTC were two different "todays".
import type { IDataObject } from 'n8n-workflow';
import { EXPORT_COLUMNS } from '../../../nodes/QueueLedger/helpers/csv';
import type { PrepareResult } from '../../../nodes/shared/contract';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow } from '../../harness';
import { serviceClient, testStack } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { exported, exportParameters } from './support/export';
import { addLeads, chainWorkflow, DAY_MS, messagesOf, queueOwner, runQueue, supabaseCredentials, ukMobile, whatsappCredentials } from './support/queue';

/** When the queue is sent: a Wednesday, noon UTC. The owners send all day, every day, in UTC. */
const NOW = '2026-11-25T12:00:00.000Z';
const TODAY = '2026-11-25';
/** A day nothing is queued for. */
const LATER = '2026-12-25';

let sims: RunningSimulators;
/** In front of the stack: every request of the node judged at NOW (the test stack's clock header). */
let atNow: RpcCounter;

beforeAll(async () => {
	[sims, atNow] = await Promise.all([startSimulators(), startRpcCounter(testStack().supabaseUrl, { headers: { 'X-Leadflow-Now': NOW } })]);
});

afterAll(async () => {
	await Promise.all([sims?.stop(), atNow?.stop()]);
});

/** The owner's queue prepared at `daysBefore` days before NOW: for the day after. */
async function prepareBefore(owner: string, daysBefore: number): Promise<PrepareResult> {
	const { data, error } = await serviceClient({ now: new Date(Date.parse(NOW) - daysBefore * DAY_MS) }).rpc('queue_prepare', { p_user_id: owner });
	if (error) throw new Error(`queue_prepare: ${error.message}`);
	return (data as PrepareResult[])[0];
}


describe('export and metrics of a queue over two days', () => {
	let owner: string;
	// The days before TODAY: prepared three and two days before NOW, each for its next day.
	const twoDaysBack = '2026-11-23';
	const oneDayBack = '2026-11-24';

	beforeAll(async () => {
		owner = await queueOwner({ daily_capacity: 2 });
		await addLeads([
			{ user_id: owner, name: '=HYPERLINK("http://evil.example","Click")', phone: ukMobile(), lead_score: 90, source: '@import' },
			{ user_id: owner, name: 'Zoë "the boss", Ltd', phone: ukMobile(), lead_score: 50 },
			{ user_id: owner, name: 'Tom', phone: ukMobile(), lead_score: 10 },
		]);
		// Capacity 2: the two best for the day before yesterday, the third for yesterday.
		expect((await prepareBefore(owner, 3)).day).toBe(twoDaysBack);
		expect((await prepareBefore(owner, 2)).day).toBe(oneDayBack);
		await sims.graph.control.configureWhatsApp({ notOnWhatsApp: [] });
		// Claimed, sent and completed at NOW: both days' messages are due.
		const atNowCredentials = { leadflowSupabaseApi: { url: atNow.url, serviceRoleKey: testStack().serviceRoleKey } };
		const run = await runWorkflow(chainWorkflow(owner), { credentials: { ...atNowCredentials, ...whatsappCredentials(sims.graph.baseUrl) } });
		expect(run.error).toBeUndefined();
	});

	test('the CSV holds every message with its lead, formula cells neutralised', async () => {
		const { json, binary, records } = await exported(exportParameters(owner, twoDaysBack, oneDayBack));
		expect(json).toEqual({ owner, from: twoDaysBack, to: oneDayBack, statuses: null, rows: 3, file_name: `leadflow-queue-${twoDaysBack}-${oneDayBack}.csv` });
		expect(binary).toMatchObject({ mimeType: 'text/csv', fileName: `leadflow-queue-${twoDaysBack}-${oneDayBack}.csv`, fileExtension: 'csv' });
		const [header, ...rows] = records;
		expect(header).toEqual([...EXPORT_COLUMNS]);
		const cell = (row: string[], column: (typeof EXPORT_COLUMNS)[number]) => row[EXPORT_COLUMNS.indexOf(column)];
		const byName = new Map(rows.map((row) => [cell(row, 'lead_name'), row]));
		expect([...byName.keys()].sort()).toEqual(["'=HYPERLINK(\"http://evil.example\",\"Click\")", 'Tom', 'Zoë "the boss", Ltd']);
		const evil = byName.get("'=HYPERLINK(\"http://evil.example\",\"Click\")")!;
		expect([cell(evil, 'day'), cell(evil, 'status'), cell(evil, 'lead_status'), cell(evil, 'lead_score'), cell(evil, 'source')]).toEqual([twoDaysBack, 'sent', 'contacted', '90', "'@import"]);
		expect(cell(evil, 'message_id')).toMatch(/^wamid\./);
		expect(cell(byName.get('Tom')!, 'day')).toBe(oneDayBack);
		const messages = await messagesOf(owner);
		expect(rows.map((row) => cell(row, 'item_id')).sort()).toEqual(messages.map((message) => message.id).sort());
	});

	test('filtered by day and status; an empty result is a file with the header row only', async () => {
		const oneDay = await exported(exportParameters(owner, oneDayBack, oneDayBack));
		expect(oneDay.records.slice(1).map((row) => row[EXPORT_COLUMNS.indexOf('lead_name')])).toEqual(['Tom']);
		const notSent = await exported(exportParameters(owner, twoDaysBack, oneDayBack, { statuses: ['failed', 'dead', 'queued'] }));
		expect(notSent.records).toEqual([[...EXPORT_COLUMNS]]);
		expect(notSent.json.rows).toBe(0);
		const future = await exported(exportParameters(owner, LATER, LATER));
		expect(future.records).toEqual([[...EXPORT_COLUMNS]]);
	});

	test('metrics per day equal what happened, zeros for a day without messages', async () => {
		const { result, outputs } = await runQueue([{}], { resource: 'report', operation: 'metrics', ownerUserId: owner, fromDay: twoDaysBack, toDay: TODAY });
		expect(result.error).toBeUndefined();
		expect(outputs[0].map((row) => [row.day, row.queued, row.sent, row.failed, row.cancelled, row.taken_over])).toEqual([
			[twoDaysBack, 2, 2, 0, 0, 0],
			[oneDayBack, 1, 1, 0, 0, 0],
			[TODAY, 0, 0, 0, 0, 0],
		]);
		expect(Number(outputs[0][0].mean_wait_seconds)).toBeGreaterThan(0);
	});
});

test('bad ranges and statuses are refused naming the field', async () => {
	const owner = await queueOwner();
	const refused = await runQueue(
		[
			{ from: '2026-12-05', to: '2026-12-01' },
			{ from: '2026-02-30', to: '2026-03-01' },
			{ from: '2025-01-01', to: '2026-03-01' },
		],
		{ resource: 'report', operation: 'metrics', ownerUserId: owner, fromDay: '={{ $json.from }}', toDay: '={{ $json.to }}' },
		supabaseCredentials(),
		{ continueOnFail: true },
	);
	expect(refused.outputs[0].map((one) => [(one.error as IDataObject).code, (one.error as IDataObject).message])).toEqual([
		['invalid_input', 'To Day 2026-12-01 is before From Day 2026-12-05'],
		['invalid_input', 'From Day "2026-02-30" is not a day'],
		['invalid_input', 'The range 2025-01-01 to 2026-03-01 is longer than 366 days'],
	]);
	// The metrics' From Day may be empty (the 7 days ending To Day, decided by the database); the export's may not.
	const week = await runQueue([{}], { resource: 'report', operation: 'metrics', ownerUserId: owner, fromDay: '', toDay: '2026-03-01' });
	expect(week.outputs[0].map((one) => one.day)).toEqual(['2026-02-23', '2026-02-24', '2026-02-25', '2026-02-26', '2026-02-27', '2026-02-28', '2026-03-01']);
	const noDay = await runQueue([{ from: '' }], exportParameters(owner, '={{ $json.from }}', '2026-03-01'), supabaseCredentials(), { continueOnFail: true });
	expect(noDay.outputs[0]).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'From Day is empty' }) }]);
	const status = await runQueue([{}], exportParameters(owner, '2026-12-01', '2026-12-01', { statuses: '={{ "sent,delivered" }}' }), supabaseCredentials(), { continueOnFail: true });
	expect(status.outputs[0]).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'Statuses: "delivered" is not a queue status' }) }]);
	const owned = await runQueue([{}], exportParameters('someone', '2026-12-01', '2026-12-01'), supabaseCredentials(), { continueOnFail: true });
	expect(owned.outputs[0]).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'The owner user ID "someone" is not a UUID' }) }]);
});

// File Name is a setting of the node's Options; an expression may give it something that is not text.
// Before, an object became the file name "[object Object]" (an array its items joined by commas);
// now it is refused as the node's setting (so a webhook answers it 500, "fix it in the workflow"),
// naming what it got. A number is its figures, as it was.
test('a File Name an expression gives as an object, an array or a boolean is refused as the node\'s setting, naming what it got; a number is its figures', async () => {
	const owner = await queueOwner();
	const exportNamed = (fileName: string) =>
		runQueue([{}], exportParameters(owner, '2026-12-01', '2026-12-01', { options: { fileName } }), supabaseCredentials(), { continueOnFail: true });
	for (const [fileName, got] of [['={{ { name: "queue.csv" } }}', 'an object'], ['={{ ["queue", "csv"] }}', 'an array of 2'], ['={{ true }}', 'true']]) {
		const { outputs } = await exportNamed(fileName);
		expect([fileName, outputs[0]]).toEqual([
			fileName,
			[
				{
					error: {
						code: 'invalid_input',
						message: `File Name must be text (got ${got})`,
						description: "Set File Name in the node's Options to a plain file name such as queue.csv, or leave it empty for leadflow-queue-{from}-{to}.csv.",
						setting: 'File Name',
					},
				},
			],
		]);
	}
	const { json } = await exported(exportParameters(owner, '2026-12-01', '2026-12-01', { options: { fileName: '={{ 20261201 }}' } }));
	expect(json.file_name).toBe('20261201');
});
