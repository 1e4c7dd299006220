// Messenger Sync with a Facebook Page credential that has no App ID (or one that is not digits): the
// sync runs and records as before, and the editor shows a warning on its output (n8n's execution
// hint) that the Messenger Trigger sharing the credential sees no human takeover and settles no
// uncertain follow-up by its echo, with what to do. Before, nothing was said at run time (only the
// docs told). With the app's digits, no warning. The not-digits advice no longer offers emptying the
// field as a way out, and the credential's help text says what going without an App ID costs and
// that it is warned about (review RM1 F4: they still said "or empty the field to go without both" and
// "Optional", "only one that is not digits is warned about").
import type { IDataObject, INode } from 'n8n-workflow';
import { LeadflowFacebookPageApi } from '../../../credentials/LeadflowFacebookPageApi.credentials';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { testStack } from '../../helpers/stack';
import { createWorld } from '../../db/follow-up/fixtures';
import { connectPage } from '../../db/messenger/fixtures';

const TOKEN = 'app-id-hint-token';
let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

function workflow(): WorkflowJson {
	const start: INode = { id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
	const sync: INode = {
		id: 'sync',
		name: 'Messenger Sync',
		type: 'n8n-nodes-leadflow.messengerSync',
		typeVersion: 1,
		position: [240, 0],
		parameters: { mode: 'incremental', options: { requestsPerSecond: 50, backoffMs: 20, timeoutMs: 2000 } },
		credentials: { leadflowFacebookPageApi: { id: 'fb', name: 'Facebook Page' }, leadflowSupabaseApi: { id: 'sb', name: 'Supabase' } },
	};
	return { name: 'Messenger Sync App ID', nodes: [start, sync], connections: { Start: { main: [[{ node: 'Messenger Sync', type: 'main', index: 0 }]] } } };
}

async function syncWith(appId: string) {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	const stack = testStack();
	const result = await runWorkflow(workflow(), {
		credentials: {
			leadflowFacebookPageApi: { pageId: world.pageId, accessToken: TOKEN, appId, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		},
	});
	expect(result.error).toBeUndefined();
	expect(result.nodeOutputs['Messenger Sync']?.[0]).toMatchObject({ status: 'completed' });
	return (result.run?.data.resultData.runData['Messenger Sync']?.[0]?.hints ?? []) as IDataObject[];
}

test('no App ID: the sync completes and its output carries a warning saying what is off and what to do', async () => {
	expect(await syncWith('')).toEqual([
		{
			type: 'warning',
			location: 'outputPane',
			message: expect.stringMatching(/^The Facebook Page credential has no App ID: the Messenger Trigger records Meta’s deliveries without one, .*no human takeover stops follow-ups and no echo settles an uncertain follow-up\. Put the Meta app’s App ID .*to turn both on\.$/),
		},
	]);
});

test('an App ID that is not digits: the same warning in its words, without its value, and no advice to empty the field (that is warned about too)', async () => {
	const hints = await syncWith('my-leadflow-app');
	expect(hints).toEqual([
		{
			type: 'warning',
			location: 'outputPane',
			message: expect.stringMatching(
				/^The Facebook Page credential’s App ID is not a Meta app id \(digits only\): .*Put the Meta app’s App ID .* to turn both on \(an empty App ID turns them off too, and is warned about the same way\)\.$/,
			),
		},
	]);
	expect(JSON.stringify(hints)).not.toContain('my-leadflow-app');
	expect(JSON.stringify(hints)).not.toMatch(/empty the field|go without/);
});

test('the credential\'s App ID help text says what going without one costs and that it is warned about, not "Optional"', () => {
	const appId = new LeadflowFacebookPageApi().properties.find((property) => property.name === 'appId');
	expect(appId?.required).toBeFalsy();
	const help = String(appId?.description);
	expect(help).not.toMatch(/^Optional/);
	expect(help).toContain('no human takeover stops follow-ups and no echo settles an uncertain follow-up');
	expect(help).toContain('warned about in n8n’s log at each activation of the trigger and on each Messenger Sync’s output');
	expect(help).toContain('one that is not digits is taken for none, with the same warnings');
});

test('the app\'s digits: no warning', async () => {
	expect(await syncWith('123456789012')).toEqual([]);
});
