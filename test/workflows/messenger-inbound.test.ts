// workflows/messenger-inbound.json through n8n's engine in-process, against the local stack and the
// Gemini simulator: Meta's verification, a signed delivery recorded and its writers re-scored and
// placed in the Page's pipeline (each conversation once, whatever it sent), the Page's own echoes
// recorded without an analysis, and a wrongly signed delivery refused with nothing written.
import { randomUUID } from 'node:crypto';
import { messengerDelivery, messengerEvents, signDelivery, startSimulators, type GeminiRequestBody, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { testStack, withDb } from '../helpers/stack';
import { createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';
import { connectPage, counts } from '../db/messenger/fixtures';

const WORKFLOW = 'workflows/messenger-inbound.json';
const APP_ID = '515151515151';
const APP_SECRET = `secret-${randomUUID()}`;
const VERIFY_TOKEN = `verify-${randomUUID()}`;
let sims: RunningSimulators;
let world: PipelineWorld;
let credentials: TestCredentials;
let psid = 7_700_000_000 + (Date.now() % 1_000_000) * 10;
let counter = 0;
const mid = () => `m_inbound_${process.pid}_${++counter}_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
	sims = await startSimulators();
	world = await createPipelineWorld();
	await connectPage(world.pageId, world.userId);
	const stack = testStack();
	credentials = {
		leadflowFacebookPageApi: { pageId: world.pageId, accessToken: 'page-token', appSecret: APP_SECRET, appId: APP_ID, verifyToken: VERIFY_TOKEN, baseUrl: sims.graph.baseUrl },
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: `key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	};
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({
		effect: { kind: 'text', text: JSON.stringify({ lead_status: 'QUALIFIED', lead_score: 55, confidence: 80, recommended_stage: null, summary: 'Wants a quote.', reasoning: 'Asked for a price.' }) },
	});
});

const deliver = (raw: string, signature: string | null = signDelivery(raw, APP_SECRET)) =>
	runWorkflow(WORKFLOW, {
		webhook: { method: 'POST', path: 'leadflow/messenger', headers: { 'content-type': 'application/json', ...(signature !== null && { 'x-hub-signature-256': signature }) }, body: raw },
		credentials,
	});

test("Meta's verification gets the challenge back", async () => {
	const result = await runWorkflow(WORKFLOW, {
		webhook: { method: 'GET', path: 'leadflow/messenger', query: { 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '424242' } },
		credentials,
	});
	expect(result.response).toMatchObject({ statusCode: 200, body: '424242' });
});

test('a signed delivery is recorded, and each person who wrote is analysed once and placed in the Page’s pipeline', async () => {
	const [anna, ben] = [String(++psid), String(++psid)];
	const now = Date.now();
	const raw = JSON.stringify(
		messengerDelivery([
			{
				pageId: world.pageId,
				events: [
					messengerEvents.message(world.pageId, { psid: anna, mid: mid(), text: 'How much for 3?', timestamp: now - 5000 }),
					messengerEvents.message(world.pageId, { psid: anna, mid: mid(), text: 'And delivery?', timestamp: now - 4000 }),
					messengerEvents.message(world.pageId, { psid: ben, mid: mid(), text: 'Hi', timestamp: now - 3000 }),
					messengerEvents.echo(world.pageId, { psid: ben, mid: mid(), text: 'Hello Ben!', appId: APP_ID, timestamp: now - 2000 }),
				],
			},
		]),
	);
	const result = await deliver(raw);
	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	expect(result.nodeOutputs['Messenger Trigger']).toHaveLength(4);
	expect(result.nodeOutputs['One Per Conversation']).toHaveLength(2);
	const requests = await sims.gemini.control.requests();
	expect(requests).toHaveLength(2);
	// Analyze's Pipeline is empty in this workflow: the model is offered the Page's pipeline's stages.
	for (const request of requests) {
		expect(JSON.stringify((request.body as GeminiRequestBody).systemInstruction)).toContain("The pipeline's stages: New Lead, Contacted, Qualified, Proposal, Won, Lost.");
	}
	const conversations = await withDb((db) =>
		db.query<{ id: string; sender_id: string }>('select id, sender_id from public.messenger_conversations where page_id = $1 and sender_id = any ($2)', [world.pageId, [anna, ben]]),
	);
	const placed = (await places(world.userId)) as unknown as Array<{ conversation_id: string; lead_score: number }>;
	for (const conversation of conversations.rows) {
		expect(placed.find((place) => place.conversation_id === conversation.id)).toMatchObject({ lead_score: 55 });
	}
	expect(result.nodeOutputs['Assign Stages']?.map((item) => item.outcome)).toEqual(['assigned', 'assigned']);
});

