// messenger_record_events: one webhook delivery in one call. Conversations created on first contact,
// each message recorded once whatever Meta redelivers, the window and stop on reply kept by the
// existing triggers, receipts that never fail, Pages resolved to their one owner, bad events refused
// with nothing written.
import { serviceClient, createTestUser, withDb } from '../../helpers/stack';
import { NOW, createWorld } from '../follow-up/fixtures';
import { beginSend, claim, explain, generate, judgementOf, runPipeline } from '../follow-up/stage-helpers';
import type { MessengerEvent } from '../../../nodes/shared/contract';
import { APP_ID, INBOX_APP_ID, connectPage, counts, echo, inbound, mid, ms, recordEvents, senderOf, syncRecords } from './fixtures';

const service = serviceClient({ now: NOW });
const iso = (epochMs: number) => new Date(epochMs).toISOString().replace('.000Z', '+00:00');
let psidCounter = 7_000_000_000 + (Date.now() % 1_000_000) * 100;
const newPsid = () => String(++psidCounter);

async function conversation(pageId: string, psid: string) {
	const { rows } = await withDb((db) =>
		db.query(
			`select id, user_id, sender_name, last_customer_message_at, last_message_at, delivered_until, read_until
			   from public.messenger_conversations where page_id = $1 and sender_id = $2`,
			[pageId, psid],
		),
	);
	return rows[0];
}

describe('first contact and redeliveries', () => {
	it('creates the conversation, records the message once, and opens the 24 h window', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		const first = inbound(world.pageId, psid, -1, 'Is this still available?');

		const [row] = await recordEvents(service, [first]);
		expect(row).toMatchObject({
			item_index: 0,
			type: 'message',
			outcome: 'recorded',
			reason: null,
			page_id: world.pageId,
			psid,
			new_conversation: true,
			facebook_message_id: first.type === 'message' ? first.mid : null,
			direction: 'inbound',
			text: 'Is this still available?',
			sent_at: iso(ms(-1)),
			stopped_automations: false,
		});
		const stored = await conversation(world.pageId, psid);
		expect(stored.id).toBe(row.conversation_id);
		expect(stored.user_id).toBe(world.userId);
		expect(stored.last_customer_message_at.toISOString()).toBe(new Date(ms(-1)).toISOString());

		// Meta delivers at least once: the same event again, alone and next to a new one.
		const again = await recordEvents(service, [first, inbound(world.pageId, psid, -0.5, 'Hello?')]);
		expect(again.map((r) => [r.outcome, r.new_conversation])).toEqual([
			['duplicate', false],
			['recorded', false],
		]);
		expect(await counts(world.pageId)).toMatchObject({ conversations: 1, messages: 2 });
		expect((await conversation(world.pageId, psid)).last_customer_message_at.toISOString()).toBe(new Date(ms(-0.5)).toISOString());
	});

	it('a new conversation is written once, with its times; a message older than its newest writes nothing to it', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		// Rows of messenger_conversations inserted and updated by one call, counted in its transaction.
		const writes = (events: MessengerEvent[]) =>
			withDb(async (db) => {
				await db.query('begin');
				try {
					await db.query('select * from public.messenger_record_events($1::jsonb, $2, null, $3)', [JSON.stringify(events), APP_ID, NOW.toISOString()]);
					const { rows } = await db.query<{ inserted: number; updated: number }>(
						`select n_tup_ins::int as inserted, n_tup_upd::int as updated from pg_stat_xact_user_tables where relid = 'public.messenger_conversations'::regclass`,
					);
					await db.query('commit');
					return rows[0];
				} catch (error) {
					await db.query('rollback');
					throw error;
				}
			});
		// First contact: two messages and an echo; the conversation takes the newest of each.
		expect(await writes([inbound(world.pageId, psid, -3), inbound(world.pageId, psid, -2), echo(world.pageId, psid, -1, APP_ID)])).toEqual({ inserted: 1, updated: 0 });
		const stored = await conversation(world.pageId, psid);
		expect([stored.last_customer_message_at.toISOString(), stored.last_message_at.toISOString()]).toEqual([new Date(ms(-2)).toISOString(), new Date(ms(-1)).toISOString()]);
		// History filled in later moves nothing: nothing written to the conversation.
		expect(await writes([inbound(world.pageId, psid, -5)])).toEqual({ inserted: 0, updated: 0 });
		// A newer message moves its times: one update.
		expect(await writes([inbound(world.pageId, psid, -0.5)])).toEqual({ inserted: 0, updated: 1 });
		expect((await conversation(world.pageId, psid)).last_customer_message_at.toISOString()).toBe(new Date(ms(-0.5)).toISOString());
	});

	it('an event listed twice in one delivery is recorded once; the second is the duplicate', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const event = inbound(world.pageId, newPsid(), -2);
		const rows = await recordEvents(service, [event, event]);
		expect(rows.map((r) => r.outcome)).toEqual(['recorded', 'duplicate']);
		expect(rows.map((r) => r.new_conversation)).toEqual([true, false]);
		expect((await counts(world.pageId)).messages).toBe(1);
	});

	it('an older message arriving late does not move the window back', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		await recordEvents(service, [inbound(world.pageId, psid, -1)]);
		await recordEvents(service, [inbound(world.pageId, psid, -5)]);
		expect((await conversation(world.pageId, psid)).last_customer_message_at.toISOString()).toBe(new Date(ms(-1)).toISOString());
		expect((await counts(world.pageId)).messages).toBe(2);
	});
});

