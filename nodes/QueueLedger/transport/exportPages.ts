// The export's rows from queue_export in keyset pages of 1,000 (the most the Data API answers): each
// page starts after the last item id of the previous one, so no row is read twice or skipped. The
// next page is asked for as soon as a page arrives, while that page is being written (its keyset is
// known by then), so the database and the CSV writer work at the same time; never more than one page
// is asked for ahead.
import type { IExecuteFunctions } from 'n8n-workflow';
import type { ExportArgs, ExportRow } from '../../shared/contract';
import { callRpc } from '../../shared/supabase';
import { BATCH } from '../helpers/common';

export async function* exportPages(context: IExecuteFunctions, args: Omit<ExportArgs, 'p_after' | 'p_limit'>, itemIndex: number): AsyncGenerator<ExportRow[]> {
	const page = (after: string | null) => callRpc(context, 'queue_export', { ...args, p_after: after, p_limit: BATCH }, itemIndex);
	let next: Promise<ExportRow[]> | undefined = page(null);
	while (next) {
		const rows: ExportRow[] = await next;
		// Asked for now, awaited on the next turn: a failure surfaces there (and is not left unhandled meanwhile).
		next = rows.length === BATCH ? page(rows[rows.length - 1].item_id) : undefined;
		next?.catch(() => undefined);
		if (rows.length > 0) yield rows;
	}
}
