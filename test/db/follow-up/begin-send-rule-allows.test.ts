// automation_begin_send re-checks what the rule allows now, not only at the claim: while a run
// generates and sends, the owner switches the rule off, gives a contact an excluded tag, takes the
// rule's include tag off it, or lowers its follow-ups per contact. The begin then answers skipped
// with the judgement's word (rule_disabled, excluded_tag, max_follow_ups; not_tagged for a contact
// no longer among the rule's), takes no duplicate guard, and leaves the contact skipped, to be
// judged again at the next claim (migration 20261201001820_follow_up_begin_send_rule_still_allows.sql).
import type { BeginSendResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW, type RuleOptions, type World } from './fixtures';
import { beginSend, claim, generate, judgementOf, runPipeline } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plusMinutes = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);
const plusHours = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);

/** Two contacts of a new rule claimed and generated at NOW (ready to send for `executionId`), sorted by state id. */
async function readyPair(executionId: string, rule: RuleOptions = {}, tags?: string[]) {
	const world = await createWorld();
	const ruleId = await world.rule({ exclude: ['Do Not Contact'], ...rule });
	await world.contacts(2, { lastMessageHoursAgo: 1, ...(tags && { tags }) });
	const claimed = [...(await claim(service, ruleId, executionId, 10, NOW))].sort((a, b) => a.state_id.localeCompare(b.state_id));
	expect(claimed).toHaveLength(2);
	await generate(service, executionId, claimed.map((contact) => contact.state_id), plusMinutes(1));
	return { world, ruleId, stateIds: claimed.map((contact) => contact.state_id), conversationIds: claimed.map((contact) => contact.conversation_id) };
}

const stateOf = (stateId: string) =>
	withDb(async (db) =>
		(
			await db.query(
				`select current_stage, skip_reason, follow_up_count, locked_by, locked_until, error_message, stage_detail ->> 'reason' as detail_reason
				   from public.ai_automation_contact_states where id = $1`,
				[stateId],
			)
		).rows[0],
	);

/** The duplicate guard rows of a contact under a rule (none: nothing was begun for it). */
const guardsOf = (ruleId: string, conversationId: string) =>
	withDb(async (db) =>
		(
			await db.query('select follow_up_number, status from public.ai_automation_executions where rule_id = $1 and conversation_id = $2 order by follow_up_number', [
				ruleId,
				conversationId,
			])
		).rows,
	);

const answers = (rows: BeginSendResult[]) => rows.map((row) => [row.outcome, row.reason, row.message === null ? null : 'message']);

/** What a skipped contact is: skipped with the reason, not held, nothing sent, no guard. */
async function expectSkipped(ruleId: string, stateId: string, conversationId: string, reason: string, followUpCount = 0) {
	expect(await stateOf(stateId)).toEqual({
		current_stage: 'skipped',
		skip_reason: reason,
		follow_up_count: followUpCount,
		locked_by: null,
		locked_until: null,
		error_message: null,
		detail_reason: reason,
	});
	expect((await guardsOf(ruleId, conversationId)).filter((guard) => guard.follow_up_number > followUpCount)).toEqual([]);
}

const setRule = (ruleId: string, set: string, value: unknown) =>
	withDb((db) => db.query(`update public.ai_automation_rules set ${set} = $2 where id = $1`, [ruleId, value]));

it('the rule switched off after the claim: every contact is skipped rule_disabled, nothing begun; switched back on, they are claimed and sent', async () => {
	const { ruleId, stateIds, conversationIds } = await readyPair('exec-disabled');
	await setRule(ruleId, 'enabled', false);

	const begun = await beginSend(service, 'exec-disabled', stateIds, plusMinutes(2));
	expect(answers(begun)).toEqual([
		['skipped', 'rule_disabled', null],
		['skipped', 'rule_disabled', null],
	]);
	for (const [i, stateId] of stateIds.entries()) await expectSkipped(ruleId, stateId, conversationIds[i], 'rule_disabled');
	// Explain says what the begin said.
	expect(await judgementOf(service, ruleId, conversationIds[0], plusMinutes(3))).toMatchObject({ reason: 'rule_disabled', contact_status: 'skipped' });

	// Switched back on: due again, claimed and sent as follow-up 1.
	await setRule(ruleId, 'enabled', true);
	expect(await judgementOf(service, ruleId, conversationIds[0], plusMinutes(5))).toMatchObject({ reason: null, due: true });
	const { claimed, sent } = await runPipeline(service, ruleId, 'exec-disabled-again', plusMinutes(5));
	expect(claimed.map((contact) => [contact.state_id, contact.follow_up_number]).sort()).toEqual(stateIds.map((id) => [id, 1]).sort());
	expect(sent.map((row) => row.outcome)).toEqual(['sent', 'sent']);
});

