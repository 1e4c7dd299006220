// A send Facebook refused for the 24 h window (Graph 10 / 2018278: automation_record_send records
// the contact skipped, skip_reason outside_window) keeps the contact not due, outside_window, while
// the database's own window still looks open: no claim takes it again (which would pay a generation
// and call Graph again every run). A message from the person after that send's claim opens a new
// window: it is due again (migration 20261201001660_follow_up_window_refusal_not_due.sql).
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../../helpers/stack';
import { addMessage, at, createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, judgementOf, recordSend, rpc, runPipeline } from './stage-helpers';
import type { ClaimExplained } from '../../../nodes/shared/contract';

const service = serviceClient({ now: NOW });
const plus = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);
// Message ids unique to this run: the clock projects run this file on one database.
const RUN = randomUUID().slice(0, 8);

/** Claims the rule's one due contact at `now`, generates, begins the send and records Facebook's window refusal. */
async function refusedForTheWindow(ruleId: string, conversationId: string, executionId: string, now = NOW) {
	const [claimed] = await claim(service, ruleId, executionId, 10, now);
	expect(claimed).toMatchObject({ conversation_id: conversationId });
	await generate(service, executionId, [claimed.state_id], now);
	const [begun] = await beginSend(service, executionId, [claimed.state_id], now);
	expect(begun.outcome).toBe('send');
	// What Facebook Send reports for Graph 10 / 2018278 (nodes/FacebookSend/helpers/reports.ts).
	expect(
		await recordSend(
			service,
			executionId,
			[{ state_id: claimed.state_id, outcome: 'skipped', reason: 'outside_window', error_code: 'outside_window', error_message: '(#10) This message is sent outside of allowed window.' }],
			new Date(now.getTime() + 60_000),
		),
	).toEqual([{ state_id: claimed.state_id, outcome: 'skipped' }]);
	return claimed.state_id;
}

const claimExplained = (ruleId: string, executionId: string, now = NOW) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', { p_rule_id: ruleId, p_limit: 10, p_execution_id: executionId, p_now: now.toISOString() });

const stateOf = (stateId: string) =>
	withDb(async (db) =>
		(
			await db.query<{ current_stage: string; skip_reason: string | null; follow_up_count: number }>(
				'select current_stage, skip_reason, follow_up_count from public.ai_automation_contact_states where id = $1',
				[stateId],
			)
		).rows[0],
	);

it('a first follow-up refused for the window: not claimed again, outside_window, until the person writes; then due, not stopped', async () => {
	const world = await createWorld();
	// Stop on reply on: a reply stops only a contact a follow-up was sent to, not this one.
	const ruleId = await world.rule({ stopOnReply: true, minHours: 4 });
	const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
	const stateId = await refusedForTheWindow(ruleId, conversationId, 'exec-refused-1');
	expect(await stateOf(stateId)).toEqual({ current_stage: 'skipped', skip_reason: 'outside_window', follow_up_count: 0 });

	// Five minutes later (the schedule's next run), and an hour later: the database's window is open
	// (its last message is 2 h old), yet the contact is not due, and no claim takes it.
	for (const later of [plus(5 / 60), plus(1)]) {
		expect(await judgementOf(service, ruleId, conversationId, later)).toMatchObject({
			reason: 'outside_window',
			due: false,
			due_at: null,
			contact_status: 'skipped',
			current_stage: 'skipped',
		});
		const explained = await claimExplained(ruleId, `exec-again-${later.getTime()}`, later);
		expect(explained.contacts).toEqual([]);
		expect(explained.summary).toMatchObject({ claimed: 0, reason: 'no_more_due', notClaimed: { outside_window: 1 } });
		expect(await claim(service, ruleId, `exec-plain-${later.getTime()}`, 10, later)).toEqual([]);
	}
	expect(await stateOf(stateId)).toMatchObject({ current_stage: 'skipped', skip_reason: 'outside_window' });

	// The person writes (the webhook's insert): a new window. Due again, and not stopped (no follow-up
	// was sent, so the reply is not a reply to one).
	await addMessage(conversationId, 'inbound', at(1.5), 'Hi, are you still there?');
	expect(await judgementOf(service, ruleId, conversationId, plus(2))).toMatchObject({ reason: null, due: true, stop_reason: null });
	const { claimed, sent } = await runPipeline(service, ruleId, 'exec-after-reply', plus(2));
	expect(claimed).toEqual([expect.objectContaining({ conversation_id: conversationId, follow_up_number: 1 })]);
	expect(sent).toEqual([{ state_id: stateId, outcome: 'sent' }]);
});

