// workflows/queue-run.json when a run can send nothing, through n8n's engine in-process against a
// stack of its own (the schedule claims every owner's due messages) and the Graph simulator:
// - Meta refuses the WhatsApp token (190), or queue_begin_send fails: Send releases every message
//   (nothing thrown once a message may have gone out), Record Outcomes records the releases (back
//   to queued, the attempt not counted), then the schedule ends in error at Fail The Scheduled Run
//   with the cause and what to do (n8n records it, the Error Workflow sees it), and Run Now answers
//   500 {status, error, field, hint} with the counts, instead of a green run / a 200 every minute
//   while nothing goes out.
// - Send fails as a node (a credential without a valid Phone Number ID): it gives the claimed
//   messages back first (queue_complete, released: the attempt given back, not held for the lease),
//   and its error output answers Run Now 500 {status, error, hint} / fails the schedule, instead of
//   n8n's bare 500 "Error in workflow" and messages held 5 minutes, each broken run using an attempt.
// - Send on WhatsApp's Phone reading a wrong field (phone_mismatch: the message's own phone is not the
//   one given): those messages are not sent and go back to the queue, and the run is a stopped run
//   too (the workflow's setting to fix, as for a refused option): the schedule ends in error, Run Now
//   answers 500 with the count and the reason, and the ledger says phone_mismatch. Before, the run
//   ended green (Run Stopped? checked three codes) and nothing in the database said why.
// - A rate limit is not a stopped run: its run ends green, its answer 200.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { testStack, useStackOfItsOwn, withDb } from '../helpers/stack';
import { failingSupabase } from './support/failing-supabase';
import { leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-run.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const TOKEN = 'EAAG-queue-token';
let sims: RunningSimulators;

useStackOfItsOwn();

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.clearFaults();
	await sims.graph.control.clearWhatsAppMessages();
});

const credentials = (whatsapp: TestCredentials = whatsappCredentials(sims.graph.baseUrl, undefined, TOKEN), supabase: TestCredentials = supabaseCredentials()): TestCredentials => ({
	httpHeaderAuth: KEY,
	...supabase,
	...whatsapp,
});
const scheduled = (creds: TestCredentials = credentials()) => runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: creds });
const runNow = (owner: string, creds: TestCredentials = credentials()) =>
	runWorkflow(WORKFLOW, { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: creds });
const rowsOf = async (owner: string) => (await messagesOf(owner)).map((row) => [row.status, row.attempts, row.lease_holder ?? null]);
const noSecret = (value: unknown) => {
	const text = JSON.stringify(value);
	expect(text).not.toContain(TOKEN);
	expect(text).not.toContain(testStack().serviceRoleKey);
	expect(text).not.toMatch(/at \S+ \(|\.(js|ts):\d+/);
};

async function dueQueue(count: number): Promise<string> {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' }, max_attempts: 3 });
	await leadsOf(owner, count);
	await prepareDue(owner);
	return owner;
}

test('a refused WhatsApp token (190): the schedule ends in error with what to do, Run Now answers 500 with the counts; every message back in the queue, no attempt used', async () => {
	const owner = await dueQueue(3);
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });

	const run = await scheduled();
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({
		node: 'Fail The Scheduled Run',
		message: expect.stringMatching(/^The WhatsApp access token was refused \(190\)/),
		description: expect.stringMatching(/Leadflow WhatsApp Cloud API credential.*This run: claimed 3, sent 0, failed 0, dead 0, released 3 /),
	});
	// Recorded first: Complete gave each message back before the run failed.
	expect(run.executedNodes.indexOf('Record Outcomes')).toBeGreaterThan(-1);
	expect(run.executedNodes.indexOf('Record Outcomes')).toBeLessThan(run.executedNodes.indexOf('Fail The Scheduled Run'));
	expect(run.executedNodes).not.toContain('Respond With Summary');
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);

	const now = await runNow(owner);
	expect(now.error).toBeUndefined();
	expect(now.response?.statusCode).toBe(500);
	expect(now.response?.body).toEqual({
		status: 500,
		error: expect.stringMatching(/^The WhatsApp access token was refused \(190\)/),
		field: null,
		hint: expect.stringMatching(/^Put a valid access token .* in the Leadflow WhatsApp Cloud API credential/),
		claimed: 3,
		sent: 0,
		failed: 0,
		dead: 0,
		released: 3,
		cancelled: 0,
		refused: 0,
		errors: [{ code: 'invalid_token', count: 3 }],
	});
	noSecret(now.response?.body);
	noSecret(run.error);
	expect(now.executedNodes).not.toContain('Fail The Scheduled Run');
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);

	// Once the token is accepted again, the next run sends all three.
	await sims.graph.control.clearFaults();
	const fixed = await runNow(owner);
	expect(fixed.response?.statusCode).toBe(200);
	expect(fixed.response?.body).toMatchObject({ claimed: 3, sent: 3, errors: [] });
}, 120_000);

