// Every Graph error of docs/graph-errors.md's table reaches its outcome, item and database alike:
// the simulator answers with the code (and subcode) for one recipient, the node runs through n8n's
// engine, and the contact's state, the duplicate guard and the stop list are read back.
import type { FaultEffect, FaultTrigger } from '../../../simulators';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { testStack, withDb } from '../../helpers/stack';
import { ledgerOf, PAGE_ID, readyContacts, statesOf, stopsOf, type ReadyBatch } from './support/contacts';
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

const credentials = (baseUrl = sims.graph.baseUrl) => ({
	leadflowFacebookPageApi: facebookCredential(baseUrl),
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

// Retry Later After is 2 minutes here (15 by default), so the tests see the option reach the database.
const parameters = { ...FAST, options: { ...FAST.options, retryLaterMinutes: 2 } };

async function sendWithFault(effect: FaultEffect, trigger: FaultTrigger = { mode: 'always' }, count = 1) {
	const batch = await readyContacts({ count });
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, trigger, effect });
	const run = await runSend(batch.items, parameters, credentials());
	return { batch, run, calls: await sims.graph.control.requests() };
}

const graphError = (code: number, subcode?: number, message?: string): FaultEffect => ({
	kind: 'graphError',
	code,
	...(subcode !== undefined && { subcode }),
	...(message !== undefined && { message }),
});

const firstState = (batch: ReadyBatch) => statesOf(batch.stateIds).then((states) => states[0]);

describe.each([
	{ name: '10 / 2018278 outside the window', effect: graphError(10, 2018278), reason: 'outside_window' },
	{ name: '10 without subcode, outside-window message', effect: graphError(10, undefined, '(#10) This message is sent outside of allowed window.'), reason: 'outside_window' },
	{ name: '551 / 1545041 person not available', effect: graphError(551, 1545041), reason: 'unavailable' },
])('Graph $name → skipped', ({ effect, reason }) => {
	test(`skipped ${reason}, called once, guard released`, async () => {
		const { batch, run, calls } = await sendWithFault(effect);
		expect(run.skipped).toHaveLength(1);
		expect(run.skipped[0].send).toMatchObject({ outcome: 'skipped', reason, code: (effect as { code: number }).code, attempts: 1 });
		expect(calls).toHaveLength(1);
		expect(await firstState(batch)).toMatchObject({ current_stage: 'skipped', skip_reason: reason, follow_up_count: 0 });
		expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['released']);
	});
});

test('551 adds the contact to the stop list for every rule', async () => {
	const { batch } = await sendWithFault(graphError(551, 1545041));
	expect(await stopsOf(batch.conversationIds)).toEqual([{ conversation_id: batch.conversationIds[0], rule_id: null, reason: 'unavailable' }]);
});

describe.each([
	{ name: '100 / 2018001 no matching user', effect: graphError(100, 2018001), reason: 'no_matching_user' },
	{ name: '10 without the window (a permission error)', effect: graphError(10), reason: 'graph_error' },
	// Meta lists 1 / 1357046 for a batch whose messages were all sent although the answer is an error.
	{ name: '1 / 1357046 (an unknown error, possibly sent)', effect: graphError(1, 1357046), reason: 'graph_error' },
])('Graph $name → failed for good', ({ effect, reason }) => {
	test(`failed ${reason}, called once, guard kept, never retried by itself`, async () => {
		const { batch, run, calls } = await sendWithFault(effect);
		expect(run.failed[0].send).toMatchObject({ outcome: 'failed', reason, retryLater: false, attempts: 1 });
		expect(calls).toHaveLength(1);
		expect(await firstState(batch)).toMatchObject({ current_stage: 'failed', error_code: reason, retry_at: null });
		expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['failed']);
	});
});

describe.each([4, 17, 32, 613, 80001, 80006, 2, 1200])('Graph code %i', (code) => {
	const reason = code === 2 || code === 1200 ? 'temporary' : 'throttled';

	test(`once: backs off, retries and sends`, async () => {
		const { batch, run, calls } = await sendWithFault(graphError(code), { mode: 'count', count: 1 });
		expect(run.sent[0].send).toMatchObject({ outcome: 'sent', attempts: 2 });
		expect(calls.map((call) => call.outcome)).toEqual(['fault', 'answered']);
		expect(await firstState(batch)).toMatchObject({ current_stage: 'sent', follow_up_count: 1 });
	});

	test(`every time: ${reason} after the retries, guard released, claimable again later`, async () => {
		const before = Date.now();
		const { batch, run, calls } = await sendWithFault(graphError(code));
		expect(run.failed[0].send).toMatchObject({ outcome: 'failed', reason, code, retryLater: true, attempts: 3 });
		expect(calls).toHaveLength(3);
		const state = await firstState(batch);
		expect(state).toMatchObject({ current_stage: 'failed', error_code: reason, follow_up_count: 0 });
		expect(state.retry_at!.getTime()).toBeGreaterThanOrEqual(before + 119_000);
		expect(state.retry_at!.getTime()).toBeLessThan(Date.now() + 121_000);
		expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['released']);
	});
});

