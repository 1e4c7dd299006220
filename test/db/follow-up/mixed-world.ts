// A mixed follow-up world for one owner, the same for the same seed: several hundred contacts on
// two Pages (the first connected to the owner in messenger_pages, the second connected to nobody)
// and some on a third Page another owner connected (rows written before that owner connected it:
// never claimed, page_of_another_owner), with a pseudo-random mix of tags, archived conversations
// and last messages on either side of Messenger's 24 h window (and exactly on it), five rules (tag_match any and all, several
// include and exclude tags, one rule for the second Page only, one switched off), stops for one
// rule and for every rule, and contact states in every stage a real run leaves behind: sent inside
// and past the interval, completed at the maximum, failed with retry_at past / future / null,
// skipped, held by an execution with a live or a run-out lease, and customers who wrote after
// their last follow-up (some through a real inbound message, so the stop-on-reply trigger runs).
// Built straight in Postgres, set-based. State rows enter as queued and then walk the stage
// machine's own transitions one statement per step, so the trigger checks each one as it does for
// the pipeline; the ledger gets the guard rows the sends would have taken.
import type { Client } from 'pg';
import { createTestUser, withDb } from '../../helpers/stack';
import { NOW } from './fixtures';

export const MIXED_TAGS = ['Lead', 'Hot', 'Webinar', 'VIP', 'Do Not Contact', 'Spam'] as const;
export type MixedTag = (typeof MIXED_TAGS)[number];

export interface MixedRuleSpec {
	key: string;
	enabled: boolean;
	tagMatch: 'any' | 'all';
	include: MixedTag[];
	exclude: MixedTag[];
	/** 'second': the rule follows up the second Page's conversations only. */
	page: 'every' | 'second';
	maxFollowUps: number;
	minHours: number;
	stopOnReply: boolean;
	/** NOW (Wednesday 12:00 UTC) is inside every rule's active hours. */
	activeHours: { start: string; end: string; timeZone: string; days: number[] };
}

export const MIXED_RULES: MixedRuleSpec[] = [
	{
		key: 'anyLeadOrHot', enabled: true, tagMatch: 'any', include: ['Lead', 'Hot'], exclude: ['Do Not Contact'], page: 'every',
		maxFollowUps: 3, minHours: 4, stopOnReply: true, activeHours: { start: '00:00', end: '00:00', timeZone: 'UTC', days: [1, 2, 3, 4, 5, 6, 7] },
	},
	{
		// 13:00 in Paris.
		key: 'allLeadAndWebinar', enabled: true, tagMatch: 'all', include: ['Lead', 'Webinar'], exclude: ['Do Not Contact', 'Spam'], page: 'every',
		maxFollowUps: 2, minHours: 2, stopOnReply: false, activeHours: { start: '09:00', end: '17:00', timeZone: 'Europe/Paris', days: [1, 2, 3, 4, 5] },
	},
	{
		// 07:00 in New York: inside Tuesday's overnight window (20:00 → 14:00).
		key: 'secondPageOnly', enabled: true, tagMatch: 'any', include: ['Hot', 'VIP', 'Webinar'], exclude: ['Spam'], page: 'second',
		maxFollowUps: 5, minHours: 1.5, stopOnReply: true, activeHours: { start: '20:00', end: '14:00', timeZone: 'America/New_York', days: [1, 2, 3, 4, 5] },
	},
	{
		key: 'allThree', enabled: true, tagMatch: 'all', include: ['Lead', 'Hot', 'VIP'], exclude: [], page: 'every',
		maxFollowUps: 1, minHours: 0, stopOnReply: true, activeHours: { start: '00:00', end: '00:00', timeZone: 'Asia/Tokyo', days: [1, 2, 3, 4, 5, 6, 7] },
	},
	{
		key: 'switchedOff', enabled: false, tagMatch: 'any', include: ['Lead'], exclude: [], page: 'every',
		maxFollowUps: 3, minHours: 4, stopOnReply: true, activeHours: { start: '00:00', end: '00:00', timeZone: 'UTC', days: [1, 2, 3, 4, 5, 6, 7] },
	},
];

/** The first Page is the owner's (connected), the second nobody's, the foreign one another owner's. */
export type MixedPage = 'first' | 'second' | 'foreign';

export interface MixedContact {
	id: string;
	page: MixedPage;
	tags: MixedTag[];
	active: boolean;
}

