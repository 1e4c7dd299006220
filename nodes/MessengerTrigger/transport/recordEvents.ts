// The one database call of a delivery: messenger_record_events (supabase/migrations/
// 20261201000500_messenger_inbound.sql) records every event in one transaction and answers one row
// per event. A delivery of more than 1,000 events (the Data API's row limit) takes one call per
// 1,000, each all or nothing.
import type { MessengerEvent, RecordedEvent } from '../../shared/contract';
import { callRpc, type SupabaseContext } from '../../shared/supabase';

export const MAX_EVENTS_PER_CALL = 1000;

export async function recordEvents(
	context: SupabaseContext,
	events: MessengerEvent[],
	appId: string | null,
	owner: string | null,
): Promise<RecordedEvent[]> {
	const rows: RecordedEvent[] = [];
	for (let start = 0; start < events.length; start += MAX_EVENTS_PER_CALL) {
		const batch = events.slice(start, start + MAX_EVENTS_PER_CALL);
		const answer = await callRpc(context, 'messenger_record_events', { p_events: batch, p_app_id: appId, p_owner: owner });
		for (const row of answer) rows.push({ ...row, item_index: row.item_index + start });
	}
	return rows;
}
