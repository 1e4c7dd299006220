// The Graph simulator's Messenger inbound parts over plain HTTP: the Conversations endpoint (field
// expansion, cursor paging both ways, newest first, the per-Page rate answered with code 32, tokens
// and proofs, faults), the webhook subscription endpoints, and deliveries signed the way Meta signs.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appSecretProof, deliverWebhook, messengerDelivery, messengerEvents, parseFields, signDelivery, startSimulators, type RunningSimulators } from '../../simulators';

const PAGE = '1029384756';
const TOKEN = 'EAAB-page-token';
const APP = '4242';
const SECRET = 'app-secret';
const FIELDS = 'participants,updated_time,messages.limit(3){id,message,from,to,created_time}';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE]: TOKEN }, appSecret: SECRET } });
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.setConversationRate(0);
});

const proof = (token = TOKEN) => appSecretProof(token, SECRET);

// Graph answers read field by field, as a client would.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function get(path: string, query: Record<string, string>, token: string | null = TOKEN) {
	const params = new URLSearchParams({ ...(token !== null && { access_token: token, appsecret_proof: proof(token) }), ...query });
	const response = await fetch(`${sims.graph.baseUrl}/v25.0/${path}?${params}`);
	return { status: response.status, json: (await response.json()) as Record<string, Json> };
}

describe('the Conversations endpoint', () => {
	beforeEach(async () => {
		await sims.graph.control.generateConversations({ pageId: PAGE, count: 5, messagesPerConversation: 4, newest: '2026-11-25T12:00:00Z', stepMs: 3_600_000, psidStart: 900 });
	});

	it('pages conversations newest first with cursors, each with its participants and its newest messages expanded', async () => {
		const first = await get(`${PAGE}/conversations`, { platform: 'messenger', fields: FIELDS, limit: '2' });
		expect(first.status).toBe(200);
		expect(first.json.data.map((c: Json) => [c.updated_time, c.participants.data[0].id])).toEqual([
			['2026-11-25T12:00:00+0000', '900'],
			['2026-11-25T11:00:00+0000', '901'],
		]);
		const conversation = first.json.data[0];
		expect(conversation.participants.data[1]).toMatchObject({ id: PAGE });
		expect(conversation.messages.data).toHaveLength(3);
		expect(conversation.messages.data[0]).toMatchObject({ message: 'Question 0 from 900', from: { id: '900' }, created_time: '2026-11-25T12:00:00+0000' });
		expect(conversation.messages.data[1].from.id).toBe(PAGE);
		expect(conversation.messages.paging.next).toContain(`/${conversation.id}/messages`);
		expect(first.json.paging.next).toContain(`after=${first.json.paging.cursors.after}`);

		const second = await get(`${PAGE}/conversations`, { platform: 'messenger', fields: FIELDS, limit: '2', after: first.json.paging.cursors.after });
		const third = await get(`${PAGE}/conversations`, { platform: 'messenger', fields: FIELDS, limit: '2', after: second.json.paging.cursors.after });
		expect(second.json.data.map((c: Json) => c.participants.data[0].id)).toEqual(['902', '903']);
		expect(third.json.data.map((c: Json) => c.participants.data[0].id)).toEqual(['904']);
		expect(third.json.paging.next).toBeUndefined();

		// The rest of a conversation's messages, from its own edge.
		const rest = await get(`${conversation.id}/messages`, { fields: 'id,message,from,created_time', limit: '3', after: conversation.messages.paging.cursors.after });
		expect(rest.json.data.map((m: Json) => m.message)).toEqual(['Answer 3']);
		expect(rest.json.paging.next).toBeUndefined();
	});

	it('cuts limits to 100 and leaves messages out when they are not asked for', async () => {
		const page = await get(`${PAGE}/conversations`, { fields: 'updated_time', limit: '1000' });
		expect(page.json.data).toHaveLength(5);
		expect(page.json.data[0]).not.toHaveProperty('messages');
	});

	it('refuses a wrong token (190), a missing proof, another Page, a bad cursor, a field list it cannot read', async () => {
		expect((await get(`${PAGE}/conversations`, {}, 'not-a-token')).json.error.code).toBe(190);
		const withoutProof = await fetch(`${sims.graph.baseUrl}/v25.0/${PAGE}/conversations?access_token=${TOKEN}`);
		expect(((await withoutProof.json()) as Json).error).toMatchObject({ code: 100, message: expect.stringContaining('appsecret_proof') });
		expect((await get('555/conversations', {})).json.error).toMatchObject({ code: 100, error_subcode: 33 });
		expect((await get(`${PAGE}/conversations`, { after: '%%%' })).json.error.code).toBe(100);
		expect((await get(`${PAGE}/conversations`, { fields: 'messages{id' })).json.error.code).toBe(100);
	});

	it('enforces the per-Page rate: the third call within a second is refused with code 32, and does not count', async () => {
		await sims.graph.control.setConversationRate(2);
		const answers = [];
		for (let n = 0; n < 3; n++) answers.push(await get(`${PAGE}/conversations`, { limit: '1' }));
		expect(answers.map((answer) => answer.status)).toEqual([200, 200, 400]);
		expect(answers[2].json.error).toMatchObject({ code: 32, message: '(#32) Page request limit reached', type: 'OAuthException' });
		await new Promise((resolve) => setTimeout(resolve, 1_050));
		expect((await get(`${PAGE}/conversations`, { limit: '1' })).status).toBe(200);
		expect(await sims.graph.control.conversationStats()).toMatchObject({ calls: { [PAGE]: 3 }, throttled: { [PAGE]: 1 }, perSecond: 2 });
	});

	it('answers throttling and token errors from fault rules in Graph shapes', async () => {
		for (const code of [4, 17, 613]) {
			await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code } });
			const answer = await get(`${PAGE}/conversations`, {});
			expect(answer.json.error).toMatchObject({ code, fbtrace_id: expect.any(String) });
		}
	});

	it('reads Graph field lists', () => {
		expect(parseFields('participants,messages.limit(5){id,from{id}},updated_time')).toEqual([
			{ name: 'participants' },
			{ name: 'messages', limit: 5, subfields: [{ name: 'id' }, { name: 'from', subfields: [{ name: 'id' }] }] },
			{ name: 'updated_time' },
		]);
		expect(() => parseFields('messages{id')).toThrow(/unclosed/);
	});
});

