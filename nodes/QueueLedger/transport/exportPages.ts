// The export's rows from queue_export in keyset pages of 1,000 (the most the Data API answers): each
// page starts after the last item id of the previous one, so no row is read twice or skipped, and
// the next page is read only when the previous one has been written.
import type { IExecuteFunctions } from 'n8n-workflow';
import type { ExportArgs, ExportRow } from '../../shared/contract';
import { callRpc } from '../../shared/supabase';
import { BATCH } from '../helpers/common';

export async function* exportPages(context: IExecuteFunctions, args: Omit<ExportArgs, 'p_after' | 'p_limit'>, itemIndex: number): AsyncGenerator<ExportRow[]> {
	let after: string | null = null;
	for (;;) {
		const page: ExportRow[] = await callRpc(context, 'queue_export', { ...args, p_after: after, p_limit: BATCH }, itemIndex);
		if (page.length > 0) yield page;
		if (page.length < BATCH) return;
		after = page[page.length - 1].item_id;
	}
}
