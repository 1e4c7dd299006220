// The Gemini credential's test request (`GET {baseUrl}/v1beta/models/{model}` with the first key in
// `x-goog-api-key`). The Gemini simulator serves only generateContent so far, so this checks the
// request n8n would send, as the simulator received it, not the verdict.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testCredential } from '.';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

test('sends GET /v1beta/models/{model} with the first of the rotating keys', async () => {
	await testCredential('leadflowGeminiApi', { apiKeys: ' key-one \r\nkey-two\n', baseUrl: `${sims.gemini.baseUrl}//`, model: 'gemini-3-flash' });

	const requests = await sims.gemini.control.requests();
	expect(requests).toHaveLength(1);
	expect(requests[0]).toMatchObject({ method: 'GET', path: '/v1beta/models/gemini-3-flash', key: 'key-one' });
	expect(requests[0].headers['x-goog-api-key']).toBe('key-one');
});