describe('Pages and owners', () => {
	it('ignores the events of a Page not connected, and writes nothing', async () => {
		const world = await createWorld();
		const rows = await recordEvents(service, [inbound(world.pageId, newPsid(), -1), { type: 'read', page_id: world.pageId, psid: newPsid(), watermark: ms(-1) }]);
		expect(rows.map((r) => [r.outcome, r.reason, r.conversation_id])).toEqual([
			['ignored', 'page_not_connected', null],
			['ignored', 'page_not_connected', null],
		]);
		expect(await counts(world.pageId)).toEqual({ conversations: 0, messages: 0, stops: 0 });
	});

	it('connects a Page to the owner a call names, and then refuses another owner for it', async () => {
		const world = await createWorld();
		const psid = newPsid();
		const [first] = await recordEvents(service, [inbound(world.pageId, psid, -1)], { owner: world.userId });
		expect(first.outcome).toBe('recorded');
		const pages = await withDb((db) => db.query('select user_id from public.messenger_pages where page_id = $1', [world.pageId]));
		expect(pages.rows).toEqual([{ user_id: world.userId }]);

		// Without an owner, the connected Page's owner applies.
		expect((await recordEvents(service, [inbound(world.pageId, psid, -0.5)]))[0].outcome).toBe('recorded');

		const stranger = await createTestUser('stranger');
		const [refused] = await recordEvents(service, [inbound(world.pageId, psid, -0.2)], { owner: stranger });
		expect(refused).toMatchObject({ outcome: 'ignored', reason: 'page_of_another_owner', conversation_id: null });
		expect((await counts(world.pageId)).messages).toBe(2);
	});

	it('one Page belongs to one owner: a second connection of the same Page is refused by its key', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const stranger = await createTestUser('stranger');
		await expect(connectPage(world.pageId, stranger)).rejects.toThrow(/messenger_pages_pkey/);
	});

	it('an owner that is not a user: the Page’s events are ignored (owner_not_a_user), nothing written, the other Pages’ events of the call recorded', async () => {
		const world = await createWorld();
		const other = await createWorld();
		await connectPage(other.pageId, other.userId);
		const rows = await recordEvents(service, [inbound(world.pageId, newPsid(), -1), inbound(other.pageId, newPsid(), -1)], { owner: '00000000-0000-0000-0000-00000000beef' });
		expect(rows.map((r) => [r.page_id, r.outcome, r.reason])).toEqual([
			[world.pageId, 'ignored', 'owner_not_a_user'],
			// Connected to another owner than the call's: ignored as before, not an error either.
			[other.pageId, 'ignored', 'page_of_another_owner'],
		]);
		const [recorded] = await recordEvents(service, [inbound(other.pageId, newPsid(), -1)]);
		expect(recorded.outcome).toBe('recorded');
		expect(await counts(world.pageId)).toEqual({ conversations: 0, messages: 0, stops: 0 });
		const pages = await withDb((db) => db.query('select 1 from public.messenger_pages where page_id = $1', [world.pageId]));
		expect(pages.rowCount).toBe(0);
	});

	it('an owner deleted after connecting the Page (its row goes with it): the events are ignored (owner_not_a_user), not an error', async () => {
		const world = await createWorld();
		const owner = await createTestUser('deleted-owner');
		await connectPage(world.pageId, owner);
		await withDb((db) => db.query('delete from auth.users where id = $1', [owner]));
		const [row] = await recordEvents(service, [inbound(world.pageId, newPsid(), -1)], { owner });
		expect(row).toMatchObject({ outcome: 'ignored', reason: 'owner_not_a_user', conversation_id: null });
		expect(await counts(world.pageId)).toEqual({ conversations: 0, messages: 0, stops: 0 });
	});
});

