// FacebookSend through n8n's engine against the Graph simulator and the local stack: sends are
// recorded (message id, follow-up count, completed at the maximum), the same items again are
// duplicates with no Graph call, a batch costs two database round trips whatever its size, and
// the rate setting spaces the calls.
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { testStack, withDb } from '../../helpers/stack';
import { ledgerOf, PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { startRpcCounter, type RpcCounter } from './support/rpc-counter';
import { facebookCredential, FAST, PAGE_TOKEN, runSend, SEQUENTIAL } from './support/workflow';

let sims: RunningSimulators;
let counter: RpcCounter;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	await counter.stop();
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	counter.reset();
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
});

test('sends each follow-up once, records message id, follow-up count and time, and completes a contact at the maximum', async () => {
	const batch = await readyContacts({ count: 3, maxFollowUps: 1 });
	const before = Date.now();

	const run = await runSend(batch.items, FAST, credentials());

	expect(run.result.status).toBe('success');
	expect(run.sent).toHaveLength(3);
	expect(run.skipped).toHaveLength(0);
	expect(run.failed).toHaveLength(0);
	const delivered = await sims.graph.control.messages();
	expect(delivered.map((message) => message.recipientId).sort()).toEqual([...batch.psids].sort());
	// A follow-up is proactive and inside the window: UPDATE, never a message tag.
	expect(delivered.every((message) => message.messagingType === 'UPDATE' && message.tag === undefined)).toBe(true);
	for (const [index, item] of run.sent.entries()) {
		const message = delivered.find((one) => one.recipientId === batch.psids[index])!;
		expect(item).toMatchObject({
			state_id: batch.stateIds[index],
			send: { outcome: 'sent', messageId: message.messageId, followUpNumber: 1, recorded: 'completed', completed: true, attempts: 1 },
		});
		expect(message.text).toBe((item.followUp as { message: string }).message);
	}

	const states = await statesOf(batch.stateIds);
	for (const [index, state] of states.entries()) {
		const message = delivered.find((one) => one.recipientId === batch.psids[index])!;
		expect(state).toMatchObject({ current_stage: 'completed', follow_up_count: 1, facebook_message_id: message.messageId, locked_by: null });
		expect(state.last_follow_up_at!.getTime()).toBeGreaterThanOrEqual(before - 1000);
	}
	const ledger = await ledgerOf(batch.ruleId);
	expect(ledger.map((row) => row.status)).toEqual(['sent', 'sent', 'sent']);
	const outbound = await withDb((db) =>
		db.query(`select count(*)::int n from public.messenger_messages where direction = 'outbound' and conversation_id = any($1::uuid[])`, [batch.conversationIds]),
	);
	expect(outbound.rows[0].n).toBe(3);
});

test('below the maximum a contact is sent, not completed', async () => {
	const batch = await readyContacts({ count: 1, maxFollowUps: 3 });
	const run = await runSend(batch.items, FAST, credentials());
	expect(run.sent[0].send).toMatchObject({ outcome: 'sent', recorded: 'sent', followUpNumber: 1 });
	expect(run.sent[0].send).not.toHaveProperty('completed');
	expect((await statesOf(batch.stateIds))[0]).toMatchObject({ current_stage: 'sent', follow_up_count: 1 });
});

test('the same items sent again are duplicates: no Graph call, nothing changes', async () => {
	const batch = await readyContacts({ count: 3 });
	await runSend(batch.items, FAST, credentials());
	const callsAfterFirst = (await sims.graph.control.requests()).length;
	const statesAfterFirst = await statesOf(batch.stateIds);
	expect(callsAfterFirst).toBe(3);

	const again = await runSend(batch.items, FAST, credentials());

	expect(again.sent).toHaveLength(0);
	expect(again.skipped.map((item) => item.send)).toEqual(batch.items.map(() => ({ outcome: 'duplicate', reason: 'sent', followUpNumber: 1 })));
	expect(await sims.graph.control.requests()).toHaveLength(callsAfterFirst);
	expect(await statesOf(batch.stateIds)).toEqual(statesAfterFirst);
	expect(await ledgerOf(batch.ruleId)).toHaveLength(3);
});

