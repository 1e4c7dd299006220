// Activating a workflow with the Messenger Trigger, as n8n does (checkExists, then create): a Page
// whose events the database would ignore — not connected and no Owner ID, or connected to another
// owner than the node's — refuses the activation with what to do, before anything is subscribed at
// Meta; a connected Page, or an Owner ID that will connect it, activates.
import { randomUUID } from 'node:crypto';
import { pageIdForToken, startSimulators, type RunningSimulators } from '../../../simulators';
import { createTestUser, uniquePageId, withDb } from '../../helpers/stack';
import { connectPage } from '../../db/messenger/fixtures';
import { inspect } from 'node:util';
import { activate, APP_ID, APP_SECRET, credentials, lastActivationError } from './support';

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
		expect(await activate(credentials(pageId))).toEqual({ called: ['checkExists'] });
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

		expect(await activate(credentials(pageId), { owner })).toEqual({ called: ['checkExists'] });
		// Activation only checks: nothing is connected before the first delivery.
		const rows = await withDb((db) => db.query('select 1 from public.messenger_pages where page_id = $1', [pageId]));
		expect(rows.rowCount).toBe(0);

		await connectPage(pageId, owner);
		expect(await activate(credentials(pageId), { owner })).toEqual({ called: ['checkExists'] });
		const stranger = await activate(credentials(pageId), { owner: await createTestUser('stranger') });
		expect(stranger.error).toEqual(
			expect.objectContaining({ message: expect.stringContaining(`Page ${pageId} is connected to another owner than the node’s Owner ID`), description: expect.stringContaining(owner) }),
		);
	});

	it('with Subscribe on Activation, a Page not connected is refused before anything is subscribed at Meta; connected, it is subscribed', async () => {
		const token = `page-token-${randomUUID()}`;
		const pageId = pageIdForToken(token);
		const creds = credentials(pageId, { accessToken: token, baseUrl: sims.graph.baseUrl });

		const refused = await activate(creds, { subscribe: true });
		expect(refused).toEqual({ called: ['checkExists'], error: notConnected });
		expect(await sims.graph.control.subscriptions()).toEqual({ apps: {}, pages: {} });

		await connectPage(pageId, await createTestUser('page-owner'));
		expect(await activate(creds, { subscribe: true })).toEqual({ called: ['checkExists', 'create'] });
		const subscriptions = await sims.graph.control.subscriptions();
		expect(subscriptions.apps[APP_ID]).toEqual([expect.objectContaining({ object: 'page', callback_url: 'http://127.0.0.1:5678/webhook/leadflow/messenger' })]);
		expect(subscriptions.pages[pageId]).toEqual([expect.objectContaining({ id: APP_ID })]);
	});

	it('is refused without an App Secret in the credential (no delivery could be verified), whatever the Pages and Subscribe say', async () => {
		const pageId = uniquePageId();
		await connectPage(pageId, await createTestUser('page-owner'));
		const noSecret = credentials(pageId, { appSecret: '' });
		for (const parameters of [{}, { pages: 'connectedPages', subscribe: false }, { subscribe: true }]) {
			const refused = await activate(noSecret, parameters);
			expect(refused).toEqual({
				called: ['checkExists'],
				error: { message: expect.stringMatching(/^The Facebook Page credential has no App Secret/), description: expect.stringContaining('App Secret') },
			});
		}
		expect(await activate(credentials(pageId))).toEqual({ called: ['checkExists'] });
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
		expect(refused).toEqual({ called: ['checkExists'], error: notConnected });
		expect(await sims.graph.control.subscriptions()).toEqual({ apps: {}, pages: {} });

		expect(await activate(creds, { pages: 'connectedPages', subscribe: false })).toEqual({ called: ['checkExists'] });
	});
});