describe('bad input', () => {
	it.each([
		['psid', { psid: 'abc' }, /p_events\[1\]\.psid/],
		['page_id', { page_id: '12a' }, /p_events\[1\]\.page_id/],
		['mid', { mid: '' }, /p_events\[1\]\.mid/],
		['timestamp', { timestamp: '2026-11-25' }, /p_events\[1\]\.timestamp/],
		['type', { type: 'reaction' }, /p_events\[1\]\.type/],
		['name', { name: 'two\nlines' }, /p_events\[1\]\.name/],
		['psid (digits that are not ASCII)', { psid: '\u0663\u0664\u0665' }, /p_events\[1\]\.psid/],
		['psid (33 digits)', { psid: '1'.repeat(33) }, /p_events\[1\]\.psid/],
		['page_id (empty)', { page_id: '' }, /p_events\[1\]\.page_id/],
		['mid (a space)', { mid: 'm_1 2' }, /p_events\[1\]\.mid/],
		['mid (a no-break space)', { mid: 'm_1\u00a02' }, /p_events\[1\]\.mid/],
	])('an event with a bad %s fails the whole call, naming it, and nothing is written', async (_field, change, message) => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const good = inbound(world.pageId, newPsid(), -1);
		const bad = { ...inbound(world.pageId, newPsid(), -1), ...change } as unknown as MessengerEvent;
		await expect(recordEvents(service, [good, bad])).rejects.toMatchObject({ code: '22023', message: expect.stringMatching(message) });
		expect(await counts(world.pageId)).toEqual({ conversations: 0, messages: 0, stops: 0 });
	});

	it('among several bad texts the first is named, by its event and field', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const good = () => inbound(world.pageId, newPsid(), -1);
		const badName = { ...good(), name: 'a\u2028b' } as MessengerEvent;
		const badMid = { ...good(), mid: 'm\tx' } as MessengerEvent;
		await expect(recordEvents(service, [good(), good(), badName, badMid])).rejects.toMatchObject({ code: '22023', message: expect.stringMatching(/: p_events\[2\]\.name/) });
		await expect(recordEvents(service, [good(), badMid, good(), badName])).rejects.toMatchObject({ code: '22023', message: expect.stringMatching(/: p_events\[1\]\.mid/) });
		expect(await counts(world.pageId)).toEqual({ conversations: 0, messages: 0, stops: 0 });
	});

	it('more than 1,000 events in one call are refused', async () => {
		const world = await createWorld();
		const events = Array.from({ length: 1001 }, () => inbound(world.pageId, newPsid(), -1));
		await expect(recordEvents(service, events)).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('at most 1000') });
	});

	it('p_events that is not an array is refused', async () => {
		const { error } = await service.rpc('messenger_record_events', { p_events: { object: 'page' } });
		expect(error).toMatchObject({ code: '22023', message: expect.stringContaining('p_events must be a JSON array') });
	});
});

describe('receipts', () => {
	it('move the watermarks forward only, and a receipt for an unknown conversation is ignored, not an error', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		await recordEvents(service, [inbound(world.pageId, psid, -3)]);
		const rows = await recordEvents(service, [
			{ type: 'delivery', page_id: world.pageId, psid, watermark: ms(-2) },
			{ type: 'read', page_id: world.pageId, psid, watermark: ms(-1) },
			{ type: 'delivery', page_id: world.pageId, psid: newPsid(), watermark: ms(-1) },
		]);
		expect(rows.map((r) => [r.type, r.outcome, r.reason])).toEqual([
			['delivery', 'updated', null],
			['read', 'updated', null],
			['delivery', 'ignored', 'unknown_conversation'],
		]);
		let stored = await conversation(world.pageId, psid);
		// A read is a delivery too.
		expect([stored.delivered_until.toISOString(), stored.read_until.toISOString()]).toEqual([new Date(ms(-1)).toISOString(), new Date(ms(-1)).toISOString()]);

		await recordEvents(service, [{ type: 'read', page_id: world.pageId, psid, watermark: ms(-4) }]);
		stored = await conversation(world.pageId, psid);
		expect(stored.read_until.toISOString()).toBe(new Date(ms(-1)).toISOString());
		expect(await counts(world.pageId)).toMatchObject({ conversations: 1, messages: 1 });
	});

	// Migration 20261201001750_messenger_first_message_new_conversation.sql: the first event was taken
	// over every event, receipts included, so the receipt said new_conversation and the message did not.
	it('a receipt before a new person’s first message in one delivery: new_conversation is on the message, not the receipt', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		const rows = await recordEvents(service, [
			{ type: 'read', page_id: world.pageId, psid, watermark: ms(-2) },
			{ type: 'delivery', page_id: world.pageId, psid, watermark: ms(-2) },
			inbound(world.pageId, psid, -1, 'Hi, is this available?'),
			inbound(world.pageId, psid, -0.5, 'Hello?'),
		]);
		expect(rows.map((r) => [r.type, r.outcome, r.new_conversation])).toEqual([
			['read', 'updated', false],
			['delivery', 'updated', false],
			['message', 'recorded', true],
			['message', 'recorded', false],
		]);
		expect(new Set(rows.map((r) => r.conversation_id)).size).toBe(1);
		expect(await counts(world.pageId)).toMatchObject({ conversations: 1, messages: 2 });
	});
});

