// The WhatsApp Cloud API credential's test (`GET {base}/{version}/{phone-number-id}` with the token
// as a Bearer header, from its generic authenticate), as n8n's "Test" button runs it, against the
// Graph simulator's Cloud API, which checks the token against the phone number like Meta.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testCredential } from '../harness';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-whatsapp-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { whatsapp: { phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } } } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.clearRequests();
});

const credential = (overrides: Record<string, string> = {}) => ({
	phoneNumberId: PHONE_NUMBER_ID,
	accessToken: TOKEN,
	graphApiVersion: 'v25.0',
	baseUrl: sims.graph.baseUrl,
	...overrides,
});

test('tests OK, sending GET /v25.0/{phone-number-id} with the token as a Bearer header', async () => {
	await expect(testCredential('leadflowWhatsAppApi', credential())).resolves.toEqual({ status: 'OK', message: 'Connection successful!' });
	const [request] = await sims.graph.control.requests();
	expect(request).toMatchObject({ method: 'GET', path: `/v25.0/${PHONE_NUMBER_ID}`, status: 200, key: TOKEN });
	expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
	expect(request.query).toEqual({ fields: 'display_phone_number,verified_name' });
});

test('the version and base URL defaults apply when the test data leaves them out; a trailing slash does not matter', async () => {
	const result = await testCredential('leadflowWhatsAppApi', { phoneNumberId: PHONE_NUMBER_ID, accessToken: TOKEN, baseUrl: `${sims.graph.baseUrl}/` });
	expect(result.status).toBe('OK');
	const [request] = await sims.graph.control.requests();
	expect(request.path).toBe(`/v25.0/${PHONE_NUMBER_ID}`);
});

test('a wrong token fails with the Cloud API\'s 401, saying which token to use', async () => {
	await expect(testCredential('leadflowWhatsAppApi', credential({ accessToken: 'not-the-token' }))).resolves.toEqual({
		status: 'Error',
		message: 'The Access Token was refused: use a System User token with whatsapp_business_messaging',
	});
});

test('a Phone Number ID with spaces around it, an empty version or one with slashes: read as Send reads them', async () => {
	for (const overrides of [{ phoneNumberId: ` ${PHONE_NUMBER_ID} ` }, { graphApiVersion: '' }, { graphApiVersion: '/v25.0/' }] as Array<Record<string, string>>) {
		await sims.graph.control.clearRequests();
		await expect(testCredential('leadflowWhatsAppApi', credential(overrides))).resolves.toEqual({ status: 'OK', message: 'Connection successful!' });
		const [request] = await sims.graph.control.requests();
		expect(request.path).toBe(`/v25.0/${PHONE_NUMBER_ID}`);
	}
});

test('a phone number id the token does not reach fails', async () => {
	const result = await testCredential('leadflowWhatsAppApi', credential({ phoneNumberId: '999999999999999' }));
	expect(result).toEqual({
		status: 'Error',
		message: 'WhatsApp refused it: the Phone Number ID must be the numeric ID of the business number (WhatsApp Manager → API Setup, not the number itself) that this token may use',
	});
	const [request] = await sims.graph.control.requests();
	expect(request.path).toBe('/v25.0/999999999999999');
});
