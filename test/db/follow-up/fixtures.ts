// Builds an owner's CRM and a follow-up rule straight in Postgres (set-based), so each test starts
// from a known world; the code under test is then reached through supabase-js as n8n reaches it.
import { DateTime } from 'luxon';
import type { Client } from 'pg';
import { createTestUser, uniquePageId, withDb } from '../../helpers/stack';

/**
 * The instant these suites judge at: a Wednesday, 12:00 UTC. Every call passes it as p_now, and the
 * clients made with `{ now: NOW }` have views and defaults judge at it too, so the suites never read
 * the real clock. jest.config.js runs them at several such Wednesdays (`globals.LEADFLOW_TEST_NOW`):
 * a year ahead, and the weeks before each of Europe's DST changes; expected local times are computed
 * in the rule's zone with luxon, never written as instants.
 */
export const NOW = testNow((globalThis as { LEADFLOW_TEST_NOW?: string }).LEADFLOW_TEST_NOW ?? '2026-11-25T12:00:00Z');
export const at = (hoursFromNow: number) => new Date(NOW.getTime() + hoursFromNow * 3_600_000).toISOString();

function testNow(iso: string): Date {
	const now = DateTime.fromISO(iso, { zone: 'utc' });
	if (!now.isValid || now.weekday !== 3 || now.hour !== 12 || now.minute !== 0 || now.second !== 0) {
		throw new Error(`LEADFLOW_TEST_NOW must be a Wednesday at 12:00 UTC (the suites' active hours are written for it); got ${iso}`);
	}
	return now.toJSDate();
}

/** NOW's date in `zone` at the given local time (e.g. 09:00 in New York on NOW's day there), as an instant. */
export function localTime(zone: string, time: string, daysFromNow = 0): Date {
	const [hour, minute] = time.split(':').map(Number);
	return DateTime.fromJSDate(NOW, { zone }).plus({ days: daysFromNow }).set({ hour, minute, second: 0, millisecond: 0 }).toJSDate();
}

/** The first day on or after NOW's (in `zone`) with ISO weekday `weekday` (1 = Monday), at `time` local. */
export function nextWeekdayAt(zone: string, weekday: number, time: string): Date {
	const today = DateTime.fromJSDate(NOW, { zone }).weekday;
	return localTime(zone, time, (weekday - today + 7) % 7);
}

export interface RuleOptions {
	name?: string;
	enabled?: boolean;
	tagMatch?: 'any' | 'all';
	include?: string[];
	exclude?: string[];
	dailyLimit?: number;
	maxFollowUps?: number;
	minHours?: number;
	stopOnReply?: boolean;
	activeHours?: { start: string; end: string; timeZone: string; days?: number[] };
	contextMessages?: number;
	/** The Page the rule sends as: the world's Page unless given; null: every Page of the owner. */
	pageId?: string | null;
}

export interface ContactOptions {
	name?: string;
	tags?: string[];
	/** Hours before NOW of the person's last message (null: never wrote). */
	lastMessageHoursAgo?: number | null;
	isActive?: boolean;
	/** The conversation's Page: the world's Page unless given (an owner's second Page). */
	pageId?: string;
}

export interface World {
	userId: string;
	pageId: string;
	tags: Record<string, string>;
	contact(options?: ContactOptions): Promise<string>;
	contacts(count: number, options?: ContactOptions): Promise<string[]>;
	rule(options?: RuleOptions): Promise<string>;
}

let senderCounter = Date.now() % 1_000_000_000;

export async function createWorld(tagNames: string[] = ['AI Lead', 'Hot', 'Do Not Contact']): Promise<World> {
	const userId = await createTestUser('automation');
	const pageId = uniquePageId();
	const tags: Record<string, string> = {};
	await withDb(async (db) => {
		for (const name of tagNames) {
			const { rows } = await db.query<{ id: string }>('insert into public.tags (user_id, name) values ($1, $2) returning id', [userId, name]);
			tags[name] = rows[0].id;
		}
	});

	const contacts = async (count: number, options: ContactOptions = {}) =>
		withDb(async (db) => {
			const hours = options.lastMessageHoursAgo === undefined ? 1 : options.lastMessageHoursAgo;
			const first = (senderCounter += count + 1) - count;
			const { rows } = await db.query<{ id: string }>(
				`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, is_active, last_customer_message_at)
				 select $1, $2, ($3::bigint + n)::text, coalesce($4, 'Contact ' || n), $5,
				        case when $6::float8 is null then null else $7::timestamptz - $6::float8 * interval '1 hour' end
				   from generate_series(0, $8 - 1) n
				 returning id`,
				[userId, options.pageId ?? pageId, 9_000_000_000 + first, options.name ?? null, options.isActive ?? true, hours, NOW.toISOString(), count],
			);
			const ids = rows.map((row) => row.id);
			for (const tag of options.tags ?? ['AI Lead']) await tagContacts(db, userId, tags[tag], ids);
			return ids;
		});

	return {
		userId,
		pageId,
		tags,
		contacts,
		contact: async (options) => (await contacts(1, options))[0],
		rule: (options = {}) =>
			withDb(async (db) => {
				const hours = options.activeHours ?? { start: '00:00', end: '00:00', timeZone: 'UTC' };
				const { rows } = await db.query<{ id: string }>(
					`insert into public.ai_automation_rules
					   (user_id, name, enabled, page_id, include_tag_ids, tag_match, exclude_tag_ids, daily_limit, max_follow_ups,
					    min_hours_between_follow_ups, stop_on_reply, active_hours_start, active_hours_end, time_zone, active_days,
					    instructions, context_message_count)
					 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'Write a short, friendly follow-up.', $16)
					 returning id`,
					[
						userId,
						options.name ?? 'Follow-up rule',
						options.enabled ?? true,
						options.pageId === undefined ? pageId : options.pageId,
						(options.include ?? ['AI Lead']).map((name) => tags[name]),
						options.tagMatch ?? 'any',
						(options.exclude ?? []).map((name) => tags[name]),
						options.dailyLimit ?? 100,
						options.maxFollowUps ?? 3,
						options.minHours ?? 4,
						options.stopOnReply ?? true,
						hours.start,
						hours.end,
						hours.timeZone,
						hours.days ?? [1, 2, 3, 4, 5, 6, 7],
						options.contextMessages ?? 5,
					],
				);
				return rows[0].id;
			}),
	};
}

export async function tagContacts(db: Client, userId: string, tagId: string, conversationIds: string[]) {
	await db.query(
		`insert into public.conversation_tags (conversation_id, tag_id, user_id) select unnest($1::uuid[]), $2, $3 on conflict do nothing`,
		[conversationIds, tagId, userId],
	);
}

export async function addMessage(conversationId: string, direction: 'inbound' | 'outbound', sentAt: string, text = 'hello') {
	await withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select user_id, id, $2, $3, $4 from public.messenger_conversations where id = $1`,
			[conversationId, direction, text, sentAt],
		),
	);
}