test('throttling that outlasts the retries stops the batch: the rest is not tried and waits for later', async () => {
	const batch = await readyContacts({ count: 3 });
	await sims.graph.control.addFault({ effect: graphError(32) });

	const run = await runSend(batch.items, SEQUENTIAL, credentials());

	expect(await sims.graph.control.requests()).toHaveLength(3);
	expect(run.failed.map((item) => (item.send as { attempts: number }).attempts)).toEqual([3, 0, 0]);
	expect(run.failed.every((item) => (item.send as { reason: string }).reason === 'throttled')).toBe(true);
	const states = await statesOf(batch.stateIds);
	expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual([
		['failed', 'throttled', true],
		['failed', 'throttled', true],
		['failed', 'throttled', true],
	]);
});

describe('Graph 190 (token invalid or expired)', () => {
	test('stops the batch with a credential error; sent items stay recorded, the rest leave sending and wait for later', async () => {
		const batch = await readyContacts({ count: 3 });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[1] }, effect: graphError(190) });

		const run = await runSend(batch.items, SEQUENTIAL, credentials());

		expect(run.result.status).toBe('error');
		expect(run.result.error).toMatchObject({ message: 'The Page token is invalid or expired: reconnect the credential', node: 'Send' });
		expect(run.result.error?.description).toContain('1 were not tried');
		expect(await sims.graph.control.requests()).toHaveLength(2);
		const states = await statesOf(batch.stateIds);
		expect(states.map((state) => [state.current_stage, state.error_code])).toEqual([
			['sent', null],
			['failed', 'invalid_token'],
			['failed', 'invalid_token'],
		]);
		expect(states.every((state) => state.locked_by === null)).toBe(true);
		expect((await ledgerOf(batch.ruleId)).map((row) => row.status).sort()).toEqual(['released', 'released', 'sent']);
	});

	test('with Continue On Fail the items go to Failed instead', async () => {
		const batch = await readyContacts({ count: 2 });
		await sims.graph.control.addFault({ effect: graphError(190) });

		const run = await runSend(batch.items, SEQUENTIAL, credentials(), { continueOnFail: true });

		expect(run.result.status).toBe('success');
		expect(run.failed.map((item) => item.send)).toMatchObject([
			{ outcome: 'failed', reason: 'invalid_token', code: 190, attempts: 1 },
			{ outcome: 'failed', reason: 'invalid_token', attempts: 0 },
		]);
	});
});

describe('a Graph error that quotes the Page token ("Malformed access token …")', () => {
	// People who may only use the credential read the items, the node's error and (through the
	// monitor and the console) the contact's error_message: Meta's words stay, the token does not.
	const quoting = (code: number) => graphError(code, undefined, `Malformed access token ${PAGE_TOKEN}`);

	/** Every row the send wrote for the batch, as text. */
	const writtenFor = (batch: ReadyBatch) =>
		withDb(async (db) => {
			const states = await db.query<{ t: string }>('select row_to_json(s)::text t from public.ai_automation_contact_states s where id = any($1::uuid[])', [batch.stateIds]);
			const ledger = await db.query<{ t: string }>('select row_to_json(x)::text t from public.ai_automation_executions x where rule_id = $1', [batch.ruleId]);
			return [...states.rows, ...ledger.rows].map((row) => row.t).join('\n');
		});

	test.each([100, 200])('Graph %i: the failed item and the database say what Meta said, without the token', async (code) => {
		const batch = await readyContacts({ count: 1 });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: quoting(code) });

		const run = await runSend(batch.items, SEQUENTIAL, credentials());

		expect(run.failed[0].send).toMatchObject({ outcome: 'failed', code, message: 'Malformed access token [access token]' });
		expect(JSON.stringify([run.sent, run.skipped, run.failed])).not.toContain(PAGE_TOKEN);
		const written = await writtenFor(batch);
		expect(written).toContain(`"error_message":"Graph ${code}: Malformed access token [access token]"`);
		expect(written).not.toContain(PAGE_TOKEN);
	});

	test('Graph 190: the node error says what Meta said, without the token, and so does the database', async () => {
		const batch = await readyContacts({ count: 1 });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: quoting(190) });

		const run = await runSend(batch.items, SEQUENTIAL, credentials());

		expect(run.result.error).toMatchObject({ message: 'The Page token is invalid or expired: reconnect the credential' });
		expect(run.result.error?.description).toContain('Facebook answered 190 (Malformed access token [access token])');
		expect(JSON.stringify(run.result.error)).not.toContain(PAGE_TOKEN);
		const written = await writtenFor(batch);
		expect(written).toContain('"error_message":"Graph 190: Malformed access token [access token]"');
		expect(written).not.toContain(PAGE_TOKEN);
	});
});

