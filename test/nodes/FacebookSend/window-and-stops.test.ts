// What changes between the claim and the send is checked at the last moment: a window the
// database knows is closed is skipped without a Graph call; a window only Facebook knows is closed
// comes back as Graph 10 / 2018278, skipped too, and the contact is not claimed again until the
// person writes; a customer reply stops the contact (`replied`) and nothing is sent. A wait that
// would outlast the send lease (a pause of the Page, a backoff) is not waited for, and a Stop ends it.
import { runWorkflow } from '../../harness';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { ledgerOf, PAGE_ID, readyContacts, statesOf, stopsOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend, sendWorkflow, SEQUENTIAL } from './support/workflow';

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

/** Another worker's throttle, recorded for the Page as limit_pause_sends records it. */
async function pausePage(ms: number): Promise<void> {
	const { error } = await serviceClient().rpc('limit_pause_sends', { p_page_id: PAGE_ID, p_pause_ms: ms, p_reason: 'Graph 613: another worker', p_graph_url: sims.graph.baseUrl });
	expect(error).toBeNull();
}

/** The Page sends again in the tests after this one (a pause also moved its next slot to the pause's end). */
const unpausePage = () => withDb((db) => db.query(`delete from leadflow_private.limit_send_rates where graph_url = $1 and page_id = $2`, [sims.graph.baseUrl, PAGE_ID]));

// Waited out, these waits slept past the lease: the next claim's reaper then declared the
// never-called contacts send_uncertain (never resent) although Facebook got nothing. The pause
// here is a day, the backoff an hour: a batch that waited either out would time this test out.
test('a pause of the Page that outlasts the send lease is not waited for: each item ends lease_expired at once, claimable again', async () => {
	const batch = await readyContacts({ count: 3 });
	await pausePage(86_400_000);
	try {
		const run = await runSend(batch.items, { ...SEQUENTIAL, options: { ...SEQUENTIAL.options, leaseSeconds: 5, timeoutSeconds: 5 } }, credentials());

		expect(run.failed.map((item) => item.send)).toEqual(batch.items.map(() => expect.objectContaining({ outcome: 'failed', reason: 'lease_expired', retryLater: true, attempts: 0 })));
		expect(await sims.graph.control.requests()).toEqual([]);
		const states = await statesOf(batch.stateIds);
		expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual(batch.items.map(() => ['failed', 'lease_expired', true]));
		expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).not.toContain('send_uncertain');
	} finally {
		await unpausePage();
	}
}, 60_000);

test('a throttle whose backoff outlasts the send lease: the item is not retried past it (lease_expired, the Page paused), nor is the next one', async () => {
	const batch = await readyContacts({ count: 2 });
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 613 } });
	try {
		// Backoff an hour (±20 %), the lease 5 s.
		const run = await runSend(batch.items, { ...SEQUENTIAL, options: { ...SEQUENTIAL.options, leaseSeconds: 5, timeoutSeconds: 5, backoffMs: 3_600_000, retries: 2 } }, credentials());

		expect(run.failed.map((item) => item.send)).toEqual([
			expect.objectContaining({ outcome: 'failed', reason: 'lease_expired', retryLater: true, attempts: 1, code: 613 }),
			expect.objectContaining({ outcome: 'failed', reason: 'lease_expired', retryLater: true, attempts: 0 }),
		]);
		expect(await sims.graph.control.requests()).toHaveLength(1);
		const states = await statesOf(batch.stateIds);
		expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual([
			['failed', 'lease_expired', true],
			['failed', 'lease_expired', true],
		]);
		// The throttle is still the Page's: every worker rests it as long as the backoff.
		const { rows } = await withDb((db) =>
			db.query(`select paused_until > now() + interval '40 minutes' as paused from leadflow_private.limit_send_rates where graph_url = $1 and page_id = $2`, [sims.graph.baseUrl, PAGE_ID]),
		);
		expect(rows).toEqual([{ paused: true }]);
	} finally {
		await unpausePage();
	}
}, 60_000);

test('a Stop while the Page is paused ends the wait: the items end cancelled, claimable again', async () => {
	const batch = await readyContacts({ count: 2 });
	// Ten minutes, well within the hour's lease: the items wait for the pause to end.
	await pausePage(600_000);
	const stop = new AbortController();
	try {
		const run = runWorkflow(sendWorkflow(batch.items, { ...SEQUENTIAL, options: { ...SEQUENTIAL.options, leaseSeconds: 3600 } }), { credentials: credentials(), cancel: stop.signal });
		// The batch began (its contacts are in sending): its first item waits for the pause to end.
		for (let tries = 0; (await statesOf(batch.stateIds)).some((state) => state.current_stage !== 'sending'); tries++) {
			expect(tries).toBeLessThan(300);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		stop.abort();
		const result = await run;

		const [, , failed = []] = result.nodeBranches.Send ?? [];
		expect(failed.map((item) => item.send)).toEqual(batch.items.map(() => expect.objectContaining({ outcome: 'failed', reason: 'cancelled', retryLater: true, attempts: 0 })));
		expect(await sims.graph.control.requests()).toEqual([]);
		const states = await statesOf(batch.stateIds);
		expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual(batch.items.map(() => ['failed', 'cancelled', true]));
	} finally {
		await unpausePage();
	}
}, 60_000);
