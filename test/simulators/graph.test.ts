// The Graph simulator over plain HTTP, the way the Messenger node will call it: sends to
// /{page}/messages and /me/messages, the credential test GET /me, Graph's validation, token and
// appsecret_proof checks, the 24 h window, and Graph errors from fault rules.
import { createHmac } from 'node:crypto';
import { appSecretProof, startSimulators, type RunningSimulators } from '../../simulators';

const VERSION = 'v25.0';
const PAGE = '1029384756';
const TOKEN = 'EAAB-page-token';
const HOUR = 3_600_000;

interface GraphErrorBody {
	error: { message: string; type: string; code: number; error_subcode?: number; fbtrace_id: string };
}

let sims: RunningSimulators;

interface SendOptions {
	node?: string;
	token?: string | null;
	body?: Record<string, unknown>;
	query?: Record<string, string>;
	headers?: Record<string, string>;
}

const textMessage = (recipient = 'psid-1', text = 'Hi there') => ({ recipient: { id: recipient }, messaging_type: 'RESPONSE', message: { text } });

async function send({ node = PAGE, token = TOKEN, body = textMessage(), query = {}, headers = {} }: SendOptions = {}) {
	const params = new URLSearchParams({ ...(token !== null && { access_token: token }), ...query });
	const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/${node}/messages?${params}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...headers },
		body: JSON.stringify(body),
	});
	return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function expectGraphError(result: { status: number; json: unknown }, status: number, code: number, subcode?: number): GraphErrorBody['error'] {
	expect(result.status).toBe(status);
	const { error } = result.json as GraphErrorBody;
	expect(error.code).toBe(code);
	expect(error.error_subcode).toBe(subcode);
	expect(typeof error.type).toBe('string');
	expect(error.fbtrace_id).toMatch(/^\S{6,}$/);
	return error;
}

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
});

