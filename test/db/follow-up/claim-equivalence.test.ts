// The claim and the judgement must never disagree. automation_claim walks candidate conversations
// with pre-filters of its own (window open, active, page, include / exclude tags) before it asks
// automation_judge_contact; automation_evaluate judges every tagged contact. On a mixed data set
// (mixed-world.ts: every reason, the boundaries, two Pages and contacts on a third Page another
// owner connected, tag_match any and all, stops, contacts in every stage), for every rule at one
// fixed moment inside its active hours:
//   - a claim with room for everyone takes exactly the contacts evaluate calls due, no more, no fewer;
//   - a claim of 7 takes the 7 due contacts whose window closes soonest (ties by conversation id),
//     and a second execution's claim of 7 the next 7, never one of the first;
//   - afterwards evaluate shows the claimed contacts in_progress, held by their execution, and
//     every other contact as before.
import type { ClaimedContact } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { NOW } from './fixtures';
import { MIXED_RULES, seedMixedWorld, type MixedWorld } from './mixed-world';
import { claim } from './stage-helpers';

const service = serviceClient({ now: NOW });
const SEED = 20_261_125;
const ENABLED_RULES = MIXED_RULES.filter((rule) => rule.enabled).map((rule) => rule.key);

/** The automation_evaluate columns these tests read. */
interface Judged {
	conversation_id: string;
	page_id: string;
	due: boolean;
	reason: string | null;
	stop_reason: string | null;
	current_stage: string | null;
	locked_by: string | null;
	locked_until: string | null;
	follow_up_count: number;
	last_customer_message_at: string | null;
}

/** The judgement of every tagged contact (an internal function: not callable through the Data API). */
const evaluate = (ruleId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ judged: Judged }>('select to_jsonb(e) as judged from leadflow_private.automation_evaluate($1, $2) e', [
			ruleId,
			NOW.toISOString(),
		]);
		return rows.map((row) => row.judged);
	});

const idsOf = (rows: Array<{ conversation_id: string }>) => rows.map((row) => row.conversation_id).sort();
const dueIds = (rows: Judged[]) => idsOf(rows.filter((row) => row.due));
const byConversation = <T extends { conversation_id: string }>(rows: T[]) => new Map(rows.map((row) => [row.conversation_id, row]));

/** The due contacts in the order the claim promises: soonest-closing window first, then conversation id. */
function soonestClosingFirst(rows: Judged[]): Judged[] {
	return rows
		.filter((row) => row.due)
		.sort(
			(a, b) =>
				Date.parse(a.last_customer_message_at!) - Date.parse(b.last_customer_message_at!) ||
				(a.conversation_id < b.conversation_id ? -1 : a.conversation_id > b.conversation_id ? 1 : 0),
		);
}

/** Left in sending by an execution whose lease has run out: the claim's reaper makes it failed send_uncertain. */
const abandonedInSending = (row: Judged) => row.current_stage === 'sending' && Date.parse(row.locked_until!) <= NOW.getTime();

function countBy<T>(values: T[]): Map<T, number> {
	const counts = new Map<T, number>();
	for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
	return counts;
}

