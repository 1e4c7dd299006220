// The export's CSV, written by csv-stringify page by page as the rows arrive: UTF-8 (with a byte
// order mark by default, so spreadsheets read accents right), a header row always (a file with
// headers only when there are no rows), RFC 4180 quoting, and every cell a spreadsheet would run as
// a formula neutralised by the library's escape_formulas (a leading = + - @ tab or carriage return,
// and their fullwidth forms, get a ' in front; numbers stay numbers). A spreadsheet that splits on
// another separator than the comma (Excel where the list separator is ';', as in Germany, France or
// the Netherlands; tab) starts a cell inside our field, where escape_formulas does not look, so the
// same characters (and a quote, which would open a quoted cell there) after a ';', a tab or a line
// break inside a text field get a ' in front too (innerFormulasNeutralised). Each page becomes one chunk of
// the stream (the library's synchronous API per page: a stream of single rows costs ten times as
// much), and pages are pulled only as the reader takes bytes, so however many rows the queue holds,
// a few pages at most are in memory (the one being written, the next, and one asked for ahead).
import type { Readable } from 'node:stream';
import type { ExportRow } from '../../shared/contract';

/**
 * The file's columns, in order: the queue item, then its lead. The times (scheduled_for, created_at,
 * updated_at) are written as queue_export gives them: ISO 8601 in the owner's time zone with that
 * instant's offset (2026-12-04T09:00:00+05:30), the clock of the day column.
 */
export const EXPORT_COLUMNS = [
	'item_id',
	'day',
	'status',
	'scheduled_for',
	'attempts',
	'message_id',
	'last_error',
	'lead_id',
	'lead_name',
	'phone',
	'lead_status',
	'lead_score',
	'source',
	'created_at',
	'updated_at',
] as const satisfies ReadonlyArray<keyof ExportRow>;

export interface CsvOptions {
	/** Start with a UTF-8 byte order mark (what Excel needs to read UTF-8). */
	bom: boolean;
}

export interface CsvExport {
	stream: Readable;
	/** Rows written so far (all of them once the stream has ended). */
	rows(): number;
}

/**
 * Where a reader splitting on ';' or a tab (or one that does not honour quotes around a line break)
 * would start a cell inside a field: each of those characters followed by a formula's first character
 * (escape_formulas' list: = + - @ tab carriage return, and the fullwidth = + - @) or by a quote.
 */
const INNER_CELL_START = /([;\t\r\n])(?=["=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20])/g;

/**
 * A text field with a ' put after every ';', tab or line break that a formula (or a quote) follows:
 * `Ann;=1+1;` is written `Ann;'=1+1;`, so read with ';' as the separator its cells are `…Ann`,
 * `'=1+1` and `…`, none of them a formula; read with ',' it is one readable cell. Text without such
 * a place is returned as it is.
 */
export function innerFormulasNeutralised(value: string): string {
	return value.replace(INNER_CELL_START, "$1'");
}

/** A CSV byte stream of the rows `pages` yields, page by page, pulled as the stream is read. */
export async function csvStream(pages: AsyncIterable<readonly ExportRow[]>, options: CsvOptions): Promise<CsvExport> {
	const [{ stringify }, { Readable: ReadableStream }] = await Promise.all([import('csv-stringify/sync'), import('node:stream')]);
	const columns = [...EXPORT_COLUMNS];
	let count = 0;
	async function* chunks() {
		let first = true;
		for await (const page of pages) {
			if (page.length === 0) continue;
			count += page.length;
			yield stringify(page as ExportRow[], { header: first, bom: first && options.bom, columns, escape_formulas: true, cast: { string: innerFormulasNeutralised } });
			first = false;
		}
		// No rows: the header alone, a template to fill in.
		if (first) yield stringify([], { header: true, bom: options.bom, columns });
	}
	// A page that fails to load ends the stream with that error instead of a truncated file.
	return { stream: ReadableStream.from(chunks(), { objectMode: false }), rows: () => count };
}