describe('sending', () => {
	it('answers {recipient_id, message_id} and records the delivered message', async () => {
		const result = await send({ body: { ...textMessage('psid-7', 'Hello Maria'), messaging_type: 'UPDATE' } });
		expect(result.status).toBe(200);
		expect(result.json).toEqual({ recipient_id: 'psid-7', message_id: expect.stringMatching(/^m_[\w-]{20,}$/) });
		const [delivered] = await sims.graph.control.messages();
		expect(delivered).toMatchObject({ messageId: result.json.message_id, pageId: PAGE, recipientId: 'psid-7', messagingType: 'UPDATE', text: 'Hello Maria' });
	});

	it('gives every send a different message id', async () => {
		const first = await send();
		const second = await send();
		expect(first.json.message_id).not.toBe(second.json.message_id);
	});

	it('accepts form-encoded bodies with JSON-valued fields, as Graph does', async () => {
		const form = new URLSearchParams({
			recipient: JSON.stringify({ id: 'psid-form' }),
			messaging_type: 'RESPONSE',
			message: JSON.stringify({ text: 'from a form' }),
			access_token: TOKEN,
		});
		const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/${PAGE}/messages`, {
			method: 'POST',
			headers: { 'content-type': 'application/x-www-form-urlencoded' },
			body: form.toString(),
		});
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ recipient_id: 'psid-form' });
		const [logged] = await sims.graph.control.requests();
		expect(logged).toMatchObject({ key: TOKEN, recipient: 'psid-form', body: { message: { text: 'from a form' } } });
	});

	it('takes the token from Authorization: Bearer and logs it for rotation checks', async () => {
		const result = await send({ token: null, headers: { authorization: 'Bearer header-token' } });
		expect(result.status).toBe(200);
		const [logged] = await sims.graph.control.requests();
		expect(logged.key).toBe('header-token');
		expect(logged.headers.authorization).toBe('Bearer header-token');
	});

	it('answers code 104 without any token', async () => {
		expectGraphError(await send({ token: null }), 400, 104);
	});

	it('allows a sender action without a message', async () => {
		const result = await send({ body: { recipient: { id: 'psid-1' }, sender_action: 'typing_on' } });
		expect(result).toEqual({ status: 200, json: { recipient_id: 'psid-1' } });
		expect(await sims.graph.control.messages()).toEqual([]);
	});
});

describe('validation like the Send API', () => {
	it('refuses a text over 2,000 characters with code 100, counting characters rather than UTF-16 units', async () => {
		const tooLong = await send({ body: textMessage('psid-1', 'x'.repeat(2001)) });
		expect(expectGraphError(tooLong, 400, 100).message).toContain('2000');
		// 2,000 emoji are 4,000 UTF-16 units but 2,000 characters: allowed.
		expect((await send({ body: textMessage('psid-1', '👋'.repeat(2000)) })).status).toBe(200);
	});

	it('refuses MESSAGE_TAG without a tag, and an undocumented tag', async () => {
		const noTag = await send({ body: { ...textMessage(), messaging_type: 'MESSAGE_TAG' } });
		expect(expectGraphError(noTag, 400, 100).message).toMatch(/tag/i);
		const badTag = await send({ body: { ...textMessage(), messaging_type: 'MESSAGE_TAG', tag: 'SALES_FOLLOW_UP' } });
		expect(expectGraphError(badTag, 400, 100).message).toContain('SALES_FOLLOW_UP');
	});

	it('refuses a missing recipient, a missing messaging_type and an unknown one', async () => {
		const withoutRecipient = { messaging_type: 'RESPONSE', message: { text: 'hi' } };
		expect(expectGraphError(await send({ body: withoutRecipient }), 400, 100).message).toContain('recipient');
		const withoutType = { recipient: { id: 'psid-1' }, message: { text: 'hi' } };
		expect(expectGraphError(await send({ body: withoutType }), 400, 100).message).toContain('messaging_type');
		expect(expectGraphError(await send({ body: { ...textMessage(), messaging_type: 'PROMO' } }), 400, 100).message).toContain('PROMO');
	});

	it('refuses a missing or empty message text', async () => {
		expectGraphError(await send({ body: { recipient: { id: 'p' }, messaging_type: 'RESPONSE' } }), 400, 100);
		expectGraphError(await send({ body: textMessage('p', '') }), 400, 100);
	});

	it('answers Graph errors for unknown paths and methods', async () => {
		const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/${PAGE}/feed/extra?access_token=${TOKEN}`);
		expectGraphError({ status: response.status, json: await response.json() }, 400, 2500);
		const getMessages = await fetch(`${sims.graph.baseUrl}/${VERSION}/${PAGE}/messages?access_token=${TOKEN}`);
		expectGraphError({ status: getMessages.status, json: await getMessages.json() }, 400, 100, 33);
	});
});

