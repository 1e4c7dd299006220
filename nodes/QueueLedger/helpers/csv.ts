// The export's CSV, written by csv-stringify as the rows arrive: UTF-8 (with a byte order mark by
// default, so spreadsheets read accents right), a header row always (a file with headers only when
// there are no rows), RFC 4180 quoting, and every cell a spreadsheet would run as a formula
// neutralised by the library's escape_formulas (a leading = + - @ tab or carriage return, and their
// fullwidth forms, get a ' in front; numbers stay numbers). Pages are pulled one at a time, only
// when the reader wants more bytes, so however many rows the queue holds, about one page is in memory.
import type { Readable } from 'node:stream';
import type { ExportRow } from '../../shared/contract';

/** The file's columns, in order: the queue item, then its lead. */
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

/** A CSV byte stream of the rows `pages` yields, page by page, pulled as the stream is read. */
export async function csvStream(pages: AsyncIterable<readonly ExportRow[]>, options: CsvOptions): Promise<CsvExport> {
	const [{ stringify }, { pipeline, Readable: ReadableStream }] = await Promise.all([import('csv-stringify'), import('node:stream')]);
	let count = 0;
	async function* rows() {
		for await (const page of pages) {
			for (const row of page) {
				count++;
				yield row;
			}
		}
	}
	const stringifier = stringify({ header: true, columns: [...EXPORT_COLUMNS], escape_formulas: true, bom: options.bom });
	// pipeline, not pipe: a page that fails to load ends the file with that error instead of a truncated file.
	pipeline(ReadableStream.from(rows()), stringifier, () => undefined);
	return { stream: stringifier, rows: () => count };
}
