// The Facebook Page credential's test (`GET {base}/{version}/me`, token and appsecret_proof added
// by its function-style authenticate) against the Graph simulator, which checks both like Graph.
import { appSecretProof, startSimulators, type RunningSimulators } from '../../simulators';
import { testCredential } from '../harness';

const PAGE_ID = '104857600000001';
const TOKEN = 'page-token-a';
const APP_SECRET = 'app-secret-a';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: TOKEN }, appSecret: APP_SECRET } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.clearRequests();
});

const credential = (overrides: Record<string, string> = {}) => ({
	pageId: PAGE_ID,
	accessToken: TOKEN,
	appSecret: APP_SECRET,
	graphApiVersion: 'v25.0',
	baseUrl: sims.graph.baseUrl,
	...overrides,
});

test('tests OK with the Page token and app secret, sending GET /v25.0/me with the token and its proof', async () => {
	await expect(testCredential('leadflowFacebookPageApi', credential())).resolves.toEqual({ status: 'OK', message: 'Connection successful!' });

	const [request] = await sims.graph.control.requests();
	expect(request).toMatchObject({ method: 'GET', path: '/v25.0/me', status: 200 });
	expect(request.query).toMatchObject({ access_token: TOKEN, appsecret_proof: appSecretProof(TOKEN, APP_SECRET), fields: 'id,name' });
});

test('the version and base URL defaults apply when the test data leaves them out', async () => {
	const result = await testCredential('leadflowFacebookPageApi', { pageId: PAGE_ID, accessToken: TOKEN, appSecret: APP_SECRET, baseUrl: `${sims.graph.baseUrl}/` });
	expect(result.status).toBe('OK');
	const [request] = await sims.graph.control.requests();
	expect(request.path).toBe('/v25.0/me');
});

test('a wrong token fails', async () => {
	await expect(testCredential('leadflowFacebookPageApi', credential({ accessToken: 'not-the-token' }))).resolves.toEqual({
		status: 'Error',
		message: 'Bad Request',
	});
});

test('a wrong app secret fails (the proof does not match)', async () => {
	const result = await testCredential('leadflowFacebookPageApi', credential({ appSecret: 'other-secret' }));
	expect(result).toEqual({ status: 'Error', message: 'Bad Request' });
	const [request] = await sims.graph.control.requests();
	expect(request.query.appsecret_proof).toBe(appSecretProof(TOKEN, 'other-secret'));
});
