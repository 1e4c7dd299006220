// The Messenger Trigger settles a follow-up whose send ended send_uncertain when Meta delivers the
// app's own echo of it (the credential's App ID, the follow-up's text; migration …1590): a signed
// delivery posted to the trigger, as Meta posts it. The send's steps run a few minutes before the
// machine's clock, as the echo's time comes from it. With stop on reply, a reply that came while the
// send was uncertain stops the contact when the echo settles it (migration …1940).
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld } from '../../db/follow-up/fixtures';
import { connectPage, senderOf } from '../../db/messenger/fixtures';
import { beginSend, claim, generate, recordSend } from '../../db/follow-up/stage-helpers';
import { messengerDelivery, messengerEvents } from '../../../simulators';
import { APP_ID, credentials, post } from './support';

const service = serviceClient();

describe("Messenger Trigger: the app's own echo of an uncertain follow-up", () => {
	it('records it as sent (echo_confirmed); without an App ID in the credential it stays send_uncertain', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule();
		const [withAppId, withoutAppId] = await world.contacts(2);
		const begunAt = new Date(Date.now() - 10 * 60_000);
		// The people wrote an hour before the send (the window open at its begin).
		await withDb((db) => db.query(
			`update public.messenger_conversations set last_customer_message_at = $2 where id = any ($1)`,
			[[withAppId, withoutAppId], new Date(begunAt.getTime() - 3_600_000)],
		));
		const claimed = await claim(service, ruleId, 'exec-trigger', 10, begunAt);
		const ids = claimed.map((contact) => contact.state_id);
		await generate(service, 'exec-trigger', ids, begunAt);
		const begun = await beginSend(service, 'exec-trigger', ids, begunAt);
		expect(begun.map((row) => row.outcome)).toEqual(['send', 'send']);
		await recordSend(service, 'exec-trigger', ids.map((id) => ({ state_id: id, outcome: 'uncertain', error_message: 'timeout' })), new Date(begunAt.getTime() + 60_000));

		const stateOf = (conversationId: string) => claimed.find((contact) => contact.conversation_id === conversationId)!.state_id;
		const messageOf = (conversationId: string) => begun.find((row) => row.state_id === stateOf(conversationId))!.message as string;
		const echoOf = async (conversationId: string, id: string) =>
			messengerEvents.echo(world.pageId, { psid: await senderOf(conversationId), mid: id, text: messageOf(conversationId), appId: APP_ID, timestamp: Date.now() - 5 * 60_000 });

		const settledId = `m_trigger_echo_${stateOf(withAppId)}`;
		const result = await post(world.pageId, JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [await echoOf(withAppId, settledId)] }])));
		expect(result.response).toMatchObject({ statusCode: 200, body: { received: true, recorded: 1, events: 1 } });
		expect(result.nodeOutputs['Messenger Trigger']).toEqual([
			expect.objectContaining({ type: 'echo', outcome: 'recorded', direction: 'outbound', app_id: APP_ID, stopped_automations: false }),
		]);

		const withoutId = `m_trigger_echo_${stateOf(withoutAppId)}`;
		const noAppId = credentials(world.pageId, { appId: '' });
		const unsettled = await post(world.pageId, JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [await echoOf(withoutAppId, withoutId)] }])), { credentials: noAppId });
		expect(unsettled.response).toMatchObject({ statusCode: 200 });

		const states = await withDb((db) => db.query(
			`select s.conversation_id, s.current_stage, s.follow_up_count, s.facebook_message_id, s.stage_detail ->> 'reason' as reason, e.status as guard
			   from public.ai_automation_contact_states s join public.ai_automation_executions e on e.id = s.attempt_id
			  where s.rule_id = $1`,
			[ruleId],
		));
		expect(states.rows).toEqual(expect.arrayContaining([
			{ conversation_id: withAppId, current_stage: 'sent', follow_up_count: 1, facebook_message_id: settledId, reason: 'echo_confirmed', guard: 'sent' },
			{ conversation_id: withoutAppId, current_stage: 'failed', follow_up_count: 0, facebook_message_id: null, reason: 'send_uncertain', guard: 'uncertain' },
		]));
	});

	// Migration …1940: a follow-up settled by its echo after the person answered it was recorded sent
	// without a stop (their reply had come while it was uncertain), and follow-up #2 was claimed.
	it('with stop on reply, a reply delivered before the echo stops the contact once the echo settles the send', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true, maxFollowUps: 3, minHours: 1 });
		const conversationId = await world.contact();
		const psid = await senderOf(conversationId);
		const begunAt = new Date(Date.now() - 10 * 60_000);
		await withDb((db) => db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [conversationId, new Date(begunAt.getTime() - 3_600_000)]));
		const [claimed] = await claim(service, ruleId, 'exec-trigger-reply', 10, begunAt);
		await generate(service, 'exec-trigger-reply', [claimed.state_id], begunAt);
		const [begun] = await beginSend(service, 'exec-trigger-reply', [claimed.state_id], begunAt);
		await recordSend(service, 'exec-trigger-reply', [{ state_id: claimed.state_id, outcome: 'uncertain', error_message: 'timeout' }], new Date(begunAt.getTime() + 30_000));

		const deliver = (events: unknown[]) => post(world.pageId, JSON.stringify(messengerDelivery([{ pageId: world.pageId, events }])));
		const reply = await deliver([messengerEvents.message(world.pageId, { psid, mid: `m_trigger_reply_${claimed.state_id}`, text: 'Yes! How much?', timestamp: begunAt.getTime() + 5 * 60_000 })]);
		expect(reply.nodeOutputs['Messenger Trigger']).toEqual([expect.objectContaining({ type: 'message', outcome: 'recorded', stopped_automations: false })]);
		const echoed = await deliver([messengerEvents.echo(world.pageId, { psid, mid: `m_trigger_late_echo_${claimed.state_id}`, text: begun.message as string, appId: APP_ID, timestamp: begunAt.getTime() + 1_000 })]);
		expect(echoed.response).toMatchObject({ statusCode: 200, body: { received: true, recorded: 1, events: 1 } });

		const state = await withDb((db) => db.query("select current_stage, stage_detail ->> 'reason' as reason from public.ai_automation_contact_states where id = $1", [claimed.state_id]));
		expect(state.rows[0]).toEqual({ current_stage: 'sent', reason: 'echo_confirmed' });
		const stops = await withDb((db) => db.query('select rule_id, reason from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ rule_id: ruleId, reason: 'replied' }]);
		const inTwoHours = new Date(begunAt.getTime() + 2 * 3_600_000);
		expect((await claim(service, ruleId, 'exec-trigger-reply-2', 10, inTwoHours)).map((contact) => contact.conversation_id)).not.toContain(conversationId);
	});
});
