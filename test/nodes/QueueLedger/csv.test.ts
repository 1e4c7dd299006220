// The export's CSV (nodes/QueueLedger/helpers/csv.ts), read back with a real CSV parser: the header
// row, a header-only file when there are no rows, UTF-8 with the byte order mark, every cell a
// spreadsheet would run as a formula neutralised (and only those), also where a reader splitting on
// ';' or a tab starts a cell inside a field, and the pages pulled one at a
// time as the stream is read, so memory stays at a page or two whatever the queue holds.
import { parse } from 'csv-parse/sync';
import type { Readable } from 'node:stream';
import type { ExportRow } from '../../../nodes/shared/contract';
import { csvStream, EXPORT_COLUMNS } from '../../../nodes/QueueLedger/helpers/csv';

const BOM = '\uFEFF';

function row(overrides: Partial<ExportRow> = {}, n = 1): ExportRow {
	return {
		item_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
		day: '2026-12-02',
		status: 'queued',
		scheduled_for: '2026-12-02T09:00:00+00:00',
		attempts: 0,
		message_id: null,
		last_error: null,
		lead_id: `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
		lead_name: 'Maria López',
		phone: '+447700900123',
		lead_status: 'queued',
		lead_score: 72,
		source: 'website-form',
		created_at: '2026-12-01T10:00:00+00:00',
		updated_at: '2026-12-01T10:00:00+00:00',
		...overrides,
	};
}

async function* pagesOf(...pages: ExportRow[][]) {
	for (const page of pages) yield page;
}

async function text(stream: Readable): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) chunks.push(Buffer.from(chunk));
	return Buffer.concat(chunks).toString('utf8');
}

const records = (csv: string) => parse(csv, { bom: true, relax_column_count: false }) as string[][];

test('a header row, then one record per row in column order; UTF-8 with a byte order mark', async () => {
	const { stream, rows } = await csvStream(pagesOf([row(), row({ lead_name: 'Zoë "the boss", Ltd', status: 'sent', message_id: 'wamid.ABC' }, 2)]), { bom: true });
	const csv = await text(stream);
	expect(csv.startsWith(BOM)).toBe(true);
	const [header, first, second] = records(csv);
	expect(header).toEqual([...EXPORT_COLUMNS]);
	expect(first).toEqual(['00000000-0000-4000-8000-000000000001', '2026-12-02', 'queued', '2026-12-02T09:00:00+00:00', '0', '', '', '10000000-0000-4000-8000-000000000001', 'Maria López', "'+447700900123", 'queued', '72', 'website-form', '2026-12-01T10:00:00+00:00', '2026-12-01T10:00:00+00:00']);
	expect(second[EXPORT_COLUMNS.indexOf('lead_name')]).toBe('Zoë "the boss", Ltd');
	expect(second[EXPORT_COLUMNS.indexOf('message_id')]).toBe('wamid.ABC');
	expect(rows()).toBe(2);
});

test('no rows: a template with the header row only', async () => {
	const { stream, rows } = await csvStream(pagesOf(), { bom: false });
	const csv = await text(stream);
	expect(csv).toBe(`${EXPORT_COLUMNS.join(',')}\n`);
	expect(rows()).toBe(0);
});

describe('formula cells are neutralised', () => {
	it.each([
		['=HYPERLINK("http://evil.example","Click")'],
		['+1+cmd|\' /C calc\'!A0'],
		['-2+3+cmd|\' /C calc\'!A0'],
		['@SUM(1+1)*cmd|\' /C calc\'!A0'],
		// A tab or carriage return starts a cell for some readers too: the = after it gets its own '.
		['\t=1+1', "'\t'=1+1"],
		['\r=1+1', "'\r'=1+1"],
		['＝1+1'],
	])('%j gets a leading quote, so a spreadsheet shows it as text', async (value, written = `'${value}`) => {
		const { stream } = await csvStream(pagesOf([row({ lead_name: value, last_error: value, source: value })]), { bom: false });
		const [, record] = records(await text(stream));
		for (const column of ['lead_name', 'last_error', 'source'] as const) expect(record[EXPORT_COLUMNS.indexOf(column)]).toBe(written);
	});

	it('leaves other text and numbers alone, negative numbers included', async () => {
		const { stream } = await csvStream(pagesOf([row({ lead_name: 'Ana = Bob', lead_score: 0, attempts: -1 as number, source: 'a-b' })]), { bom: false });
		const [, record] = records(await text(stream));
		expect(record[EXPORT_COLUMNS.indexOf('lead_name')]).toBe('Ana = Bob');
		expect(record[EXPORT_COLUMNS.indexOf('source')]).toBe('a-b');
		expect(record[EXPORT_COLUMNS.indexOf('lead_score')]).toBe('0');
		expect(record[EXPORT_COLUMNS.indexOf('attempts')]).toBe('-1');
	});
});

