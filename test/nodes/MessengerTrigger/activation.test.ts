// Activating a workflow with the Messenger Trigger, as n8n does (checkExists, then create): a
// credential without an App Secret refuses it (one whose App ID is not digits is warned of); a Page
// whose events the database would ignore — not connected and no Owner ID, or connected to another
// owner than the node's — refuses the activation with what to do, before anything is subscribed at
// Meta; a connected Page, or an Owner ID that will connect it, activates. With Subscribe on
// Activation, the subscription at Meta (the Graph simulator): every field the trigger records, on
// the app and on the Page; a refused activation or test listen (after which n8n calls delete) and a
// deactivation leave alone what does not send to this node's URL or is the live subscription.
import { createHmac, randomUUID } from 'node:crypto';
import { Logger } from '@n8n/backend-common';
import { Container } from '@n8n/di';
import { messengerDelivery, messengerEvents, pageIdForToken, startSimulators, type RunningSimulators } from '../../../simulators';
import { createTestUser, serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { connectPage, syncRecords } from '../../db/messenger/fixtures';
import { inspect } from 'node:util';
import { activate, APP_ID, APP_SECRET, credentials, deactivate, lastActivationError, post } from './support';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { appSecret: APP_SECRET } });
});

afterAll(async () => {
	await sims?.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
});

const PRODUCTION_URL = 'http://127.0.0.1:5678/webhook/leadflow/messenger';
/** Every field the trigger records, `standby` (the person's messages while another app has the conversation) included. */
const FIELDS = ['messages', 'messaging_postbacks', 'message_echoes', 'message_deliveries', 'message_reads', 'standby'];

/** The simulator's state once the app sends its Page webhooks to `url` and the Page is subscribed, both with every field. */
function subscribedTo(url: string, pageId: string) {
	return {
		apps: { [APP_ID]: [expect.objectContaining({ object: 'page', callback_url: url, active: true, fields: FIELDS.map((name) => ({ name, version: 'v25.0' })) })] },
		pages: { [pageId]: [{ id: APP_ID, subscribed_fields: FIELDS }] },
	};
}

// n8n calls the webhook methods once per HTTP method of the webhook (GET, then POST), and after a
// refusal delete for both, to undo the activation.
const ACTIVE = ['checkExists', 'checkExists'];
const SUBSCRIBED = ['checkExists', 'create', 'checkExists'];
const REFUSED = ['checkExists', 'delete', 'delete'];

const notConnected = expect.objectContaining({
	message: expect.stringMatching(/^Page \d+ is not connected to an owner, and the node has no Owner ID/),
	description: expect.stringMatching(/Owner ID.*Messenger Sync.*messenger_pages/),
});