// Facebook Send sends the access token, never the credential's Webhook Verify Token (only the
// Messenger Trigger does): a short Verify Token is an ordinary word of Meta's ("window", "token"),
// and looking for it garbled what Meta said and changed the outcome. Meta's words are kept as they
// are, the outcome is read from them, and a token they quote is still removed.
describe('a Verify Token that is one of Meta’s words ("window", "token")', () => {
	const withVerifyToken = (verifyToken: string) => ({ ...credentials(), leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl, { verifyToken }) });

	test('Verify Token "window": a 10 "sent outside of allowed window" (no subcode) is still skipped outside_window, in Meta’s words', async () => {
		const meta = '(#10) This message is sent outside of allowed window.';
		const batch = await readyContacts({ count: 1 });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: graphError(10, undefined, meta) });

		const run = await runSend(batch.items, parameters, withVerifyToken('window'));

		expect(run.failed).toEqual([]);
		expect(run.skipped[0].send).toMatchObject({ outcome: 'skipped', reason: 'outside_window', code: 10, message: meta });
		expect(await firstState(batch)).toMatchObject({ current_stage: 'skipped', skip_reason: 'outside_window' });
		expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['released']);
	});

	test('Verify Token "token": a 100 is recorded as Meta said it, and the Page token it quotes is still removed', async () => {
		const meta = 'Error validating access token: The session has been invalidated because the user changed their password.';
		const batch = await readyContacts({ count: 2 });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: graphError(100, undefined, meta) });
		await sims.graph.control.addFault({ match: { recipient: batch.psids[1] }, effect: graphError(100, undefined, `Malformed access token ${PAGE_TOKEN}`) });

		const run = await runSend(batch.items, SEQUENTIAL, withVerifyToken('token'));

		expect(run.failed.map((item) => item.send)).toEqual([
			expect.objectContaining({ outcome: 'failed', code: 100, message: meta }),
			expect.objectContaining({ outcome: 'failed', code: 100, message: 'Malformed access token [access token]' }),
		]);
		const { rows } = await withDb((db) =>
			db.query<{ id: string; error_message: string }>('select id, error_message from public.ai_automation_contact_states where id = any($1::uuid[])', [batch.stateIds]),
		);
		expect(batch.stateIds.map((id) => rows.find((row) => row.id === id)?.error_message)).toEqual([`Graph 100: ${meta}`, 'Graph 100: Malformed access token [access token]']);
		expect(JSON.stringify(run.failed)).not.toContain(PAGE_TOKEN);
	});
});

test('no answer within the timeout: send_uncertain, guard kept, and the next run does not resend', async () => {
	const batch = await readyContacts({ count: 1 });
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: { kind: 'timeout', holdMs: 3000 } });
	const run = await runSend(batch.items, { ...FAST, options: { ...FAST.options, timeoutSeconds: 1 } }, credentials());
	const calls = await sims.graph.control.requests();
	expect(run.failed[0].send).toMatchObject({ outcome: 'failed', reason: 'send_uncertain', retryLater: false, attempts: 1 });
	expect(calls).toHaveLength(1);
	expect(await firstState(batch)).toMatchObject({ current_stage: 'failed', error_code: 'send_uncertain', retry_at: null });
	expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['uncertain']);

	await sims.graph.control.clearFaults();
	const again = await runSend(batch.items, FAST, credentials());
	expect(again.skipped[0].send).toMatchObject({ outcome: 'duplicate' });
	expect(await sims.graph.control.requests()).toHaveLength(1);
});

test('Facebook unreachable (connection refused): failed unreachable after the retries, guard released', async () => {
	const batch = await readyContacts({ count: 1 });
	const closed = await startSimulators();
	const closedUrl = closed.graph.baseUrl;
	await closed.stop();

	const run = await runSend(batch.items, FAST, credentials(closedUrl));

	expect(run.failed[0].send).toMatchObject({ outcome: 'failed', reason: 'unreachable', retryLater: true, detail: 'ECONNREFUSED', attempts: 3 });
	expect(await firstState(batch)).toMatchObject({ current_stage: 'failed', error_code: 'unreachable' });
	expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['released']);
});