describe('stop on reply through the existing triggers', () => {
	it('a reply after a follow-up stops the contact for the rule, and the event says so', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true });
		const conversationId = await world.contact({ lastMessageHoursAgo: 6 });
		const psid = await senderOf(conversationId);
		const earlier = new Date(NOW.getTime() - 3 * 3_600_000);
		await runPipeline(service, ruleId, 'exec-sent', earlier);

		// A message from before the follow-up (late) stops nothing; the reply after it does.
		const late = await recordEvents(service, [inbound(world.pageId, psid, -4, 'old')]);
		expect(late[0]).toMatchObject({ outcome: 'recorded', stopped_automations: false, stop_reason: null });
		const [reply] = await recordEvents(service, [inbound(world.pageId, psid, -1, 'No thanks')]);
		expect(reply).toMatchObject({ outcome: 'recorded', conversation_id: conversationId, stopped_automations: true, stop_reason: 'replied' });

		expect(await judgementOf(service, ruleId, conversationId)).toMatchObject({ reason: 'stopped', stop_reason: 'replied', due_at: null });
		const stops = await withDb((db) => db.query('select rule_id, reason from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ rule_id: ruleId, reason: 'replied' }]);
	});

	it('a reply arriving while a follow-up is claimed: the follow-up is not sent (automation_begin_send refuses it)', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true });
		const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
		const psid = await senderOf(conversationId);
		const claimedAt = new Date(NOW.getTime() - 10 * 60_000);

		const [claimed] = await claim(service, ruleId, 'exec-claimed', 10, claimedAt);
		expect(claimed.conversation_id).toBe(conversationId);
		await generate(service, 'exec-claimed', [claimed.state_id], claimedAt);

		const [reply] = await recordEvents(service, [inbound(world.pageId, psid, -5 / 60, 'Actually, tell me more')]);
		expect(reply).toMatchObject({ stopped_automations: true, stop_reason: 'replied' });

		const [begun] = await beginSend(service, 'exec-claimed', [claimed.state_id], NOW);
		expect(begun).toMatchObject({ outcome: 'skipped', reason: 'stopped', attempt_id: null, message: null });
		const guards = await withDb((db) => db.query('select 1 from public.ai_automation_executions where conversation_id = $1', [conversationId]));
		expect(guards.rowCount).toBe(0);
	});

	// Migration 20261201001740_messenger_reply_race_stop_on_reply.sql: the trigger compared the reply
	// with the claim under way, not with the follow-up sent, so this reply stopped nothing, #2 was sent,
	// and #3 was claimed 4 h later.
	it('a reply to follow-up #1 written before #2 was claimed, delivered after that claim, stops the contact: #2 is not sent', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true, minHours: 4, maxFollowUps: 3 });
		const conversationId = await world.contact({ lastMessageHoursAgo: 6 });
		const psid = await senderOf(conversationId);
		const seconds = (n: number) => new Date(NOW.getTime() + n * 1000);
		// Follow-up #1 five hours ago; the next run claims #2 at NOW and generates it.
		const first = await runPipeline(service, ruleId, 'exec-race-1', new Date(NOW.getTime() - 5 * 3_600_000));
		expect(first.sent.map((sent) => sent.outcome)).toEqual(['sent']);
		const [claimed] = await claim(service, ruleId, 'exec-race-2', 10, NOW);
		expect([claimed.conversation_id, claimed.follow_up_number]).toEqual([conversationId, 2]);
		await generate(service, 'exec-race-2', [claimed.state_id], seconds(1));

		// The person wrote 2 s before that claim (Facebook's time); the webhook delivers it 3 s after.
		const [reply] = await recordEvents(service, [inbound(world.pageId, psid, -2 / 3600, 'Yes! How much is it?')], { now: seconds(3) });
		expect(reply).toMatchObject({ outcome: 'recorded', stopped_automations: true, stop_reason: 'replied' });
		const stops = await withDb((db) => db.query('select rule_id, reason from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ rule_id: ruleId, reason: 'replied' }]);

		const [begun] = await beginSend(service, 'exec-race-2', [claimed.state_id], seconds(5));
		expect(begun).toMatchObject({ outcome: 'skipped', reason: 'stopped', attempt_id: null, message: null });
		const guards = await withDb((db) => db.query('select follow_up_number from public.ai_automation_executions where conversation_id = $1', [conversationId]));
		expect(guards.rows).toEqual([{ follow_up_number: 1 }]);
		// Past the interval, the contact is stopped, and no run claims it.
		const later = new Date(NOW.getTime() + 4 * 3_600_000 + 60_000);
		expect(await judgementOf(service, ruleId, conversationId, later)).toMatchObject({ reason: 'stopped', stop_reason: 'replied', due_at: null });
		expect((await claim(service, ruleId, 'exec-race-3', 10, later)).map((contact) => contact.conversation_id)).not.toContain(conversationId);
	});

	it('before any follow-up was sent, a message written before the first one was claimed and delivered after the claim stops nothing', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true });
		const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
		const psid = await senderOf(conversationId);
		const [claimed] = await claim(service, ruleId, 'exec-first', 10, NOW);
		expect([claimed.conversation_id, claimed.follow_up_number]).toEqual([conversationId, 1]);
		await generate(service, 'exec-first', [claimed.state_id], NOW);

		// Written a minute before the claim (what made the contact due is older still), delivered after it.
		const [message] = await recordEvents(service, [inbound(world.pageId, psid, -1 / 60, 'Are you there?')], { now: new Date(NOW.getTime() + 3000) });
		expect(message).toMatchObject({ outcome: 'recorded', stopped_automations: false, stop_reason: null });
		expect((await beginSend(service, 'exec-first', [claimed.state_id], new Date(NOW.getTime() + 5000)))[0]).toMatchObject({ outcome: 'send' });
		const stops = await withDb((db) => db.query('select 1 from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rowCount).toBe(0);
	});
});