// The business account refused (131042 payment, 131031 locked) is a run that could not send, like a
// refused token: before, each message was refused one by one, retried after the backoff, and the run
// ended green every minute.
test.each([
	[131042, /for 131042 \(payment\), add or fix the payment method/],
	[131031, /for 131031 \(locked\), open WhatsApp Manager/],
])('the business account refused (%i): the schedule ends in error with what to do, Run Now answers 500 with the counts; every message back in the queue', async (code, hint) => {
	const owner = await dueQueue(3);
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code } });

	const run = await scheduled();
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({
		node: 'Fail The Scheduled Run',
		message: expect.stringMatching(new RegExp(`^WhatsApp refused to send for the business account \\(${code}, `)),
		description: expect.stringMatching(/This run: claimed 3, sent 0, failed 0, dead 0, released 3 /),
	});
	expect(run.error?.description).toMatch(hint);
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);

	const now = await runNow(owner);
	expect(now.response?.statusCode).toBe(500);
	expect(now.response?.body).toEqual({
		status: 500,
		error: expect.stringMatching(new RegExp(`^WhatsApp refused to send for the business account \\(${code}, `)),
		field: null,
		hint: expect.stringMatching(hint),
		claimed: 3,
		sent: 0,
		failed: 0,
		dead: 0,
		released: 3,
		cancelled: 0,
		refused: 0,
		errors: [{ code: 'business_account', count: 3 }],
	});
	noSecret(now.response?.body);
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);

	// Once the account can send again, the next run sends all three (and leaves nothing due for the next test's schedule).
	await sims.graph.control.clearFaults();
	const fixed = await runNow(owner);
	expect(fixed.response?.statusCode).toBe(200);
	expect(fixed.response?.body).toMatchObject({ claimed: 3, sent: 3, errors: [] });
}, 120_000);

test('queue_begin_send failing: the schedule ends in error saying so, Run Now answers 500 with the counts; nothing sent, every message back in the queue', async () => {
	const owner = await dueQueue(3);
	// queue_begin_send answered 500 (a statement timeout) without reaching the database.
	const proxy = await failingSupabase(['queue_begin_send'], 500, { code: '57014', message: 'canceling statement due to statement timeout', details: null, hint: null });
	try {
		const creds = credentials(undefined, { leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } });
		const run = await scheduled(creds);
		expect(run.status).toBe('error');
		expect(run.error).toMatchObject({
			node: 'Fail The Scheduled Run',
			message: expect.stringMatching(/^Sending stopped: whether this run still holds its messages could not be checked \(queue_begin_send.*statement timeout\)$/),
			description: expect.stringMatching(/^queue_begin_send, .* failed .*a reset connection or a 5xx is tried again.*is not tried again: if Supabase is up, raise that Lease.*This run: claimed 3, sent 0, failed 0, dead 0, released 3 /),
		});
		expect(await rowsOf(owner)).toEqual([
			['queued', 0, null],
			['queued', 0, null],
			['queued', 0, null],
		]);

		const now = await runNow(owner, creds);
		expect(now.response?.statusCode).toBe(500);
		expect(now.response?.body).toEqual({
			status: 500,
			error: expect.stringMatching(/^Sending stopped: /),
			field: null,
			hint: expect.stringMatching(/^queue_begin_send/),
			claimed: 3,
			sent: 0,
			failed: 0,
			dead: 0,
			released: 3,
			cancelled: 0,
			refused: 0,
			errors: [{ code: 'not_checked', count: 3 }],
		});
		noSecret(now.response?.body);
	} finally {
		await proxy.stop();
	}
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);
	// With the database answering again, the next run sends all three.
	expect((await runNow(owner)).response?.body).toMatchObject({ claimed: 3, sent: 3, errors: [] });
}, 120_000);

