// workflows/auto-assign.json in real n8n 2.41.1 (this package installed from its tarball) against
// the local stack and the Gemini simulator (reached through the credential's base URL, answering
// each kind of conversation with its own scripted analysis: a fault matched on the prompt):
// - `POST /webhook/leadflow/auto-assign` with the header key answers the counts by outcome, every
//   due contact of the owner is analysed and placed, and the Automations output carries the fired
//   webhook / notify actions once; without the key or with a wrong one n8n answers 403 (Header
//   Auth answers 403 for both) and nothing is analysed or written; a second call re-analyses no
//   one without new messages and hands out nothing again; when Assign Stages fails (a 40001), the
//   answer is 500 {status, error, field, hint}, not n8n's bare "Error in workflow";
// - the Schedule Trigger path, run from the trigger through n8n's REST API as the editor's
//   *Execute workflow* does (n8n cannot be told to fire a cron now), analyses every owner's due
//   conversations.
// Each test reads the database's rows (pipeline_contacts, contact_activities,
// pipeline_automation_runs, pipeline_outbox), not only the answer.
//
// Isolation: the schedule path acts on every owner. The end-to-end run has a stack of its own
// (test/e2e/support/global-setup.ts starts a temporary database on free ports, not `npm test`'s),
// and runs one test file at a time (jest.e2e.config.js, maxWorkers 1): the schedule run here only
// meets the rows of files that have finished, and the assertions below read this file's owners'
// rows only. The webhook workflow is published with its Schedule Trigger off (published, n8n would
// fire it every quarter hour, racing the webhook calls); the schedule copy is the shipped file,
// not published, run once on demand.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { serviceClient, testStack, withDb } from '../helpers/stack';
import { activities, createPipelineWorld, places, runs, tagsOf, type PipelineWorld } from '../db/pipelines/fixtures';
import { failingSupabase, type FailingSupabase } from '../workflows/support/failing-supabase';
import { signInAsOwner, startN8n, withoutSchedule, type E2eWorkflow, type N8nRest, type RunningN8n } from './support';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const GEMINI_KEYS = [`e2e-a-${randomUUID()}`, `e2e-b-${randomUUID()}`];
const SHIPPED: E2eWorkflow = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'workflows', 'auto-assign.json'), 'utf8')) as E2eWorkflow;
/** Published for the webhook, its schedule off. */
const WEBHOOK_COPY: E2eWorkflow = withoutSchedule(SHIPPED);
/** The shipped nodes as they are, under another id, never published: run from its Schedule Trigger. */
const SCHEDULE_COPY: E2eWorkflow = { ...SHIPPED, id: 'LfAutoAssignSch1', name: `${SHIPPED.name} (schedule run)` };
const SCHEDULE_TRIGGER = SHIPPED.nodes.find((node) => node.type === 'n8n-nodes-base.scheduleTrigger')!.name;

/** What the simulated model answers for a conversation holding `says` (a fault matched on the prompt). */
const SCRIPTED = [
	{ says: 'Can I pay by card today', reply: { lead_status: 'NEGOTIATING', lead_score: 88, confidence: 90, recommended_stage: 'Proposal', summary: 'Ready to pay.', reasoning: 'Asked how to pay today.' } },
	{ says: 'How much is the course', reply: { lead_status: 'CONTACTED', lead_score: 50, confidence: 75, recommended_stage: null, summary: 'Asked the price.', reasoning: 'Interested, compares prices.' } },
	{ says: 'I paid, see you Monday', reply: { lead_status: 'WON', lead_score: 95, confidence: 95, recommended_stage: 'Won', summary: 'Paid.', reasoning: 'Confirmed the payment.' } },
];

let n8n: RunningN8n;
let rest: N8nRest;
let sims: RunningSimulators;
let world: PipelineWorld;
let automations: { hot: string; welcome: string };
/** The stack's Supabase, whose pipeline_assign fails when told to. */
let supabase: FailingSupabase;