describe('echoes and human takeover', () => {
	async function followedUpContact(options: { resumeHours?: number } = {}) {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true, minHours: 0 });
		if (options.resumeHours !== undefined) {
			await withDb((db) => db.query('update public.ai_automation_rules set resume_after_takeover_hours = $2 where id = $1', [ruleId, options.resumeHours]));
		}
		const conversationId = await world.contact({ lastMessageHoursAgo: 5 });
		return { world, ruleId, conversationId, psid: await senderOf(conversationId) };
	}

	it("the app's own echo is recorded as outbound and nothing else: no stop, no window", async () => {
		const { world, ruleId, conversationId, psid } = await followedUpContact();
		const before = await conversation(world.pageId, psid);
		const [row] = await recordEvents(service, [echo(world.pageId, psid, -1, APP_ID, 'Hi, following up!')]);
		expect(row).toMatchObject({ type: 'echo', outcome: 'recorded', direction: 'outbound', stopped_automations: false, stop_reason: null });
		const after = await conversation(world.pageId, psid);
		expect(after.last_customer_message_at).toEqual(before.last_customer_message_at);
		expect(after.last_message_at.toISOString()).toBe(new Date(ms(-1)).toISOString());
		expect((await counts(world.pageId)).stops).toBe(0);
		expect((await judgementOf(service, ruleId, conversationId)).due).toBe(true);
	});

	it("an echo of the app's own follow-up recorded by automation_record_send is a duplicate", async () => {
		const { world, ruleId, psid } = await followedUpContact();
		const { begun } = await runPipeline(service, ruleId, 'exec-own');
		const sentId = `m_${begun?.[0].attempt_id}`;
		const [row] = await recordEvents(service, [echo(world.pageId, psid, 0, APP_ID, 'the follow-up', sentId)]);
		expect(row).toMatchObject({ outcome: 'duplicate', stopped_automations: false });
		expect((await counts(world.pageId)).stops).toBe(0);
	});

	it("a person's echo from the Page (another app) stops the contact's follow-ups for every rule: human_takeover", async () => {
		const { world, ruleId, conversationId, psid } = await followedUpContact();
		const otherRule = await world.rule({ name: 'Second rule' });
		const human = echo(world.pageId, psid, -0.5, '263902037430900', 'Hi, Anna here, I can help');
		const [row] = await recordEvents(service, [human]);
		expect(row).toMatchObject({ outcome: 'recorded', direction: 'outbound', stopped_automations: true, stop_reason: 'human_takeover' });

		const stops = await withDb((db) =>
			db.query('select rule_id, reason, last_human_message_at from public.ai_automation_stops where conversation_id = $1', [conversationId]),
		);
		expect(stops.rows).toEqual([{ rule_id: null, reason: 'human_takeover', last_human_message_at: new Date(ms(-0.5)) }]);
		for (const rule of [ruleId, otherRule]) {
			expect(await judgementOf(service, rule, conversationId)).toMatchObject({ reason: 'stopped', stop_reason: 'human_takeover', due_at: null });
		}
		expect(await claim(service, ruleId, 'exec-after-takeover')).toEqual([]);

		// Redelivered: recorded once, nothing more.
		expect((await recordEvents(service, [human]))[0]).toMatchObject({ outcome: 'duplicate', stopped_automations: false });
		expect((await counts(world.pageId)).stops).toBe(1);
	});

	it('an echo without an app id is taken for a person; without p_app_id no echo is (the app could not be told apart)', async () => {
		const first = await followedUpContact();
		expect((await recordEvents(service, [echo(first.world.pageId, first.psid, -1, null)]))[0].stop_reason).toBe('human_takeover');

		const second = await followedUpContact();
		const [row] = await recordEvents(service, [echo(second.world.pageId, second.psid, -1, '263902037430900')], { appId: null });
		expect(row).toMatchObject({ outcome: 'recorded', direction: 'outbound', stopped_automations: false });
		expect((await counts(second.world.pageId)).stops).toBe(0);
	});

	/** A message of the Page as the sync reads it back: an echo without an app (Graph does not say which app sent it). */
	const readBack = (pageId: string, psid: string, hours: number, id: string): MessengerEvent => ({ type: 'echo', page_id: pageId, psid, mid: id, text: 'read back', timestamp: ms(hours) });
	const stopsOf = async (conversationId: string) =>
		(await withDb((db) => db.query('select rule_id, reason, note, last_human_message_at from public.ai_automation_stops where conversation_id = $1', [conversationId]))).rows;

	it("a person's echo delivered after a sync recorded its message still takes the contact over; its redelivery changes nothing", async () => {
		const { world, ruleId, conversationId, psid } = await followedUpContact();
		const id = mid('inbox');
		const human = echo(world.pageId, psid, -0.5, INBOX_APP_ID, 'Hi, Anna here, I can help', id);
		// The person typed in the Page inbox; a sync read the conversation before the webhook delivered the echo.
		expect(await syncRecords(service, world.pageId, [readBack(world.pageId, psid, -0.5, id)])).toMatchObject({ status: 'completed', page_messages: 1 });
		expect(await stopsOf(conversationId)).toEqual([]);

		// The message is recorded already (a duplicate), but its app is not ours: a person wrote.
		const [row] = await recordEvents(service, [human]);
		expect(row).toMatchObject({ type: 'echo', outcome: 'duplicate', conversation_id: conversationId, direction: 'outbound', stopped_automations: true, stop_reason: 'human_takeover' });
		const stops = await stopsOf(conversationId);
		expect(stops).toEqual([{ rule_id: null, reason: 'human_takeover', note: expect.any(String), last_human_message_at: new Date(ms(-0.5)) }]);
		expect(await judgementOf(service, ruleId, conversationId)).toMatchObject({ reason: 'stopped', stop_reason: 'human_takeover', due_at: null });
		expect(await claim(service, ruleId, 'exec-after-sync-takeover')).toEqual([]);

		// Meta delivers it again: nothing changes, no second takeover.
		expect((await recordEvents(service, [human]))[0]).toMatchObject({ outcome: 'duplicate', stopped_automations: false, stop_reason: null });
		expect(await stopsOf(conversationId)).toEqual(stops);
		expect((await counts(world.pageId)).stops).toBe(1);
	});

	it("the app's own echo of a message a sync or automation_record_send recorded first stays a duplicate: no takeover", async () => {
		const { world, ruleId, conversationId, psid } = await followedUpContact();
		const { begun } = await runPipeline(service, ruleId, 'exec-own-synced');
		const sentId = `m_${begun?.[0].attempt_id}`;
		const ownId = mid('own');
		// The sync reads back the follow-up and another message the app sent; the webhook then delivers their echoes, with our App ID.
		await syncRecords(service, world.pageId, [readBack(world.pageId, psid, 0, sentId), readBack(world.pageId, psid, -0.2, ownId)]);
		const rows = await recordEvents(service, [echo(world.pageId, psid, 0, APP_ID, 'the follow-up', sentId), echo(world.pageId, psid, -0.2, APP_ID, 'ours', ownId)]);
		expect(rows.map((r) => [r.outcome, r.stopped_automations, r.stop_reason])).toEqual([
			['duplicate', false, null],
			['duplicate', false, null],
		]);
		expect(await stopsOf(conversationId)).toEqual([]);
	});

	it("the takeover is reported on the person's echo, not on a newer echo of the app's own in the same delivery", async () => {
		const { world, conversationId, psid } = await followedUpContact();
		const id = mid('inbox');
		await syncRecords(service, world.pageId, [readBack(world.pageId, psid, -0.5, id)]);
		const rows = await recordEvents(service, [echo(world.pageId, psid, -0.5, INBOX_APP_ID, 'Anna here', id), echo(world.pageId, psid, -0.2, APP_ID, 'ours')]);
		expect(rows.map((r) => [r.outcome, r.stopped_automations, r.stop_reason])).toEqual([
			['duplicate', true, 'human_takeover'],
			['recorded', false, null],
		]);
		expect((await stopsOf(conversationId)).map((stop) => stop.last_human_message_at)).toEqual([new Date(ms(-0.5))]);
	});

	it("an echo whose id is recorded in another conversation, or as the person's message, is not taken for a person's", async () => {
		const { world, conversationId, psid } = await followedUpContact();
		const otherPsid = newPsid();
		const elsewhere = mid('elsewhere');
		const inboundId = mid('inbound');
		await syncRecords(service, world.pageId, [readBack(world.pageId, otherPsid, -1, elsewhere), inbound(world.pageId, psid, -1, 'from the person', inboundId)]);
		const rows = await recordEvents(service, [echo(world.pageId, psid, -0.5, INBOX_APP_ID, 'x', elsewhere), echo(world.pageId, psid, -0.4, INBOX_APP_ID, 'y', inboundId)]);
		expect(rows.map((r) => [r.outcome, r.stopped_automations])).toEqual([
			['duplicate', false],
			['duplicate', false],
		]);
		expect(await stopsOf(conversationId)).toEqual([]);
		expect((await counts(world.pageId)).stops).toBe(0);
	});

	it('without p_app_id an echo of a message the sync recorded is not taken for a person’s either', async () => {
		const { world, conversationId, psid } = await followedUpContact();
		const id = mid('synced');
		await syncRecords(service, world.pageId, [readBack(world.pageId, psid, -0.5, id)]);
		const [row] = await recordEvents(service, [echo(world.pageId, psid, -0.5, INBOX_APP_ID, 'x', id)], { appId: null });
		expect(row).toMatchObject({ outcome: 'duplicate', stopped_automations: false });
		expect(await stopsOf(conversationId)).toEqual([]);
	});

	it('a takeover claimed mid-send: the claimed follow-up is not sent', async () => {
		const { world, ruleId, psid } = await followedUpContact();
		const claimedAt = new Date(NOW.getTime() - 5 * 60_000);
		const [claimed] = await claim(service, ruleId, 'exec-takeover', 10, claimedAt);
		await generate(service, 'exec-takeover', [claimed.state_id], claimedAt);
		await recordEvents(service, [echo(world.pageId, psid, -1 / 60, '263902037430900')]);
		expect((await beginSend(service, 'exec-takeover', [claimed.state_id]))[0]).toMatchObject({ outcome: 'skipped', reason: 'stopped' });
	});

	it('a rule with resume after N hours follows the contact up again N hours after the person last wrote; the monitor says when', async () => {
		const { world, ruleId, conversationId, psid } = await followedUpContact({ resumeHours: 2 });
		const offRule = await world.rule({ name: 'No resume' });
		await recordEvents(service, [echo(world.pageId, psid, -0.5, '263902037430900')]);
		const resumesAt = new Date(ms(-0.5) + 2 * 3_600_000);

		// Stopped now, due again at the resume time under the rule that resumes; never by itself under the other.
		expect(await judgementOf(service, ruleId, conversationId)).toMatchObject({ reason: 'stopped', stop_reason: 'human_takeover', due_at: iso(resumesAt.getTime()) });
		expect(await judgementOf(service, offRule, conversationId)).toMatchObject({ reason: 'stopped', due_at: null });
		const { data: snapshot } = await service.rpc('automation_snapshot', { p_rule_id: ruleId, p_now: NOW.toISOString() });
		expect(snapshot.rule.resume_after_takeover_hours).toBe(2);
		expect(snapshot.eligibleContacts).toEqual([
			expect.objectContaining({ conversation_id: conversationId, contact_status: 'stopped', stop_reason: 'human_takeover', due_at: iso(resumesAt.getTime()) }),
		]);

		// A second message from the person moves the resume time.
		await recordEvents(service, [echo(world.pageId, psid, 0, '263902037430900')]);
		const later = new Date(ms(0) + 2 * 3_600_000);
		expect((await judgementOf(service, ruleId, conversationId)).due_at).toBe(iso(later.getTime()));

		// The customer wrote within the hour, so the window is still open at the resume time.
		await recordEvents(service, [inbound(world.pageId, psid, 0.5, 'thanks')]);
		const afterResume = new Date(later.getTime() + 60_000);
		expect(await judgementOf(service, ruleId, conversationId, afterResume)).toMatchObject({ due: true, reason: null });
		expect(await judgementOf(service, offRule, conversationId, afterResume)).toMatchObject({ reason: 'stopped', stop_reason: 'human_takeover' });
		const [claimed] = await claim(service, ruleId, 'exec-resumed', 10, afterResume);
		expect(claimed.conversation_id).toBe(conversationId);
		await generate(service, 'exec-resumed', [claimed.state_id], afterResume);
		expect((await beginSend(service, 'exec-resumed', [claimed.state_id], afterResume))[0].outcome).toBe('send');
	});

	it('a takeover written by a person (Take Lead, no last_human_message_at) never resumes by itself, whatever the rule says', async () => {
		const { world, ruleId, conversationId } = await followedUpContact({ resumeHours: 1 });
		await withDb((db) =>
			db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, null, 'human_takeover')`, [
				world.userId,
				conversationId,
			]),
		);
		expect(await judgementOf(service, ruleId, conversationId, new Date(NOW.getTime() + 10 * 3_600_000))).toMatchObject({
			reason: 'stopped',
			due_at: null,
		});
		// And an echo does not turn it into one that resumes.
		const psid = await senderOf(conversationId);
		expect((await recordEvents(service, [echo(world.pageId, psid, 0, '263902037430900')]))[0].stopped_automations).toBe(false);
		const stops = await withDb((db) => db.query('select last_human_message_at from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ last_human_message_at: null }]);
	});

	it('only a human takeover may carry last_human_message_at', async () => {
		const { world, conversationId } = await followedUpContact();
		await expect(
			withDb((db) =>
				db.query(`insert into public.ai_automation_stops (user_id, conversation_id, reason, last_human_message_at) values ($1, $2, 'manual', now())`, [
					world.userId,
					conversationId,
				]),
			),
		).rejects.toThrow(/ai_automation_stops_human_message_check/);
	});
});

describe('a burst of 1,000 events', () => {
	it('with 10 % redeliveries, out of order, in concurrent deliveries: each message recorded once, the windows and stops right afterwards', async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule({ stopOnReply: true });
		// 40 contacts followed up 3 hours ago; 60 people writing for the first time.
		const known = await world.contacts(40, { lastMessageHoursAgo: 8 });
		await runPipeline(service, ruleId, 'exec-burst', new Date(NOW.getTime() - 3 * 3_600_000));
		const knownPsids = await Promise.all(known.map(senderOf));
		const newPsids = Array.from({ length: 60 }, newPsid);

		// 900 distinct events: per contact 9 messages spread over the last 6 hours (half before the
		// follow-up, half after, for the known ones), a few of them the app's own echoes.
		const unique: MessengerEvent[] = [];
		const people = [...knownPsids, ...newPsids];
		people.forEach((psid, person) => {
			for (let k = 0; k < 9; k++) {
				const hoursAgo = 6 - (k * 6) / 9 - (person % 7) / 100;
				unique.push(k === 4 ? echo(world.pageId, psid, -hoursAgo, APP_ID) : inbound(world.pageId, psid, -hoursAgo, `message ${k}`, mid(`burst${person}`)));
			}
		});
		const random = seeded(13);
		const redelivered = Array.from({ length: 100 }, () => unique[Math.floor(random() * unique.length)]);
		const all = shuffle([...unique, ...redelivered], random);
		expect(all).toHaveLength(1000);

		// Deliveries of 1 to 40 events, 6 at a time.
		const deliveries: MessengerEvent[][] = [];
		for (let start = 0; start < all.length; ) {
			const size = 1 + Math.floor(random() * 40);
			deliveries.push(all.slice(start, start + size));
			start += size;
		}
		const results = (await mapConcurrently(deliveries, 6, (events) => recordEvents(service, events))).flat();
		expect(results).toHaveLength(1000);
		const outcomes = countBy(results.map((row) => row.outcome));
		expect(outcomes).toEqual({ recorded: 900, duplicate: 100 });
		expect(new Set(results.filter((row) => row.outcome === 'recorded').map((row) => row.facebook_message_id)).size).toBe(900);
		expect(results.filter((row) => row.new_conversation)).toHaveLength(60);
		expect(await counts(world.pageId)).toMatchObject({ conversations: 100 });
		const stored = await withDb((db) =>
			db.query<{ messages: number; outbound: number }>(
				`select count(*)::int as messages, count(*) filter (where m.direction = 'outbound')::int as outbound
				   from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id
				  where c.page_id = $1 and m.facebook_message_id not like 'm\\_%'`,
				[world.pageId],
			),
		);
		expect(stored.rows[0]).toEqual({ messages: 900, outbound: 100 });

		// Each window is the person's newest message; the echoes never moved one.
		const expectedWindow = new Map<string, number>();
		for (const event of unique) {
			if (event.type !== 'message') continue;
			expectedWindow.set(event.psid, Math.max(expectedWindow.get(event.psid) ?? 0, event.timestamp));
		}
		const windows = await withDb((db) =>
			db.query<{ sender_id: string; at: Date }>(
				'select sender_id, last_customer_message_at as at from public.messenger_conversations where page_id = $1',
				[world.pageId],
			),
		);
		for (const row of windows.rows) expect([row.sender_id, row.at.getTime()]).toEqual([row.sender_id, expectedWindow.get(row.sender_id)]);

		// Every contact followed up 3 hours ago wrote after it: stopped once, with reason replied; the new ones have no state and no stop.
		const stops = await withDb((db) =>
			db.query<{ conversation_id: string; reason: string }>(
				`select s.conversation_id, s.reason from public.ai_automation_stops s join public.messenger_conversations c on c.id = s.conversation_id
				  where c.page_id = $1`,
				[world.pageId],
			),
		);
		expect(stops.rows.map((row) => row.conversation_id).sort()).toEqual([...known].sort());
		expect(new Set(stops.rows.map((row) => row.reason))).toEqual(new Set(['replied']));
		const reported = results.filter((row) => row.stopped_automations);
		expect(new Set(reported.map((row) => row.conversation_id))).toEqual(new Set(known));
		const explained = await explain(service, ruleId);
		expect(explained.filter((row) => known.includes(row.conversation_id)).every((row) => row.reason === 'stopped' && row.stop_reason === 'replied')).toBe(true);
	});
});

function seeded(seed: number) {
	let state = seed;
	return () => {
		state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
		return state / 2_147_483_648;
	};
}

function shuffle<T>(items: T[], random: () => number): T[] {
	for (let i = items.length - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		[items[i], items[j]] = [items[j], items[i]];
	}
	return items;
}

async function mapConcurrently<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
	const results: R[] = new Array(items.length);
	let next = 0;
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next < items.length) {
				const index = next++;
				results[index] = await fn(items[index]);
			}
		}),
	);
	return results;
}

function countBy(values: string[]): Record<string, number> {
	const result: Record<string, number> = {};
	for (const value of values) result[value] = (result[value] ?? 0) + 1;
	return result;
}
