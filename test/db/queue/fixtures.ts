// Builds queue owners straight in Postgres (a user, their queue settings), so each test starts from a
// known world; the queue functions are then reached through supabase-js as the Queue Ledger node
// reaches them, with the clock passed as p_now (or as the stack's X-Leadflow-Now header), never
// today's date. Every owner is new, and every claim and prepare names its owner (p_user_id): test
// files running at the same time never touch each other's queues.
import type { PostgrestError } from '@supabase/supabase-js';
import { DateTime } from 'luxon';
import type {
	AddLeadsResult,
	ClaimedMessage,
	DayMetrics,
	ExportRow,
	NewLead,
	PrepareResult,
	QueueCompleteResult,
	SendResult,
	TakeLeadResult,
} from '../../../nodes/shared/contract';
import { createTestUser, serviceClient, withDb } from '../../helpers/stack';

/** The instant these suites judge at: a Wednesday, noon UTC. Nothing here depends on the real date. */
export const NOW = '2026-11-25T12:00:00.000Z';
/** NOW's tomorrow in UTC, a Thursday. */
export const TOMORROW = '2026-11-26';
export const minutesAfter = (minutes: number, from = NOW) => new Date(Date.parse(from) + minutes * 60_000).toISOString();
/** An instant given as a local time in a zone (luxon), as UTC ISO. */
export const local = (isoLocal: string, zone: string) => DateTime.fromISO(isoLocal, { zone }).toUTC().toISO()!;

export interface Settings {
	daily_capacity: number;
	send_from: string;
	send_until: string;
	time_zone: string;
	days_of_week: number[];
	max_attempts: number;
	retry_backoff_seconds: number;
	message: Record<string, unknown>;
}

export const DEFAULT_SETTINGS: Settings = {
	daily_capacity: 10,
	send_from: '09:00',
	send_until: '17:00',
	time_zone: 'UTC',
	days_of_week: [1, 2, 3, 4, 5, 6, 7],
	max_attempts: 3,
	retry_backoff_seconds: 60,
	message: { type: 'text', text: 'Hi {{name}}, thanks for your interest!' },
};

/** A new user with queue settings (DEFAULT_SETTINGS unless told otherwise); returns the user id. */
export async function createOwner(settings: Partial<Settings> | null = {}): Promise<string> {
	const userId = await createTestUser('queue');
	if (settings) await setSettings(userId, settings);
	return userId;
}

export const setSettings = (userId: string, settings: Partial<Settings>) =>
	withDb(async (db) => {
		const s = { ...DEFAULT_SETTINGS, ...settings };
		await db.query(
			`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, max_attempts, retry_backoff_seconds, message)
			 values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			 on conflict (user_id) do update set daily_capacity = excluded.daily_capacity, send_from = excluded.send_from, send_until = excluded.send_until,
			   time_zone = excluded.time_zone, days_of_week = excluded.days_of_week, max_attempts = excluded.max_attempts,
			   retry_backoff_seconds = excluded.retry_backoff_seconds, message = excluded.message`,
			[userId, s.daily_capacity, s.send_from, s.send_until, s.time_zone, s.days_of_week, s.max_attempts, s.retry_backoff_seconds, JSON.stringify(s.message)],
		);
	});

let phoneCounter = (Date.now() % 1_000_000) * 10;
/** A phone number (E.164) no other test uses. */
export const phone = () => `+1415${String(phoneCounter++ % 10_000_000).padStart(7, '0')}`;

/** `count` new leads of an owner, scores given or none. */
export const leadItems = (userId: string, count: number, score?: (i: number) => number | null): NewLead[] =>
	Array.from({ length: count }, (_, i) => ({ user_id: userId, name: `Lead ${i}`, phone: phone(), source: 'test', lead_score: score ? score(i) : null }));

export class RpcError extends Error {
	constructor(readonly error: PostgrestError) {
		super(`${error.code}: ${error.message}`);
	}
}

const service = serviceClient();

/**
 * The phone each message goes to now (its lead's, as Claim hands it out), in the order of `ids`: what
 * Send passes queue_begin_send as p_phones. An id with no message gets a number nobody has.
 */
export const phonesOf = (ids: string[]) =>
	withDb(async (db) => {
		const rows = (await db.query<{ id: string; phone: string }>('select id, phone from public.whatsapp_message_queue where id = any ($1::uuid[])', [ids])).rows;
		const phones = new Map(rows.map((row) => [row.id, row.phone]));
		return ids.map((id) => phones.get(id) ?? '+10000000000');
	});

export async function rpc<T>(name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await service.rpc(name, args);
	if (error) throw new RpcError(error);
	return data as T;
}

/** The error a call fails with (fails the test when it succeeds). */
export async function failure(call: Promise<unknown>): Promise<PostgrestError> {
	try {
		await call;
	} catch (error) {
		if (error instanceof RpcError) return error.error;
		throw error;
	}
	throw new Error('expected the call to fail, it succeeded');
}