describe('on a mixed data set, the claim takes exactly the contacts the judgement calls due', () => {
	let world: MixedWorld;

	beforeAll(async () => {
		world = await seedMixedWorld(SEED);
	});

	it('the data set exercises every reason, the boundaries, the page and tag filters and stop on reply', async () => {
		const judged = new Map<string, Judged[]>();
		for (const rule of MIXED_RULES) judged.set(rule.key, await evaluate(world.rules[rule.key]));
		const all = [...judged.values()].flat();

		const reasons = countBy(all.map((row) => row.reason ?? 'due'));
		const required = [
			'due', 'in_progress', 'rule_disabled', 'excluded_tag', 'page_of_another_owner', 'inactive', 'stopped', 'failed', 'max_follow_ups',
			'interval_not_elapsed', 'outside_window',
		];
		// At least three contacts each, so no reason is there by one accident of the seed.
		expect(required.filter((reason) => (reasons.get(reason) ?? 0) < 3)).toEqual([]);
		// Every enabled rule has due contacts and contacts that are not.
		const split = (rows: Judged[]) => ({ due: rows.filter((row) => row.due).length >= 5, notDue: rows.filter((row) => !row.due).length >= 5 });
		expect(ENABLED_RULES.map((key) => [key, split(judged.get(key)!)])).toEqual(ENABLED_RULES.map((key) => [key, { due: true, notDue: true }]));

		// Exactly 24 h since the last message is outside the window; one second less is inside.
		const secondsAgo = (row: Judged) => (NOW.getTime() - Date.parse(row.last_customer_message_at!)) / 1000;
		const withMessage = all.filter((row) => row.last_customer_message_at !== null);
		expect(withMessage.some((row) => secondsAgo(row) === 86_400 && row.reason === 'outside_window')).toBe(true);
		expect(withMessage.some((row) => secondsAgo(row) === 86_399 && row.due)).toBe(true);
		expect(all.some((row) => row.last_customer_message_at === null && row.reason === 'outside_window')).toBe(true);

		// The seeded boundaries reach the judgement: the interval elapsed exactly now, a retry due exactly now.
		const reasonOf = (rule: string, conversationId: string) => byConversation(judged.get(rule)!).get(conversationId);
		const onInterval = world.marks.onInterval.map((pair) => reasonOf(pair.rule, pair.conversationId)).filter(Boolean);
		expect(onInterval.some((row) => row!.due)).toBe(true);
		const retryNow = world.marks.retryNow.map((pair) => reasonOf(pair.rule, pair.conversationId)).filter(Boolean);
		expect(retryNow.some((row) => row!.due)).toBe(true);
		// A lease that ran out no longer holds the contact; a send left in sending still does.
		const heldExpired = world.marks.heldExpired.map((pair) => reasonOf(pair.rule, pair.conversationId)).filter(Boolean);
		expect(heldExpired.some((row) => row!.due)).toBe(true);
		const sendingExpired = world.marks.sendingExpired.map((pair) => reasonOf(pair.rule, pair.conversationId)).filter(Boolean);
		expect(sendingExpired.length).toBeGreaterThan(0);
		expect(sendingExpired.map((row) => row!.reason)).toEqual(sendingExpired.map(() => 'in_progress'));

		// Stops: for every rule, for one rule only (that contact due under another rule), and replies.
		expect(new Set(all.map((row) => row.stop_reason))).toEqual(new Set([null, 'human_takeover', 'manual', 'replied']));
		const stoppedForOneRule = world.stops.filter((stop) => stop.rule !== null);
		expect(
			stoppedForOneRule.some((stop) =>
				ENABLED_RULES.some((other) => other !== stop.rule && reasonOf(other, stop.conversationId)?.due === true),
			),
		).toBe(true);
		// A reply stops the contact under stop-on-reply rules only; some replies came as real messages.
		expect(judged.get('anyLeadOrHot')!.filter((row) => row.stop_reason === 'replied').length).toBeGreaterThanOrEqual(3);
		expect(judged.get('allLeadAndWebinar')!.filter((row) => row.stop_reason === 'replied')).toEqual([]);
		expect(world.repliedByMessage.length).toBeGreaterThan(0);
		const triggered = await withDb((db) =>
			db.query(`select 1 from public.ai_automation_stops where conversation_id = any ($1::uuid[]) and reason = 'replied'`, [world.repliedByMessage]),
		);
		expect(triggered.rowCount).toBeGreaterThan(0);

		// Every contact on the Page another owner connected is judged page_of_another_owner (or a reason
		// before it: held, the rule off, an excluded tag), and the other contacts never are.
		const pageOf = new Map(world.contacts.map((contact) => [contact.id, contact.page]));
		const onForeign = all.filter((row) => pageOf.get(row.conversation_id) === 'foreign');
		expect(onForeign.length).toBeGreaterThanOrEqual(10);
		expect(new Set(onForeign.map((row) => row.reason))).toEqual(new Set(['page_of_another_owner', 'in_progress', 'rule_disabled', 'excluded_tag']));
		expect(all.filter((row) => row.reason === 'page_of_another_owner' && pageOf.get(row.conversation_id) !== 'foreign')).toEqual([]);

		// The second Page's rule sees only that Page, though first-Page contacts carry its tags.
		const contactOf = new Map(world.contacts.map((contact) => [contact.id, contact]));
		const secondPageRule = MIXED_RULES.find((rule) => rule.key === 'secondPageOnly')!;
		expect(new Set(judged.get('secondPageOnly')!.map((row) => contactOf.get(row.conversation_id)!.page))).toEqual(new Set(['second']));
		expect(world.contacts.some((contact) => contact.page === 'first' && contact.tags.some((tag) => secondPageRule.include.includes(tag)))).toBe(true);
		// tag_match all: only contacts carrying every include tag, though many carry some of them.
		const allRule = MIXED_RULES.find((rule) => rule.key === 'allLeadAndWebinar')!;
		const carriesAll = (id: string) => allRule.include.every((tag) => contactOf.get(id)!.tags.includes(tag));
		expect(judged.get('allLeadAndWebinar')!.every((row) => carriesAll(row.conversation_id))).toBe(true);
		expect(world.contacts.filter((contact) => contact.tags.includes('Lead') && !carriesAll(contact.id)).length).toBeGreaterThan(10);
	});

	it.each(MIXED_RULES.map((rule) => [rule.key, rule.enabled] as const))(
		'rule %s: a claim with room for everyone takes exactly the due contacts, and evaluate then shows them in progress',
		async (key, enabled) => {
			const ruleId = world.rules[key];
			const executionId = `exec-all-${key}`;
			const before = await evaluate(ruleId);

			const claimed = await claim(service, ruleId, executionId, 10_000);
			expect(idsOf(claimed)).toEqual(dueIds(before));
			expect(claimed.length > 0).toBe(enabled);
			const judgedBefore = byConversation(before);
			expect(claimed.map((contact) => contact.follow_up_number)).toEqual(
				claimed.map((contact) => judgedBefore.get(contact.conversation_id)!.follow_up_count + 1),
			);

			const after = await evaluate(ruleId);
			expect(idsOf(after)).toEqual(idsOf(before));
			const claimedIds = new Set(claimed.map((contact) => contact.conversation_id));
			const summary = (row: Judged) =>
				claimedIds.has(row.conversation_id)
					? { id: row.conversation_id, reason: row.reason, stage: row.current_stage, heldBy: row.locked_by }
					: abandonedInSending(judgedBefore.get(row.conversation_id)!)
						? { id: row.conversation_id, due: row.due, stage: row.current_stage, inProgress: row.reason === 'in_progress' }
						: { id: row.conversation_id, reason: row.reason };
			const expected = (row: Judged) =>
				claimedIds.has(row.conversation_id)
					? { id: row.conversation_id, reason: 'in_progress', stage: 'eligible', heldBy: executionId }
					: abandonedInSending(row)
						? { id: row.conversation_id, due: false, stage: 'failed', inProgress: false }
						: { id: row.conversation_id, reason: row.reason };
			const order = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
			expect(after.map(summary).sort(order)).toEqual(before.map(expected).sort(order));

			// Nothing is left to claim now.
			expect(await claim(service, ruleId, `${executionId}-again`, 10_000)).toEqual([]);
		},
	);
});