beforeAll(async () => {
	const stack = testStack();
	sims = await startSimulators();
	supabase = await failingSupabase(['pipeline_assign'], 500, { code: '40001', message: 'could not serialize access due to concurrent update', details: null, hint: null }, 0);
	world = await createPipelineWorld();
	automations = {
		welcome: await world.automation({ name: 'Welcome to the CRM', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads' }] }),
		hot: await world.automation({
			name: 'Hot lead: tag and tell the team',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: { to_stage_id: world.pipeline.stages.Proposal },
			actions: [{ type: 'add_tag', tag_id: world.tags.Hot }, { type: 'notify', message: 'A lead is ready to buy' }],
		}),
	};
	n8n = await startN8n({
		workflows: [WEBHOOK_COPY, SCHEDULE_COPY],
		publish: [WEBHOOK_COPY.id],
		credentials: {
			httpHeaderAuth: KEY,
			leadflowSupabaseApi: { url: supabase.url, serviceRoleKey: stack.serviceRoleKey },
			leadflowGeminiApi: { apiKeys: GEMINI_KEYS.join('\n'), baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		},
	});
	rest = await signInAsOwner(n8n.baseUrl);
	for (const { says, reply } of SCRIPTED) await sims.gemini.control.addFault({ match: { prompt: says }, effect: { kind: 'text', text: JSON.stringify(reply) } });
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
	await sims?.stop();
	await supabase?.stop();
});

/** A customer message `secondsAgo` before the database's now (relative, never a date). */
const customerWrites = (owner: PipelineWorld, conversationId: string, text: string, secondsAgo = 60) =>
	withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, now() - make_interval(secs => $4))`, [
			owner.userId,
			conversationId,
			text,
			secondsAgo,
		]),
	);

interface OutboxRow {
	id: string;
	conversation_id: string;
	automation_id: string;
	kind: string;
	status: string;
	attempts: number;
	claimed_by: string | null;
}

const outbox = (userId: string) =>
	withDb(async (db) => (await db.query<OutboxRow>('select id, conversation_id, automation_id, kind, status, attempts, claimed_by from public.pipeline_outbox where user_id = $1 order by created_at, id', [userId])).rows);

const stageOf = async (owner: PipelineWorld, conversationId: string) => (await places(owner.userId)).find((place) => place.conversation_id === conversationId);

/** The generateContent calls the simulator received, with the key each carried. */
const modelCalls = async () => (await sims.gemini.control.requests()).filter((request) => request.path.endsWith(':generateContent'));

const analyseNow = (headers: Record<string, string> = { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }) =>
	n8n.callWebhook('leadflow/auto-assign', { method: 'POST', headers, body: {} });

let buyer: string;
let asker: string;
let payer: string;
let silent: string;

test('in real n8n: without the key, or with a wrong one, 403; nothing is analysed or written', async () => {
	[buyer, asker, payer, silent] = await world.contacts(4);
	await customerWrites(world, buyer, 'Hi! Can I pay by card today?', 600);
	await customerWrites(world, asker, 'How much is the course?', 300);
	await customerWrites(world, payer, 'I paid, see you Monday', 120);

	const noKey = await analyseNow({ 'X-Leadflow-Owner': world.userId });
	const wrongKey = await analyseNow({ [KEY.name]: 'guess', 'X-Leadflow-Owner': world.userId });
	expect([noKey.statusCode, wrongKey.statusCode]).toEqual([403, 403]);
	for (const answer of [noKey, wrongKey]) expect(JSON.stringify(answer.body)).not.toMatch(/at \S+\.(js|ts):\d+/);

	expect(await n8n.executions({ workflowId: WEBHOOK_COPY.id })).toEqual([]);
	expect(await modelCalls()).toEqual([]);
	expect(await places(world.userId)).toEqual([]);
	expect(await outbox(world.userId)).toEqual([]);
	expect(await runs(world.userId)).toEqual([]);
	for (const contact of [buyer, asker, payer]) expect(await activities(contact)).toEqual([]);
});

test('in real n8n: the owner\'s due contacts are analysed by the model and placed; the answer counts them; each automation action leaves once', async () => {
	const answer = await analyseNow();
	expect(answer.statusCode).toBe(200);
	// welcome: a webhook for each of the 3 placed; hot (buyer entered Proposal): a notify (the tag is added in the database).
	expect(answer.body).toEqual({ analysed: 3, fallback: 0, assigned: 3, moved: 0, kept: 0, skipped: 0, automations: 4 });

	// Analyze reached the simulator through the credential's base URL, once per due contact, with the credential's keys.
	const calls = await modelCalls();
	expect(calls).toHaveLength(3);
	expect(calls.every((call) => GEMINI_KEYS.includes(call.key ?? '') && call.status === 200)).toBe(true);

	// Where they landed, and why: the seed's priorities.
	const { stages } = world.pipeline;
	expect(await stageOf(world, buyer)).toMatchObject({ stage_id: stages.Proposal, lead_score: 88, lead_status: 'NEGOTIATING', analysis_is_fallback: false, analysis_reasoning: 'Asked how to pay today.' });
	expect(await stageOf(world, asker)).toMatchObject({ stage_id: stages.Qualified, lead_score: 50, lead_status: 'CONTACTED' });
	expect(await stageOf(world, payer)).toMatchObject({ stage_id: stages.Won, lead_status: 'WON' });
	expect(await stageOf(world, silent)).toBeUndefined();

	const buyerHistory = await activities(buyer);
	expect(buyerHistory.find((activity) => activity.type === 'STAGE_CHANGED')).toMatchObject({
		to_stage_id: stages.Proposal,
		actor: 'ai',
		description: 'Asked how to pay today.',
		metadata: expect.objectContaining({ confidence: 90, recommendation: 'Proposal', lead_score: 88, priority: 'score_range' }),
	});
	expect(buyerHistory.filter((activity) => activity.type === 'AUTOMATION_FIRED').map((activity) => activity.automation_id).sort()).toEqual([automations.hot, automations.welcome].sort());
	expect(await tagsOf(buyer)).toEqual(['Hot']);

	const fired = await runs(world.userId);
	expect(fired.map((run) => [run.conversation_id, run.automation_id, run.status]).sort()).toEqual(
		[[buyer, automations.welcome, 'completed'], [asker, automations.welcome, 'completed'], [payer, automations.welcome, 'completed'], [buyer, automations.hot, 'completed']].sort(),
	);

	// The outbox: every webhook / notify action handed out (delivered) once, by this execution's Assign node.
	const items = await outbox(world.userId);
	expect(items.map((item) => [item.conversation_id, item.kind, item.status, item.attempts]).sort()).toEqual(
		[[buyer, 'webhook', 'delivered', 1], [asker, 'webhook', 'delivered', 1], [payer, 'webhook', 'delivered', 1], [buyer, 'notify', 'delivered', 1]].sort(),
	);
	const execution = await n8n.waitForExecution((one) => one.workflowId === WEBHOOK_COPY.id && one.mode === 'webhook');
	expect(execution.status).toBe('success');
	const sent = execution.nodeOutputs['Send automation (replace me)'] ?? [];
	expect(sent.map((item) => item.outbox_id).sort()).toEqual(items.map((item) => item.id).sort());
	const assignNode = SHIPPED.nodes.find((node) => node.name === 'Assign Stages') as { id?: string } | undefined;
	// One holder: this execution's Assign node, plus a random part no other n8n instance shares.
	const holders = [...new Set(items.map((item) => item.claimed_by))];
	expect(holders).toHaveLength(1);
	expect(holders[0]).toMatch(new RegExp(`^n8n-${assignNode?.id}-[0-9a-f]{12}-${execution.id}-[0-9a-f]{12}$`));
});

test('in real n8n: a second call re-analyses no one without new messages and hands out nothing again; a new message makes that contact due', async () => {
	const callsBefore = (await modelCalls()).length;
	const historyBefore = (await Promise.all([buyer, asker, payer].map(activities))).flat().length;
	const outboxBefore = await outbox(world.userId);

	const again = await analyseNow();
	expect(again.statusCode).toBe(200);
	expect(again.body).toEqual({ analysed: 0, fallback: 0, assigned: 0, moved: 0, kept: 0, skipped: 0, automations: 0 });
	expect(await modelCalls()).toHaveLength(callsBefore);
	expect((await Promise.all([buyer, asker, payer].map(activities))).flat()).toHaveLength(historyBefore);
	expect(await outbox(world.userId)).toEqual(outboxBefore);

	// The price asker comes back ready to pay: only they are analysed, and moved up to Proposal.
	await customerWrites(world, asker, 'OK. Can I pay by card today?', 1);
	const moved = await analyseNow();
	expect(moved.body).toEqual({ analysed: 1, fallback: 0, assigned: 0, moved: 1, kept: 0, skipped: 0, automations: 1 });
	expect(await modelCalls()).toHaveLength(callsBefore + 1);
	expect(await stageOf(world, asker)).toMatchObject({ stage_id: world.pipeline.stages.Proposal, lead_score: 88 });
	const askerItems = (await outbox(world.userId)).filter((item) => item.conversation_id === asker);
	expect(askerItems.map((item) => [item.kind, item.status]).sort()).toEqual([['notify', 'delivered'], ['webhook', 'delivered']]);
});

test('in real n8n: the Schedule Trigger path analyses and places every owner\'s due contacts, and hands out their automations', async () => {
	const other = await createPipelineWorld();
	const otherWelcome = await other.automation({ name: 'Welcome', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'New lead in the CRM' }] });
	const [mine] = await world.contacts(1);
	const [theirs] = await other.contacts(1);
	await customerWrites(world, mine, 'How much is the course?', 30);
	await customerWrites(other, theirs, 'Can I pay by card today?', 20);
	// An action left waiting in the outbox (placed by another caller that did not hand its actions
	// out): the schedule's sweep, Claim Waiting Automations, delivers it to the same node.
	const [placedElsewhere] = await world.contacts(1);
	const placed = await serviceClient().rpc('pipeline_assign', { p_items: [{ conversation_id: placedElsewhere, lead_score: 10, lead_status: 'NEW' }] });
	expect(placed.error).toBeNull();
	const [waiting] = (await outbox(world.userId)).filter((item) => item.conversation_id === placedElsewhere);
	expect(waiting).toMatchObject({ kind: 'webhook', status: 'pending' });
	const before = (await executionsOf(SCHEDULE_COPY.id)).length;

	const executionId = await rest.runFromTrigger(SCHEDULE_COPY.id, SCHEDULE_TRIGGER);
	const execution = await n8n.waitForExecution((one) => one.id === executionId, 60_000);
	expect(execution).toMatchObject({ workflowId: SCHEDULE_COPY.id, status: 'success' });
	expect(execution.error).toBeUndefined();
	expect(Object.keys(execution.nodeOutputs)).toEqual(expect.arrayContaining([SCHEDULE_TRIGGER, 'Analyze Due Conversations', 'Assign Stages', 'Summarise Run']));
	expect(execution.nodeOutputs['Analyse Now']).toBeUndefined();
	expect((await executionsOf(SCHEDULE_COPY.id)).length).toBe(before + 1);

	// Both owners' due contacts, in one run (the schedule passes no owner).
	expect(await stageOf(world, mine)).toMatchObject({ stage_id: world.pipeline.stages.Qualified, lead_score: 50 });
	expect(await stageOf(other, theirs)).toMatchObject({ stage_id: other.pipeline.stages.Proposal, lead_score: 88 });
	expect((await activities(theirs)).map((activity) => activity.type)).toEqual(expect.arrayContaining(['STAGE_CHANGED', 'AUTOMATION_FIRED']));
	expect((await runs(other.userId)).map((run) => [run.conversation_id, run.automation_id, run.status])).toEqual([[theirs, otherWelcome, 'completed']]);

	const handedOut = (execution.nodeOutputs['Send automation (replace me)'] ?? []).map((item) => item.outbox_id);
	const theirItems = await outbox(other.userId);
	const myItems = (await outbox(world.userId)).filter((item) => item.conversation_id === mine);
	expect(theirItems.map((item) => [item.kind, item.status])).toEqual([['notify', 'delivered']]);
	expect(myItems.map((item) => [item.kind, item.status])).toEqual([['webhook', 'delivered']]);
	expect(handedOut).toEqual(expect.arrayContaining([...theirItems, ...myItems].map((item) => item.id)));
	// The sweep handed out the waiting action, once; the summary counts what the run's own changes fired.
	expect(handedOut.filter((id) => id === waiting.id)).toHaveLength(1);
	expect((await outbox(world.userId)).find((item) => item.id === waiting.id)).toMatchObject({ status: 'delivered' });
	expect(execution.nodeOutputs['Summarise Run']?.[0]).toMatchObject({ assigned: expect.any(Number), automations: theirItems.length + myItems.length });
	expect(execution.nodeOutputs['Summarise Run']?.[0]?.assigned).toBeGreaterThanOrEqual(2);
});

const executionsOf = (workflowId: string) => n8n.executions({ workflowId });

test('in real n8n: when Assign Stages fails (40001), Analyse Now answers 500 {status, error, field, hint}, not "Error in workflow"; the next call places the contact', async () => {
	const [late] = await world.contacts(1);
	await customerWrites(world, late, 'How much is the course for two?', 30);
	supabase.failNext(1);
	const failed = await analyseNow();
	expect(failed.statusCode).toBe(500);
	expect(failed.body).toEqual({
		status: 500,
		error: 'pipeline_assign failed: could not serialize access due to concurrent update',
		field: null,
		hint: expect.stringContaining('The conversations not placed stay due'),
	});
	expect(await stageOf(world, late)).toBeUndefined();

	const next = await analyseNow();
	expect(next.statusCode).toBe(200);
	expect(next.body).toMatchObject({ assigned: 1 });
	expect(await stageOf(world, late)).toMatchObject({ stage_id: world.pipeline.stages.Qualified });
});
