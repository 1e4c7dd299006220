// Set-based seeding of follow-up data: an owner's tags, Messenger conversations with their last
// message, tag links, rules and stops, each group in a handful of INSERT … SELECT statements
// (generate_series / unnest), so a thousand contacts take milliseconds. Used by the demo, the
// pipeline tests and the pipeline benchmark.
import { randomInt } from 'node:crypto';
import type { Client } from 'pg';

export interface Owner {
	userId: string;
	pageId: string;
}

export interface ContactGroup {
	/** Shown in sender names: `<label> 7`. */
	label: string;
	count: number;
	tagIds: string[];
	/** Minutes since the person's last message; null: they never wrote (no window). */
	lastMessageMinutesAgo: number | null;
	/** Spread the last messages over this many more minutes (contact i is i·spread/count older). */
	spreadMinutes?: number;
	/** false: the conversation is archived (is_active = false). */
	active?: boolean;
}

export interface SeededContacts {
	conversationIds: string[];
	psids: string[];
}

/** A PSID prefix no other group of this process shares (PSIDs are digits, at most 32). */
function psidPrefix(): string {
	return `${Date.now() % 1e9}${randomInt(1e6).toString().padStart(6, '0')}`;
}

export async function createTags(db: Client, owner: Owner, names: string[]): Promise<Record<string, string>> {
	const { rows } = await db.query<{ id: string; name: string }>(
		`insert into public.tags (user_id, name) select $1, n from unnest($2::text[]) n returning id, name`,
		[owner.userId, names],
	);
	return Object.fromEntries(rows.map((row) => [row.name, row.id]));
}

/** `count` conversations on the owner's page, each with one inbound message and the group's tags. */
export async function addContacts(db: Client, owner: Owner, group: ContactGroup): Promise<SeededContacts> {
	const prefix = psidPrefix();
	const { rows } = await db.query<{ id: string; sender_id: string }>(
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, is_active)
		 select $1, $2, $3 || lpad(g::text, 6, '0'), $4 || ' ' || g, $5
		   from generate_series(1, $6::int) g
		 returning id, sender_id`,
		[owner.userId, owner.pageId, prefix, group.label, group.active ?? true, group.count],
	);
	const ids = rows.map((row) => row.id);
	if (group.lastMessageMinutesAgo !== null) {
		// The messages trigger sets last_customer_message_at, as a real inbound webhook would.
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, 'inbound', 'Hi, how much is the course?',
			        now() - make_interval(mins => $3::int) - make_interval(secs => (o - 1) * $4::float8 * 60 / greatest(1, $5::int))
			   from unnest($2::uuid[]) with ordinality as t (c, o)`,
			[owner.userId, ids, group.lastMessageMinutesAgo, group.spreadMinutes ?? 0, ids.length],
		);
	}
	if (group.tagIds.length > 0) {
		await db.query(
			`insert into public.conversation_tags (conversation_id, tag_id, user_id)
			 select c, t, $1 from unnest($2::uuid[]) c cross join unnest($3::uuid[]) t`,
			[owner.userId, ids, group.tagIds],
		);
	}
	return { conversationIds: ids, psids: rows.map((row) => row.sender_id) };
}

export interface RuleSpec {
	name: string;
	includeTagIds: string[];
	excludeTagIds?: string[];
	/** 'HH:MM' in timeZone; equal start and end: the whole day. */
	activeHours?: { start: string; end: string };
	timeZone?: string;
	dailyLimit?: number;
	maxFollowUps?: number;
	minHoursBetweenFollowUps?: number;
	enabled?: boolean;
	instructions?: string;
}

export async function addRule(db: Client, owner: Owner, rule: RuleSpec): Promise<string> {
	const { rows } = await db.query<{ id: string }>(
		`insert into public.ai_automation_rules
		   (user_id, name, page_id, include_tag_ids, exclude_tag_ids, active_hours_start, active_hours_end, time_zone,
		    daily_limit, max_follow_ups, min_hours_between_follow_ups, enabled, instructions)
		 values ($1, $2, $3, $4::uuid[], $5::uuid[], $6::time, $7::time, $8, $9, $10, $11, $12, $13)
		 returning id`,
		[
			owner.userId,
			rule.name,
			owner.pageId,
			rule.includeTagIds,
			rule.excludeTagIds ?? [],
			rule.activeHours?.start ?? '00:00',
			rule.activeHours?.end ?? '00:00',
			rule.timeZone ?? 'UTC',
			rule.dailyLimit ?? 100,
			rule.maxFollowUps ?? 3,
			rule.minHoursBetweenFollowUps ?? 24,
			rule.enabled ?? true,
			rule.instructions ?? 'Follow up warmly on their question about the course; one short paragraph, no pressure.',
		],
	);
	return rows[0].id;
}

/** Stops these conversations for one rule (or every rule when ruleId is null). */
export async function addStops(db: Client, owner: Owner, conversationIds: string[], ruleId: string | null, reason: 'replied' | 'human_takeover' | 'unavailable' | 'manual'): Promise<void> {
	await db.query(
		`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason)
		 select $1, c, $3, $4 from unnest($2::uuid[]) c`,
		[owner.userId, conversationIds, ruleId, reason],
	);
}

/** Active hours that exclude the current moment: a one-hour window starting six hours from now (UTC). */
export function hoursExcludingNow(now = new Date()): { start: string; end: string } {
	const hour = (now.getUTCHours() + 6) % 24;
	const pad = (value: number) => String(value).padStart(2, '0');
	return { start: `${pad(hour)}:00`, end: `${pad((hour + 1) % 24)}:00` };
}