describe('a small limit takes the due contacts whose window closes soonest, page after page', () => {
	let world: MixedWorld;

	beforeAll(async () => {
		world = await seedMixedWorld(SEED);
	});

	it('the first pages are full and cut through contacts whose windows close at the same second', async () => {
		const order = soonestClosingFirst(await evaluate(world.rules.anyLeadOrHot));
		expect(order.length).toBeGreaterThan(14);
		// The 7th and 8th share a closing time: only the conversation id decides which page each is on.
		expect(order[7].last_customer_message_at).toBe(order[6].last_customer_message_at);
	});

	it.each(ENABLED_RULES)('rule %s: 7 for one execution, the next 7 for another, never the same contact', async (key) => {
		const ruleId = world.rules[key];
		const before = await evaluate(ruleId);
		const order = soonestClosingFirst(before).map((row) => row.conversation_id);

		const first: ClaimedContact[] = await claim(service, ruleId, `exec-page-1-${key}`, 7);
		expect(idsOf(first)).toEqual(order.slice(0, 7).sort());
		const second: ClaimedContact[] = await claim(service, ruleId, `exec-page-2-${key}`, 7);
		expect(idsOf(second)).toEqual(order.slice(7, 14).sort());
		expect(idsOf(first).filter((id) => idsOf(second).includes(id))).toEqual([]);

		const after = byConversation(await evaluate(ruleId));
		const heldBy = (ids: string[]) => ids.map((id) => [id, after.get(id)?.reason, after.get(id)?.locked_by]);
		expect(heldBy(order.slice(0, 7))).toEqual(order.slice(0, 7).map((id) => [id, 'in_progress', `exec-page-1-${key}`]));
		expect(heldBy(order.slice(7, 14))).toEqual(order.slice(7, 14).map((id) => [id, 'in_progress', `exec-page-2-${key}`]));
		expect(order.slice(14).filter((id) => !after.get(id)?.due)).toEqual([]);
	});
});