test('a Contact State ID written in upper case is the same contact: sent once and recorded, the same items again duplicates', async () => {
	// The database answers its ids in lower case; a hand-written or copied id may be upper case.
	// Before the node read the id in lower case, the begin moved the contacts to sending, the node
	// found no answer for them (lease_lost / not_returned), never called Facebook, and the reaper
	// later made them send_uncertain: the follow-up lost for good.
	const batch = await readyContacts({ count: 2 });
	const items = batch.items.map((item) => ({ ...item, state_id: ` ${String(item.state_id).toUpperCase()} ` }));

	const run = await runSend(items, FAST, credentials());

	expect(run.skipped.map((item) => item.send)).toEqual([]);
	expect(run.sent.map((item) => item.send)).toEqual(batch.items.map(() => expect.objectContaining({ outcome: 'sent', recorded: 'sent', followUpNumber: 1 })));
	expect((await sims.graph.control.messages()).map((message) => message.recipientId).sort()).toEqual([...batch.psids].sort());
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['sent', 'sent']);

	const again = await runSend(items, FAST, credentials());
	expect(again.skipped.map((item) => item.send)).toEqual(batch.items.map(() => ({ outcome: 'duplicate', reason: 'sent', followUpNumber: 1 })));
	expect(await sims.graph.control.messages()).toHaveLength(2);
});

test('a followUp.message changed after Generate is not what is sent: the recorded one goes out, and the item and the run say so', async () => {
	const batch = await readyContacts({ count: 2 });
	const recorded = batch.items.map((item) => (item.followUp as { message: string }).message);
	// A Set node between Generate and Send rewrote the first item's message; the second is untouched.
	const items = [{ ...batch.items[0], followUp: { ...(batch.items[0].followUp as object), message: 'EDITED: Reply STOP to opt out.' } }, batch.items[1]];

	const run = await runSend(items, FAST, credentials());

	const delivered = await sims.graph.control.messages();
	expect(delivered.map((message) => [message.recipientId, message.text]).sort()).toEqual(batch.psids.map((psid, index) => [psid, recorded[index]]).sort());
	const [edited, untouched] = [...run.sent].sort((a, b) => (a.state_id === batch.stateIds[0] ? -1 : b.state_id === batch.stateIds[0] ? 1 : 0));
	expect(edited.send).toMatchObject({ outcome: 'sent', itemMessageIgnored: true, recordedMessage: recorded[0] });
	expect(untouched.send).not.toHaveProperty('itemMessageIgnored');
	expect(untouched.send).not.toHaveProperty('recordedMessage');
	const hints = run.result.run?.data.resultData.runData.Send[0].hints ?? [];
	expect(hints).toEqual([expect.objectContaining({ type: 'warning', message: expect.stringMatching(/^1 item has a followUp\.message other than the one Generate Follow-Up recorded/) })]);
});

test('one contact twice in the same batch is sent once', async () => {
	const batch = await readyContacts({ count: 1 });
	const run = await runSend([batch.items[0], batch.items[0]], FAST, credentials());
	expect(run.sent).toHaveLength(1);
	expect(run.skipped[0].send).toMatchObject({ outcome: 'duplicate', reason: 'same_batch' });
	expect(await sims.graph.control.messages()).toHaveLength(1);
});

test('a batch makes one begin_send and one record_send whether it has 2 items or 40, and takes the Page\'s slots a few at a time, not one by one', async () => {
	const small = await readyContacts({ count: 2 });
	await runSend(small.items, FAST, credentials());
	const smallTrips = [...counter.paths];
	counter.reset();

	const large = await readyContacts({ count: 40 });
	const run = await runSend(large.items, FAST, credentials());

	expect(run.sent).toHaveLength(40);
	const guardTrips = (paths: string[]) => paths.filter((path) => !path.endsWith('/limit_take_send_slots'));
	const slotTakes = (paths: string[]) => paths.filter((path) => path.endsWith('/limit_take_send_slots')).length;
	expect(guardTrips(smallTrips)).toEqual(['/rest/v1/rpc/automation_begin_send', '/rest/v1/rpc/automation_record_send']);
	expect(guardTrips(counter.paths)).toEqual(guardTrips(smallTrips));
	// The Page's slots come from the database (shared by every worker), several per call: up to
	// twice the calls waiting (10 Parallel Sends). 40 sends take a few calls (more on a busy machine,
	// which gives up slots it started too late and takes new ones), never one per send.
	expect(slotTakes(smallTrips)).toBeGreaterThanOrEqual(1);
	expect(slotTakes(counter.paths)).toBeGreaterThanOrEqual(1);
	expect(slotTakes(counter.paths)).toBeLessThan(40);
});

