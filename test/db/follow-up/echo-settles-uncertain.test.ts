// The app's own echo settles a follow-up whose send's outcome is unknown (migration …1590): the
// echo of a send_uncertain follow-up (its text, after the send began, the credential's App ID)
// records it as sent, once, as a sent report would; an echo that came while the send was under way
// makes the later uncertain report (or the reaper) record it as sent. A text mismatch, a person's
// echo, a call without the App ID settle nothing.
import type { RecordSendResult, RequeueResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { APP_ID, INBOX_APP_ID, connectPage, echo, recordEvents, senderOf } from '../messenger/fixtures';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, recordSend, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plus = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
/** Hours after NOW, for the echo fixtures' timestamps. */
const hoursAfter = (seconds: number) => seconds / 3600;

interface Contact {
	stage: string;
	follow_up_count: number;
	last_follow_up_at: Date | null;
	facebook_message_id: string | null;
	error_code: string | null;
	reason: string | null;
}

const contactOf = async (stateId: string): Promise<Contact> =>
	(await withDb((db) => db.query<Contact>(
		`select current_stage as stage, follow_up_count, last_follow_up_at, facebook_message_id, error_code, stage_detail ->> 'reason' as reason
		   from public.ai_automation_contact_states where id = $1`,
		[stateId],
	))).rows[0];

const guardsOf = async (conversationId: string) =>
	(await withDb((db) => db.query<{ status: string; facebook_message_id: string | null }>(
		'select status, facebook_message_id from public.ai_automation_executions where conversation_id = $1 order by attempted_at',
		[conversationId],
	))).rows;

const outboundOf = async (conversationId: string) =>
	(await withDb((db) => db.query<{ facebook_message_id: string; text: string }>(
		`select facebook_message_id, text from public.messenger_messages where conversation_id = $1 and direction = 'outbound' order by sent_at`,
		[conversationId],
	))).rows;

/** The rule's sends counted toward its daily limit (the quarter-hour counts the limit sums). */
const sendsCounted = async (ruleId: string) =>
	(await withDb((db) => db.query<{ sends: number }>(
		'select coalesce(sum(sends), 0)::int as sends from public.ai_automation_rule_send_counts where rule_id = $1',
		[ruleId],
	))).rows[0].sends;

const eventsOf = async (stateId: string) =>
	(await withDb((db) => db.query<{ from_stage: string; to_stage: string; reason: string | null }>(
		`select from_stage, to_stage, detail ->> 'reason' as reason from public.ai_automation_stage_events
		  where state_id = $1 and from_stage is not null order by occurred_at, id`,
		[stateId],
	))).rows.filter((event) => event.from_stage !== event.to_stage);

/** A contact claimed, generated and begun at NOW; its state id, conversation, psid and message. */
async function sending(options: { maxFollowUps?: number; leaseSeconds?: number } = {}) {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	const ruleId = await world.rule({ maxFollowUps: options.maxFollowUps ?? 3 });
	const conversationId = await world.contact();
	const [claimed] = await claim(service, ruleId, 'exec-send', 1);
	await generate(service, 'exec-send', [claimed.state_id]);
	const [begun] = await beginSend(service, 'exec-send', [claimed.state_id], NOW, options.leaseSeconds ?? 120);
	expect(begun.outcome).toBe('send');
	return { world, ruleId, conversationId, stateId: claimed.state_id, psid: await senderOf(conversationId), message: begun.message as string };
}

/** As above, then Facebook gave no usable answer: recorded uncertain (failed send_uncertain). */
async function uncertain(options: { maxFollowUps?: number } = {}) {
	const contact = await sending(options);
	const [recorded] = await recordSend(service, 'exec-send', [{ state_id: contact.stateId, outcome: 'uncertain', error_message: 'timeout' }], plus(60));
	expect(recorded.outcome).toBe('uncertain');
	expect(await contactOf(contact.stateId)).toMatchObject({ stage: 'failed', error_code: 'send_uncertain' });
	return contact;
}

const requeue = (ruleId: string, conversationId: string) =>
	rpc<RequeueResult[]>(service, 'automation_requeue', { p_rule_id: ruleId, p_conversation_ids: [conversationId], p_uncertain: 'leave', p_now: plus(600).toISOString() });

describe("the app's own echo settles an uncertain send", () => {
	it('an uncertain contact whose echo comes is sent: counted once, its time the send’s begin, one message row, a stage event echo_confirmed', async () => {
		const { world, ruleId, conversationId, stateId, psid, message } = await uncertain();
		expect(await sendsCounted(ruleId)).toBe(1);

		const id = 'm_echo_settles_1_' + stateId;
		const [row] = await recordEvents(service, [echo(world.pageId, psid, hoursAfter(2), APP_ID, message, id)], { now: plus(90) });
		expect(row).toMatchObject({ type: 'echo', outcome: 'recorded', direction: 'outbound', stopped_automations: false });

		expect(await contactOf(stateId)).toEqual({
			stage: 'sent', follow_up_count: 1, last_follow_up_at: NOW, facebook_message_id: id, error_code: null, reason: 'echo_confirmed',
		});
		expect(await guardsOf(conversationId)).toEqual([{ status: 'sent', facebook_message_id: id }]);
		expect(await outboundOf(conversationId)).toEqual([{ facebook_message_id: id, text: message }]);
		expect(await sendsCounted(ruleId)).toBe(1);
		expect(await eventsOf(stateId)).toEqual(expect.arrayContaining([{ from_stage: 'failed', to_stage: 'sent', reason: 'echo_confirmed' }]));

		// Delivered twice: settles once. A late sent report of the same execution changes nothing.
		const [again] = await recordEvents(service, [echo(world.pageId, psid, hoursAfter(2), APP_ID, message, id)], { now: plus(120) });
		expect(again).toMatchObject({ outcome: 'duplicate' });
		const late = await recordSend(service, 'exec-send', [{ state_id: stateId, outcome: 'sent', facebook_message_id: id }], plus(130));
		expect(late).toEqual<RecordSendResult[]>([{ state_id: stateId, outcome: 'sent' }]);
		expect(await contactOf(stateId)).toMatchObject({ stage: 'sent', follow_up_count: 1 });
		expect(await outboundOf(conversationId)).toHaveLength(1);
		expect(await sendsCounted(ruleId)).toBe(1);
		expect((await eventsOf(stateId)).filter((event) => event.to_stage === 'sent')).toHaveLength(1);

		// A later Requeue sees it is not failed.
		expect(await requeue(ruleId, conversationId)).toEqual([
			{ conversation_id: conversationId, state_id: stateId, outcome: 'not_failed', stage: 'sent', error_code: null, released_guard: false },
		]);
	});

	it("the rule's last follow-up settled by its echo completes the contact", async () => {
		const { world, stateId, psid, message } = await uncertain({ maxFollowUps: 1 });
		await recordEvents(service, [echo(world.pageId, psid, hoursAfter(2), APP_ID, message)], { now: plus(90) });
		expect(await contactOf(stateId)).toMatchObject({ stage: 'completed', follow_up_count: 1 });
	});

	it('an echo that came while the send was under way makes the uncertain report, or the reaper, record it as sent', async () => {
		const reported = await sending();
		const id = 'm_echo_first_' + reported.stateId;
		await recordEvents(service, [echo(reported.world.pageId, reported.psid, hoursAfter(1), APP_ID, reported.message, id)], { now: plus(2) });
		expect(await contactOf(reported.stateId)).toMatchObject({ stage: 'sending', follow_up_count: 0 });
		const answer = await recordSend(service, 'exec-send', [{ state_id: reported.stateId, outcome: 'uncertain', error_message: 'timeout' }], plus(60));
		expect(answer).toEqual<RecordSendResult[]>([{ state_id: reported.stateId, outcome: 'sent' }]);
		expect(await contactOf(reported.stateId)).toEqual({
			stage: 'sent', follow_up_count: 1, last_follow_up_at: NOW, facebook_message_id: id, error_code: null, reason: 'echo_confirmed',
		});
		expect(await guardsOf(reported.conversationId)).toEqual([{ status: 'sent', facebook_message_id: id }]);
		expect(await outboundOf(reported.conversationId)).toEqual([{ facebook_message_id: id, text: reported.message }]);
		expect(await sendsCounted(reported.ruleId)).toBe(1);
		// The same report again (its answer lost) answers the same, writing nothing.
		expect(await recordSend(service, 'exec-send', [{ state_id: reported.stateId, outcome: 'uncertain', error_message: 'timeout' }], plus(61)))
			.toEqual<RecordSendResult[]>([{ state_id: reported.stateId, outcome: 'sent' }]);

		const reaped = await sending({ leaseSeconds: 30 });
		const reapedId = 'm_echo_reaped_' + reaped.stateId;
		await recordEvents(service, [echo(reaped.world.pageId, reaped.psid, hoursAfter(1), APP_ID, reaped.message, reapedId)], { now: plus(2) });
		// The sender died; the next claim reaps it.
		expect(await claim(service, reaped.ruleId, 'exec-reaper', 10, plus(300))).toEqual([]);
		expect(await contactOf(reaped.stateId)).toEqual({
			stage: 'sent', follow_up_count: 1, last_follow_up_at: NOW, facebook_message_id: reapedId, error_code: null, reason: 'echo_confirmed',
		});
		expect(await guardsOf(reaped.conversationId)).toEqual([{ status: 'sent', facebook_message_id: reapedId }]);
		expect(await sendsCounted(reaped.ruleId)).toBe(1);
	});

	it('another text, an echo from before the send began, or no App ID in the call settles nothing; its own echo then does', async () => {
		const { world, conversationId, stateId, psid, message } = await uncertain();
		await recordEvents(service, [echo(world.pageId, psid, hoursAfter(2), APP_ID, 'Another message of the app')], { now: plus(90) });
		await recordEvents(service, [echo(world.pageId, psid, hoursAfter(-1), APP_ID, message)], { now: plus(91) });
		await recordEvents(service, [echo(world.pageId, psid, hoursAfter(3), APP_ID, message)], { appId: null, now: plus(92) });
		expect(await contactOf(stateId)).toMatchObject({ stage: 'failed', error_code: 'send_uncertain', follow_up_count: 0 });
		expect(await guardsOf(conversationId)).toEqual([{ status: 'uncertain', facebook_message_id: null }]);
		// Its own echo, with the App ID, still settles it.
		const id = 'm_echo_own_' + stateId;
		await recordEvents(service, [echo(world.pageId, psid, hoursAfter(4), APP_ID, message, id)], { now: plus(93) });
		expect(await contactOf(stateId)).toMatchObject({ stage: 'sent', follow_up_count: 1, facebook_message_id: id, reason: 'echo_confirmed' });
	});

	it("a person's echo of the same text is a human takeover and settles nothing; the app's own echo then does", async () => {
		const { world, conversationId, stateId, psid, message } = await uncertain();
		const [row] = await recordEvents(service, [echo(world.pageId, psid, hoursAfter(2), INBOX_APP_ID, message)], { now: plus(90) });
		expect(row).toMatchObject({ stopped_automations: true, stop_reason: 'human_takeover' });
		expect(await contactOf(stateId)).toMatchObject({ stage: 'failed', error_code: 'send_uncertain', follow_up_count: 0 });
		expect(await guardsOf(conversationId)).toEqual([{ status: 'uncertain', facebook_message_id: null }]);
		// The app's own echo of the follow-up then settles it; the takeover stays.
		const [own] = await recordEvents(service, [echo(world.pageId, psid, hoursAfter(3), APP_ID, message)], { now: plus(91) });
		expect(own).toMatchObject({ stopped_automations: false });
		expect(await contactOf(stateId)).toMatchObject({ stage: 'sent', follow_up_count: 1, reason: 'echo_confirmed' });
		const stops = await withDb((db) => db.query('select reason from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ reason: 'human_takeover' }]);
	});
});
