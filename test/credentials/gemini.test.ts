// The Gemini credential's test request (`GET {baseUrl}/v1beta/models/{model}` with the first key in
// `x-goog-api-key`), as n8n's "Test" button runs it, against the Gemini simulator.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testCredential } from '../harness';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ gemini: { apiKeys: ['key-one', 'key-two'], models: ['gemini-3-flash'] } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.clearRequests();
});

test('sends GET /v1beta/models/{model} with the first of the rotating keys, and passes', async () => {
	const result = await testCredential('leadflowGeminiApi', {
		apiKeys: ' key-one \r\nkey-two\n',
		baseUrl: `${sims.gemini.baseUrl}//`,
		model: 'gemini-3-flash',
	});

	expect(result.status).toBe('OK');
	const requests = await sims.gemini.control.requests();
	expect(requests).toHaveLength(1);
	expect(requests[0]).toMatchObject({ method: 'GET', path: '/v1beta/models/gemini-3-flash', key: 'key-one' });
	expect(requests[0].headers['x-goog-api-key']).toBe('key-one');
});

test('keys separated by commas, as the nodes accept them: the test sends the first key alone, and passes', async () => {
	const result = await testCredential('leadflowGeminiApi', { apiKeys: 'key-one, key-two', baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' });

	expect(result.status).toBe('OK');
	const requests = await sims.gemini.control.requests();
	expect(requests).toHaveLength(1);
	expect(requests[0].headers['x-goog-api-key']).toBe('key-one');
});

test('fails for a key Google does not know', async () => {
	const result = await testCredential('leadflowGeminiApi', { apiKeys: 'stolen-key', baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' });
	expect(result.status).toBe('Error');
});

test('fails for a model name that does not exist', async () => {
	const result = await testCredential('leadflowGeminiApi', { apiKeys: 'key-one', baseUrl: sims.gemini.baseUrl, model: 'gemini-0-retired' });
	expect(result.status).toBe('Error');
});