describe('activation', () => {
	it('is refused while the credential’s Page is not connected and Owner ID is empty, saying what to do; once the Page is connected it activates', async () => {
		const pageId = uniquePageId();
		const refused = await activate(credentials(pageId));
		expect(refused.error).toEqual(notConnected);
		expect(refused.error?.message).toContain(pageId);

		await connectPage(pageId, await createTestUser('page-owner'));
		expect(await activate(credentials(pageId))).toEqual({ called: ACTIVE });
	});

	it('an Owner ID activates a Page not connected yet (its first delivery connects it); one that is not a user id, or another owner than the connected Page’s, is refused', async () => {
		const pageId = uniquePageId();
		const owner = await createTestUser('page-owner');
		const notUuid = await activate(credentials(pageId), { owner: 'me' });
		expect(notUuid.error).toEqual(expect.objectContaining({ message: 'The Owner ID is not a user id' }));
		// A well-formed id of no user of this project (a typo, another project's, a deleted user): refused too, naming Owner ID.
		const noUser = '00000000-0000-4000-8000-00000000beef';
		const notAUser = await activate(credentials(pageId), { owner: noUser });
		expect(notAUser.error).toEqual(
			expect.objectContaining({ message: expect.stringMatching(new RegExp(`^The Owner ID ${noUser} is not a user of this Supabase project`)), description: expect.stringContaining('Owner ID') }),
		);

		expect(await activate(credentials(pageId), { owner })).toEqual({ called: ACTIVE });
		// Activation only checks: nothing is connected before the first delivery.
		const rows = await withDb((db) => db.query('select 1 from public.messenger_pages where page_id = $1', [pageId]));
		expect(rows.rowCount).toBe(0);

		await connectPage(pageId, owner);
		expect(await activate(credentials(pageId), { owner })).toEqual({ called: ACTIVE });
		const stranger = await activate(credentials(pageId), { owner: await createTestUser('stranger') });
		expect(stranger.error).toEqual(
			expect.objectContaining({ message: expect.stringContaining(`Page ${pageId} is connected to another owner than the node’s Owner ID`), description: expect.stringContaining(owner) }),
		);
	});

	it('refused for a Page another owner connected and synced, it says how to move the Page, and that works: delete its row of messenger_pages, activate with the new Owner ID', async () => {
		const pageId = uniquePageId();
		const before = await createTestUser('old-owner');
		const after = await createTestUser('new-owner');
		await connectPage(pageId, before);
		// A Messenger Sync of the old owner's: its job refers to the Page's row.
		await syncRecords(serviceClient(), pageId, [{ type: 'message', page_id: pageId, psid: '5550001', mid: `m_move_${pageId}`, text: 'hi', timestamp: Date.now() - 3_600_000 }], new Date());

		const refused = await activate(credentials(pageId), { owner: after });
		expect(refused.error).toEqual(
			expect.objectContaining({
				message: expect.stringContaining(`Page ${pageId} is connected to another owner than the node’s Owner ID`),
				description: expect.stringMatching(/To move the Page to another owner, delete its row of messenger_pages .*then activate with the new Owner ID/),
			}),
		);
		// Changing the row's owner instead is refused once the Page was synced.
		await expect(withDb((db) => db.query('update public.messenger_pages set user_id = $1 where page_id = $2', [after, pageId]))).rejects.toThrow(/messenger_sync_jobs/);

		// What the advice says: the row goes (its sync jobs with it), the new Owner ID activates, and the first delivery connects the Page to it.
		await withDb((db) => db.query('delete from public.messenger_pages where page_id = $1', [pageId]));
		expect(await activate(credentials(pageId), { owner: after })).toEqual({ called: ACTIVE });
		const raw = JSON.stringify(messengerDelivery([{ pageId, events: [messengerEvents.message(pageId, { psid: '5550001', mid: `m_moved_${pageId}`, text: 'hello again', timestamp: Date.now() - 1000 })] }]));
		expect((await post(pageId, raw, { parameters: { owner: after } })).response).toMatchObject({ statusCode: 200, body: { received: true, recorded: 1, events: 1 } });
		const rows = await withDb((db) => db.query('select user_id from public.messenger_pages where page_id = $1', [pageId]));
		expect(rows.rows).toEqual([{ user_id: after }]);
		expect(await activate(credentials(pageId))).toEqual({ called: ACTIVE });
	});

	it('with Subscribe on Activation, a Page not connected is refused before anything is subscribed at Meta; connected, it is subscribed', async () => {
		const token = `page-token-${randomUUID()}`;
		const pageId = pageIdForToken(token);
		const creds = credentials(pageId, { accessToken: token, baseUrl: sims.graph.baseUrl });

		const refused = await activate(creds, { subscribe: true });
		expect(refused).toEqual({ called: REFUSED, error: notConnected });
		expect(await sims.graph.control.subscriptions()).toEqual({ apps: {}, pages: {} });

		await connectPage(pageId, await createTestUser('page-owner'));
		expect(await activate(creds, { subscribe: true })).toEqual({ called: SUBSCRIBED });
		expect(await sims.graph.control.subscriptions()).toEqual(subscribedTo(PRODUCTION_URL, pageId));
	});

	it('is refused without an App Secret in the credential (no delivery could be verified), whatever the Pages and Subscribe say', async () => {
		const pageId = uniquePageId();
		await connectPage(pageId, await createTestUser('page-owner'));
		const noSecret = credentials(pageId, { appSecret: '' });
		for (const parameters of [{}, { pages: 'connectedPages', subscribe: false }, { subscribe: true }]) {
			const refused = await activate(noSecret, parameters);
			expect(refused).toEqual({
				called: REFUSED,
				error: { message: expect.stringMatching(/^The Facebook Page credential has no App Secret/), description: expect.stringContaining('App Secret') },
			});
		}
		expect(await activate(credentials(pageId))).toEqual({ called: ACTIVE });
	});

	// c717552 refused activation with such an App ID, on every n8n restart too: a workflow that was
	// receiving and recording deliveries (only human takeover and echo settlement off) stopped
	// receiving anything. It activates, records without the App ID, and says so in n8n's log.
	it('an App ID that is not a Meta app id (not all digits) activates and its deliveries are recorded, not silently: n8n’s log warns, naming the App ID and what to do, without its value; digits with spaces inside are its digits', async () => {
		const token = `page-token-${randomUUID()}`;
		const pageId = pageIdForToken(token);
		await connectPage(pageId, await createTestUser('page-owner'));
		const warn = jest.spyOn(Container.get(Logger), 'warn');
		const warned = () => warn.mock.calls.filter(([message]) => String(message).startsWith('Leadflow Messenger Trigger'));
		try {
			// The app's name, the App Secret pasted into the wrong field.
			for (const appId of ['my-leadflow-app', APP_SECRET]) {
				for (const parameters of [{}, { pages: 'connectedPages', subscribe: false }]) {
					warn.mockClear();
					expect(await activate(credentials(pageId, { appId }), parameters)).toEqual({ called: ACTIVE });
					expect(warned()).toEqual([
						[
							expect.stringMatching(/^Leadflow Messenger Trigger: The Facebook Page credential’s App ID is not a Meta app id \(digits only\): deliveries are recorded without one, .*no human takeover stops follow-ups and no echo settles an uncertain follow-up\. Put the Meta app’s App ID .* to turn both on \(an empty App ID turns them off too, and is warned about the same way\)\.$/),
							expect.objectContaining({ node: 'Messenger Trigger', when: 'activation' }),
						],
						[expect.any(String), expect.objectContaining({ when: 'activation' })],
					]);
					expect(JSON.stringify(warned())).not.toContain(appId);
				}
				const raw = JSON.stringify(messengerDelivery([{ pageId, events: [messengerEvents.message(pageId, { psid: '5550001', mid: `m_appid_${pageId}_${appId.length}`, text: 'hello', timestamp: Date.now() - 1000 })] }]));
				expect((await post(pageId, raw, { credentials: credentials(pageId, { appId }) })).response).toMatchObject({ statusCode: 200, body: { received: true, recorded: 1, events: 1 } });
			}
			// Digits with spaces inside: the app's id, subscribed as it; no warning.
			warn.mockClear();
			expect(await activate(credentials(pageId, { appId: '4141 4141 4141', accessToken: token, baseUrl: sims.graph.baseUrl }), { subscribe: true })).toEqual({ called: SUBSCRIBED });
			expect(await sims.graph.control.subscriptions()).toEqual(subscribedTo(PRODUCTION_URL, pageId));
			for (const appId of [APP_ID, ` ${APP_ID} `]) expect(await activate(credentials(pageId, { appId }))).toEqual({ called: ACTIVE });
			expect(warned()).toEqual([]);
		} finally {
			warn.mockRestore();
		}
	});

	// Before, an empty App ID turned human takeover and echo settlement off with nothing said at run
	// time (only the docs told). It still activates and records; n8n's log says so at activation,
	// not with each delivery.
	it('an empty App ID activates and its deliveries are recorded, and n8n’s log warns once per activation that no takeover is seen and no echo settles, with what to do', async () => {
		const pageId = uniquePageId();
		await connectPage(pageId, await createTestUser('page-owner'));
		const warn = jest.spyOn(Container.get(Logger), 'warn');
		const warned = () => warn.mock.calls.filter(([message]) => String(message).startsWith('Leadflow Messenger Trigger'));
		try {
			for (const appId of ['', '   ']) {
				for (const parameters of [{}, { pages: 'connectedPages', subscribe: false }]) {
					warn.mockClear();
					expect(await activate(credentials(pageId, { appId }), parameters)).toEqual({ called: ACTIVE });
					const told = [
						expect.stringMatching(/^Leadflow Messenger Trigger: The Facebook Page credential has no App ID: .*no human takeover stops follow-ups and no echo settles an uncertain follow-up\. Put the Meta app’s App ID .*to turn both on\.$/),
						expect.objectContaining({ node: 'Messenger Trigger', when: 'activation' }),
					];
					// n8n checks the webhook twice on activation (ACTIVE): once each.
					expect(warned()).toEqual([told, told]);
				}
			}
			warn.mockClear();
			const raw = JSON.stringify(messengerDelivery([{ pageId, events: [messengerEvents.message(pageId, { psid: '5550002', mid: `m_noappid_${pageId}`, text: 'hello', timestamp: Date.now() - 1000 })] }]));
			expect((await post(pageId, raw, { credentials: credentials(pageId, { appId: '' }) })).response).toMatchObject({ statusCode: 200, body: { received: true, recorded: 1, events: 1 } });
			expect(warned()).toEqual([]);
		} finally {
			warn.mockRestore();
		}
	});

	it('with Subscribe on Activation and Facebook out of reach, the refusal says so and carries neither the app secret nor the Page token', async () => {
		const token = `page-token-${randomUUID()}`;
		const pageId = pageIdForToken(token);
		await connectPage(pageId, await createTestUser('page-owner'));
		// Nothing listens on port 9: the connection is refused.
		const refused = await activate(credentials(pageId, { accessToken: token, baseUrl: 'http://127.0.0.1:9' }), { subscribe: true });
		expect(refused.error).toEqual({
			message: 'Facebook could not be reached for GET /{app-id}/subscriptions',
			description: expect.stringMatching(/^ECONNREFUSED\. Check the credential’s Base URL/),
		});
		// Everything the thrown error reaches (its cause, the request it wraps), as a log line would print it.
		const everything = inspect(lastActivationError, { depth: 20, showHidden: true });
		expect(everything).not.toContain(APP_SECRET);
		expect(everything).not.toContain(token);
	});

	it('Every Connected Page checks the credential’s Page when it subscribes it, and nothing when the app’s dashboard chose the Pages', async () => {
		const token = `page-token-${randomUUID()}`;
		const pageId = pageIdForToken(token);
		const creds = credentials(pageId, { accessToken: token, baseUrl: sims.graph.baseUrl });

		const refused = await activate(creds, { pages: 'connectedPages', subscribe: true });
		expect(refused).toEqual({ called: REFUSED, error: notConnected });
		expect(await sims.graph.control.subscriptions()).toEqual({ apps: {}, pages: {} });

		expect(await activate(creds, { pages: 'connectedPages', subscribe: false })).toEqual({ called: ACTIVE });
	});
});