test('Send failing as a node (no valid Phone Number ID) gives the messages back: Run Now answers 500 with the message and what to do, the next run sends them at once', async () => {
	const owner = await dueQueue(3);
	const broken = credentials(whatsappCredentials(sims.graph.baseUrl, '', TOKEN));

	const now = await runNow(owner, broken);
	expect(now.error).toBeUndefined();
	expect(now.response?.statusCode).toBe(500);
	expect(now.response?.body).toEqual({
		status: 500,
		error: 'The WhatsApp credential has no valid Phone Number ID',
		hint: 'Enter the numeric ID of the business phone number (WhatsApp Manager → API Setup) in the Leadflow WhatsApp Cloud API credential.',
	});
	noSecret(now.response?.body);
	// Not held for the lease, and the broken run used no attempt.
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);

	const run = await scheduled(broken);
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({
		node: 'Fail The Scheduled Run',
		message: 'The WhatsApp credential has no valid Phone Number ID',
		description: expect.stringMatching(/^Enter the numeric ID of the business phone number/),
	});
	expect(await rowsOf(owner)).toEqual([
		['queued', 0, null],
		['queued', 0, null],
		['queued', 0, null],
	]);

	const fixed = await runNow(owner);
	expect(fixed.response?.statusCode).toBe(200);
	expect(fixed.response?.body).toEqual({ claimed: 3, sent: 3, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(3);
}, 120_000);

test('after three runs with a broken credential, one retryable Meta error leaves the message failed for a retry, not dead', async () => {
	const owner = await dueQueue(1);
	const broken = credentials(whatsappCredentials(sims.graph.baseUrl, '', TOKEN));
	for (let run = 0; run < 3; run++) expect((await runNow(owner, broken)).response?.statusCode).toBe(500);
	await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 131000 } });
	const fixed = await runNow(owner);
	expect(fixed.response?.statusCode).toBe(200);
	expect(fixed.response?.body).toMatchObject({ claimed: 1, failed: 1, dead: 0 });
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual([['failed', 1]]);
}, 120_000);

/** The shipped workflow with Send on WhatsApp's Phone reading a wrong field: every message given the first claimed message's phone. */
function wrongPhoneWorkflow(): WorkflowJson {
	const workflow = structuredClone(loadWorkflow(WORKFLOW));
	const send = workflow.nodes.find((node) => node.name === 'Send on WhatsApp');
	if (!send) throw new Error('Send on WhatsApp is missing');
	send.parameters = { ...send.parameters, phone: "={{ $('Claim Due Messages').first().json.phone }}" };
	return workflow;
}

