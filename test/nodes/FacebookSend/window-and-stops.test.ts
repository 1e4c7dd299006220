// What changes between the claim and the send is checked at the last moment: a window the
// database knows is closed is skipped without a Graph call; a window only Facebook knows is closed
// comes back as Graph 10 / 2018278, skipped too, and the contact is not claimed again until the
// person writes; a customer reply stops the contact (`replied`) and nothing is sent.
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { ledgerOf, PAGE_ID, readyContacts, statesOf, stopsOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend, SEQUENTIAL } from './support/workflow';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

test('a window the database knows is closed: skipped outside_window without calling Graph', async () => {
	const batch = await readyContacts({ count: 2 });
	// The generation took long: the person's last message is now 25 hours old.
	await withDb((db) =>
		db.query(`update public.messenger_conversations set last_customer_message_at = now() - interval '25 hours' where id = $1`, [batch.conversationIds[0]]),
	);
	const closedIndex = batch.items.findIndex((item) => item.conversation_id === batch.conversationIds[0]);

	const run = await runSend(batch.items, FAST, credentials());

	expect(run.skipped).toHaveLength(1);
	expect(run.skipped[0]).toMatchObject({ state_id: batch.stateIds[closedIndex], send: { outcome: 'skipped', reason: 'outside_window' } });
	expect(run.sent).toHaveLength(1);
	const calls = await sims.graph.control.requests();
	expect(calls.map((call) => call.recipient)).toEqual([batch.psids[1 - closedIndex]]);
	expect((await statesOf([batch.stateIds[closedIndex]]))[0]).toMatchObject({ current_stage: 'skipped', skip_reason: 'outside_window' });
});

test('a window only Facebook knows is closed: Graph 10 / 2018278, skipped outside_window, never retried with a tag', async () => {
	const batch = await readyContacts({ count: 1 });
	await sims.graph.control.setLastCustomerMessageAt(batch.psids[0], new Date(Date.now() - 25 * 3_600_000));

	const run = await runSend(batch.items, FAST, credentials());

	expect(run.skipped[0].send).toMatchObject({ outcome: 'skipped', reason: 'outside_window', code: 10, subcode: 2018278 });
	const calls = await sims.graph.control.requests();
	expect(calls).toHaveLength(1);
	expect(calls[0].body).toMatchObject({ messaging_type: 'UPDATE' });
	expect(calls[0].body).not.toHaveProperty('tag');
	expect(await sims.graph.control.messages()).toEqual([]);
	expect((await statesOf(batch.stateIds))[0]).toMatchObject({ current_stage: 'skipped', skip_reason: 'outside_window' });
	expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['released']);

	// The database's window still looks open (the person wrote an hour ago), but the contact is not
	// claimed again (a new generation, another Graph call) until the person writes again.
	const again = await serviceClient().rpc('automation_claim', { p_rule_id: batch.ruleId, p_limit: 10, p_execution_id: `${batch.executionId}-again` });
	expect(again.error).toBeNull();
	expect(again.data).toEqual([]);
	const { data: explained } = await serviceClient().rpc('automation_explain', { p_rule_id: batch.ruleId });
	expect(explained).toEqual([expect.objectContaining({ reason: 'outside_window', due: false })]);
});

test('a customer reply between claim and send: not sent, the contact is stopped replied', async () => {
	const batch = await readyContacts({ count: 2 });
	const repliedIndex = 0;
	await withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text) values ($1, $2, 'inbound', 'Yes, call me')`, [
			batch.owner,
			batch.items[repliedIndex].conversation_id,
		]),
	);

	const run = await runSend(batch.items, FAST, credentials());

	expect(run.skipped).toHaveLength(1);
	expect(run.skipped[0]).toMatchObject({ state_id: batch.stateIds[repliedIndex], send: { outcome: 'skipped', reason: 'stopped' } });
	expect((await sims.graph.control.requests()).map((call) => call.recipient)).toEqual([batch.psids[1]]);
	expect(await stopsOf([String(batch.items[repliedIndex].conversation_id)])).toEqual([
		{ conversation_id: batch.items[repliedIndex].conversation_id, rule_id: batch.ruleId, reason: 'replied' },
	]);
	expect((await statesOf([batch.stateIds[repliedIndex]]))[0]).toMatchObject({ current_stage: 'skipped', skip_reason: 'stopped', follow_up_count: 0 });
});

test('the send lease running out before an item\'s turn: that item is not sent and can be claimed again', async () => {
	const batch = await readyContacts({ count: 2 });
	// The lease is 5 s (+1 s the rate needs for two items); Facebook never answers the first send,
	// which the node gives up on after 7 s: by then the second item's lease is over.
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: { kind: 'timeout', holdMs: 15_000 } });
	// One call at a time: the second item's turn comes only after the first call gave up.
	const run = await runSend(batch.items, { ...SEQUENTIAL, options: { ...SEQUENTIAL.options, leaseSeconds: 5, timeoutSeconds: 7 } }, credentials());

	expect(run.failed.map((item) => item.send)).toMatchObject([
		{ outcome: 'failed', reason: 'send_uncertain', retryLater: false, attempts: 1 },
		{ outcome: 'failed', reason: 'lease_expired', retryLater: true, attempts: 0 },
	]);
	expect(await sims.graph.control.requests()).toHaveLength(1);
	const states = await statesOf(batch.stateIds);
	expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual([
		['failed', 'send_uncertain', false],
		['failed', 'lease_expired', true],
	]);
}, 30_000);