test('a batch of 1,001 from one claim: every contact sent once and recorded, in begins and records of at most 1,000 (the Data API answers at most 1,000 rows)', async () => {
	const batch = await readyContacts({ count: 1001 });
	counter.reset();
	const run = await runSend(batch.items, { ...FAST, messagesPerSecond: 5000 }, credentials());

	expect(run.result.status).toBe('success');
	expect(run.sent).toHaveLength(1001);
	expect(run.failed).toHaveLength(0);
	const delivered = await sims.graph.control.messages();
	expect(new Set(delivered.map((message) => message.recipientId))).toEqual(new Set(batch.psids));
	expect(delivered).toHaveLength(1001);
	expect(counter.paths.filter((path) => !path.endsWith('/limit_take_send_slots'))).toEqual([
		'/rest/v1/rpc/automation_begin_send',
		'/rest/v1/rpc/automation_begin_send',
		'/rest/v1/rpc/automation_record_send',
		'/rest/v1/rpc/automation_record_send',
	]);
	const ledger = await ledgerOf(batch.ruleId);
	expect(ledger.filter((row) => row.status === 'sent')).toHaveLength(1001);
	expect(new Set((await statesOf(batch.stateIds)).map((state) => state.current_stage))).toEqual(new Set(['sent']));
});

test('1,001 contacts, the second begin refused after its repeats: the 1,000 the first began are sent and recorded, then the node fails', async () => {
	const batch = await readyContacts({ count: 1001 });
	counter.reset();
	// The second begin call (the 1,001st contact), and its four repeats, answered 503.
	counter.failNext('/rpc/automation_begin_send', 5, { after: 1 });
	const run = await runSend(batch.items, { ...FAST, messagesPerSecond: 5000 }, credentials());

	expect(run.result.error?.message).toContain('automation_begin_send failed');
	const delivered = await sims.graph.control.messages();
	expect(delivered).toHaveLength(1000);
	expect(new Set(delivered.map((message) => message.recipientId))).toEqual(new Set(batch.psids.slice(0, 1000)));
	const stages = (await statesOf(batch.stateIds)).map((state) => state.current_stage);
	expect(stages.slice(0, 1000).every((stage) => stage === 'sent')).toBe(true);
	// Never begun: given back (automation_release), claimable by the next run at once (not left in
	// sending to become send_uncertain, nor held until the claim's lease ends).
	expect(stages[1000]).toBe('queued');
	expect((await ledgerOf(batch.ruleId)).filter((row) => row.status === 'sent')).toHaveLength(1000);
});

test('1,001 contacts, the first record refused after its repeats: the second is still recorded, and the error lists what Facebook delivered for the first', async () => {
	const batch = await readyContacts({ count: 1001 });
	counter.reset();
	counter.failNext('/rpc/automation_record_send', 5);
	const run = await runSend(batch.items, { ...FAST, messagesPerSecond: 5000 }, credentials());

	expect(run.result.error?.message).toBe('The outcome of 1000 sends could not be recorded in Supabase: 1000 messages were delivered');
	expect(await sims.graph.control.messages()).toHaveLength(1001);
	const stages = (await statesOf(batch.stateIds)).map((state) => state.current_stage);
	// The first 1,000 stay in sending (the error lists their message ids); the last is recorded.
	expect(stages.slice(0, 1000).every((stage) => stage === 'sending')).toBe(true);
	expect(stages[1000]).toBe('sent');
});

test('the rate setting spaces Graph calls: 6 sends at 5 per second take at least a second', async () => {
	const batch = await readyContacts({ count: 6 });
	const started = Date.now();

	const run = await runSend(batch.items, { ...FAST, messagesPerSecond: 5 }, credentials());

	expect(run.sent).toHaveLength(6);
	const received = (await sims.graph.control.requests()).map((request) => Date.parse(request.receivedAt));
	// 5 gaps of 200 ms; generous tolerance for timer and clock granularity.
	expect(Math.max(...received) - Math.min(...received)).toBeGreaterThanOrEqual(900);
	expect(Date.now() - started).toBeGreaterThanOrEqual(900);
});

