// The export's rows from queue_export in keyset pages of 1,000 (the most the Data API answers), in
// item_id order, every row once. queue_export_pages first says where each page starts and ends, so
// a few pages are asked for at once (AHEAD): the database, the Data API and the CSV writer work at
// the same time instead of one round trip after another. Each page is cut at its end (the queue may
// have changed since: rows past it belong to the next page), and a page whose end was not reached
// (rows added) goes on from its last row; after the last known end, pages follow one another as
// keyset pages. Memory stays flat: at most AHEAD pages are asked for ahead of the one being written.
import type { IExecuteFunctions } from 'n8n-workflow';
import type { ExportArgs, ExportRow } from '../../shared/contract';
import { callRpc } from '../../shared/supabase';
import { BATCH } from '../helpers/common';

/** Pages asked for ahead of the one being written. */
const AHEAD = 3;

interface Span {
	/** queue_export's p_after: the page starts after this item id (null: at the start). */
	after: string | null;
	/** The page's last item id (null: it runs to the end). */
	last: string | null;
}

export async function* exportPages(context: IExecuteFunctions, args: Omit<ExportArgs, 'p_after' | 'p_limit'>, itemIndex: number): AsyncGenerator<ExportRow[]> {
	const page = (after: string | null) => {
		const rows = callRpc(context, 'queue_export', { ...args, p_after: after, p_limit: BATCH }, itemIndex);
		// Awaited in its turn: a failure surfaces there (and is not left unhandled meanwhile).
		rows.catch(() => undefined);
		return rows;
	};
	const known = await callRpc(context, 'queue_export_pages', { ...args, p_rows: BATCH }, itemIndex);
	const spans: Span[] = known.map((one) => ({ after: one.after_item_id, last: one.last_item_id }));
	// At most 1,000 pages are known: the rest follow the last known end as keyset pages.
	const tail = spans.at(-1);
	if (!tail || tail.last !== null) spans.push({ after: tail?.last ?? null, last: null });

	const asked: Array<Promise<ExportRow[]> | undefined> = [];
	const ask = (index: number) => {
		if (index < spans.length && !asked[index]) asked[index] = page(spans[index].after);
	};
	for (let index = 0; index < AHEAD; index++) ask(index);
	for (let index = 0; index < spans.length; index++) {
		ask(index);
		let rows = await asked[index]!;
		asked[index] = undefined;
		ask(index + AHEAD);
		const { last } = spans[index];
		for (;;) {
			// Item ids compare as their lowercase text, in the database's uuid order.
			const kept = last === null ? rows : rows.filter((row) => row.item_id <= last);
			if (kept.length > 0) yield kept;
			const reachedEnd = kept.length < rows.length || (last !== null && kept.at(-1)?.item_id === last);
			if (rows.length < BATCH || reachedEnd) break;
			rows = await page(rows[rows.length - 1].item_id);
		}
	}
}
