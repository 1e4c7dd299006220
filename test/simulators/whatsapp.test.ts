// The WhatsApp Cloud API on the Graph simulator, over plain HTTP as a sender calls it: text and
// template sends answered with Meta's shape, the token and phone number checks, the Cloud API's own
// refusals (not on WhatsApp 131026, unknown template 132001, text outside the 24 h window 131047),
// and the rate limits and token errors a fault rule injects, each with its real code and details.
import { startSimulators, type RunningSimulators } from '../../simulators';

const VERSION = 'v25.0';
const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-whatsapp-token';
const HOUR = 3_600_000;

interface CloudApiError {
	message: string;
	type: string;
	code: number;
	error_data?: { messaging_product: string; details: string };
	fbtrace_id: string;
}

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
});

const text = (to: string, body = 'Hi Maria') => ({ messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { preview_url: false, body } });
const template = (to: string, name = 'hello_world', code = 'en_US') => ({ messaging_product: 'whatsapp', to, type: 'template', template: { name, language: { code } } });

async function send(body: unknown, { token = TOKEN as string | null, node = PHONE_NUMBER_ID } = {}) {
	const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/${node}/messages`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...(token !== null && { authorization: `Bearer ${token}` }) },
		body: JSON.stringify(body),
	});
	return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function cloudError(result: { status: number; json: Record<string, unknown> }, status: number, code: number): CloudApiError {
	expect({ status: result.status, code: (result.json.error as CloudApiError | undefined)?.code }).toEqual({ status, code });
	const error = result.json.error as CloudApiError;
	expect(error.fbtrace_id).toMatch(/^\S{6,}$/);
	return error;
}

describe('sending', () => {
	it('answers a text message with Meta\'s shape and records it', async () => {
		const result = await send(text('+447700900123', 'Hi Maria, about your enquiry'));
		expect(result.status).toBe(200);
		expect(result.json).toEqual({
			messaging_product: 'whatsapp',
			contacts: [{ input: '+447700900123', wa_id: '447700900123' }],
			messages: [{ id: expect.stringMatching(/^wamid\.[\w-]{20,}$/) }],
		});
		const [message] = await sims.graph.control.whatsappMessages();
		expect(message).toMatchObject({
			messageId: (result.json.messages as Array<{ id: string }>)[0].id,
			phoneNumberId: PHONE_NUMBER_ID,
			to: '+447700900123',
			waId: '447700900123',
			type: 'text',
			text: 'Hi Maria, about your enquiry',
		});
	});

	it('answers a template message as accepted', async () => {
		const result = await send(template('+14155550100'));
		expect(result.status).toBe(200);
		expect(result.json.messages).toEqual([{ id: expect.stringMatching(/^wamid\./), message_status: 'accepted' }]);
		const [message] = await sims.graph.control.whatsappMessages();
		expect(message).toMatchObject({ type: 'template', template: { name: 'hello_world', language: 'en_US' } });
	});

	it('logs the request with its token and its `to` as the recipient, so fault rules can match them', async () => {
		await send(text('+447700900123'));
		const [request] = await sims.graph.control.requests();
		expect(request).toMatchObject({ method: 'POST', path: `/${VERSION}/${PHONE_NUMBER_ID}/messages`, key: TOKEN, recipient: '+447700900123', status: 200 });
	});

	it('answers the credential test read of the phone number', async () => {
		const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/${PHONE_NUMBER_ID}?fields=display_phone_number,verified_name`, { headers: { authorization: `Bearer ${TOKEN}` } });
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ id: PHONE_NUMBER_ID, display_phone_number: expect.any(String), verified_name: expect.any(String) });
	});
});

