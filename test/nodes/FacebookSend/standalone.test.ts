// FacebookSend without Supabase (Record in Supabase off): a plain message for an AI agent or any
// workflow. Also what holds in both modes: appsecret_proof when the credential has an app secret,
// a too-long message refused before Facebook is called, and no token or proof in any output or error.
import { appSecretProof, startSimulators, type RunningSimulators } from '../../../simulators';
import { PAGE_ID } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';

const APP_SECRET = 'app-secret-send-tests';
const PSID = '24000000000000001';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
});

const plain = { ...FAST, recordStages: false };
const items = [{ recipient_id: PSID, followUp: { message: 'Hi, is tomorrow at 10 still good?' } }];
const facebookOnly = (overrides: Record<string, string> = {}) => ({ leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl, overrides) });

test('sends a plain message with no Supabase credential, as RESPONSE when asked', async () => {
	const run = await runSend(items, { ...plain, messagingType: 'RESPONSE' }, facebookOnly());

	expect(run.result.status).toBe('success');
	const [delivered] = await sims.graph.control.messages();
	expect(delivered).toMatchObject({ recipientId: PSID, messagingType: 'RESPONSE', text: items[0].followUp.message, pageId: PAGE_ID });
	expect(delivered.tag).toBeUndefined();
	expect(run.sent).toEqual([{ ...items[0], send: { outcome: 'sent', messageId: delivered.messageId, attempts: 1 } }]);
});

test('with an app secret every call carries appsecret_proof, and Graph configured with the secret accepts it', async () => {
	await sims.graph.control.configure({ appSecret: APP_SECRET });

	const run = await runSend(items, plain, facebookOnly({ appSecret: APP_SECRET }));

	expect(run.sent).toHaveLength(1);
	const [request] = await sims.graph.control.requests();
	expect(request.query).toEqual({ access_token: PAGE_TOKEN, appsecret_proof: appSecretProof(PAGE_TOKEN, APP_SECRET) });
});

test('a wrong app secret: Graph refuses the proof, the item fails with Graph\'s reason', async () => {
	await sims.graph.control.configure({ appSecret: APP_SECRET });

	const run = await runSend(items, plain, facebookOnly({ appSecret: 'not-the-secret' }));

	expect(run.failed[0].send).toMatchObject({ outcome: 'failed', reason: 'graph_error', code: 100, message: 'Invalid appsecret_proof provided in the API argument' });
	expect(await sims.graph.control.messages()).toEqual([]);
});

test('without an app secret no proof is sent', async () => {
	await runSend(items, plain, facebookOnly());
	const [request] = await sims.graph.control.requests();
	expect(request.query).toEqual({ access_token: PAGE_TOKEN });
});

test('a message over 2,000 characters is refused before Facebook is called', async () => {
	const long = [{ recipient_id: PSID, followUp: { message: 'é'.repeat(2001) } }];

	const stopped = await runSend(long, plain, facebookOnly());
	expect(stopped.result.status).toBe('error');
	expect(stopped.result.error?.message).toBe('The message has 2001 characters');

	const continued = await runSend(long, plain, facebookOnly(), { continueOnFail: true });
	// The package's one continue-on-fail item, on Failed.
	expect(continued.failed).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'The message has 2001 characters' }) }]);
	expect(await sims.graph.control.requests()).toEqual([]);
});

test('neither the token nor the proof appears in outputs or errors, even when the token is refused', async () => {
	await sims.graph.control.configure({ appSecret: APP_SECRET });
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });
	const proof = appSecretProof(PAGE_TOKEN, APP_SECRET);

	const refused = await runSend(items, plain, facebookOnly({ appSecret: APP_SECRET }));
	const refusedAgain = await runSend(items, plain, facebookOnly({ appSecret: APP_SECRET }), { continueOnFail: true });
	await sims.graph.control.clearFaults();
	await sims.graph.control.addFault({ effect: { kind: 'timeout', holdMs: 3000 } });
	const unanswered = await runSend(items, { ...plain, options: { ...plain.options, timeoutSeconds: 1 } }, facebookOnly({ appSecret: APP_SECRET }));

	expect(refused.result.error?.message).toBe('The Page token is invalid or expired: reconnect the credential');
	expect(refusedAgain.failed[0].send).toMatchObject({ reason: 'invalid_token' });
	expect(unanswered.failed[0].send).toMatchObject({ reason: 'send_uncertain' });
	for (const run of [refused, refusedAgain, unanswered]) {
		const everything = JSON.stringify({ data: run.result.run?.data, error: run.result.error });
		expect(everything).not.toContain(PAGE_TOKEN);
		expect(everything).not.toContain(proof);
		expect(everything).not.toContain('access_token');
	}
});
