// Messenger events as the Messenger nodes send them to the database, and the worlds they arrive in
// (the follow-up suites' owner, tags, contacts and rules; see ../follow-up/fixtures.ts).
import type { SupabaseClient } from '@supabase/supabase-js';
import type { MessengerEvent, RecordedEvent } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { NOW } from '../follow-up/fixtures';

export const APP_ID = '424242424242';
export const INBOX_APP_ID = '263902037430900';

/** Epoch milliseconds `hours` after the suites' NOW. */
export const ms = (hours: number) => NOW.getTime() + Math.round(hours * 3_600_000);

let counter = 0;
export const mid = (label = 'm') => `${label}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 10)}`;

export const inbound = (pageId: string, psid: string, hours: number, text = 'hello', id = mid()): MessengerEvent => ({
	type: 'message',
	page_id: pageId,
	psid,
	mid: id,
	text,
	timestamp: ms(hours),
});

export const echo = (pageId: string, psid: string, hours: number, appId: string | null, text = 'from the Page', id = mid('echo')): MessengerEvent => ({
	type: 'echo',
	page_id: pageId,
	psid,
	mid: id,
	text,
	timestamp: ms(hours),
	app_id: appId,
});

export async function recordEvents(
	client: SupabaseClient,
	events: MessengerEvent[],
	options: { appId?: string | null; owner?: string | null; now?: Date } = {},
): Promise<RecordedEvent[]> {
	const { data, error } = await client.rpc('messenger_record_events', {
		p_events: events,
		p_app_id: options.appId === undefined ? APP_ID : options.appId,
		p_owner: options.owner ?? null,
		p_now: (options.now ?? NOW).toISOString(),
	});
	if (error) throw Object.assign(new Error(`messenger_record_events: ${error.message}`), { code: error.code });
	return data as RecordedEvent[];
}

/**
 * Messenger Sync reading some of a Page's messages back, as its node records a page: a job begun
 * (messenger_sync_begin) and its one and last page recorded (messenger_sync_record_page). A message
 * of the Page comes as an echo without app_id: Graph does not say which app sent it.
 */
export async function syncRecords(client: SupabaseClient, pageId: string, events: MessengerEvent[], now: Date = NOW): Promise<{ status: string; page_messages: number }> {
	const begun = await client.rpc('messenger_sync_begin', { p_page_id: pageId, p_holder: 'exec-sync', p_owner: null, p_full: true, p_lease_seconds: 60, p_now: now.toISOString() });
	if (begun.error) throw new Error(`messenger_sync_begin: ${begun.error.message}`);
	const page = await client.rpc('messenger_sync_record_page', {
		p_job_id: begun.data[0].job_id,
		p_holder: 'exec-sync',
		p_events: events,
		p_next_cursor: null,
		p_conversations: 1,
		p_newest_updated_at: null,
		p_errors: 0,
		p_done: true,
		p_lease_seconds: 60,
		p_now: now.toISOString(),
	});
	if (page.error) throw new Error(`messenger_sync_record_page: ${page.error.message}`);
	return page.data[0];
}

/** Connects a Page to an owner, as n8n (service_role) does. */
export async function connectPage(pageId: string, userId: string): Promise<void> {
	await withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, userId]));
}

export async function senderOf(conversationId: string): Promise<string> {
	const { rows } = await withDb((db) => db.query<{ sender_id: string }>('select sender_id from public.messenger_conversations where id = $1', [conversationId]));
	return rows[0].sender_id;
}

export async function counts(pageId: string): Promise<{ conversations: number; messages: number; stops: number }> {
	const { rows } = await withDb((db) =>
		db.query<{ conversations: number; messages: number; stops: number }>(
			`select (select count(*)::int from public.messenger_conversations where page_id = $1) as conversations,
			        (select count(*)::int from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id
			          where c.page_id = $1) as messages,
			        (select count(*)::int from public.ai_automation_stops s join public.messenger_conversations c on c.id = s.conversation_id
			          where c.page_id = $1) as stops`,
			[pageId],
		),
	);
	return rows[0];
}