test('no Gemini call for a writer whose analysis Assign would drop: a Page with auto-assignment off, a contact already placed on a SKIP_EXISTING Page', async () => {
	const carla = String(++psid);
	const message = (text: string) =>
		JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [messengerEvents.message(world.pageId, { psid: carla, mid: mid(), text, timestamp: Date.now() })] }]));
	const NOT_ANALYSED = 'Not Analysed (kept or skipped)';

	await world.settings({ enabled: false });
	try {
		const off = await deliver(message('How much for 3?'));
		expect(off.error).toBeUndefined();
		expect(off.response?.statusCode).toBe(200);
		expect(await sims.gemini.control.requests()).toHaveLength(0);
		expect(off.nodeOutputs[NOT_ANALYSED]).toEqual([expect.objectContaining({ analysed: false, outcome: 'skipped', reason: 'auto_assign_off' })]);
		expect(off.executedNodes).not.toContain('Assign Stages');
	} finally {
		await world.settings({ enabled: true });
	}

	await world.settings({ mode: 'SKIP_EXISTING' });
	try {
		const first = await deliver(message('I want to order.'));
		expect(first.nodeOutputs['Assign Stages']?.map((item) => item.outcome)).toEqual(['assigned']);
		expect(await sims.gemini.control.requests()).toHaveLength(1);
		// Placed, on a Page that skips placed contacts: the next message costs no Gemini call.
		const again = await deliver(message('When can you deliver?'));
		expect(again.error).toBeUndefined();
		expect(await sims.gemini.control.requests()).toHaveLength(1);
		expect(again.nodeOutputs[NOT_ANALYSED]).toEqual([expect.objectContaining({ analysed: false, outcome: 'kept', reason: 'skip_existing' })]);
	} finally {
		await world.settings({ mode: 'UPDATE_EXISTING' });
	}
});

// This workflow hands out no automation: a NoOp it ended in marked them delivered, and the docs
// name no delivery here. They wait for auto-assign.json's Claim Waiting Automations.
test('the webhook / notify actions a placement fires wait for auto-assign.json\'s Claim Waiting Automations, not marked delivered here', async () => {
	await world.automation({ name: 'New lead: tell sales', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'A new lead wrote: call them', channel: 'slack' }] });
	const writer = String(++psid);
	const raw = JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [messengerEvents.message(world.pageId, { psid: writer, mid: mid(), text: 'How much for 3?', timestamp: Date.now() })] }]));
	const result = await deliver(raw);
	expect(result.error).toBeUndefined();
	expect(result.nodeOutputs['Assign Stages']?.map((item) => item.outcome)).toEqual(['assigned']);
	expect(result.nodeBranches['Assign Stages']?.[1] ?? []).toEqual([]);
	const waiting = () =>
		withDb(async (db) =>
			(
				await db.query<{ conversation_id: string; status: string; attempts: number }>(
					`select o.conversation_id, o.status, o.attempts from public.pipeline_outbox o
					   join public.messenger_conversations c on c.id = o.conversation_id
					  where c.page_id = $1 and c.sender_id = $2`,
					[world.pageId, writer],
				)
			).rows,
		);
	const [queued] = await waiting();
	expect(queued).toMatchObject({ status: 'pending', attempts: 0 });

	// The user's auto-assign.json (its sweep of this owner): its delivery gets the action.
	const shipped = loadWorkflow('workflows/auto-assign.json');
	const sweep: WorkflowJson = {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Analyze Due Conversations' || node.name === 'Claim Waiting Automations' ? { ...node, parameters: { ...node.parameters, ownerUserId: world.userId } } : node,
		),
	};
	const swept = await runWorkflow(sweep, { trigger: 'schedule', credentials: { ...credentials, httpHeaderAuth: { name: 'X-Leadflow-Key', value: 'k' } } });
	expect(swept.status).toBe('success');
	const delivered = (swept.nodeOutputs['Send automation (replace me)'] ?? []).filter((item) => (item.contact as { conversation_id?: string })?.conversation_id === queued.conversation_id);
	expect(delivered).toEqual([expect.objectContaining({ kind: 'notify', user_id: world.userId, automation: expect.objectContaining({ name: 'New lead: tell sales' }) })]);
	expect(await waiting()).toEqual([expect.objectContaining({ status: 'delivered', attempts: 1 })]);
});

test('a delivery of the Page’s own echoes is recorded and analyses no one', async () => {
	const someone = String(++psid);
	const raw = JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [messengerEvents.echo(world.pageId, { psid: someone, mid: mid(), text: 'Still there?', appId: APP_ID, timestamp: Date.now() })] }]));
	const result = await deliver(raw);
	expect(result.response?.statusCode).toBe(200);
	expect(result.executedNodes).not.toContain('Analyze Conversations');
	expect(await sims.gemini.control.requests()).toHaveLength(0);
	const stored = await withDb((db) => db.query(`select direction from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.sender_id = $1`, [someone]));
	expect(stored.rows).toEqual([{ direction: 'outbound' }]);
});

test('a wrongly signed delivery is refused with 403: nothing recorded, nothing analysed', async () => {
	const before = await counts(world.pageId);
	const raw = JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [messengerEvents.message(world.pageId, { psid: String(++psid), mid: mid(), text: 'hi', timestamp: Date.now() })] }]));
	const result = await deliver(raw, signDelivery(raw, 'another-app-secret'));
	expect(result.response?.statusCode).toBe(403);
	expect(result.executedNodes).toEqual([]);
	expect(await counts(world.pageId)).toEqual(before);
	expect(await sims.gemini.control.requests()).toHaveLength(0);
});