test.each([
	['20000', 20000],
	['Infinity (an expression)', '={{ Infinity }}'],
])('Messages per Second of %s is refused before anything is begun: no begin_send, no Graph call, the contacts given back', async (_, rate) => {
	const batch = await readyContacts({ count: 2 });

	const run = await runSend(batch.items, { ...FAST, messagesPerSecond: rate }, credentials());

	expect(run.result.status).toBe('error');
	expect(run.result.error?.message).toMatch(/^Messages per Second must be above 0 and at most 10,000 \(got (20000|Infinity)\)$/);
	expect(run.result.error?.description).toMatch(/^Item 1: /);
	expect(counter.paths.filter((path) => path.includes('/rpc/automation_'))).toEqual(['/rest/v1/rpc/automation_release']);
	expect(await sims.graph.control.requests()).toEqual([]);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['queued', 'queued']);
});

describe('automation_begin_send\'s answer lost after the database began the sends (a gateway answering 504)', () => {
	const beginTrips = () => counter.paths.filter((path) => path.endsWith('/rpc/automation_begin_send')).length;

	test('the begin is repeated with its key: each contact it began is sent once and recorded, the one it skipped is skipped; nothing duplicate or send_uncertain', async () => {
		const batch = await readyContacts({ count: 3 });
		// The third contact is stopped by a person after the claim: the begin skips it.
		await withDb((db) =>
			db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, 'manual')`, [
				batch.owner,
				batch.items[2].conversation_id,
				batch.ruleId,
			]),
		);
		counter.loseNextAnswers('/rpc/automation_begin_send', 1);

		const run = await runSend(batch.items, FAST, credentials());

		expect(run.result.status).toBe('success');
		expect(beginTrips()).toBe(2);
		const delivered = await sims.graph.control.messages();
		expect(delivered.map((message) => message.recipientId).sort()).toEqual(batch.psids.slice(0, 2).sort());
		expect(run.sent.map((item) => [item.state_id, item.send])).toEqual(
			batch.stateIds.slice(0, 2).map((id, index) => [
				id,
				expect.objectContaining({ outcome: 'sent', messageId: delivered.find((message) => message.recipientId === batch.psids[index])!.messageId, recorded: 'sent' }),
			]),
		);
		expect(run.skipped.map((item) => [item.state_id, item.send])).toEqual([[batch.stateIds[2], { outcome: 'skipped', reason: 'stopped', followUpNumber: 1 }]]);
		expect(run.failed).toEqual([]);
		expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.follow_up_count, state.error_code, state.locked_by])).toEqual([
			['sent', 1, null, null],
			['sent', 1, null, null],
			['skipped', 0, null, null],
		]);
		expect((await ledgerOf(batch.ruleId)).map((row) => [row.state_id, row.status]).sort()).toEqual(batch.stateIds.slice(0, 2).map((id) => [id, 'sent']).sort());
	});
});

describe('automation_record_send failing after the Graph calls (a gateway answering 503, or 504 once the database recorded it)', () => {
	/** Three contacts one after another: the first delivered, the second throttled on its only try, the third not called. */
	async function sentThrottledNotCalled() {
		const batch = await readyContacts({ count: 3 });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[1] }, effect: { kind: 'graphError', code: 613 } });
		return { batch, parameters: { ...SEQUENTIAL, options: { ...SEQUENTIAL.options, retries: 0 } } };
	}
	const recordTrips = () => counter.paths.filter((path) => path.endsWith('/rpc/automation_record_send')).length;

	test('once: the record is tried again and every contact is recorded, the one never called claimable again', async () => {
		const { batch, parameters } = await sentThrottledNotCalled();
		counter.failNext('/rpc/automation_record_send', 1);

		const run = await runSend(batch.items, parameters, credentials());

		expect(run.result.status).toBe('success');
		expect(recordTrips()).toBe(2);
		const [message] = await sims.graph.control.messages();
		expect(run.sent.map((item) => item.send)).toEqual([expect.objectContaining({ outcome: 'sent', messageId: message.messageId, recorded: 'sent' })]);
		expect(run.failed.map((item) => item.send)).toEqual([
			expect.objectContaining({ reason: 'throttled', attempts: 1, recorded: 'failed' }),
			expect.objectContaining({ reason: 'throttled', attempts: 0, recorded: 'failed' }),
		]);
		const states = await statesOf(batch.stateIds);
		expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null, state.locked_by])).toEqual([
			['sent', null, false, null],
			['failed', 'throttled', true, null],
			['failed', 'throttled', true, null],
		]);
		expect(states[0].facebook_message_id).toBe(message.messageId);
	});

	test('its answer lost after the database recorded it: the repeat answers as recorded, the run says sent and failed, nothing is written twice', async () => {
		const { batch, parameters } = await sentThrottledNotCalled();
		counter.loseNextAnswers('/rpc/automation_record_send', 1);

		const run = await runSend(batch.items, parameters, credentials());

		expect(run.result.status).toBe('success');
		expect(recordTrips()).toBe(2);
		const [message] = await sims.graph.control.messages();
		expect(run.sent.map((item) => item.send)).toEqual([expect.objectContaining({ outcome: 'sent', messageId: message.messageId, recorded: 'sent' })]);
		expect(run.failed.map((item) => item.send)).toEqual([
			expect.objectContaining({ reason: 'throttled', attempts: 1, recorded: 'failed' }),
			expect.objectContaining({ reason: 'throttled', attempts: 0, recorded: 'failed' }),
		]);
		expect(run.skipped).toEqual([]);
		expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.follow_up_count, state.locked_by])).toEqual([
			['sent', 1, null],
			['failed', 0, null],
			['failed', 0, null],
		]);
		expect((await ledgerOf(batch.ruleId)).map((row) => [row.state_id, row.status])).toEqual(
			expect.arrayContaining([
				[batch.stateIds[0], 'sent'],
				[batch.stateIds[1], 'released'],
				[batch.stateIds[2], 'released'],
			]),
		);
		expect(await ledgerOf(batch.ruleId)).toHaveLength(3);
		const outbound = await withDb((db) =>
			db.query(`select count(*)::int n from public.messenger_messages where direction = 'outbound' and conversation_id = any($1::uuid[])`, [batch.conversationIds]),
		);
		expect(outbound.rows[0].n).toBe(1);
	});

	test('every try: the node stops with an error that lists the message delivered; the contacts are left to the reaper', async () => {
		const { batch, parameters } = await sentThrottledNotCalled();
		counter.failNext('/rpc/automation_record_send', 100);

		const run = await runSend(batch.items, parameters, credentials());

		expect(run.result.status).toBe('error');
		const [message] = await sims.graph.control.messages();
		expect(run.result.error?.message).toBe('The outcome of 3 sends could not be recorded in Supabase: 1 messages were delivered');
		expect(run.result.error?.description).toContain(`Delivered by Facebook: item 1: ${message.messageId}. 1 were not sent.`);
		expect(recordTrips()).toBe(5);
		// Left to the reaper, as before: still in sending, held by the claim.
		expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['sending', 'sending', 'sending']);
	});

	test('every try, with Continue On Fail: each item goes to Failed with what Facebook did for it', async () => {
		const { batch, parameters } = await sentThrottledNotCalled();
		counter.failNext('/rpc/automation_record_send', 100);

		const run = await runSend(batch.items, parameters, credentials(), { continueOnFail: true });

		expect(run.result.status).toBe('success');
		const [message] = await sims.graph.control.messages();
		expect(run.sent).toEqual([]);
		const notRecorded = { recorded: 'not_recorded', recordError: expect.stringMatching(/^The outcome of 3 sends could not be recorded in Supabase/) };
		expect(run.failed.map((item) => [item.state_id, item.send])).toEqual([
			[batch.stateIds[0], expect.objectContaining({ outcome: 'sent', messageId: message.messageId, ...notRecorded })],
			[batch.stateIds[1], expect.objectContaining({ outcome: 'failed', reason: 'throttled', attempts: 1, ...notRecorded })],
			[batch.stateIds[2], expect.objectContaining({ outcome: 'failed', reason: 'throttled', attempts: 0, ...notRecorded })],
		]);
	});
});