/** A (rule, conversation) pair, by the rule's key. */
export interface Pair {
	rule: string;
	conversationId: string;
}

export interface MixedWorld {
	userId: string;
	/** The owner who connected the foreign Page. */
	foreignOwnerId: string;
	pageIds: Record<MixedPage, string>;
	tagIds: Record<MixedTag, string>;
	/** Rule ids by MIXED_RULES key. */
	rules: Record<string, string>;
	contacts: MixedContact[];
	/** Stops as seeded (rule null: every rule), before the reply trigger adds its own. */
	stops: Array<{ conversationId: string; rule: string | null }>;
	/** Pairs seeded on a boundary, or in a state the claim must treat specially. */
	marks: {
		/** Last follow-up exactly min_hours_between_follow_ups before NOW (the interval has elapsed). */
		onInterval: Pair[];
		/** Failed with retry_at exactly NOW (claimable again). */
		retryNow: Pair[];
		/** Held (checking … ready_to_send) by an execution whose lease ran out before NOW. */
		heldExpired: Pair[];
		/** Left in sending with a lease that ran out: still in progress until the reaper settles it. */
		sendingExpired: Pair[];
	};
	/** Conversations whose customer wrote (a real inbound message) after their last follow-up. */
	repliedByMessage: string[];
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function weighted<T extends string>(random: () => number, weights: Record<T, number>): T {
	const entries = Object.entries(weights) as Array<[T, number]>;
	let roll = random() * entries.reduce((sum, [, weight]) => sum + weight, 0);
	for (const [value, weight] of entries) {
		roll -= weight;
		if (roll < 0) return value;
	}
	return entries[entries.length - 1][0];
}

const HOUR = 3600;
const DAY = 24 * HOUR;
const TAG_ODDS: Record<MixedTag, number> = { Lead: 0.55, Hot: 0.4, Webinar: 0.35, VIP: 0.25, 'Do Not Contact': 0.08, Spam: 0.06 };
/** Several contacts share these exact times, so the claim's order needs its tie-break (the id). */
const SHARED_TIMES = [DAY - 1, 20 * HOUR, 6 * HOUR, 30 * 60];

/** Seconds before NOW of the person's last message, or null when they never wrote. */
function lastMessageSecondsAgo(random: () => number): number | null {
	switch (weighted(random, { never: 3, onTheEdge: 3, justOutside: 3, justInside: 5, longAgo: 12, shared: 10, recent: 64 })) {
		case 'never':
			return null;
		case 'onTheEdge':
			return DAY; // exactly 24 h: the window has just closed
		case 'justOutside':
			return DAY + 1;
		case 'justInside':
			return DAY - 1;
		case 'longAgo':
			return DAY + 1 + Math.floor(random() * 72 * HOUR);
		case 'shared':
			return SHARED_TIMES[Math.floor(random() * SHARED_TIMES.length)];
		default:
			return 60 + Math.floor(random() * (DAY - 120));
	}
}

type StateKind =
	| 'none' | 'queued' | 'sentWaiting' | 'sentElapsed' | 'sentOnInterval' | 'sentReplied' | 'completedMax' | 'completedBelow'
	| 'failedPermanent' | 'failedLater' | 'failedRetryDue' | 'failedRetryNow' | 'skipped' | 'heldLive' | 'heldExpired'
	| 'sendingLive' | 'sendingExpired';

const STATE_ODDS: Record<StateKind, number> = {
	none: 38, queued: 3, sentWaiting: 9, sentElapsed: 10, sentOnInterval: 2, sentReplied: 5, completedMax: 6, completedBelow: 2,
	failedPermanent: 4, failedLater: 4, failedRetryDue: 4, failedRetryNow: 1, skipped: 3, heldLive: 3, heldExpired: 3,
	sendingLive: 1, sendingExpired: 2,
};

const TO_SENDING = ['checking', 'eligible', 'generating', 'ready_to_send', 'sending'];
const HELD = ['checking', 'eligible', 'generating', 'ready_to_send'];

interface PlannedState {
	rule: MixedRuleSpec;
	contact: number;
	kind: StateKind;
	/** The stages walked after queued, in order; the last is where the state stays. */
	path: string[];
	followUpCount: number;
	lastFollowUpAt: number | null;
	retryAt: number | null;
	errorCode: string | null;
	skipReason: string | null;
	lockedUntil: number | null;
	claimedAt: number | null;
}

const nowSeconds = NOW.getTime() / 1000;
const iso = (secondsSinceEpoch: number | null) => (secondsSinceEpoch === null ? null : new Date(secondsSinceEpoch * 1000).toISOString());

function planState(random: () => number, rule: MixedRuleSpec, contact: number, lastMessageAt: number | null): PlannedState | undefined {
	let kind = weighted(random, STATE_ODDS);
	if (kind === 'none') return undefined;
	const max = rule.maxFollowUps;
	const interval = rule.minHours * HOUR;
	// With a maximum of one follow-up, a sent contact is completed.
	if (max === 1 && (kind.startsWith('sent') || kind === 'completedBelow')) kind = 'completedMax';
	const belowMax = 1 + Math.floor(random() * (max - 1)); // 1 … max - 1 (when max ≥ 2)
	const anyBelowMax = Math.floor(random() * max); // 0 … max - 1
	const pastInterval = () => nowSeconds - interval - 1 - Math.floor(random() * 8 * HOUR);
	const plan: PlannedState = {
		rule, contact, kind, path: [], followUpCount: 0, lastFollowUpAt: null, retryAt: null, errorCode: null, skipReason: null, lockedUntil: null, claimedAt: null,
	};
	const held = (count: number, stages: string[], lockedUntil: number) => {
		plan.path = stages;
		plan.followUpCount = count;
		plan.lastFollowUpAt = count > 0 ? pastInterval() : null;
		plan.lockedUntil = lockedUntil;
		plan.claimedAt = Math.min(nowSeconds, lockedUntil) - 600;
	};
	switch (kind) {
		case 'queued':
			plan.followUpCount = anyBelowMax;
			plan.lastFollowUpAt = anyBelowMax > 0 ? pastInterval() : null;
			break;
		case 'sentWaiting':
			plan.path = [...TO_SENDING, 'sent'];
			plan.followUpCount = belowMax;
			plan.lastFollowUpAt = nowSeconds - 1 - Math.floor(random() * interval * 0.95);
			break;
		case 'sentElapsed':
			plan.path = [...TO_SENDING, 'sent'];
			plan.followUpCount = belowMax;
			plan.lastFollowUpAt = pastInterval();
			break;
		case 'sentOnInterval':
			plan.path = [...TO_SENDING, 'sent'];
			plan.followUpCount = belowMax;
			plan.lastFollowUpAt = nowSeconds - interval;
			break;
		case 'sentReplied':
			// The follow-up went out before the person's last message: they answered it.
			plan.path = [...TO_SENDING, 'sent'];
			plan.followUpCount = belowMax;
			plan.lastFollowUpAt = (lastMessageAt ?? nowSeconds - 10 * HOUR) - 600 - Math.floor(random() * 3 * HOUR);
			break;
		case 'completedMax':
			plan.path = [...TO_SENDING, 'sent', 'completed'];
			plan.followUpCount = max;
			plan.lastFollowUpAt = nowSeconds - 60 - Math.floor(random() * 30 * HOUR);
			break;
		case 'completedBelow':
			// Completed, then the rule's maximum was raised.
			plan.path = [...TO_SENDING, 'sent', 'completed'];
			plan.followUpCount = max - 1;
			plan.lastFollowUpAt = pastInterval();
			break;
		case 'failedPermanent':
		case 'failedLater':
		case 'failedRetryDue':
		case 'failedRetryNow':
			plan.path = ['checking', 'eligible', 'generating', 'failed'];
			plan.followUpCount = anyBelowMax;
			plan.lastFollowUpAt = anyBelowMax > 0 ? pastInterval() : null;
			plan.errorCode = kind === 'failedPermanent' ? 'blocked' : 'quota';
			plan.retryAt = {
				failedPermanent: null,
				failedLater: nowSeconds + 60 + Math.floor(random() * 2 * HOUR),
				failedRetryDue: nowSeconds - 60 - Math.floor(random() * 2 * HOUR),
				failedRetryNow: nowSeconds,
			}[kind];
			break;
		case 'skipped':
			plan.path = ['checking', 'eligible', 'generating', 'ready_to_send', 'skipped'];
			plan.followUpCount = anyBelowMax;
			plan.lastFollowUpAt = anyBelowMax > 0 ? pastInterval() : null;
			plan.skipReason = 'outside_window';
			break;
		case 'heldLive':
			held(anyBelowMax, HELD.slice(0, 1 + Math.floor(random() * HELD.length)), nowSeconds + 300 + Math.floor(random() * 600));
			break;
		case 'heldExpired':
			held(anyBelowMax, HELD.slice(0, 1 + Math.floor(random() * HELD.length)), nowSeconds - 1 - Math.floor(random() * 600));
			break;
		case 'sendingLive':
			held(anyBelowMax, TO_SENDING, nowSeconds + 60);
			break;
		case 'sendingExpired':
			held(anyBelowMax, TO_SENDING, nowSeconds - 30);
			break;
	}
	return plan;
}

export async function seedMixedWorld(seed: number, contactCount = 420): Promise<MixedWorld> {
	const random = seededRandom(seed);
	const userId = await createTestUser('mixed');
	const foreignOwnerId = await createTestUser('mixed-foreign');
	const suffix = String(Date.now() % 1e9).padStart(9, '0') + String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
	const pageIds: Record<MixedPage, string> = { first: `1${suffix}`, second: `2${suffix}`, foreign: `3${suffix}` };
	// The foreign Page's contacts are drawn from a generator of their own, so the rest of the world
	// is what it was for the same seed before they were added.
	const foreignDraw = seededRandom(seed ^ 0x5f0e1);

	const planned = Array.from({ length: contactCount }, () => {
		let page: MixedPage = random() < 0.35 ? 'second' : 'first';
		if (page === 'first' && foreignDraw() < 0.12) page = 'foreign';
		const tags = MIXED_TAGS.filter((tag) => random() < TAG_ODDS[tag]);
		const active = random() >= 0.08;
		const ago = lastMessageSecondsAgo(random);
		return { page, tags, active, lastMessageAt: ago === null ? null : nowSeconds - ago };
	});

	return await withDb(async (db) => {
		await db.query('begin');
		try {
			const world = await build(db, random, userId, foreignOwnerId, pageIds, planned);
			await db.query('commit');
			return world;
		} catch (error) {
			await db.query('rollback');
			throw error;
		}
	});
}

async function build(
	db: Client,
	random: () => number,
	userId: string,
	foreignOwnerId: string,
	pageIds: Record<MixedPage, string>,
	planned: Array<{ page: MixedPage; tags: MixedTag[]; active: boolean; lastMessageAt: number | null }>,
): Promise<MixedWorld> {
	await db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2), ($3, $4)', [
		pageIds.first,
		userId,
		pageIds.foreign,
		foreignOwnerId,
	]);
	const tagRows = await db.query<{ id: string; name: MixedTag }>(
		`insert into public.tags (user_id, name) select $1, n from unnest($2::text[]) n returning id, name`,
		[userId, [...MIXED_TAGS]],
	);
	const tagIds = Object.fromEntries(tagRows.rows.map((row) => [row.name, row.id])) as Record<MixedTag, string>;

	const conversations = await db.query<{ id: string; o: string }>(
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, is_active, last_customer_message_at, last_message_at)
		 select $1, p, $2 || lpad(o::text, 5, '0'), 'Mixed ' || o, a, t, t
		   from unnest($3::text[], $4::boolean[], $5::timestamptz[]) with ordinality as x (p, a, t, o)
		 returning id, substr(sender_id, length($2) + 1) as o`,
		[
			userId,
			pageIds.first.slice(1, 10),
			planned.map((contact) => pageIds[contact.page]),
			planned.map((contact) => contact.active),
			planned.map((contact) => iso(contact.lastMessageAt)),
		],
	);
	const ids: string[] = new Array(planned.length);
	for (const row of conversations.rows) ids[Number(row.o) - 1] = row.id;
	const contacts: MixedContact[] = planned.map((contact, index) => ({ id: ids[index], page: contact.page, tags: contact.tags, active: contact.active }));

	const links = contacts.flatMap((contact) => contact.tags.map((tag) => [contact.id, tagIds[tag]]));
	await db.query(
		`insert into public.conversation_tags (conversation_id, tag_id, user_id) select c, t, $1 from unnest($2::uuid[], $3::uuid[]) as x (c, t)`,
		[userId, links.map((link) => link[0]), links.map((link) => link[1])],
	);

	const rules: Record<string, string> = {};
	for (const rule of MIXED_RULES) {
		const { rows } = await db.query<{ id: string }>(
			`insert into public.ai_automation_rules
			   (user_id, name, enabled, page_id, include_tag_ids, tag_match, exclude_tag_ids, daily_limit, max_follow_ups,
			    min_hours_between_follow_ups, stop_on_reply, active_hours_start, active_hours_end, time_zone, active_days, instructions)
			 values ($1, $2, $3, $4, $5, $6, $7, 100000, $8, $9, $10, $11, $12, $13, $14, 'Write a short, friendly follow-up.')
			 returning id`,
			[
				userId, rule.key, rule.enabled, rule.page === 'second' ? pageIds.second : null,
				rule.include.map((tag) => tagIds[tag]), rule.tagMatch, rule.exclude.map((tag) => tagIds[tag]),
				rule.maxFollowUps, rule.minHours, rule.stopOnReply,
				rule.activeHours.start, rule.activeHours.end, rule.activeHours.timeZone, rule.activeHours.days,
			],
		);
		rules[rule.key] = rows[0].id;
	}

	// Stops: some contacts for every rule (a person took over), some for one rule only.
	const stops: MixedWorld['stops'] = [];
	for (const contact of contacts) {
		if (random() < 0.04) stops.push({ conversationId: contact.id, rule: null });
		for (const rule of MIXED_RULES) if (random() < 0.04) stops.push({ conversationId: contact.id, rule: rule.key });
	}
	await db.query(
		`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason)
		 select $1, c, r, case when r is null then 'human_takeover' else 'manual' end from unnest($2::uuid[], $3::uuid[]) as x (c, r)`,
		[userId, stops.map((stop) => stop.conversationId), stops.map((stop) => (stop.rule === null ? null : rules[stop.rule]))],
	);

	// States: for contacts carrying one of the rule's include tags, and a few that do not (tags removed later).
	const states: PlannedState[] = [];
	for (const rule of MIXED_RULES) {
		planned.forEach((contact, index) => {
			const tagged = contact.tags.some((tag) => rule.include.includes(tag));
			if (!tagged && random() >= 0.03) return;
			const plan = planState(random, rule, index, contact.lastMessageAt);
			if (plan) states.push(plan);
		});
	}
	const inserted = await db.query<{ id: string; rule_id: string; conversation_id: string }>(
		`insert into public.ai_automation_contact_states (user_id, rule_id, conversation_id, stage_entered_at, stage_detail)
		 select $1, r, c, $4, '{"reason": "tagged"}' from unnest($2::uuid[], $3::uuid[]) as x (r, c)
		 returning id, rule_id, conversation_id`,
		[userId, states.map((state) => rules[state.rule.key]), states.map((state) => ids[state.contact]), iso(nowSeconds - 2 * DAY)],
	);
	const stateIdOf = new Map(inserted.rows.map((row) => [`${row.rule_id}|${row.conversation_id}`, row.id]));
	const stateId = (state: PlannedState) => stateIdOf.get(`${rules[state.rule.key]}|${ids[state.contact]}`)!;

	// Walk each group of states along its path, one transition per statement.
	const byPath = new Map<string, string[]>();
	for (const state of states) {
		const key = state.path.join('>');
		byPath.set(key, [...(byPath.get(key) ?? []), stateId(state)]);
	}
	for (const [key, group] of byPath) {
		if (key === '') continue;
		for (const stage of key.split('>')) {
			// A held stage needs a lease (a check constraint); the real one is set below.
			await db.query(
				`update public.ai_automation_contact_states set current_stage = $1, locked_by = coalesce(locked_by, 'fixture-walk'),
				        locked_until = coalesce(locked_until, $3::timestamptz) where id = any ($2::uuid[])`,
				[stage, group, iso(nowSeconds - 2 * DAY)],
			);
		}
	}
	await db.query(
		`update public.ai_automation_contact_states s
		    set follow_up_count = v.follow_up_count, last_follow_up_at = v.last_follow_up_at, retry_at = v.retry_at,
		        error_code = v.error_code, skip_reason = v.skip_reason, locked_by = v.locked_by, locked_until = v.locked_until,
		        claimed_at = v.claimed_at, claimed_follow_up_number = v.claimed_follow_up_number, execution_id = v.locked_by,
		        stage_entered_at = coalesce(v.claimed_at, v.last_follow_up_at, s.stage_entered_at)
		   from jsonb_to_recordset($1::jsonb) as v (
		          id uuid, follow_up_count integer, last_follow_up_at timestamptz, retry_at timestamptz, error_code text,
		          skip_reason text, locked_by text, locked_until timestamptz, claimed_at timestamptz, claimed_follow_up_number integer)
		  where s.id = v.id`,
		[
			JSON.stringify(
				states.map((state) => ({
					id: stateId(state),
					follow_up_count: state.followUpCount,
					last_follow_up_at: iso(state.lastFollowUpAt),
					retry_at: iso(state.retryAt),
					error_code: state.errorCode,
					skip_reason: state.skipReason,
					locked_by: state.lockedUntil === null ? null : 'exec-earlier-run',
					locked_until: iso(state.lockedUntil),
					claimed_at: iso(state.claimedAt),
					claimed_follow_up_number: state.claimedAt === null ? null : state.followUpCount + 1,
				})),
			),
		],
	);

	// The ledger: a sent guard row per follow-up sent, and the guard of the send under way.
	const ledger = states.flatMap((state) => {
		const rows = Array.from({ length: state.followUpCount }, (_, k) => ({
			state_id: stateId(state), rule_id: rules[state.rule.key], conversation_id: ids[state.contact], follow_up_number: k + 1, status: 'sent',
			attempted_at: iso(state.lastFollowUpAt! - (state.followUpCount - 1 - k) * (state.rule.minHours * HOUR + 60)),
		}));
		if (state.path[state.path.length - 1] === 'sending') {
			rows.push({
				state_id: stateId(state), rule_id: rules[state.rule.key], conversation_id: ids[state.contact], follow_up_number: state.followUpCount + 1,
				status: 'sending', attempted_at: iso(state.lockedUntil! - 120),
			});
		}
		return rows;
	});
	await db.query(
		`insert into public.ai_automation_executions (user_id, rule_id, conversation_id, state_id, follow_up_number, execution_id, status, attempted_at)
		 select $1, v.rule_id, v.conversation_id, v.state_id, v.follow_up_number, 'exec-earlier-run', v.status, v.attempted_at
		   from jsonb_to_recordset($2::jsonb) as v (state_id uuid, rule_id uuid, conversation_id uuid, follow_up_number integer, status text, attempted_at timestamptz)`,
		[userId, JSON.stringify(ledger)],
	);
	await db.query(
		`update public.ai_automation_contact_states s set attempt_id = e.id
		   from public.ai_automation_executions e
		  where e.state_id = s.id and e.status = 'sending' and s.current_stage = 'sending' and s.user_id = $1`,
		[userId],
	);

	// Some customers answer a follow-up of the first rule with a real message: the messages trigger
	// moves their window and the stop-on-reply trigger stops them for the stop-on-reply rules.
	const replies = states
		.filter((state) => state.rule.key === 'anyLeadOrHot' && (state.kind === 'sentWaiting' || state.kind === 'sentElapsed'))
		.filter((state) => {
			const lastMessageAt = planned[state.contact].lastMessageAt;
			return lastMessageAt !== null && lastMessageAt < state.lastFollowUpAt! && state.lastFollowUpAt! + 600 < nowSeconds - 60;
		})
		.slice(0, 12);
	await db.query(
		`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
		 select $1, c, 'inbound', 'Thanks, I will think about it', t from unnest($2::uuid[], $3::timestamptz[]) as x (c, t)`,
		[userId, replies.map((state) => ids[state.contact]), replies.map((state) => iso(state.lastFollowUpAt! + 600))],
	);

	const pairsOf = (kind: StateKind) =>
		states.filter((state) => state.kind === kind).map((state) => ({ rule: state.rule.key, conversationId: ids[state.contact] }));
	return {
		userId,
		foreignOwnerId,
		pageIds,
		tagIds,
		rules,
		contacts,
		stops,
		marks: {
			onInterval: pairsOf('sentOnInterval'),
			retryNow: pairsOf('failedRetryNow'),
			heldExpired: pairsOf('heldExpired'),
			sendingExpired: pairsOf('sendingExpired'),
		},
		repliedByMessage: replies.map((state) => ids[state.contact]),
	};
}