describe('the Cloud API\'s own refusals', () => {
	it('a wrong token is 190 with HTTP 401; no token likewise', async () => {
		expect(cloudError(await send(text('+447700900123'), { token: 'not-the-token' }), 401, 190).type).toBe('OAuthException');
		cloudError(await send(text('+447700900123'), { token: null }), 401, 190);
		expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	});

	it('another business\'s phone number id is refused for this token', async () => {
		const error = cloudError(await send(text('+447700900123'), { node: '999999999999999' }), 400, 100);
		expect(error.message).toMatch(/Object with ID '999999999999999' does not exist/);
	});

	it('a number that is not on WhatsApp is 131026', async () => {
		await sims.graph.control.configureWhatsApp({ notOnWhatsApp: ['447700900999'] });
		const error = cloudError(await send(text('+447700900999')), 400, 131026);
		expect(error).toMatchObject({ message: '(#131026) Message undeliverable', error_data: { messaging_product: 'whatsapp', details: expect.stringMatching(/not a WhatsApp phone number/) } });
	});

	it('a template the account does not have is 132001, naming it and its language', async () => {
		await sims.graph.control.configureWhatsApp({ templates: [{ name: 'first_contact', language: 'en_GB' }] });
		expect((await send(template('+447700900123', 'first_contact', 'en_GB'))).status).toBe(200);
		const error = cloudError(await send(template('+447700900123', 'first_contact', 'en_US')), 404, 132001);
		expect(error.error_data?.details).toBe('template name (first_contact) does not exist in en_US');
	});

	it('a text to someone whose last message is over 24 h old is 131047; a template still goes', async () => {
		await sims.graph.control.setLastCustomerMessageAt('+447700900123', Date.now() - 25 * HOUR);
		cloudError(await send(text('+447700900123')), 400, 131047);
		expect((await send(template('+447700900123'))).status).toBe(200);
		await sims.graph.control.setLastCustomerMessageAt('+447700900123', Date.now() - 23 * HOUR);
		expect((await send(text('+447700900123'))).status).toBe(200);
	});

	it('checks the body as the Cloud API does, naming the parameter', async () => {
		expect(cloudError(await send({ to: '+447700900123', type: 'text', text: { body: 'x' } }), 400, 100).message).toMatch(/messaging_product is required/);
		expect(cloudError(await send({ messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }), 400, 131008).error_data?.details).toMatch(/to is required/);
		expect(cloudError(await send({ ...text('+447700900123'), text: {} }), 400, 131008).error_data?.details).toMatch(/text\['body'\]/);
		expect(cloudError(await send(text('+447700900123', 'x'.repeat(4097))), 400, 100).message).toMatch(/at most 4096 characters/);
		expect(cloudError(await send({ ...template('+447700900123'), template: { name: 'hello_world' } }), 400, 131008).error_data?.details).toMatch(/language/);
		expect(cloudError(await send(text('call me maybe')), 400, 131009).error_data?.details).toMatch(/not a valid phone number/);
	});
});

describe('fault rules', () => {
	it.each([
		[130429, 429, '(#130429) Rate limit hit'],
		[131056, 429, '(#131056) (Business Account, Consumer Account) pair rate limit hit'],
		[131026, 400, '(#131026) Message undeliverable'],
		[131047, 400, '(#131047) Re-engagement message'],
		[132001, 404, '(#132001) Template name does not exist in the translation'],
	])('a graphError rule with code %i answers the Cloud API error (HTTP %i)', async (code, status, message) => {
		await sims.graph.control.addFault({ match: { recipient: '+447700900123' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code } });
		const error = cloudError(await send(text('+447700900123')), status, code);
		expect(error.message).toBe(message);
		expect(error.error_data).toEqual({ messaging_product: 'whatsapp', details: expect.any(String) });
		// The rule is spent; another recipient was never affected.
		expect((await send(text('+447700900123'))).status).toBe(200);
	});

	it('a graphError rule with code 190 answers an invalid token (401, no error_data)', async () => {
		await sims.graph.control.addFault({ match: { path: '/messages' }, effect: { kind: 'graphError', code: 190 } });
		const error = cloudError(await send(text('+447700900123')), 401, 190);
		expect(error.error_data).toBeUndefined();
	});

	it('an http 429 rule is the throughput limit, 500 an unknown error', async () => {
		await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'http', status: 429 } });
		await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'http', status: 503 } });
		cloudError(await send(text('+447700900123')), 429, 130429);
		cloudError(await send(text('+447700900123')), 503, 131000);
		expect((await sims.graph.control.whatsappMessages()).length).toBe(0);
	});
});

test('Messenger sends on the same simulator are untouched by the WhatsApp numbers', async () => {
	const response = await fetch(`${sims.graph.baseUrl}/${VERSION}/1029384756/messages?access_token=page-token`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ recipient: { id: 'psid-1' }, messaging_type: 'RESPONSE', message: { text: 'Hi' } }),
	});
	expect(response.status).toBe(200);
	expect(await response.json()).toEqual({ recipient_id: 'psid-1', message_id: expect.any(String) });
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
});

test('the WhatsApp config is checked and reset with the simulator', async () => {
	await expect(sims.graph.control.configureWhatsApp({ templates: [{ name: 1 }] } as never)).rejects.toThrow(/whatsapp config is/);
	await sims.graph.control.reset();
	expect((await send(text('+447700900123'), { token: 'any-token-now' })).status).toBe(200);
});
