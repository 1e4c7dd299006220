// automation_begin_send re-checks the Page as the judgement and the claim do: while a run generates
// and sends, the owner points the rule at another Page of theirs, or another owner connects the
// contact's Page. The begin then answers skipped (not_on_rule_page: the contact is no longer among
// the rule's contacts; page_of_another_owner: the claim's and the judgement's word), takes no
// duplicate guard and leaves the contact skipped, judged again at the next claim (migration
// 20261201001850_follow_up_begin_rule_page_and_dst_limit_day.sql; before it, the begin answered send
// and the follow-up went out from the old Page).
import type { BeginSendResult } from '../../../nodes/shared/contract';
import { createTestUser, serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, judgementOf } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plusMinutes = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const answers = (rows: BeginSendResult[]) => rows.map((row) => [row.outcome, row.reason, row.message === null ? null : 'message']);

const stateOf = (stateId: string) =>
	withDb(async (db) =>
		(
			await db.query(
				`select current_stage, skip_reason, follow_up_count, locked_by, locked_until, stage_detail ->> 'reason' as detail_reason
				   from public.ai_automation_contact_states where id = $1`,
				[stateId],
			)
		).rows[0],
	);

const guardsOf = (ruleId: string, conversationId: string) =>
	withDb(async (db) =>
		(await db.query('select follow_up_number, status from public.ai_automation_executions where rule_id = $1 and conversation_id = $2', [ruleId, conversationId])).rows,
	);

const skipped = (reason: string) => ({ current_stage: 'skipped', skip_reason: reason, follow_up_count: 0, locked_by: null, locked_until: null, detail_reason: reason });

const setRulePage = (ruleId: string, pageId: string | null) =>
	withDb((db) => db.query('update public.ai_automation_rules set page_id = $2 where id = $1', [ruleId, pageId]));

const connect = (pageId: string, userId: string) =>
	withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, userId]));

/** A rule of every Page with a contact on each of two Pages of its owner, claimed and generated: [state ids, conversation ids] by Page. */
async function readyOnTwoPages(executionId: string) {
	const world = await createWorld();
	const otherPage = uniquePageId();
	const ruleId = await world.rule({ pageId: null });
	const onFirst = await world.contact({ lastMessageHoursAgo: 1 });
	const onOther = await world.contact({ lastMessageHoursAgo: 1, pageId: otherPage });
	const claimed = await claim(service, ruleId, executionId, 10, NOW);
	const stateFor = (conversationId: string) => claimed.find((contact) => contact.conversation_id === conversationId)!.state_id;
	expect(claimed).toHaveLength(2);
	const stateIds = [stateFor(onFirst), stateFor(onOther)];
	await generate(service, executionId, stateIds, plusMinutes(1));
	return { world, ruleId, otherPage, stateIds, conversationIds: [onFirst, onOther] };
}

it("the rule moved to another Page of the owner's after the claim: its contact on the old Page is skipped not_on_rule_page, nothing begun; moved back, it is claimed again", async () => {
	// The reviewer's case: the rule on the world's Page, one contact there.
	const world = await createWorld();
	const ruleId = await world.rule({});
	const conversationId = await world.contact({ lastMessageHoursAgo: 1 });
	const [claimed] = await claim(service, ruleId, 'exec-page-moved', 10, NOW);
	expect(claimed.conversation_id).toBe(conversationId);
	await generate(service, 'exec-page-moved', [claimed.state_id], plusMinutes(1));
	// The owner points the rule at another Page of theirs.
	await setRulePage(ruleId, uniquePageId());

	const begun = await beginSend(service, 'exec-page-moved', [claimed.state_id], plusMinutes(2));
	expect(answers(begun)).toEqual([['skipped', 'not_on_rule_page', null]]);
	expect(await stateOf(claimed.state_id)).toEqual(skipped('not_on_rule_page'));
	expect(await guardsOf(ruleId, conversationId)).toEqual([]);
	// No longer among the rule's contacts: Explain has no row for it, as for an untagged contact.
	await expect(judgementOf(service, ruleId, conversationId, plusMinutes(3))).rejects.toThrow(/not among the rule's tagged contacts/);

	// The rule back on the contact's Page: due, and claimed as follow-up 1.
	await setRulePage(ruleId, world.pageId);
	expect(await judgementOf(service, ruleId, conversationId, plusMinutes(5))).toMatchObject({ reason: null, due: true });
	expect(await claim(service, ruleId, 'exec-page-back', 10, plusMinutes(5))).toEqual([
		expect.objectContaining({ state_id: claimed.state_id, follow_up_number: 1 }),
	]);
});

it('a rule of every Page given one Page after the claim: the contact on that Page is sent, the one on the other skipped not_on_rule_page', async () => {
	const { world, ruleId, stateIds, conversationIds } = await readyOnTwoPages('exec-every-page');
	await setRulePage(ruleId, world.pageId);

	const begun = await beginSend(service, 'exec-every-page', stateIds, plusMinutes(2));
	const byState = new Map(begun.map((row) => [row.state_id, row]));
	expect(answers(stateIds.map((id) => byState.get(id)!))).toEqual([
		['send', null, 'message'],
		['skipped', 'not_on_rule_page', null],
	]);
	expect(byState.get(stateIds[0])!.page_id).toBe(world.pageId);
	expect(await guardsOf(ruleId, conversationIds[0])).toEqual([{ follow_up_number: 1, status: 'sending' }]);
	expect(await stateOf(stateIds[1])).toEqual(skipped('not_on_rule_page'));
	expect(await guardsOf(ruleId, conversationIds[1])).toEqual([]);
});

it("another owner connects a contact's Page after the claim: that contact is skipped page_of_another_owner, as Explain then says; the owner's own Page connected changes nothing", async () => {
	const { world, ruleId, otherPage, stateIds, conversationIds } = await readyOnTwoPages('exec-other-owner');
	await connect(world.pageId, world.userId);
	await connect(otherPage, await createTestUser('page-owner'));

	const begun = await beginSend(service, 'exec-other-owner', stateIds, plusMinutes(2));
	const byState = new Map(begun.map((row) => [row.state_id, row]));
	expect(answers(stateIds.map((id) => byState.get(id)!))).toEqual([
		['send', null, 'message'],
		['skipped', 'page_of_another_owner', null],
	]);
	expect(await stateOf(stateIds[1])).toEqual(skipped('page_of_another_owner'));
	expect(await guardsOf(ruleId, conversationIds[1])).toEqual([]);
	expect(await judgementOf(service, ruleId, conversationIds[1], plusMinutes(3))).toMatchObject({ reason: 'page_of_another_owner', contact_status: 'skipped', due: false });
});