describe('tokens, Pages and appsecret_proof', () => {
	const OTHER_PAGE = '5647382910';

	beforeEach(async () => {
		await sims.graph.control.configure({ pageTokens: { [PAGE]: TOKEN, [OTHER_PAGE]: 'other-token' } });
	});

	it('answers GET /me with the Page of the token (the credential test)', async () => {
		const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/me?access_token=other-token`);
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ id: OTHER_PAGE, name: `Simulated Page ${OTHER_PAGE}` });
	});

	it('answers code 190 for an unknown token on /me and on sends', async () => {
		const me = await fetch(`${sims.graph.baseUrl}/${VERSION}/me?access_token=nope`);
		const error = expectGraphError({ status: me.status, json: await me.json() }, 400, 190);
		expect(error.type).toBe('OAuthException');
		expectGraphError(await send({ token: 'nope' }), 400, 190);
	});

	it('sends through /me/messages as the token\'s Page', async () => {
		const result = await send({ node: 'me', token: 'other-token' });
		expect(result.status).toBe(200);
		expect((await sims.graph.control.messages())[0].pageId).toBe(OTHER_PAGE);
	});

	it("refuses one Page's token on another Page (code 100, subcode 33)", async () => {
		expectGraphError(await send({ node: OTHER_PAGE, token: TOKEN }), 400, 100, 33);
	});

	it('requires a correct appsecret_proof once an app secret is configured', async () => {
		await sims.graph.control.configure({ appSecret: 'app-secret' });
		const proof = createHmac('sha256', 'app-secret').update(TOKEN).digest('hex');
		expect(appSecretProof(TOKEN, 'app-secret')).toBe(proof);

		expect((await send({ query: { appsecret_proof: proof } })).status).toBe(200);
		const wrong = expectGraphError(await send({ query: { appsecret_proof: appSecretProof(TOKEN, 'other') } }), 400, 100);
		expect(wrong).toMatchObject({ type: 'GraphMethodException', message: 'Invalid appsecret_proof provided in the API argument' });
		const missing = expectGraphError(await send(), 400, 100);
		expect(missing.message).toContain('appsecret_proof');
		// In a JSON body, as some clients send it.
		expect((await send({ body: { ...textMessage(), appsecret_proof: proof } })).status).toBe(200);
	});
});

describe('the 24 h window', () => {
	it('refuses RESPONSE and UPDATE sends outside the window with code 10 / 2018278', async () => {
		await sims.graph.control.setLastCustomerMessageAt('psid-late', Date.now() - 25 * HOUR);
		const error = expectGraphError(await send({ body: textMessage('psid-late') }), 400, 10, 2018278);
		expect(error.message).toBe('(#10) This message is sent outside of allowed window.');
		expectGraphError(await send({ body: { ...textMessage('psid-late'), messaging_type: 'UPDATE' } }), 400, 10, 2018278);
		expect(await sims.graph.control.messages()).toEqual([]);
	});

	it('allows sends inside the window and to people it knows nothing about', async () => {
		await sims.graph.control.setLastCustomerMessageAt('psid-recent', new Date(Date.now() - 23 * HOUR));
		expect((await send({ body: textMessage('psid-recent') })).status).toBe(200);
		expect((await send({ body: textMessage('psid-unknown') })).status).toBe(200);
	});

	it('lets documented tags through outside the window, HUMAN_AGENT only for 7 days', async () => {
		await sims.graph.control.setLastCustomerMessageAt('psid-old', Date.now() - 8 * 24 * HOUR);
		const tagged = (tag: string) => ({ ...textMessage('psid-old'), messaging_type: 'MESSAGE_TAG', tag });
		expect((await send({ body: tagged('ACCOUNT_UPDATE') })).status).toBe(200);
		expectGraphError(await send({ body: tagged('HUMAN_AGENT') }), 400, 10, 2018278);
		await sims.graph.control.setLastCustomerMessageAt('psid-old', Date.now() - 6 * 24 * HOUR);
		expect((await send({ body: tagged('HUMAN_AGENT') })).status).toBe(200);
	});

	it('forgets a recipient when set to null', async () => {
		await sims.graph.control.setLastCustomerMessageAt('psid-x', Date.now() - 48 * HOUR);
		expect((await send({ body: textMessage('psid-x') })).status).toBe(400);
		await sims.graph.control.setLastCustomerMessageAt('psid-x', null);
		expect((await send({ body: textMessage('psid-x') })).status).toBe(200);
	});
});

describe('Graph errors from fault rules', () => {
	it.each([
		[190, undefined, 400, 'Error validating access token'],
		[4, undefined, 400, '(#4) Application request limit reached'],
		[17, undefined, 400, '(#17) User request limit reached'],
		[32, undefined, 400, '(#32) Page request limit reached'],
		[613, undefined, 400, '(#613) Calls to this api have exceeded the rate limit.'],
		[80001, undefined, 400, '(#80001) There have been too many calls to this Page account.'],
		[80006, undefined, 400, '(#80006) There have been too many Messenger calls'],
		[10, 2018278, 400, '(#10) This message is sent outside of allowed window.'],
		[551, 1545041, 400, "This person isn't available right now."],
		[100, 2018001, 400, '(#100) No matching user found'],
		[2, undefined, 500, 'An unexpected error has occurred. Please retry your request later.'],
	])('code %p subcode %p answers HTTP %p with Graph\'s message', async (code, subcode, status, message) => {
		await sims.graph.control.addFault({ effect: { kind: 'graphError', code, ...(subcode !== undefined && { subcode }) } });
		const error = expectGraphError(await send(), status, code, subcode);
		expect(error.message).toContain(message);
		expect(error.type).toBe('OAuthException');
		const [logged] = await sims.graph.control.requests();
		expect(logged).toMatchObject({ outcome: 'fault', status });
		expect(await sims.graph.control.messages()).toEqual([]);
	});

	it('matches a fault by recipient, leaving other recipients alone', async () => {
		await sims.graph.control.addFault({ match: { recipient: 'psid-gone' }, effect: { kind: 'graphError', code: 551, subcode: 1545041 } });
		expectGraphError(await send({ body: textMessage('psid-gone') }), 400, 551, 1545041);
		expect((await send({ body: textMessage('psid-here') })).status).toBe(200);
	});

	it('turns an http fault into the fitting Graph error', async () => {
		await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'http', status: 503 } });
		expectGraphError(await send(), 503, 2);
		expect((await send()).status).toBe(200);
	});

	it('an answer fault gives a success status with another body than the endpoint’s (a proxy’s page, JSON that is no list); other statuses are refused', async () => {
		await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'answer', body: '<html>proxy</html>' } });
		await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'answer', status: 201, body: { ok: true } } });
		expect(await send()).toEqual({ status: 200, json: '<html>proxy</html>' });
		expect(await send()).toEqual({ status: 201, json: { ok: true } });
		expect((await send()).json.recipient_id).toBe('psid-1');
		await expect(sims.graph.control.addFault({ effect: { kind: 'answer', status: 500, body: {} } })).rejects.toThrow(/success status/);
		await expect(sims.graph.control.addFault({ effect: { kind: 'answer' } as never })).rejects.toThrow(/effect.body is required/);
	});

	it('matches a fault by a query parameter the request carries (param)', async () => {
		await sims.graph.control.addFault({ match: { param: 'after' }, effect: { kind: 'graphError', code: 100, message: '(#100) The after cursor is not valid' } });
		expect(expectGraphError(await send({ query: { after: 'abc' } }), 400, 100).message).toBe('(#100) The after cursor is not valid');
		expect((await send()).status).toBe(200);
	});

	it('lets a fault override the HTTP status and message', async () => {
		await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 613, status: 429, message: 'slow down' } });
		expect(expectGraphError(await send(), 429, 613).message).toBe('slow down');
	});
});

describe('held sends', () => {
	it('delivers a held send on release even when the client has gone (a killed sender)', async () => {
		await sims.graph.control.addFault({ match: { recipient: 'psid-held' }, effect: { kind: 'hold' } });
		const abort = new AbortController();
		const pending = fetch(`${sims.graph.baseUrl}/${VERSION}/${PAGE}/messages?access_token=${TOKEN}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify(textMessage('psid-held', 'held text')),
			signal: abort.signal,
		});
		await sims.graph.control.waitForRequests((requests) => requests[0]?.outcome === 'held');
		abort.abort();
		await expect(pending).rejects.toThrow();
		await sims.graph.control.waitForRequests((requests) => requests[0]?.outcome === 'client-gave-up');
		expect(await sims.graph.control.messages()).toEqual([]);

		expect(await sims.graph.control.release()).toBe(1);
		const [logged] = await sims.graph.control.requests();
		expect(logged).toMatchObject({ outcome: 'released', status: 200, clientGaveUp: true });
		expect(await sims.graph.control.messages()).toEqual([expect.objectContaining({ recipientId: 'psid-held', text: 'held text' })]);
	});

	it('releases only as many as asked, oldest first', async () => {
		await sims.graph.control.addFault({ effect: { kind: 'hold' } });
		const first = send({ body: textMessage('psid-a') });
		await sims.graph.control.waitForRequests(1);
		const second = send({ body: textMessage('psid-b') });
		await sims.graph.control.waitForRequests(2);
		expect(await sims.graph.control.release(1)).toBe(1);
		expect((await first).json.recipient_id).toBe('psid-a');
		expect((await sims.graph.control.health()).held).toBe(1);
		expect(await sims.graph.control.release()).toBe(1);
		expect((await second).json.recipient_id).toBe('psid-b');
	});
});