describe('webhook subscriptions', () => {
	it('an app subscribes its Page webhooks with its app token, the Page subscribes to the app with its Page token', async () => {
		const appToken = `${APP}|${SECRET}`;
		const subscribe = await fetch(`${sims.graph.baseUrl}/v25.0/${APP}/subscriptions?${new URLSearchParams({ access_token: appToken, appsecret_proof: proof(appToken), object: 'page', callback_url: 'https://n8n.example/webhook/x/messenger', verify_token: 'vt', fields: 'messages,message_echoes' })}`, { method: 'POST' });
		expect(await subscribe.json()).toEqual({ success: true });
		const page = await fetch(`${sims.graph.baseUrl}/v25.0/${PAGE}/subscribed_apps?${new URLSearchParams({ access_token: TOKEN, appsecret_proof: proof(), subscribed_fields: 'messages' })}`, { method: 'POST' });
		expect(await page.json()).toEqual({ success: true });
		expect(await sims.graph.control.subscriptions()).toEqual({
			apps: { [APP]: [{ object: 'page', callback_url: 'https://n8n.example/webhook/x/messenger', active: true, verify_token: 'vt', fields: [{ name: 'messages', version: 'v25.0' }, { name: 'message_echoes', version: 'v25.0' }] }] },
			pages: { [PAGE]: [{ id: APP, subscribed_fields: ['messages'] }] },
		});
		// Another app's token, or a Page token, cannot.
		const wrong = await fetch(`${sims.graph.baseUrl}/v25.0/${APP}/subscriptions?${new URLSearchParams({ access_token: TOKEN, appsecret_proof: proof() })}`);
		expect(((await wrong.json()) as Json).error.code).toBe(190);
	});
});

describe('deliveries signed like Meta', () => {
	let server: Server;
	let received: Array<{ headers: Record<string, string | string[] | undefined>; body: string }>;
	let url: string;

	beforeAll(async () => {
		received = [];
		server = createServer((request, response) => {
			const chunks: Buffer[] = [];
			request.on('data', (chunk: Buffer) => chunks.push(chunk));
			request.on('end', () => {
				received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
				response.end('EVENT_RECEIVED');
			});
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
	});
	afterAll(async () => {
		await new Promise((resolve) => server.close(resolve));
	});

	it('signs the exact bytes sent with the app secret (SHA-256 and SHA-1 headers)', async () => {
		const body = messengerDelivery([{ pageId: PAGE, events: [messengerEvents.message(PAGE, { psid: '9', mid: 'm_1', text: 'héllo', timestamp: 1 })] }]);
		const answer = await deliverWebhook(url, body, SECRET);
		expect(answer).toMatchObject({ status: 200, body: 'EVENT_RECEIVED' });
		const [delivery] = received;
		expect(delivery.headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', SECRET).update(delivery.body).digest('hex')}`);
		expect(delivery.headers['x-hub-signature']).toBe(`sha1=${createHmac('sha1', SECRET).update(delivery.body).digest('hex')}`);
		expect(signDelivery(delivery.body, SECRET)).toBe(delivery.headers['x-hub-signature-256']);
		expect(JSON.parse(delivery.body)).toEqual({ object: 'page', entry: [{ id: PAGE, time: expect.any(Number), messaging: [{ sender: { id: '9' }, recipient: { id: PAGE }, timestamp: 1, message: { mid: 'm_1', text: 'héllo' } }] }] });
	});

	it('an echo carries is_echo and the sending app id as a number', () => {
		expect(messengerEvents.echo(PAGE, { psid: '9', mid: 'm_2', appId: '263902037430900', timestamp: 2 })).toEqual({
			sender: { id: PAGE },
			recipient: { id: '9' },
			timestamp: 2,
			message: { is_echo: true, mid: 'm_2', app_id: 263902037430900 },
		});
	});
});