describe('a reader splitting on ";" or a tab starts no formula inside a field', () => {
	const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
	it.each([
		['Ann;=1+1;', "Ann;'=1+1;"],
		['a;+1;-1;@x', "a;'+1;'-1;'@x"],
		['a;\uFF1D1;\uFF0B1;\uFF0D1;\uFF201', "a;'\uFF1D1;'\uFF0B1;'\uFF0D1;'\uFF201"],
		['a;"=1"', 'a;\'"=1"'],
		['a\t=1', "a\t'=1"],
		['a;\t=1', "a;'\t'=1"],
		['a\n@x\r\n-1\r+1', "a\n'@x\r\n'-1\r'+1"],
		['=a;=b', "'=a;'=b"],
	])('%j is written %j', async (value, written) => {
		const { stream } = await csvStream(pagesOf([row({ lead_name: value, last_error: value })]), { bom: false });
		const csv = await text(stream);
		const [, record] = records(csv);
		expect(record[EXPORT_COLUMNS.indexOf('lead_name')]).toBe(written);
		expect(record[EXPORT_COLUMNS.indexOf('last_error')]).toBe(written);
		for (const delimiter of [';', '\t']) {
			const cells = (parse(csv, { delimiter, relax_quotes: true, relax_column_count: true }) as string[][]).flat();
			expect(cells.filter((cell) => FORMULA_START.test(cell))).toEqual([]);
		}
	});

	it('leaves a ";" or tab before anything else alone', async () => {
		const { stream } = await csvStream(pagesOf([row({ lead_name: 'Ann; Bob;Cy', source: 'a\tb; =1' })]), { bom: false });
		const [, record] = records(await text(stream));
		expect(record[EXPORT_COLUMNS.indexOf('lead_name')]).toBe('Ann; Bob;Cy');
		expect(record[EXPORT_COLUMNS.indexOf('source')]).toBe('a\tb; =1');
	});
});

test('streams: a page is fetched only when the reader has taken the page before it (at most one ahead)', async () => {
	const PAGE = 1000;
	let fetched = 0;
	async function* pages() {
		for (let page = 0; page < 5; page++) {
			fetched++;
			yield Array.from({ length: PAGE }, (_, index) => row({}, page * PAGE + index + 1));
		}
	}
	const { stream, rows } = await csvStream(pages(), { bom: false });
	// Read the first page's bytes only (about 250 bytes a row): the stream has asked for the next page
	// at most, never the other three.
	let read = 0;
	for await (const chunk of stream) {
		read += (chunk as Buffer).length;
		break;
	}
	expect(read).toBeGreaterThan(200 * PAGE);
	expect(fetched).toBeLessThanOrEqual(2);
	expect(rows()).toBeLessThanOrEqual(2 * PAGE);

	// Read to the end: every page, every row once.
	fetched = 0;
	const all = await csvStream(pages(), { bom: false });
	const parsed = records(await text(all.stream));
	expect(fetched).toBe(5);
	expect(parsed).toHaveLength(1 + 5 * PAGE);
	expect(new Set(parsed.slice(1).map((record) => record[0])).size).toBe(5 * PAGE);
	expect(all.rows()).toBe(5 * PAGE);
});

test('a page that fails ends the stream with its error instead of a short file', async () => {
	async function* failing() {
		yield [row()];
		throw new Error('queue_export failed: connection reset');
	}
	const { stream } = await csvStream(failing(), { bom: false });
	await expect(text(stream)).rejects.toThrow(/connection reset/);
});