test('Send on WhatsApp\'s Phone reading a wrong field (phone_mismatch): the run fails saying so with the count, those messages back in the queue with ledger reason phone_mismatch', async () => {
	const owner = await dueQueue(3);
	const workflow = wrongPhoneWorkflow();

	const run = await runWorkflow(workflow, { trigger: 'schedule', credentials: credentials() });
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({
		node: 'Fail The Scheduled Run',
		message: "Send on WhatsApp was given a Phone that is not the claimed message's: 2 messages were not sent (phone_mismatch)",
		description: expect.stringMatching(/^The workflow's node Send on WhatsApp reads its Phone from a wrong field .*\{\{ \$json\.phone \}\}.*This run: claimed 3, sent 1, failed 0, dead 0, released 2 /),
	});
	expect((await rowsOf(owner)).map((row) => row[0]).sort()).toEqual(['queued', 'queued', 'sent']);
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(1);
	const reasons = await withDb(async (db) =>
		(await db.query<{ reason: string; detail: { code?: string } | null }>(
			"select reason, detail from public.queue_ledger where user_id = $1 and queue = 'whatsapp_message_queue' and from_status = 'claimed' and to_status = 'queued' order by id",
			[owner],
		)).rows,
	);
	expect(reasons.map((row) => [row.reason, row.detail?.code])).toEqual([
		['phone_mismatch', 'phone_mismatch'],
		['phone_mismatch', 'phone_mismatch'],
	]);

	await sims.graph.control.clearWhatsAppMessages();
	const now = await runWorkflow(workflow, { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });
	expect(now.error).toBeUndefined();
	expect(now.response?.statusCode).toBe(500);
	expect(now.response?.body).toEqual({
		status: 500,
		error: "Send on WhatsApp was given a Phone that is not the claimed message's: 1 message was not sent (phone_mismatch)",
		field: null,
		hint: expect.stringMatching(/^The workflow's node Send on WhatsApp reads its Phone from a wrong field/),
		claimed: 2,
		sent: 1,
		failed: 0,
		dead: 0,
		released: 1,
		cancelled: 0,
		refused: 0,
		errors: [{ code: 'phone_mismatch', count: 1 }],
	});
	noSecret(now.response?.body);
	// The shipped workflow (Phone {{ $json.phone }}) then sends the last one.
	const fixed = await runNow(owner);
	expect(fixed.response?.statusCode).toBe(200);
	expect(fixed.response?.body).toMatchObject({ claimed: 1, sent: 1, errors: [] });
}, 120_000);

// Review R1: two stop codes in one run (a refused token and a wrong Phone) are both said, each with
// what to do; before, Describe Stopped Run told only the first it found (the token), and the Phone
// was left unfixed until the token was.
test('a refused token and a wrong Phone in one run: the 500 names both causes and both fixes, with the counts', async () => {
	const owner = await dueQueue(3);
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });
	const now = await runWorkflow(wrongPhoneWorkflow(), {
		startNode: 'Run Now',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} },
		credentials: credentials(),
	});
	await sims.graph.control.clearFaults();
	expect(now.error).toBeUndefined();
	expect(now.response?.statusCode).toBe(500);
	expect(now.response?.body).toMatchObject({
		status: 500,
		error: expect.stringMatching(
			/^The WhatsApp access token was refused \(190\).* Also: Send on WhatsApp was given a Phone that is not the claimed message's: 2 messages were not sent \(phone_mismatch\)$/,
		),
		hint: expect.stringMatching(/^Put a valid access token .*Leadflow WhatsApp Cloud API credential.* The workflow's node Send on WhatsApp reads its Phone from a wrong field .*This run: claimed 3, sent 0, failed 0, dead 0, released 3 /),
		claimed: 3,
		released: 3,
		errors: expect.arrayContaining([{ code: 'invalid_token', count: 1 }, { code: 'phone_mismatch', count: 2 }]),
	});
	noSecret(now.response?.body);
	expect((await rowsOf(owner)).map((row) => row[0])).toEqual(['queued', 'queued', 'queued']);
	// The shipped workflow with a good token sends them (nothing left for the schedule of the next test).
	const fixed = await runNow(owner);
	expect(fixed.response?.body).toMatchObject({ claimed: 3, sent: 3 });
}, 120_000);

test('a rate limit is not a stopped run: the schedule ends green and Run Now answers 200', async () => {
	const owner = await dueQueue(3);
	await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 130429 } });
	const run = await scheduled();
	expect(run.error).toBeUndefined();
	expect(run.status).toBe('success');
	expect(run.executedNodes).toContain('Respond With Summary');
	expect(run.nodeOutputs['Summarise Run']?.[0]?.errors).toEqual([{ code: '130429', count: 1 }]);
	expect((await messagesOf(owner)).map((row) => row.status).sort()).toEqual(['failed', 'sent', 'sent']);

	const second = await dueQueue(2);
	await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 131056 } });
	const now = await runNow(second);
	expect(now.response?.statusCode).toBe(200);
	expect(now.response?.body).toMatchObject({ claimed: 2, sent: 1, failed: 1, errors: [{ code: '131056', count: 1 }] });
}, 120_000);
