// The export's CSV read as a spreadsheet reads it where the list separator is not the comma (Excel in
// Germany, France, the Netherlands… splits on ';'; a tab-separated import splits on tabs): a cell
// then starts inside one of our fields, after its ';' or tab (or after a line break, for a reader that
// does not honour our quotes), where csv-stringify's escape_formulas, which looks at a field's first
// character only, never looked. Real leads and a real failed send on the local stack, exported by the
// node, the file parsed with ',', with ';' and with a tab: no cell starts a formula, and the comma
// reader reads each field with only a ' added before what would have been a formula.
import { Container } from '@n8n/di';
import { parse } from 'csv-parse/sync';
import { BinaryDataService } from 'n8n-core';
import type { IBinaryData } from 'n8n-workflow';
import { EXPORT_COLUMNS } from '../../../nodes/QueueLedger/helpers/csv';
import { runWorkflow } from '../../harness';
import { withDb } from '../../helpers/stack';
import { addLeads, messagesOf, prepareDue, queueOwner, supabaseCredentials, ukMobile } from './support/queue';
import { exportParameters } from './support/export';

/** A formula's first characters, as escape_formulas lists them, the fullwidth forms included. */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

const NAMES = ['Ann;=1+1;', "Bob;=cmd|' /C calc'!A0;", 'Cy;+1;-2;@SUM(1);', 'Di;\uFF1D1;\uFF0B1;\uFF0D1;\uFF201', 'Ed;"=1+1"', '=Plain'];
/** Meta's words of a failed send, in the last_error column: line breaks and tabs inside. */
const ERROR_MESSAGE = 'Bad;=1+1\n@SUM(1)\t-2\r\n+3';

async function exportedText(owner: string, day: string): Promise<string> {
	const result = await runWorkflow(
		{
			name: 'Export fixture',
			nodes: [
				{ id: 'e1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'e2', name: 'Export', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: exportParameters(owner, day, day, { options: { bom: false } }), credentials: { leadflowSupabaseApi: { id: 's', name: 'S' } } },
			],
			connections: { Start: { main: [[{ node: 'Export', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as never,
		{ credentials: supabaseCredentials() },
	);
	expect(result.error).toBeUndefined();
	const binary = result.run!.data.resultData.runData.Export[0].data!.main[0]![0].binary!.data as IBinaryData;
	const buffer = binary.id ? await Container.get(BinaryDataService).getAsBuffer(binary) : Buffer.from(binary.data, 'base64');
	return buffer.toString('utf8').replace(/^\uFEFF/, '');
}

test('read with ",", ";" or a tab as the separator, no cell of the export starts a formula', async () => {
	const owner = await queueOwner({ max_attempts: 3 });
	const added = await addLeads(NAMES.map((name) => ({ user_id: owner, name, phone: ukMobile(), source: 'web;=src' })) as never);
	expect(added).toHaveLength(NAMES.length);
	await prepareDue(owner);
	const messages = await messagesOf(owner);
	const { day } = messages[0];
	// One send failed (retried later) with Meta's words in last_error.
	await withDb(async (db) => {
		const at = new Date(Date.parse(`${day}T23:00:00Z`)).toISOString();
		await db.query(`select * from public.queue_claim('run-sep', 1, 300, $1, $2)`, [at, owner]);
		const claimed = (await db.query<{ id: string }>(`select id from public.whatsapp_message_queue where user_id = $1 and status = 'claimed'`, [owner])).rows;
		expect(claimed).toHaveLength(1);
		const report = [{ item_id: claimed[0].id, outcome: 'failed', error: { code: '131000', message: ERROR_MESSAGE } }];
		const complete = await db.query(`select * from public.queue_complete('run-sep', $1::jsonb, $2)`, [JSON.stringify(report), at]);
		expect(complete.rows[0]).toMatchObject({ accepted: true, status: 'failed' });
	});

	const text = await exportedText(owner, day);

	// The readers that split elsewhere: ';' and a tab, honouring quotes where a cell starts with one
	// (as Excel does) and not at all. Every cell, none a formula.
	const readings = [
		parse(text, { delimiter: ';', relax_quotes: true, relax_column_count: true }),
		parse(text, { delimiter: ';', quote: false, relax_column_count: true }),
		parse(text, { delimiter: '\t', relax_quotes: true, relax_column_count: true }),
		parse(text, { delimiter: '\t', quote: false, relax_column_count: true }),
	] as string[][][];
	for (const cells of readings) {
		expect(cells.length).toBeGreaterThan(NAMES.length);
		expect(cells.flat().filter((cell) => FORMULA_START.test(cell))).toEqual([]);
	}
	// What the ';' reader saw before: the formula in a cell of its own.
	expect(readings[0].flat()).toContain("'=1+1");

	// The comma reader: one record per message, each field as written with a ' before each formula.
	const [header, ...rows] = parse(text) as string[][];
	expect(header).toEqual([...EXPORT_COLUMNS]);
	const column = (name: (typeof EXPORT_COLUMNS)[number]) => rows.map((row) => row[EXPORT_COLUMNS.indexOf(name)]);
	expect(column('lead_name').sort()).toEqual(
		["'=Plain", 'Ann;\'=1+1;', "Bob;'=cmd|' /C calc'!A0;", "Cy;'+1;'-2;'@SUM(1);", "Di;'\uFF1D1;'\uFF0B1;'\uFF0D1;'\uFF201", 'Ed;\'"=1+1"'].sort(),
	);
	expect(new Set(column('source'))).toEqual(new Set(["web;'=src"]));
	expect(column('last_error').filter(Boolean)).toEqual(["131000: Bad;'=1+1\n'@SUM(1)\t'-2\r\n'+3"]);
});