export const addLeads = (items: unknown[], now = NOW) => rpc<AddLeadsResult[]>('queue_add_leads', { p_items: items, p_now: now });
export const prepare = (userId: string, now = NOW) => rpc<PrepareResult[]>('queue_prepare', { p_user_id: userId, p_now: now });
export const claim = (worker: string, userId: string, now: string, limit = 100, leaseSeconds = 300) =>
	rpc<ClaimedMessage[]>('queue_claim', { p_worker: worker, p_limit: limit, p_lease_seconds: leaseSeconds, p_now: now, p_user_id: userId });
export const complete = (worker: string, results: SendResult[], now: string) =>
	rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now });
/** Send's taking back the mark of messages it let go and did not send (before it reports them released). */
export const sendNotMade = (worker: string, ids: string[], now: string) =>
	rpc<Array<{ item_id: string }>>('queue_send_not_made', { p_worker: worker, p_item_ids: ids, p_now: now });
export const takeLead = (leadId: string, options: { actorId?: string | null; reason?: string | null; userId?: string | null; now?: string } = {}) =>
	rpc<TakeLeadResult[]>('queue_take_lead', {
		p_lead_id: leadId,
		p_actor_id: options.actorId ?? null,
		p_reason: options.reason ?? null,
		p_now: options.now ?? NOW,
		p_user_id: options.userId ?? null,
	});
export const exportQueue = (userId: string, from: string, to: string, options: { statuses?: string[]; after?: string; limit?: number } = {}) =>
	rpc<ExportRow[]>('queue_export', { p_user_id: userId, p_from: from, p_to: to, p_statuses: options.statuses ?? null, p_after: options.after ?? null, p_limit: options.limit ?? 1000 });
export const metrics = (userId: string, from: string, to: string) => rpc<DayMetrics[]>('queue_metrics', { p_user_id: userId, p_from: from, p_to: to });

export const sent = (item: { item_id: string }, messageId = `wamid.${item.item_id.slice(0, 8)}`): SendResult => ({
	item_id: item.item_id,
	outcome: 'sent',
	message_id: messageId,
});
export const failed = (item: { item_id: string }, error: SendResult['error'] = { code: '131000', message: 'Something went wrong' }): SendResult => ({
	item_id: item.item_id,
	outcome: 'failed',
	error,
});

export interface MessageRow {
	id: string;
	lead_id: string;
	day: string;
	phone: string;
	status: string;
	scheduled_for: Date;
	attempts: number;
	lease_holder: string | null;
	lease_expires_at: Date | null;
	last_error: Record<string, unknown> | null;
	message_id: string | null;
	completed_at: Date | null;
}

/** The owner's messages, by schedule. */
export const messages = (userId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<MessageRow>(
					`select id, lead_id, to_char(day, 'YYYY-MM-DD') as day, phone, status, scheduled_for, attempts, lease_holder, lease_expires_at,
					        last_error, message_id, completed_at
					   from public.whatsapp_message_queue where user_id = $1 order by scheduled_for, id`,
					[userId],
				)
			).rows,
	);

export interface LedgerRow {
	id: string;
	queue: string;
	item_id: string;
	lead_id: string;
	day: string | null;
	from_status: string | null;
	to_status: string;
	attempt: number | null;
	worker: string | null;
	actor: string;
	actor_id: string | null;
	reason: string;
	detail: Record<string, unknown> | null;
	at: Date;
}

/** The owner's ledger, in order. */
export const ledger = (userId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<LedgerRow>(
					`select id, queue, item_id, lead_id, to_char(day, 'YYYY-MM-DD') as day, from_status, to_status, attempt, worker, actor, actor_id,
					        reason, detail, at
					   from public.queue_ledger where user_id = $1 order by id`,
					[userId],
				)
			).rows,
	);

/** How many rows the owner has in each queue table (to prove that a refused call wrote nothing). */
export const rowCounts = (userId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<{ leads: number; backlog: number; messages: number; ledger: number }>(
					`select (select count(*)::int from public.leads where user_id = $1) as leads,
					        (select count(*)::int from public.lead_processing_queue where user_id = $1) as backlog,
					        (select count(*)::int from public.whatsapp_message_queue where user_id = $1) as messages,
					        (select count(*)::int from public.queue_ledger where user_id = $1) as ledger`,
					[userId],
				)
			).rows[0],
	);

/** An owner with `count` leads (scores 0..count-1 unless told), prepared for TOMORROW. */
export async function preparedOwner(count: number, settings: Partial<Settings> = {}, score: (i: number) => number | null = (i) => i % 101) {
	const userId = await createOwner({ daily_capacity: count, ...settings });
	const added = await addLeads(leadItems(userId, count, score));
	const [prepared] = await prepare(userId);
	return { userId, leadIds: added.map((row) => row.lead_id), prepared };
}
