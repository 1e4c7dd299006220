// Two promises of docs/follow-up.md, "What the begin checks again": a contact automation_begin_send
// skips no longer counts in the day's use (the claim had reserved its place in the daily limit; the
// skip gives it back, so the next claim takes another contact), and a contact whose *conversation*
// moved to another Page after the claim (the rule's Page unchanged) is skipped not_on_rule_page, as
// when the rule is pointed at another Page (begin-send-rule-page.test.ts). Fixed instants.
import { serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plusMinutes = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

interface ClaimExplained {
	contacts: Array<{ conversation_id: string }>;
	summary: { claimed: number; rules: Array<Record<string, unknown>>; notClaimed: Record<string, number> };
}

const claimExplained = (ruleId: string, executionId: string, now: Date) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId, p_limit: 10, p_execution_id: executionId, p_lease_seconds: 600, p_now: now.toISOString(), p_page_id: null,
	});

it("a contact the begin skips no longer counts in the day's use: with a limit of 2, the next claim takes one more contact", async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ exclude: ['Do Not Contact'], dailyLimit: 2 });
	await world.contacts(3, { lastMessageHoursAgo: 1 });
	const claimed = await claim(service, ruleId, 'exec-day-use', 2, NOW);
	expect(claimed).toHaveLength(2);
	const stateIds = claimed.map((contact) => contact.state_id);
	await generate(service, 'exec-day-use', stateIds, plusMinutes(1));
	// The first claimed contact is given the rule's excluded tag before the send begins.
	await withDb((db) =>
		db.query('insert into public.conversation_tags (user_id, conversation_id, tag_id) values ($1, $2, $3)', [world.userId, claimed[0].conversation_id, world.tags['Do Not Contact']]),
	);

	const begun = await beginSend(service, 'exec-day-use', stateIds, plusMinutes(2));
	expect(begun.map((row) => [row.state_id, row.outcome, row.reason])).toEqual(
		expect.arrayContaining([[stateIds[0], 'skipped', 'excluded_tag'], [stateIds[1], 'send', null]]),
	);

	// One send begun counts; the skipped contact does not: the limit has one place left, and the
	// third contact (never claimed) takes it. Were the skipped contact still counted, usedToday would
	// be 2 and nothing claimed (daily_limit_reached).
	const next = await claimExplained(ruleId, 'exec-day-use-2', plusMinutes(3));
	expect(next.summary.rules[0]).toMatchObject({ usedToday: 1, dailyLimit: 2 });
	expect(next.summary.claimed).toBe(1);
	expect(next.contacts.map((contact) => contact.conversation_id)).not.toContain(claimed[0].conversation_id);
	expect(next.summary.notClaimed).toMatchObject({ excluded_tag: 1 });
});

it("a claimed contact whose conversation moved to another Page (the rule's Page unchanged) is skipped not_on_rule_page, nothing begun", async () => {
	const world = await createWorld();
	const ruleId = await world.rule({});
	const conversationId = await world.contact({ lastMessageHoursAgo: 1 });
	const [claimed] = await claim(service, ruleId, 'exec-conv-moved', 10, NOW);
	expect(claimed.conversation_id).toBe(conversationId);
	await generate(service, 'exec-conv-moved', [claimed.state_id], plusMinutes(1));
	// The conversation is now on another Page of the owner's; the rule stays on the world's Page.
	await withDb((db) => db.query('update public.messenger_conversations set page_id = $2 where id = $1', [conversationId, uniquePageId()]));

	const begun = await beginSend(service, 'exec-conv-moved', [claimed.state_id], plusMinutes(2));
	expect(begun.map((row) => [row.outcome, row.reason])).toEqual([['skipped', 'not_on_rule_page']]);
	const [state] = await withDb(async (db) =>
		(await db.query('select current_stage, skip_reason, follow_up_count from public.ai_automation_contact_states where id = $1', [claimed.state_id])).rows,
	);
	expect(state).toEqual({ current_stage: 'skipped', skip_reason: 'not_on_rule_page', follow_up_count: 0 });
	const guards = await withDb(async (db) =>
		(await db.query('select 1 from public.ai_automation_executions where rule_id = $1 and conversation_id = $2', [ruleId, conversationId])).rows,
	);
	expect(guards).toEqual([]);
});
