// Stop on reply when something is recorded late (migration …1940): a follow-up recorded as sent only
// after the person answered it (its send was uncertain: the app's own echo settles it, or the slow
// sender's own report comes after the reaper), and a reply to follow-up #1 that only Messenger Sync
// records, after #2 went out. Before …1940 neither stopped the contact: the next follow-up was
// claimed and sent to a person who had answered.
import type { RequeueResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { APP_ID, connectPage, echo, inbound, recordEvents, senderOf, syncRecords } from '../messenger/fixtures';
import { NOW, createWorld } from './fixtures';
import { beginSend, claim, generate, judgementOf, recordSend, rpc, runPipeline } from './stage-helpers';

const service = serviceClient({ now: NOW });
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

const stopsOf = async (conversationId: string) =>
	(await withDb((db) => db.query<{ rule_id: string; reason: string }>(
		'select rule_id, reason from public.ai_automation_stops where conversation_id = $1',
		[conversationId],
	))).rows;

const conversationsClaimed = async (ruleId: string, executionId: string, now: Date) =>
	(await claim(service, ruleId, executionId, 10, now)).map((contact) => [contact.conversation_id, contact.follow_up_number]);

/** A stop-on-reply rule and one contact who last wrote 2 h before NOW; follow-up #1 begun at NOW. */
async function firstBegun(leaseSeconds = 120) {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	const ruleId = await world.rule({ stopOnReply: true, maxFollowUps: 3, minHours: 1 });
	const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
	const psid = await senderOf(conversationId);
	const [claimed] = await claim(service, ruleId, 'exec-1', 10, NOW);
	expect([claimed.conversation_id, claimed.follow_up_number]).toEqual([conversationId, 1]);
	await generate(service, 'exec-1', [claimed.state_id], NOW);
	const [begun] = await beginSend(service, 'exec-1', [claimed.state_id], NOW, leaseSeconds);
	expect(begun.outcome).toBe('send');
	return { world, ruleId, conversationId, psid, stateId: claimed.state_id, message: begun.message as string };
}

describe('a follow-up recorded as sent after the reply to it', () => {
	// Before …1940: the reply was compared with no follow-up (none sent, none under way), and the
	// echo's settlement did not look for it: no stop, #2 claimed two hours later.
	it("the app's own echo of an uncertain #1, delivered after the person answered it, stops the contact", async () => {
		const { world, ruleId, conversationId, psid, stateId, message } = await firstBegun();
		await recordSend(service, 'exec-1', [{ state_id: stateId, outcome: 'uncertain', error_message: 'timeout' }], minutes(1));

		// The person answers at +5 min: #1 is uncertain (it may not have arrived), so nothing stops yet.
		const [reply] = await recordEvents(service, [inbound(world.pageId, psid, 5 / 60, 'Yes please, how much?')], { now: minutes(6) });
		expect(reply).toMatchObject({ outcome: 'recorded', stopped_automations: false });
		expect(await stopsOf(conversationId)).toEqual([]);

		// Meta's retried delivery of the echo of #1 (sent at NOW + 1 s) comes at +12 min: #1 is sent, and answered.
		const [echoed] = await recordEvents(service, [echo(world.pageId, psid, 1 / 3600, APP_ID, message)], { now: minutes(12) });
		expect(echoed).toMatchObject({ outcome: 'recorded', direction: 'outbound' });
		const state = await withDb((db) => db.query(
			"select current_stage, follow_up_count, stage_detail ->> 'reason' as reason from public.ai_automation_contact_states where id = $1",
			[stateId],
		));
		expect(state.rows[0]).toEqual({ current_stage: 'sent', follow_up_count: 1, reason: 'echo_confirmed' });
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: ruleId, reason: 'replied' }]);

		expect(await judgementOf(service, ruleId, conversationId, minutes(120))).toMatchObject({ reason: 'stopped', stop_reason: 'replied', due_at: null });
		expect(await conversationsClaimed(ruleId, 'exec-2', minutes(120))).toEqual([]);
	});

	// Before …1940: the late report made #1 sent without a stop; #2 was claimed and begun.
	it("the slow sender's own sent report, after the reaper and after the person answered, stops the contact", async () => {
		const { world, ruleId, conversationId, psid, stateId } = await firstBegun(120);
		// At +5 min the next run's claim finds #1's lease run out: send_uncertain.
		expect(await conversationsClaimed(ruleId, 'exec-next', minutes(5))).toEqual([]);
		const reaped = await withDb((db) => db.query('select current_stage, error_code from public.ai_automation_contact_states where id = $1', [stateId]));
		expect(reaped.rows[0]).toEqual({ current_stage: 'failed', error_code: 'send_uncertain' });

		await recordEvents(service, [inbound(world.pageId, psid, 6 / 60, 'Sounds good, call me')], { now: minutes(6) });
		expect(await stopsOf(conversationId)).toEqual([]);

		const [recorded] = await recordSend(service, 'exec-1', [{ state_id: stateId, outcome: 'sent', facebook_message_id: `m_slow_${stateId}` }], minutes(7));
		expect(recorded).toMatchObject({ outcome: 'sent' });
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: ruleId, reason: 'replied' }]);
		expect(await conversationsClaimed(ruleId, 'exec-2', minutes(120))).toEqual([]);
	});

	it('settled as sent with no message from the person since its send began: no stop, #2 is due after the interval', async () => {
		const { world, ruleId, conversationId, psid, stateId, message } = await firstBegun();
		await recordSend(service, 'exec-1', [{ state_id: stateId, outcome: 'uncertain', error_message: 'timeout' }], minutes(1));
		// A message written before #1 began, delivered late, answers nothing.
		await recordEvents(service, [inbound(world.pageId, psid, -1 / 60, 'Are you open on Sunday?')], { now: minutes(3) });
		await recordEvents(service, [echo(world.pageId, psid, 1 / 3600, APP_ID, message)], { now: minutes(12) });
		expect(await stopsOf(conversationId)).toEqual([]);
		expect(await conversationsClaimed(ruleId, 'exec-2', minutes(120))).toEqual([[conversationId, 2]]);
	});

	it('left uncertain, then requeued as checked not delivered: the message after it was no reply, and #1 goes out again', async () => {
		const { world, ruleId, conversationId, psid, stateId } = await firstBegun();
		await recordSend(service, 'exec-1', [{ state_id: stateId, outcome: 'uncertain', error_message: 'timeout' }], minutes(1));
		await recordEvents(service, [inbound(world.pageId, psid, 5 / 60, 'Hello?')], { now: minutes(6) });
		expect(await judgementOf(service, ruleId, conversationId, minutes(10))).toMatchObject({ reason: 'failed' });

		const requeued = await rpc<RequeueResult[]>(service, 'automation_requeue', { p_rule_id: ruleId, p_conversation_ids: [conversationId], p_uncertain: 'requeue', p_now: minutes(10).toISOString() });
		expect(requeued.map((row) => row.outcome)).toEqual(['requeued']);
		expect(await stopsOf(conversationId)).toEqual([]);
		expect(await conversationsClaimed(ruleId, 'exec-again', minutes(11))).toEqual([[conversationId, 1]]);
	});
});