describe('the subscription at Meta (Subscribe on Activation)', () => {
	/** A connected Page whose token the Graph simulator knows, and the credential for it. */
	async function connectedPage() {
		const token = `page-token-${randomUUID()}`;
		const pageId = pageIdForToken(token);
		await connectPage(pageId, await createTestUser('page-owner'));
		return { token, pageId, creds: credentials(pageId, { accessToken: token, baseUrl: sims.graph.baseUrl }) };
	}

	/** What someone sets up in the app's dashboard: the app's Page subscription to `url` with `appFields`, and the Page's with `pageFields`. */
	async function subscribeByHand(page: { token: string; pageId: string }, url: string, appFields: string[], pageFields?: string[]) {
		const root = `${sims.graph.baseUrl}/v25.0`;
		const appToken = `${APP_ID}|${APP_SECRET}`;
		const proof = (token: string) => createHmac('sha256', APP_SECRET).update(token).digest('hex');
		const post = async (url: string, query: Record<string, string>) => expect((await fetch(`${url}?${new URLSearchParams(query)}`, { method: 'POST' })).status).toBe(200);
		await post(`${root}/${APP_ID}/subscriptions`, { object: 'page', callback_url: url, verify_token: 'set-by-hand', fields: appFields.join(','), access_token: appToken, appsecret_proof: proof(appToken) });
		if (pageFields) await post(`${root}/${page.pageId}/subscribed_apps`, { subscribed_fields: pageFields.join(','), access_token: page.token, appsecret_proof: proof(page.token) });
	}

	it('one already in place counts only with every field on the app and on the Page: one with fewer is subscribed again with all of them', async () => {
		const page = await connectedPage();
		const without = (field: string) => FIELDS.filter((one) => one !== field);
		for (const [appFields, pageFields] of [
			[['messages'], ['messages']],
			[FIELDS, ['messages']],
			[without('message_echoes'), FIELDS],
			[FIELDS, without('standby')],
		]) {
			await sims.graph.control.reset();
			await subscribeByHand(page, PRODUCTION_URL, appFields, pageFields);
			expect(await activate(page.creds, { subscribe: true })).toEqual({ called: SUBSCRIBED });
			expect(await sims.graph.control.subscriptions()).toEqual(subscribedTo(PRODUCTION_URL, page.pageId));
		}
		// Complete: nothing to create.
		await sims.graph.control.reset();
		await subscribeByHand(page, PRODUCTION_URL, FIELDS, FIELDS);
		expect(await activate(page.creds, { subscribe: true })).toEqual({ called: ACTIVE });
	});

	it('a test listen on the active workflow is refused (the app sends to the production URL) and leaves the live subscription as it was', async () => {
		const page = await connectedPage();
		expect(await activate(page.creds, { subscribe: true })).toEqual({ called: SUBSCRIBED });
		const live = await sims.graph.control.subscriptions();
		expect(live).toEqual(subscribedTo(PRODUCTION_URL, page.pageId));

		const listen = await activate(page.creds, { subscribe: true }, { test: true });
		expect(listen).toEqual({
			called: ['checkExists', 'delete'],
			error: expect.objectContaining({ message: `The Meta app ${APP_ID} already sends its Page webhooks to another URL`, description: expect.stringContaining(PRODUCTION_URL) }),
		});
		expect(await sims.graph.control.subscriptions()).toEqual(live);
	});

	it('a re-activation refused (Supabase out of reach at start-up, the Page no longer connected) leaves the live subscription; once activated, deactivating removes it', async () => {
		const page = await connectedPage();
		expect(await activate(page.creds, { subscribe: true })).toEqual({ called: SUBSCRIBED });
		const live = await sims.graph.control.subscriptions();

		// Nothing listens on port 9: the Page cannot be checked.
		const supabaseDown = { ...page.creds, leadflowSupabaseApi: { ...page.creds.leadflowSupabaseApi, url: 'http://127.0.0.1:9' } };
		const down = await activate(supabaseDown, { subscribe: true });
		expect(down).toEqual({ called: REFUSED, error: expect.objectContaining({ message: expect.stringContaining(`Reading whether Page ${page.pageId} is connected`) }) });
		expect(await sims.graph.control.subscriptions()).toEqual(live);

		await withDb((db) => db.query('delete from public.messenger_pages where page_id = $1', [page.pageId]));
		expect(await activate(page.creds, { subscribe: true })).toEqual({ called: REFUSED, error: notConnected });
		expect(await sims.graph.control.subscriptions()).toEqual(live);

		await connectPage(page.pageId, await createTestUser('page-owner'));
		expect(await activate(page.creds, { subscribe: true })).toEqual({ called: ACTIVE });
		expect(await deactivate(page.creds, { subscribe: true })).toEqual(['delete', 'delete']);
		expect(await sims.graph.control.subscriptions()).toEqual({ apps: { [APP_ID]: [] }, pages: { [page.pageId]: [] } });
	});

	// Meta quotes the token in some errors ("Malformed access token …"); the activation error is shown
	// to whoever activates the workflow, who may only use the credential: Meta's words stay, the
	// app access token ({app-id}|{app-secret}) and the Page token do not.
	it('a refusal that quotes the app access token or the Page token says what Meta said, without either', async () => {
		const page = await connectedPage();
		await sims.graph.control.addFault({ match: { path: '/subscriptions' }, effect: { kind: 'graphError', code: 190, message: `Malformed access token ${APP_ID}|${APP_SECRET}` } });
		const app = await activate(page.creds, { subscribe: true });
		expect(app).toEqual({
			called: REFUSED,
			error: expect.objectContaining({ message: 'Facebook refused GET /{app-id}/subscriptions: Malformed access token [app access token] (Graph 190)' }),
		});
		const appError = inspect(lastActivationError, { depth: 20, showHidden: true });
		expect(appError).toContain('Malformed access token [app access token]');
		expect(appError).not.toContain(APP_SECRET);

		// The app's subscription is in place: the Page's is read next, with the Page token.
		await sims.graph.control.reset();
		await subscribeByHand(page, PRODUCTION_URL, FIELDS);
		await sims.graph.control.addFault({ match: { path: '/subscribed_apps' }, effect: { kind: 'graphError', code: 100, message: `Malformed access token ${page.token}` } });
		const pageRefusal = await activate(page.creds, { subscribe: true });
		expect(pageRefusal).toEqual({
			called: REFUSED,
			error: expect.objectContaining({ message: 'Facebook refused GET /{page-id}/subscribed_apps: Malformed access token [access token] (Graph 100)' }),
		});
		const pageError = inspect(lastActivationError, { depth: 20, showHidden: true });
		expect(pageError).toContain('Malformed access token [access token]');
		expect(pageError).not.toContain(page.token);
		expect(pageError).not.toContain(APP_SECRET);
	});

	// The App ID is not secret, and Meta names it when the app cannot be read: a cut quote of the app
	// access token must hold some of the App Secret, so the App ID alone is left for the reader.
	it('a refusal that names the App ID keeps it', async () => {
		const page = await connectedPage();
		const meta = (id: string) => `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`;
		await sims.graph.control.addFault({ match: { path: '/subscriptions' }, effect: { kind: 'graphError', code: 100, subcode: 33, message: meta(APP_ID) } });
		const app = await activate(page.creds, { subscribe: true });
		expect(app).toEqual({ called: REFUSED, error: expect.objectContaining({ message: `Facebook refused GET /{app-id}/subscriptions: ${meta(APP_ID)} (Graph 100/33)` }) });
		expect(inspect(lastActivationError, { depth: 20, showHidden: true })).not.toContain(APP_SECRET);
	});

	it('deactivating leaves a subscription that no longer sends to this workflow’s URL', async () => {
		const page = await connectedPage();
		expect(await activate(page.creds, { subscribe: true })).toEqual({ called: SUBSCRIBED });
		// The app's callback changed in its dashboard since: another workflow's, another n8n's.
		await subscribeByHand(page, 'https://elsewhere.example/webhook/leadflow/messenger', FIELDS);
		const elsewhere = await sims.graph.control.subscriptions();
		expect(elsewhere).toEqual(subscribedTo('https://elsewhere.example/webhook/leadflow/messenger', page.pageId));

		expect(await deactivate(page.creds, { subscribe: true })).toEqual(['delete', 'delete']);
		expect(await sims.graph.control.subscriptions()).toEqual(elsewhere);
	});
});
