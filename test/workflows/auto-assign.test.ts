// workflows/auto-assign.json through n8n's engine in-process ("Analyse Now" webhook) against the
// local stack and the Gemini simulator: the owner's conversations due an analysis are scored and
// placed in one run, the answer counts them by outcome, the Automations output gets the pipeline's
// webhook action once per contact, a run with nothing due answers zeros, a new customer message
// makes a placed contact due again, and a model failure leaves a placed contact as the model put it.
// A malformed owner header answers 400 naming it, and so does an owner sent in the query or the body,
// or an empty header (never every owner); a scheduled run whose analysis fails ends in error, and so
// does one whose Gemini setup is wrong (no key or model, an unknown model, every key refused: 500 to
// Analyse Now, no one placed); when
// Assign Stages fails, Analyse Now answers the problem and a scheduled run ends in error too.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { keyIdOf } from '../../nodes/shared/gemini/keyRing';
import { OWNER_ELSEWHERE, ownerElsewhere } from './support/owner-elsewhere';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { serviceClient, testStack, withDb } from '../helpers/stack';
import { createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';
import { failingSupabase, POOL_TIMEOUT } from './support/failing-supabase';

const WORKFLOW = 'workflows/auto-assign.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const keys = [`key-a-${randomUUID()}`, `key-b-${randomUUID()}`];
let sims: RunningSimulators;
let credentials: TestCredentials;
let world: PipelineWorld;

const reply = (score: number, status = 'CONTACTED') =>
	JSON.stringify({ lead_status: status, lead_score: score, confidence: 80, recommended_stage: null, summary: 'Asked the price.', reasoning: 'Engaged.' });

beforeAll(async () => {
	sims = await startSimulators();
	const stack = testStack();
	credentials = {
		httpHeaderAuth: KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: keys.join('\n'), baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	};
	world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads' }] });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
});

/** A customer message `secondsAgo` before the database's now (relative, never a date). */
const customerWrites = (conversationId: string, text: string, secondsAgo: number) =>
	withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, now() - make_interval(secs => $4))`, [
			world.userId,
			conversationId,
			text,
			secondsAgo,
		]),
	);

const analyseNow = () =>
	runWorkflow(WORKFLOW, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} }, credentials });

test('the due conversations are analysed and placed; the answer counts them; each automation is handed out once', async () => {
	const [a, b, silent] = await world.contacts(3);
	await customerWrites(a, 'How much is it?', 600);
	await customerWrites(b, 'Can I order today?', 300);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });

	const first = await analyseNow();
	expect(first.error).toBeUndefined();
	expect(first.response?.statusCode).toBe(200);
	expect(first.response?.body).toEqual({ analysed: 2, fallback: 0, assigned: 2, moved: 0, kept: 0, skipped: 0, automations: 2 });
	const stored = (await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>;
	expect(stored.filter((place) => [a, b].includes(place.conversation_id)).map((place) => place.stage_id)).toEqual([world.pipeline.stages.Qualified, world.pipeline.stages.Qualified]);
	expect(stored.some((place) => place.conversation_id === silent)).toBe(false);
	const automations = (first.nodeBranches['Assign Stages']?.[1] ?? []) as IDataObject[];
	const mine = automations.filter((item) => [a, b].includes((item.contact as IDataObject).conversation_id as string));
	expect(mine.map((item) => [(item.contact as IDataObject).conversation_id, item.kind]).sort()).toEqual([[a, 'webhook'], [b, 'webhook']].sort());
	expect(first.executedNodes).toContain('Send automation (replace me)');

	const nothingDue = await analyseNow();
	expect(nothingDue.response?.statusCode).toBe(200);
	// The claim keeps to the conversations this run changed: none, so nothing is handed out.
	expect(nothingDue.response?.body).toEqual({ analysed: 0, fallback: 0, assigned: 0, moved: 0, kept: 0, skipped: 0, automations: 0 });
});

test('a new customer message makes a placed contact due again; a model failure changes nothing placed, and the model is asked again', async () => {
	const [contact] = await world.contacts(1);
	await customerWrites(contact, 'Hello', 900);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(10) } });
	expect((await analyseNow()).response?.body).toMatchObject({ analysed: 1, assigned: 1 });
	const placeOf = async () =>
		((await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string; lead_score: number; analysis_is_fallback: boolean }>).find(
			(row) => row.conversation_id === contact,
		);
	const placed = await placeOf();

	// After the last message the analysis saw (900 s ago): due again, whenever the analysis ran.
	await customerWrites(contact, 'Actually, what does it cost?', 1);
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429, retryDelaySeconds: 60 } });
	const again = await analyseNow();
	// The fallback score is kept out of a place the model made: same stage, same score, same analysis;
	// only the failed try is recorded, so the contact waits behind new ones until it writes again.
	expect(again.response?.body).toMatchObject({ analysed: 1, fallback: 1, assigned: 0, moved: 0, kept: 1 });
	const tried = (await places(world.userId)).find((row) => row.conversation_id === contact)!;
	expect({ ...tried, failed_analysis_last_message_at: null, updated_at: null }).toEqual({ ...placed, failed_analysis_last_message_at: null, updated_at: null });
	expect(tried.failed_analysis_last_message_at).toBeInstanceOf(Date);

	// The message is still unseen by the model, so the next run asks it again, once the keys' rest
	// (60 s, shared in the database) is over: ended here rather than waited for.
	await withDb((db) => db.query('update leadflow_private.limit_gemini_keys set rested_until = rested_at where key_id = any ($1)', [keys.map(keyIdOf)]));
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	const answered = await analyseNow();
	expect(answered.response?.body).toMatchObject({ analysed: 1, fallback: 0, moved: 1 });
	expect(await placeOf()).toMatchObject({ stage_id: world.pipeline.stages.Qualified, lead_score: 50, analysis_is_fallback: false });
});

test('a reply whose free text the database would refuse still places the contact, its text kept within the limits', async () => {
	const [contact] = await world.contacts(1);
	await customerWrites(contact, 'Do you ship abroad?', 60);
	const odd = JSON.stringify({
		lead_status: 'QUALIFIED',
		lead_score: 60,
		confidence: 70,
		recommended_stage: `Qualified\nsince ${'they asked '.repeat(30)}`,
		summary: 'Asks about\u0007shipping.',
		reasoning: 'r'.repeat(12_000),
	});
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: odd } });
	const run = await analyseNow();
	expect(run.response?.body).toMatchObject({ analysed: 1, fallback: 0, assigned: 1 });
	const place = ((await places(world.userId)) as unknown as Array<Record<string, unknown>>).find((row) => row.conversation_id === contact);
	expect(place).toMatchObject({ stage_id: world.pipeline.stages.Qualified, analysis_summary: 'Asks about shipping.', analysis_recommended_stage: null, analysis_is_fallback: false });
	expect((place!.analysis_reasoning as string).length).toBe(10_000);
});

test('a malformed X-Leadflow-Owner answers 400 naming it, with the message only; nothing is analysed or summarised', async () => {
	const run = await runWorkflow(WORKFLOW, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': 'abc' }, body: {} }, credentials });
	expect(run.response?.statusCode).toBe(400);
	expect(run.response?.body).toEqual({ status: 400, error: 'The owner user ID "abc" is not a UUID', field: 'X-Leadflow-Owner', hint: expect.stringMatching(/X-Leadflow-Owner/) });
	expect(run.error).toBeUndefined();
	expect(run.executedNodes).not.toContain('Assign Stages');
	expect(await sims.gemini.control.requests()).toEqual([]);
});

// The webhook's one input is X-Leadflow-Owner; without it every owner's due conversations are
// analysed. So an owner sent anywhere else, or a header left empty, is refused before anything runs.
test.each(OWNER_ELSEWHERE)('%s answers 400 naming it; nothing is analysed', async (_case, where, field, error) => {
	const run = await runWorkflow(WORKFLOW, {
		startNode: 'Analyse Now',
		webhook: ownerElsewhere(where, KEY, world.userId),
		credentials,
	});
	expect(run.response?.statusCode).toBe(400);
	expect(run.response?.body).toEqual({ status: 400, field, error: expect.stringMatching(error), hint: expect.stringMatching(/X-Leadflow-Owner/) });
	expect(run.executedNodes).not.toContain('Analyze Due Conversations');
	expect(await sims.gemini.control.requests()).toEqual([]);
});

test('a scheduled run whose analysis fails ends in error with its message (so n8n records it and calls the Error Workflow)', async () => {
	// Supabase unreachable (nothing listens on port 9): the due read fails, for every owner.
	const unreachable = { ...credentials, leadflowSupabaseApi: { url: 'http://127.0.0.1:9', serviceRoleKey: testStack().serviceRoleKey } };
	const run = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: unreachable });
	expect(run.mode).toBe('trigger');
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.any(String) });
	expect(run.executedNodes).not.toContain('Assign Stages');
});

/**
 * The shipped workflow for a scheduled run that reaches this file's owner only: Analyze pinned to the
 * owner and the every-owner Claim Waiting Automations off, so the run can never take another test
 * file's rows on the shared stack, whichever branch n8n runs first.
 */
function ownerScheduled(): WorkflowJson {
	const shipped = loadWorkflow(WORKFLOW);
	return {
		...shipped,
		nodes: shipped.nodes.map((node) => {
			if (node.name === 'Analyze Due Conversations') return { ...node, parameters: { ...node.parameters, ownerUserId: world.userId } };
			if (node.name === 'Claim Waiting Automations') return { ...node, disabled: true };
			return node;
		}),
	};
}

// A Gemini credential without a key, with more keys than it may have, or without a model: the Analyze node's own message and what to
// do reach the caller (500) and the scheduled run's error; nothing is assigned. Thrown with an error
// output, n8n would pass the webhook's item on to Assign Stages as if it were an analysis.
test.each([
	['no API key', { apiKeys: ' \n ' }, 'The Leadflow Gemini API credential has no API key', 'Add at least one Gemini API key to the credential, one per line.'],
	// More keys than the database takes the turns of: refused by name, never the fallback score for everyone.
	[
		'101 API keys',
		{ apiKeys: Array.from({ length: 101 }, (_, index) => `too-many-keys-${index}`).join('\n') },
		'The Leadflow Gemini API credential has 101 API keys, more than the 100 it may have',
		'Keep at most 100 Gemini API keys in the credential, one per line (the turns and rests of its keys are shared through Supabase, which takes at most 100); put the others in a second credential for another workflow.',
	],
	['no model', { model: '' }, 'No model is set', 'Set Model in the options, or the Default Model of the Gemini credential.'],
])('a Gemini credential with %s answers 500 with the node\'s message and what to do; a scheduled run fails with it', async (_case, change, message, hint) => {
	const broken = { ...credentials, leadflowGeminiApi: { ...credentials.leadflowGeminiApi, ...change } };
	const run = await runWorkflow(WORKFLOW, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} }, credentials: broken });
	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toMatchObject({ error: message, hint });
	expect(run.executedNodes).not.toContain('Assign Stages');
	expect(await sims.gemini.control.requests()).toEqual([]);

	const scheduled = await runWorkflow(ownerScheduled(), { trigger: 'schedule', credentials: broken });
	expect(scheduled.status).toBe('error');
	expect(scheduled.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringContaining(message) });
	expect(scheduled.executedNodes).not.toContain('Assign Stages');
});

// A model Google does not know (404), or every key refused: a setup problem, like no key or no model,
// found by the first call. Before, each contact got the fallback score: Analyse Now answered 200, the
// scheduled run ended in success, the contacts were placed (automations fired) as if the model had
// judged them, and every run did it again.
test.each([
	['a model the API does not know', { model: 'gemini-nonexistent' }, { models: ['gemini-3-flash'] }, /^The Gemini model "gemini-nonexistent" was not found: /, /^Set Model in the node's options, or the Default Model of the Leadflow Gemini API credential/],
	['every key refused', { apiKeys: `key-refused-${randomUUID()}` }, { apiKeys: keys }, /^Google refused every Gemini key of the credential: /, /^Fix the API keys of the Leadflow Gemini API credential/],
])('%s answers 500 with the node\'s message and what to do, places no one; a scheduled run fails with it; once fixed, the model places them', async (_case, change, config, message, hint) => {
	const contacts = await world.contacts(2);
	await customerWrites(contacts[0], 'How much is it? I want to order', 120);
	await customerWrites(contacts[1], 'hello', 60);
	await sims.gemini.control.configure(config);
	const broken = { ...credentials, leadflowGeminiApi: { ...credentials.leadflowGeminiApi, ...change } };
	const placedOf = async () => ((await places(world.userId)) as unknown as Array<{ conversation_id: string; analysis_is_fallback: boolean }>).filter((place) => contacts.includes(place.conversation_id));

	const run = await runWorkflow(WORKFLOW, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} }, credentials: broken });
	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({ status: 500, error: expect.stringMatching(message), field: null, hint: expect.stringMatching(hint) });
	expect(JSON.stringify(run.response?.body)).not.toContain('key-refused-');
	expect(run.executedNodes).not.toContain('Assign Stages');
	expect(await placedOf()).toEqual([]);

	const scheduled = await runWorkflow(ownerScheduled(), { trigger: 'schedule', credentials: broken });
	expect(scheduled.status).toBe('error');
	expect(scheduled.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringMatching(message) });
	expect(scheduled.executedNodes).not.toContain('Assign Stages');
	expect(await placedOf()).toEqual([]);

	// The setting fixed: the model places them, once.
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	expect((await analyseNow()).response?.body).toMatchObject({ analysed: 2, fallback: 0, assigned: 2 });
	expect((await placedOf()).map((place) => place.analysis_is_fallback)).toEqual([false, false]);
});

// The schedule's sweep (Claim Waiting Automations) runs before the analysis (its output starts it): a
// scheduled run whose analysis fails still hands out what waits in the outbox
// (auto-assign-positions.test.ts: the same with the nodes moved on the canvas).
test('a scheduled run whose analysis fails (no Gemini key) still hands out the actions waiting in the outbox, then ends in error', async () => {
	// An action left waiting: a placement by a caller that did not hand its actions out.
	const [placed] = await world.contacts(1);
	const assigned = await serviceClient().rpc('pipeline_assign', { p_items: [{ conversation_id: placed, lead_score: 10, lead_status: 'NEW' }] });
	expect(assigned.error).toBeNull();
	const waiting = () =>
		withDb(async (db) => (await db.query<{ id: string; status: string }>('select id, status from public.pipeline_outbox where user_id = $1 and conversation_id = $2', [world.userId, placed])).rows);
	const [item] = await waiting();
	expect(item).toMatchObject({ status: 'pending' });

	// Both branches kept to this file's owner (the shared stack holds other files' outboxes).
	const shipped = loadWorkflow(WORKFLOW);
	const ownerOnly: WorkflowJson = {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Analyze Due Conversations' || node.name === 'Claim Waiting Automations' ? { ...node, parameters: { ...node.parameters, ownerUserId: world.userId } } : node,
		),
	};
	const broken = { ...credentials, leadflowGeminiApi: { ...credentials.leadflowGeminiApi, apiKeys: ' \n ' } };
	const run = await runWorkflow(ownerOnly, { trigger: 'schedule', credentials: broken });
	expect(run.status).toBe('error');
	expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringContaining('The Leadflow Gemini API credential has no API key') });
	expect((run.nodeOutputs['Send automation (replace me)'] ?? []).map((handed) => handed.outbox_id)).toEqual([item.id]);
	expect(await waiting()).toEqual([{ id: item.id, status: 'delivered' }]);
});

// The sweep itself failing (PostgREST out of connections for pipeline_claim_outbox): Claim Waiting
// Automations' error output takes the failure, so the scheduled run ends in error with its message
// (once the analysis, which the failed sweep does not stop, has run)
// (n8n records it, the Error Workflow sees it) instead of passing the trigger's item on as if the
// sweep had run.
test('a scheduled run whose sweep of the outbox fails ends in error with the database\'s message', async () => {
	const failing = await failingSupabase(['pipeline_claim_outbox'], 503, POOL_TIMEOUT);
	const shipped = loadWorkflow(WORKFLOW);
	const ownerOnly: WorkflowJson = {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Analyze Due Conversations' || node.name === 'Claim Waiting Automations' ? { ...node, parameters: { ...node.parameters, ownerUserId: world.userId } } : node,
		),
	};
	try {
		const run = await runWorkflow(ownerOnly, { trigger: 'schedule', credentials: { ...credentials, leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } } });
		expect(failing.failed()).toBe(1);
		expect(run.status).toBe('error');
		expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringContaining('pipeline_claim_outbox failed: Timed out acquiring connection') });
		expect(run.nodeBranches['Claim Waiting Automations']?.[2]).toEqual([expect.objectContaining({ error: expect.objectContaining({ code: 'service_error' }) })]);
		expect(run.executedNodes).toContain('Analyze Due Conversations');
	} finally {
		await failing.stop();
	}
});

// Assign Stages failing as a whole (a 40001 the database raised: a serialization failure; PostgREST
// answers 500 with its code): Analyse Now answers {status, error, field, hint} with the node's
// message, not n8n's bare "Error in workflow", a scheduled run ends in error with it, nothing is
// placed, and the next run places the contact.
test('when Assign Stages fails (40001), Analyse Now answers 500 with the message and what to do; a scheduled run ends in error; the next run places the contact', async () => {
	const [contact] = await world.contacts(1);
	await customerWrites(contact, 'How much for two?', 120);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	const failing = await failingSupabase(['pipeline_assign'], 500, { code: '40001', message: 'could not serialize access due to concurrent update', details: null, hint: null });
	const throughFailing = { ...credentials, leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } };
	try {
		const run = await runWorkflow(WORKFLOW, { startNode: 'Analyse Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} }, credentials: throughFailing });
		expect(run.status).toBe('success');
		expect(run.response?.statusCode).toBe(500);
		expect(run.response?.body).toEqual({
			status: 500,
			error: 'pipeline_assign failed: could not serialize access due to concurrent update',
			field: null,
			hint: expect.stringMatching(/not placed stay due: the next run/),
		});
		const text = JSON.stringify(run.response?.body);
		for (const secret of [KEY.value, testStack().serviceRoleKey, ...keys]) expect(text).not.toContain(secret);
		// The problem is answered first; the summary n8n runs afterwards (its merge waits for the end) answers nothing.
		expect(run.executedNodes).toEqual(expect.arrayContaining(['Assign Stages', 'Started By Request?', 'Respond With Problem']));
		expect(run.executedNodes.indexOf('Respond With Problem')).toBeLessThan(run.executedNodes.includes('Respond With Summary') ? run.executedNodes.indexOf('Respond With Summary') : Infinity);

		const scheduled = await runWorkflow(ownerScheduled(), { trigger: 'schedule', credentials: throughFailing });
		expect(scheduled.status).toBe('error');
		expect(scheduled.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringContaining('pipeline_assign failed: could not serialize access') });
		expect(failing.failed()).toBe(2);
	} finally {
		await failing.stop();
	}
	expect(((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).some((place) => place.conversation_id === contact)).toBe(false);

	const next = await analyseNow();
	expect(next.response?.statusCode).toBe(200);
	expect(next.response?.body).toMatchObject({ analysed: 1, assigned: 1 });
});

// One item of Assign's batch refused by the database (its conversation deleted meanwhile: 23503 at
// p_items[0]): the others are placed, and Analyse Now answers 500 naming that item, never the owner
// header (the caller sent nothing wrong).
test('when Assign Stages refuses one contact, the others are placed and Analyse Now answers 500 naming it, not X-Leadflow-Owner', async () => {
	const contacts = await world.contacts(2);
	for (const contact of contacts) await customerWrites(contact, 'Is it in stock?', 60);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	const failing = await failingSupabase(['pipeline_assign'], 409, { code: '23503', message: 'p_items[0].conversation_id: conversation deleted meanwhile does not exist', details: null, hint: null }, 1);
	try {
		const run = await runWorkflow(WORKFLOW, {
			startNode: 'Analyse Now',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} },
			credentials: { ...credentials, leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } },
		});
		expect(run.response?.statusCode).toBe(500);
		expect(run.response?.body).toEqual({
			status: 500,
			error: expect.stringMatching(/^pipeline_assign failed: item 0 \(p_items\[0\]\)\.conversation_id: /),
			field: null,
			hint: expect.stringMatching(/not placed stay due/),
		});
		// Whatever else was due for this owner is in the batch too: every analysed contact but the refused one is placed.
		const analysed = (run.nodeBranches['Analyze Due Conversations'][0] ?? []).map((item) => item.conversation_id as string);
		expect(analysed).toEqual(expect.arrayContaining(contacts));
		const placed = ((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).filter((place) => analysed.includes(place.conversation_id));
		expect(placed).toHaveLength(analysed.length - 1);
		expect(placed.map((place) => place.conversation_id)).not.toContain(analysed[0]);
	} finally {
		await failing.stop();
	}
});

// The same refusal on the schedule: the placed contacts' actions, handed out (and so marked delivered)
// by Assign Stages, reach the delivery node before the failure ends the run (the failure waits in
// Collect Outcomes for the rest of the run; auto-assign-positions.test.ts moves the nodes).
test('a scheduled run where Assign Stages refuses one contact delivers the others\' actions, then ends in error', async () => {
	const contacts = await world.contacts(2);
	for (const contact of contacts) await customerWrites(contact, 'Is it in stock?', 60);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	const failing = await failingSupabase(['pipeline_assign'], 409, { code: '23503', message: 'p_items[0].conversation_id: conversation deleted meanwhile does not exist', details: null, hint: null }, 1);
	const shipped = loadWorkflow(WORKFLOW);
	const ownerOnly: WorkflowJson = {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Analyze Due Conversations' || node.name === 'Claim Waiting Automations' ? { ...node, parameters: { ...node.parameters, ownerUserId: world.userId } } : node,
		),
	};
	try {
		const run = await runWorkflow(ownerOnly, { trigger: 'schedule', credentials: { ...credentials, leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } } });
		expect(run.status).toBe('error');
		expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run' });
		const handedOut = ((run.nodeBranches['Assign Stages']?.[1] ?? []) as IDataObject[]).map((item) => item.outbox_id as string);
		expect(handedOut.length).toBeGreaterThan(0);
		// Every action Assign handed out reached the delivery node.
		const delivered = (run.nodeOutputs['Send automation (replace me)'] ?? []).map((item) => item.outbox_id as string);
		expect(delivered).toEqual(expect.arrayContaining(handedOut));
	} finally {
		await failing.stop();
	}
});
