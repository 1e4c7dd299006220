// The Facebook Page credential's test (`GET {base}/{version}/{page-id}/conversations`, token and
// appsecret_proof added by its function-style authenticate) against the Graph simulator, which
// checks both like Graph, and that the token is the Page's.
import { appSecretProof, startSimulators, type RunningSimulators } from '../../simulators';
import { testCredential } from '../harness';

const PAGE_ID = '104857600000001';
const TOKEN = 'page-token-a';
const APP_SECRET = 'app-secret-a';
let sims: RunningSimulators;

beforeAll(async () => {
	// The Conversations endpoint's rate (2 calls a second per Page, as Graph publishes it) is off:
	// these tests call it several times a second, a user clicks Test once.
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: TOKEN }, appSecret: APP_SECRET, conversations: { perSecond: 0 } } });
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

const REFUSED =
	'Facebook refused it: the Page Access Token must be a token of this Page ID (its numeric ID) with pages_messaging, and the App Secret the app\'s own (or empty when the app does not require appsecret_proof)';

test('tests OK with the Page token and app secret, reading the Page\'s conversations with the token and its proof', async () => {
	await expect(testCredential('leadflowFacebookPageApi', credential())).resolves.toEqual({ status: 'OK', message: 'Connection successful!' });

	const [request] = await sims.graph.control.requests();
	expect(request).toMatchObject({ method: 'GET', path: `/v25.0/${PAGE_ID}/conversations`, status: 200 });
	expect(request.query).toMatchObject({ access_token: TOKEN, appsecret_proof: appSecretProof(TOKEN, APP_SECRET), fields: 'id', limit: '1' });
});

test('the version and base URL defaults apply when the test data leaves them out', async () => {
	const result = await testCredential('leadflowFacebookPageApi', { pageId: PAGE_ID, accessToken: TOKEN, appSecret: APP_SECRET, baseUrl: `${sims.graph.baseUrl}/` });
	expect(result.status).toBe('OK');
	const [request] = await sims.graph.control.requests();
	expect(request.path).toBe(`/v25.0/${PAGE_ID}/conversations`);
});

test('a wrong token fails, saying what to check', async () => {
	await expect(testCredential('leadflowFacebookPageApi', credential({ accessToken: 'not-the-token' }))).resolves.toEqual({ status: 'Error', message: REFUSED });
});

test('a Page ID other than the token\'s Page fails (every send would be page_mismatch)', async () => {
	const result = await testCredential('leadflowFacebookPageApi', credential({ pageId: '104857600000002' }));
	expect(result).toEqual({ status: 'Error', message: REFUSED });
	const [request] = await sims.graph.control.requests();
	expect(request.path).toBe('/v25.0/104857600000002/conversations');
});

test('a Page ID with spaces around it, an empty version or one with slashes: read as the nodes read them', async () => {
	for (const overrides of [{ pageId: ` ${PAGE_ID} ` }, { graphApiVersion: '' }, { graphApiVersion: '/v25.0/' }] as Array<Record<string, string>>) {
		await sims.graph.control.clearRequests();
		await expect(testCredential('leadflowFacebookPageApi', credential(overrides))).resolves.toEqual({ status: 'OK', message: 'Connection successful!' });
		const [request] = await sims.graph.control.requests();
		expect(request.path).toBe(`/v25.0/${PAGE_ID}/conversations`);
	}
});

test('a wrong app secret fails (the proof does not match)', async () => {
	const result = await testCredential('leadflowFacebookPageApi', credential({ appSecret: 'other-secret' }));
	expect(result).toEqual({ status: 'Error', message: REFUSED });
	const [request] = await sims.graph.control.requests();
	expect(request.query.appsecret_proof).toBe(appSecretProof(TOKEN, 'other-secret'));
});