it('an excluded tag given to one contact after the claim: that one is skipped excluded_tag, the other sent', async () => {
	const { world, ruleId, stateIds, conversationIds } = await readyPair('exec-excluded');
	await withDb((db) =>
		db.query('insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)', [conversationIds[0], world.tags['Do Not Contact'], world.userId]),
	);

	const begun = await beginSend(service, 'exec-excluded', stateIds, plusMinutes(2));
	expect(answers(begun)).toEqual([
		['skipped', 'excluded_tag', null],
		['send', null, 'message'],
	]);
	await expectSkipped(ruleId, stateIds[0], conversationIds[0], 'excluded_tag');
	expect(await stateOf(stateIds[1])).toMatchObject({ current_stage: 'sending' });
	expect(await guardsOf(ruleId, conversationIds[1])).toEqual([{ follow_up_number: 1, status: 'sending' }]);
	expect(await judgementOf(service, ruleId, conversationIds[0], plusMinutes(3))).toMatchObject({ reason: 'excluded_tag', contact_status: 'skipped' });

	// The excluded tag taken off again: due, and claimed.
	await withDb((db) => db.query('delete from public.conversation_tags where conversation_id = $1 and tag_id = $2', [conversationIds[0], world.tags['Do Not Contact']]));
	const again = await claim(service, ruleId, 'exec-excluded-again', 10, plusMinutes(5));
	expect(again.map((contact) => contact.state_id)).toEqual([stateIds[0]]);
});

async function untag(world: World, conversationId: string, tag: string) {
	await withDb((db) => db.query('delete from public.conversation_tags where conversation_id = $1 and tag_id = $2', [conversationId, world.tags[tag]]));
}

it("the rule's include tag taken off one contact after the claim: that one is skipped not_tagged, the other sent", async () => {
	const { world, ruleId, stateIds, conversationIds } = await readyPair('exec-untagged');
	await untag(world, conversationIds[1], 'AI Lead');

	const begun = await beginSend(service, 'exec-untagged', stateIds, plusMinutes(2));
	expect(answers(begun)).toEqual([
		['send', null, 'message'],
		['skipped', 'not_tagged', null],
	]);
	await expectSkipped(ruleId, stateIds[1], conversationIds[1], 'not_tagged');
	// No longer among the rule's contacts: Explain has no row for it.
	await expect(judgementOf(service, ruleId, conversationIds[1], plusMinutes(3))).rejects.toThrow(/not among the rule's tagged contacts/);
});

it('tag match all: a contact that lost one of the two include tags is skipped not_tagged, one carrying both is sent', async () => {
	const { world, ruleId, stateIds, conversationIds } = await readyPair('exec-all', { include: ['AI Lead', 'Hot'], tagMatch: 'all' }, ['AI Lead', 'Hot']);
	await untag(world, conversationIds[0], 'Hot');

	const begun = await beginSend(service, 'exec-all', stateIds, plusMinutes(2));
	expect(answers(begun)).toEqual([
		['skipped', 'not_tagged', null],
		['send', null, 'message'],
	]);
	await expectSkipped(ruleId, stateIds[0], conversationIds[0], 'not_tagged');
});

it('follow-ups per contact lowered to what was sent after the claim of the next: skipped max_follow_ups, the count kept', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ maxFollowUps: 3, minHours: 1 });
	const conversationId = await world.contact({ lastMessageHoursAgo: 1 });
	await runPipeline(service, ruleId, 'exec-max-1', NOW);
	await runPipeline(service, ruleId, 'exec-max-2', plusHours(1));
	const [third] = await claim(service, ruleId, 'exec-max-3', 10, plusHours(2));
	expect(third).toMatchObject({ conversation_id: conversationId, follow_up_number: 3 });
	await generate(service, 'exec-max-3', [third.state_id], plusHours(2));
	// The owner: "two follow-ups are enough".
	await setRule(ruleId, 'max_follow_ups', 2);

	const begun = await beginSend(service, 'exec-max-3', [third.state_id], plusHours(2));
	expect(answers(begun)).toEqual([['skipped', 'max_follow_ups', null]]);
	await expectSkipped(ruleId, third.state_id, conversationId, 'max_follow_ups', 2);
	expect(await guardsOf(ruleId, conversationId)).toEqual([
		{ follow_up_number: 1, status: 'sent' },
		{ follow_up_number: 2, status: 'sent' },
	]);
	expect(await judgementOf(service, ruleId, conversationId, plusHours(2.1))).toMatchObject({ reason: 'max_follow_ups', follow_up_count: 2 });

	// Raised again: the third is due and claimed.
	await setRule(ruleId, 'max_follow_ups', 3);
	const again = await claim(service, ruleId, 'exec-max-4', 10, plusHours(2.2));
	expect(again).toEqual([expect.objectContaining({ state_id: third.state_id, follow_up_number: 3 })]);
});

it('a rule whose settings changed in nothing that matters (its name, a tag it does not use) still sends every contact', async () => {
	const { world, ruleId, stateIds, conversationIds } = await readyPair('exec-unchanged');
	await setRule(ruleId, 'name', 'Renamed while sending');
	await withDb((db) => db.query('insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)', [conversationIds[0], world.tags.Hot, world.userId]));

	const begun = await beginSend(service, 'exec-unchanged', stateIds, plusMinutes(2));
	expect(answers(begun)).toEqual([
		['send', null, 'message'],
		['send', null, 'message'],
	]);
	for (const conversationId of conversationIds) expect(await guardsOf(ruleId, conversationId)).toEqual([{ follow_up_number: 1, status: 'sending' }]);
});