it('a later follow-up refused for the window: not due until the person writes; the reply then stops it (stop on reply)', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ stopOnReply: true, minHours: 4, maxFollowUps: 3 });
	const conversationId = await world.contact({ lastMessageHoursAgo: 1 });
	// The first follow-up goes out at NOW; the second, 5 h later, is refused for the window.
	const first = await runPipeline(service, ruleId, `exec-first-${RUN}`);
	expect(first.sent.map((row) => row.outcome)).toEqual(['sent']);
	const stateId = await refusedForTheWindow(ruleId, conversationId, 'exec-refused-2', plus(5));
	expect(await stateOf(stateId)).toEqual({ current_stage: 'skipped', skip_reason: 'outside_window', follow_up_count: 1 });

	expect(await judgementOf(service, ruleId, conversationId, plus(6))).toMatchObject({ reason: 'outside_window', due: false });
	expect(await claim(service, ruleId, 'exec-again-2', 10, plus(6))).toEqual([]);

	// The person writes: stop on reply stops the contact (their reply is newer than the follow-up sent).
	await addMessage(conversationId, 'inbound', at(5.5), 'stop please');
	expect(await judgementOf(service, ruleId, conversationId, plus(6))).toMatchObject({ reason: 'stopped', stop_reason: 'replied' });
});

it('a message between the claim and the record of the refusal opens a new window: due again', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ stopOnReply: false });
	const conversationId = await world.contact({ lastMessageHoursAgo: 3 });
	const stateId = await refusedForTheWindow(ruleId, conversationId, 'exec-refused-3');
	// Written 30 s after the claim, stored after the refusal was recorded (a late webhook, a sync).
	await addMessage(conversationId, 'inbound', new Date(NOW.getTime() + 30_000).toISOString(), 'just saw this');
	expect(await judgementOf(service, ruleId, conversationId, plus(0.5))).toMatchObject({ reason: null, due: true });
	expect(await claim(service, ruleId, 'exec-again-3', 10, plus(0.5))).toEqual([expect.objectContaining({ state_id: stateId })]);
});

it('a skip for another reason, and another rule of the refused conversation, are judged as before', async () => {
	const world = await createWorld();
	const refusing = await world.rule({ stopOnReply: false });
	const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
	await refusedForTheWindow(refusing, conversationId, 'exec-refusing');
	// A second rule for the same conversation, created after the refusal: its contact has no state.
	const other = await world.rule({ stopOnReply: false, name: 'Another rule' });
	expect((await judgementOf(service, refusing, conversationId, plus(1))).reason).toBe('outside_window');
	expect(await judgementOf(service, other, conversationId, plus(1))).toMatchObject({ reason: null, due: true });

	// Skipped for another reason (a stop found at the send, since deleted): due as before.
	const skipped = await world.rule({ stopOnReply: false, name: 'Skipped for a stop' });
	const elsewhere = await world.contact({ lastMessageHoursAgo: 2, tags: ['Hot'] });
	await withDb((db) => db.query('update public.ai_automation_rules set include_tag_ids = $2 where id = $1', [skipped, [world.tags.Hot]]));
	const [claimed] = await claim(service, skipped, 'exec-skipped-stop', 10);
	expect(claimed).toMatchObject({ conversation_id: elsewhere });
	await generate(service, 'exec-skipped-stop', [claimed.state_id]);
	expect((await beginSend(service, 'exec-skipped-stop', [claimed.state_id]))[0].outcome).toBe('send');
	await recordSend(service, 'exec-skipped-stop', [{ state_id: claimed.state_id, outcome: 'skipped', reason: 'stopped', error_code: 'stopped' }]);
	expect(await judgementOf(service, skipped, elsewhere, plus(1))).toMatchObject({ reason: null, due: true, current_stage: 'skipped' });
	expect(await stateOf(claimed.state_id)).toMatchObject({ current_stage: 'skipped', skip_reason: 'stopped' });
});
