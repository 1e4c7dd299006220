// The follow-up workflows in real n8n 2.41.1 (this package installed from its tarball) against the
// local stack and the Gemini and Graph simulators: the "Trigger Now" run on 15 tagged contacts
// (seed001() in test/workflows/support/seeds.ts), a second run with nothing due, and the monitor
// before and after, compared with what Graph received.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testStack } from '../helpers/stack';
import { graphSends, PAGE_TOKEN, WEBHOOK_KEY, type RunSummary } from '../workflows/support/pipeline';
import { seed001, type Seed001 } from '../workflows/support/seeds';
import { startN8n, type E2eWorkflow, type RunningN8n } from './support';

let n8n: RunningN8n;
let sims: RunningSimulators;
let seed: Seed001;
const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };

/**
 * The shipped workflow with its Schedule Trigger switched off: once published, n8n would otherwise
 * claim every enabled rule every 5 minutes, racing the test's own "Trigger Now" call.
 */
function withoutSchedule(file: string): E2eWorkflow {
	const workflow = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', file), 'utf8')) as E2eWorkflow;
	return { ...workflow, nodes: workflow.nodes.map((node) => (node.type === 'n8n-nodes-base.scheduleTrigger' ? { ...node, disabled: true } : node)) };
}

beforeAll(async () => {
	const stack = testStack();
	sims = await startSimulators();
	seed = await seed001();
	n8n = await startN8n({
		workflows: [withoutSchedule('workflows/tag-monitor-send.json'), 'workflows/automation-monitor.json'],
		credentials: {
			httpHeaderAuth: WEBHOOK_KEY,
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
			leadflowGeminiApi: { apiKeys: 'e2e-gemini-key', baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
			leadflowFacebookPageApi: { pageId: seed.owner.pageId, accessToken: PAGE_TOKEN, appSecret: '', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		},
	});
	process.stderr.write(`n8n answered its webhooks ${n8n.startSeconds.toFixed(1)} s after \`n8n start\`\n`);
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
	await sims?.stop();
});

interface Stats {
	total_with_tags: number;
	eligible_count: number;
	sent_today_count: number;
	skipped_by_reason: Record<string, number>;
}

const monitor = async () => {
	const answer = await n8n.callWebhook('leadflow/monitor', { headers, query: { ruleId: seed.ruleId } });
	expect(answer.statusCode).toBe(200);
	return (answer.body as { stats: Stats }).stats;
};

test('in real n8n: the monitor shows the 15 tagged contacts, Trigger Now sends the 10 due once, the monitor agrees with Graph', async () => {
	const notDue = { outside_window: 2, excluded_tag: 1, stopped: 1, inactive: 1 };
	expect(await monitor()).toMatchObject({ total_with_tags: 15, eligible_count: 10, skipped_by_reason: notDue });

	const answer = await n8n.callWebhook('leadflow/trigger', { method: 'POST', headers, body: { ruleId: seed.ruleId } });
	process.stderr.write(`trigger round trip (10 contacts): ${answer.ms.toFixed(0)} ms\n`);

	expect(answer.statusCode).toBe(200);
	expect(answer.body).toMatchObject({ ruleId: seed.ruleId, claimed: 10, sent: 10, skipped: 0, failed: 0 } satisfies Partial<RunSummary>);
	const sends = await graphSends(sims);
	expect(sends.map((send) => send.recipient).sort()).toEqual([...seed.duePsids].sort());
	const after = await monitor();
	expect(after.sent_today_count).toBe(sends.length);
	expect(after.skipped_by_reason).toMatchObject(notDue);
});

test('a second Trigger Now finds nothing due and answers zeros; Graph receives nothing more', async () => {
	const before = (await graphSends(sims)).length;
	const answer = await n8n.callWebhook('leadflow/trigger', { method: 'POST', headers, body: { ruleId: seed.ruleId } });
	expect(answer.statusCode).toBe(200);
	expect(answer.body).toMatchObject({ claimed: 0, sent: 0, skipped: 0, failed: 0 });
	expect((await graphSends(sims)).length).toBe(before);
});

test('without the webhook key both webhooks answer 403', async () => {
	const trigger = await n8n.callWebhook('leadflow/trigger', { method: 'POST', headers: { [WEBHOOK_KEY.name]: 'guess' }, body: { ruleId: seed.ruleId } });
	const snapshot = await n8n.callWebhook('leadflow/monitor', { headers: { [WEBHOOK_KEY.name]: 'guess' }, query: { ruleId: seed.ruleId } });
	expect([trigger.statusCode, snapshot.statusCode]).toEqual([403, 403]);
});