describe('a reply recorded after a later follow-up was sent', () => {
	// Before …1940: the reply was compared with #2 (the last follow-up sent) only: no stop, #3
	// claimed an hour later.
	it('a reply to #1 that Messenger Sync records after #2 went out stops the contact before #3', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true, maxFollowUps: 3, minHours: 1 });
		const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
		const psid = await senderOf(conversationId);
		expect((await runPipeline(service, ruleId, 'exec-1', NOW)).sent.map((sent) => sent.outcome)).toEqual(['sent']);
		// The person answered #1 at +10 min; the webhook never recorded it. #2 goes out at +90 min.
		const second = await runPipeline(service, ruleId, 'exec-2', minutes(90));
		expect(second.claimed.map((contact) => contact.follow_up_number)).toEqual([2]);
		expect(second.sent.map((sent) => sent.outcome)).toEqual(['sent']);

		const page = await syncRecords(service, world.pageId, [inbound(world.pageId, psid, 10 / 60, 'Yes, interested!')], minutes(120));
		expect(page.status).toBe('completed');
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: ruleId, reason: 'replied' }]);
		expect(await judgementOf(service, ruleId, conversationId, minutes(180))).toMatchObject({ reason: 'stopped', stop_reason: 'replied' });
		expect(await conversationsClaimed(ruleId, 'exec-3', minutes(180))).toEqual([]);
	});

	it('a message older than #1, recorded late, stops nothing', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true, maxFollowUps: 3, minHours: 1 });
		// Wrote 2 h before NOW; the conversation's window time is set back a further hour, so the
		// message recorded late below (1.5 h before NOW) moves it forward and fires the trigger.
		const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
		const psid = await senderOf(conversationId);
		await runPipeline(service, ruleId, 'exec-1', NOW);
		await runPipeline(service, ruleId, 'exec-2', minutes(90));
		await withDb((db) => db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [conversationId, minutes(-180)]));

		await syncRecords(service, world.pageId, [inbound(world.pageId, psid, -1.5, 'Is this still available?')], minutes(120));
		const moved = await withDb((db) => db.query('select last_customer_message_at from public.messenger_conversations where id = $1', [conversationId]));
		expect(moved.rows[0].last_customer_message_at).toEqual(minutes(-90));
		expect(await stopsOf(conversationId)).toEqual([]);
		expect(await conversationsClaimed(ruleId, 'exec-3', minutes(180))).toEqual([[conversationId, 3]]);
	});
});
