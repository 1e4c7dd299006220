// workflows/messenger-inbound.json in real n8n 2.41.1 (this package installed from its tarball)
// against the local stack and the simulators: activation subscribes the Page's webhook to the
// production URL, Meta's verification gets its challenge, a delivery signed over its raw bytes is
// recorded and runs the workflow, a wrongly signed one is refused with nothing written.
import { randomUUID } from 'node:crypto';
import { messengerDelivery, messengerEvents, signDelivery, startSimulators, type RunningSimulators } from '../../simulators';
import { testStack, withDb } from '../helpers/stack';
import { createPipelineWorld, type PipelineWorld } from '../db/pipelines/fixtures';
import { connectPage, counts } from '../db/messenger/fixtures';
import { startN8n, type RunningN8n } from './support';

const WORKFLOW_ID = 'LfMessengerIn001';
const PATH = 'leadflow/messenger';
const APP_ID = '616161616161';
const APP_SECRET = `secret-${randomUUID()}`;
const VERIFY_TOKEN = `verify-${randomUUID()}`;
let n8n: RunningN8n;
let sims: RunningSimulators;
let world: PipelineWorld;
let psid = 7_900_000_000 + (Date.now() % 1_000_000) * 10;
const mid = () => `m_e2e_${randomUUID()}`;

/**
 * n8n answers "not registered for PUT requests. Did you mean to make a GET or POST request?" once
 * both of the trigger's methods are routed (nothing runs). n8n registers them one after the other,
 * each after the node's webhookMethods ran (the subscription), so waiting for both waits for those.
 */
async function waitUntilRegistered(timeoutMs = 60_000): Promise<void> {
	const until = Date.now() + timeoutMs;
	for (;;) {
		// n8n may not be listening yet: a refused connection is a not yet.
		const probe = await n8n.callWebhook(PATH, { method: 'PUT' }).catch(() => undefined);
		if (probe?.statusCode === 404 && /not registered for PUT requests.*GET or POST/.test(JSON.stringify(probe.body))) return;
		if (Date.now() > until) throw new Error(`The Messenger Trigger's webhook was not registered:\n${n8n.logs().slice(-3000)}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

beforeAll(async () => {
	const stack = testStack();
	sims = await startSimulators();
	world = await createPipelineWorld();
	await connectPage(world.pageId, world.userId);
	await sims.gemini.control.addFault({
		effect: { kind: 'text', text: JSON.stringify({ lead_status: 'QUALIFIED', lead_score: 60, confidence: 80, recommended_stage: null, summary: 'Asked a price.', reasoning: 'Interested.' }) },
	});
	n8n = await startN8n({
		workflows: ['workflows/messenger-inbound.json'],
		publish: [WORKFLOW_ID],
		credentials: {
			leadflowFacebookPageApi: { pageId: world.pageId, accessToken: 'page-token', appSecret: APP_SECRET, appId: APP_ID, verifyToken: VERIFY_TOKEN, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
			leadflowGeminiApi: { apiKeys: `key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		},
	});
	await waitUntilRegistered();
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
	await sims?.stop();
});

test('in real n8n: activation subscribed the app’s Page webhook to the production URL and the Page to the app', async () => {
	const subscriptions = await sims.graph.control.subscriptions();
	expect(subscriptions.apps[APP_ID]).toEqual([
		expect.objectContaining({ object: 'page', callback_url: `${n8n.baseUrl}/webhook/${PATH}`, verify_token: VERIFY_TOKEN, active: true }),
	]);
	expect(subscriptions.apps[APP_ID][0].fields.map((field) => field.name)).toEqual(['messages', 'messaging_postbacks', 'message_echoes', 'message_deliveries', 'message_reads', 'standby']);
	expect(subscriptions.pages[world.pageId]).toEqual([{ id: APP_ID, subscribed_fields: ['messages', 'messaging_postbacks', 'message_echoes', 'message_deliveries', 'message_reads', 'standby'] }]);
});

test("in real n8n: Meta's verification gets its challenge back as text; a wrong token 403", async () => {
	const right = await n8n.callWebhook(PATH, { query: { 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '987654321' } });
	expect(right.statusCode).toBe(200);
	expect(right.body).toBe('987654321');
	expect(right.headers['content-type']).toMatch(/^text\/plain/);
	const wrong = await n8n.callWebhook(PATH, { query: { 'hub.mode': 'subscribe', 'hub.verify_token': 'guess', 'hub.challenge': '987654321' } });
	expect(wrong.statusCode).toBe(403);
	expect(JSON.stringify(wrong.body)).not.toContain('987654321');
});

test('in real n8n: a delivery signed over its raw bytes is recorded, answered 200 and runs the workflow; a wrongly signed one is refused, nothing written', async () => {
	const person = String(++psid);
	const messageId = mid();
	// Spacing and an escape that JSON.stringify would not write: the signature is over these bytes.
	const raw = JSON.stringify(messengerDelivery([{ pageId: world.pageId, events: [messengerEvents.message(world.pageId, { psid: person, mid: messageId, text: 'How much?', timestamp: Date.now() })] }]))
		.replace('"object":"page"', '"object": "page"')
		.replace('How much?', 'How much\\u003f');
	const before = await n8n.executions({ workflowId: WORKFLOW_ID });

	const answer = await n8n.callWebhook(PATH, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signDelivery(raw, APP_SECRET) }, body: raw });
	expect(answer.statusCode).toBe(200);
	const stored = await withDb((db) =>
		db.query(
			`select m.text, m.direction, c.user_id from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id
			  where m.facebook_message_id = $1`,
			[messageId],
		),
	);
	expect(stored.rows).toEqual([{ text: 'How much?', direction: 'inbound', user_id: world.userId }]);
	const execution = await n8n.waitForExecution((run) => run.workflowId === WORKFLOW_ID && !before.some((old) => old.id === run.id), 30_000);
	expect(execution.status).toBe('success');
	expect(execution.nodeOutputs['Messenger Trigger']).toEqual([expect.objectContaining({ psid: person, outcome: 'recorded', text: 'How much?' })]);
	expect(execution.nodeOutputs['Assign Stages']).toEqual([expect.objectContaining({ outcome: 'assigned', lead_score: 60 })]);

	const beforeRefused = await counts(world.pageId);
	const forged = raw.replace('How much', 'Free stuff');
	const refused = await n8n.callWebhook(PATH, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signDelivery(raw, APP_SECRET) }, body: forged });
	expect(refused.statusCode).toBe(403);
	expect(refused.body).toEqual({ error: 'invalid_signature', message: expect.any(String) });
	const unsigned = await n8n.callWebhook(PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw.replace(messageId, mid()) });
	expect(unsigned.statusCode).toBe(401);
	expect(await counts(world.pageId)).toEqual(beforeRefused);
	await new Promise((resolve) => setTimeout(resolve, 500));
	expect((await n8n.executions({ workflowId: WORKFLOW_ID })).length).toBe(before.length + 1);
});
