// The follow-up workflows in real n8n 2.41.1 (this package installed from its tarball) against the
// local stack and the Gemini and Graph simulators: the "Trigger Now" run on 15 tagged contacts
// (seed001() in test/workflows/support/seeds.ts), a second run with nothing due, and the monitor
// before and after, compared with what Graph received; three overlapping Trigger Now calls, whose
// answers say why they claimed fewer than asked (docs/follow-up.md); a Page token Facebook refuses,
// answered 500 with Facebook Send's message; the schedule's path, its batches sent by
// sub-executions it does not wait for, on 1,000 contacts at 300 a second; and a scheduled run whose
// Generate Follow-Up fails its batch, which gives back every contact of its claim before it ends in
// error, not only the batch Generate was handed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { mostInAnyWindow } from '../helpers/arrivals';
import { addContacts, addRule, createTags } from '../../scripts/demo/seed';
import { testStack, withDb } from '../helpers/stack';
import { graphSends, PAGE_TOKEN, WEBHOOK_KEY, type RunSummary } from '../workflows/support/pipeline';
import { seed001, type Seed001 } from '../workflows/support/seeds';
import { startN8n, withoutSchedule, type E2eWorkflow, type RunningN8n } from './support';

let n8n: RunningN8n;
let sims: RunningSimulators;
let seed: Seed001;
const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };

/** The rule the scheduled copy claims for (created disabled, enabled once its contacts are tagged, so one claim sees them all) and its tag. */
let scheduled: { ruleId: string; tagId: string };
/** The same for the copy whose Generate Follow-Up fails as a node. */
let failing: { ruleId: string; tagId: string };

/**
 * The shipped workflow as the schedule runs it, under another id: its webhook off, its Schedule
 * Trigger every 2 seconds, its claim for one rule only (another file's rules stay theirs).
 */
function scheduledCopy(ruleId: string): E2eWorkflow {
	const workflow = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'workflows/tag-monitor-send.json'), 'utf8')) as E2eWorkflow;
	return {
		...workflow,
		id: 'LfTagMonitorSch',
		name: `${String(workflow.name)} (scheduled copy)`,
		nodes: workflow.nodes.map((node) => {
			switch (node.type) {
				case 'n8n-nodes-base.webhook':
					return { ...node, disabled: true };
				case 'n8n-nodes-base.scheduleTrigger':
					return { ...node, parameters: { rule: { interval: [{ field: 'seconds', secondsInterval: 2 }] } } };
				case 'n8n-nodes-leadflow.tagEligibility':
					return { ...node, parameters: { ...node.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId } } };
				default:
					return node;
			}
		}),
	};
}

/**
 * A scheduled copy whose Generate Follow-Up fails every item it is handed with an error, not a
 * generation (a Follow-Up Number it refuses, as a setup error would), under another id, for its own
 * rule.
 */
function failingCopy(ruleId: string): E2eWorkflow {
	const copy = scheduledCopy(ruleId);
	return {
		...copy,
		id: 'LfTagMonitorBad',
		name: `${String(copy.name).replace(' (scheduled copy)', '')} (failing copy)`,
		nodes: copy.nodes.map((node) =>
			node.type === 'n8n-nodes-leadflow.generateFollowUp' ? { ...node, parameters: { ...node.parameters, followUpNumber: '={{ 0 }}' } } : node,
		),
	};
}

beforeAll(async () => {
	const stack = testStack();
	sims = await startSimulators();
	seed = await seed001();
	scheduled = await withDb(async (db) => {
		const tags = await createTags(db, seed.owner, ['Scheduled']);
		const ruleId = await addRule(db, seed.owner, { name: 'Scheduled batches', includeTagIds: [tags.Scheduled], dailyLimit: 1000, enabled: false });
		return { ruleId, tagId: tags.Scheduled };
	});
	failing = await withDb(async (db) => {
		const tags = await createTags(db, seed.owner, ['Failing']);
		const ruleId = await addRule(db, seed.owner, { name: 'Failing generation', includeTagIds: [tags.Failing], dailyLimit: 1000, enabled: false });
		return { ruleId, tagId: tags.Failing };
	});
	n8n = await startN8n({
		workflows: [withoutSchedule('workflows/tag-monitor-send.json'), 'workflows/automation-monitor.json', scheduledCopy(scheduled.ruleId), failingCopy(failing.ruleId)],
		publish: ['LfTagMonitorSnd', 'LfAutomationMon1', 'LfTagMonitorSch', 'LfTagMonitorBad'],
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
	// And why: the 10 were just sent, the 5 others are not due, as the monitor says.
	expect(answer.body).toMatchObject({
		requested: 1000,
		claimReason: 'no_more_due',
		notClaimedByReason: { outside_window: 2, excluded_tag: 1, stopped: 1, inactive: 1, interval_not_elapsed: 10 },
	} satisfies Partial<RunSummary>);
	expect((await graphSends(sims)).length).toBe(before);
});

test('three overlapping Trigger Now calls: the daily limit is sent once, and each answer says why it claimed fewer than asked', async () => {
	const dailyLimit = 5;
	const { ruleId, psids } = await withDb(async (db) => {
		const tags = await createTags(db, seed.owner, ['Overlap']);
		const contacts = await addContacts(db, seed.owner, { label: 'Overlap', count: 12, tagIds: [tags.Overlap], lastMessageMinutesAgo: 10, spreadMinutes: 300 });
		const id = await addRule(db, seed.owner, { name: 'Overlapping triggers', includeTagIds: [tags.Overlap], dailyLimit });
		return { ruleId: id, psids: contacts.psids };
	});

	const answers = await Promise.all([1, 2, 3].map(() => n8n.callWebhook('leadflow/trigger', { method: 'POST', headers, body: { ruleId } })));

	expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200]);
	const bodies = answers.map((answer) => answer.body as RunSummary & { sent: number });
	const sends = (await graphSends(sims)).filter((send) => psids.includes(String(send.recipient)));
	expect(sends).toHaveLength(dailyLimit);
	expect(bodies.reduce((sum, body) => sum + body.sent, 0)).toBe(dailyLimit);

	// The claims run side by side and share the limit's 5 (one may take all of it, or they split
	// it); each answer accounts for every one of the 12: those it claimed, those another run held or
	// had sent when it walked (in_progress, interval_not_elapsed), those past the limit (daily_limit_reached).
	for (const body of bodies) {
		expect(body.requested).toBe(1000);
		expect(['daily_limit_reached', 'no_more_due']).toContain(body.claimReason);
		const { in_progress = 0, interval_not_elapsed = 0, daily_limit_reached = 0, ...rest } = body.notClaimedByReason;
		expect({ accounted: body.claimed + in_progress + interval_not_elapsed + daily_limit_reached, rest }).toEqual({ accounted: 12, rest: {} });
		expect(body.rules).toEqual([expect.objectContaining({ ruleId, claimed: body.claimed, dailyLimit })]);
	}
});

test('without the webhook key both webhooks answer 403', async () => {
	const trigger = await n8n.callWebhook('leadflow/trigger', { method: 'POST', headers: { [WEBHOOK_KEY.name]: 'guess' }, body: { ruleId: seed.ruleId } });
	const snapshot = await n8n.callWebhook('leadflow/monitor', { headers: { [WEBHOOK_KEY.name]: 'guess' }, query: { ruleId: seed.ruleId } });
	expect([trigger.statusCode, snapshot.statusCode]).toEqual([403, 403]);
});

test('a Page token Facebook refuses (190): Trigger Now answers 500 with Facebook Send\'s message and a hint, not n8n\'s "Error in workflow"', async () => {
	const { ruleId, psids } = await withDb(async (db) => {
		const tags = await createTags(db, seed.owner, ['Token refused']);
		const contacts = await addContacts(db, seed.owner, { label: 'Token refused', count: 3, tagIds: [tags['Token refused']], lastMessageMinutesAgo: 10, spreadMinutes: 30 });
		return { ruleId: await addRule(db, seed.owner, { name: 'Token refused', includeTagIds: [tags['Token refused']], dailyLimit: 10 }), psids: contacts.psids };
	});
	const faults = await Promise.all(psids.map((recipient) => sims.graph.control.addFault({ match: { recipient }, effect: { kind: 'graphError', code: 190 } })));
	try {
		const answer = await n8n.callWebhook('leadflow/trigger', { method: 'POST', headers, body: { ruleId } });

		expect(answer.statusCode).toBe(500);
		expect(answer.body).toEqual({
			status: 500,
			error: 'The Page token is invalid or expired: reconnect the credential',
			field: null,
			hint: expect.stringMatching(/the monitor \(GET \/webhook\/leadflow\/monitor/),
		});
		expect((await graphSends(sims)).filter((send) => psids.includes(String(send.recipient))).length).toBeGreaterThan(0);
	} finally {
		for (const fault of faults) await sims.graph.control.removeFault(fault.id);
	}
});

test('the schedule sends 1,000 due contacts in batches by sub-executions: each once, the Page within 300 a second', async () => {
	const { psids } = await withDb(async (db) => {
		const contacts = await addContacts(db, seed.owner, { label: 'Scheduled', count: 1000, tagIds: [scheduled.tagId], lastMessageMinutesAgo: 10, spreadMinutes: 600 });
		await db.query(`update public.ai_automation_rules set enabled = true where id = $1`, [scheduled.ruleId]);
		return contacts;
	});
	const wanted = new Set(psids);
	const sendsToThem = async () => (await graphSends(sims)).filter((send) => wanted.has(String(send.recipient)));

	const deadline = Date.now() + 120_000;
	while ((await sendsToThem()).length < 1000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));

	const sends = await sendsToThem();
	expect(new Set(sends.map((send) => send.recipient)).size).toBe(1000);
	expect(sends).toHaveLength(1000);
	expect(mostInAnyWindow(sends.map((send) => Date.parse(send.receivedAt))).count).toBeLessThanOrEqual(300);

	// One schedule run claimed them all and handed 20 batches to sub-executions of the same workflow.
	const run = await n8n.waitForExecution((one) => one.workflowId === 'LfTagMonitorSch' && one.mode === 'trigger' && one.nodeOutputs['Summarise Run']?.[0]?.claimed === 1000);
	expect(run.nodeOutputs['Summarise Run'][0]).toMatchObject({ claimed: 1000, dispatched: 1000, failed: 0 });
	const batches = (await n8n.executions({ workflowId: 'LfTagMonitorSch', afterId: run.id })).filter((one) => one.mode === 'integrated');
	expect(batches).toHaveLength(20);
	expect(batches.every((one) => one.status === 'success')).toBe(true);
	const sent = batches.flatMap((one) => one.nodeOutputs['Batch Outcomes'] ?? []).filter((item) => (item.send as { outcome?: string } | undefined)?.outcome === 'sent');
	expect(sent).toHaveLength(1000);
	const ended = Math.max(...batches.map((one) => Date.parse(String(one.stoppedAt))));
	const runSeconds = (ended - Date.parse(String(run.startedAt))) / 1000;
	const sendSeconds = (Math.max(...sends.map((send) => Date.parse(send.receivedAt))) - Math.min(...sends.map((send) => Date.parse(send.receivedAt)))) / 1000;
	process.stderr.write(`schedule run of 1,000 at 300/s in real n8n: ${runSeconds.toFixed(2)} s from its start to its last batch's end (the run's own execution ${((Date.parse(String(run.stoppedAt)) - Date.parse(String(run.startedAt))) / 1000).toFixed(2)} s; first to last send ${sendSeconds.toFixed(2)} s)\n`);
}, 180_000);

test('a scheduled run whose Generate Follow-Up fails its batch gives back every contact of its claim (Give Back Claimed Contacts), then ends in error', async () => {
	const sendsBefore = (await graphSends(sims)).length;
	await withDb(async (db) => {
		await addContacts(db, seed.owner, { label: 'Failing', count: 120, tagIds: [failing.tagId], lastMessageMinutesAgo: 10, spreadMinutes: 600 });
		await db.query(`update public.ai_automation_rules set enabled = true where id = $1`, [failing.ruleId]);
	});
	try {
		// A run that claimed the 120: Generate gave back its batch of 50, the failure path the other 70.
		const run = await n8n.waitForExecution((one) => one.workflowId === 'LfTagMonitorBad' && one.mode === 'trigger' && (one.nodeOutputs['Give Back Claimed Contacts'] ?? []).length === 120, 60_000);
		expect(run.status).toBe('error');
		expect(run.error).toMatchObject({ message: 'Follow-Up Number must be a whole number of at least 1 (got 0)', node: 'Fail The Scheduled Run' });
		const outcomes = run.nodeOutputs['Give Back Claimed Contacts'].map((row) => row.outcome);
		expect(outcomes.filter((outcome) => outcome === 'released')).toHaveLength(70);
		expect(outcomes.filter((outcome) => outcome === 'not_held')).toHaveLength(50);
		expect(run.nodeOutputs['Send Batch']).toBeUndefined();
	} finally {
		await withDb((db) => db.query(`update public.ai_automation_rules set enabled = false where id = $1`, [failing.ruleId]));
	}
	// The rule switched off, no run holds any of them once the last one has given its claim back.
	const held = async () =>
		(await withDb((db) => db.query<{ n: number }>(`select count(*)::int as n from public.ai_automation_contact_states where rule_id = $1 and locked_by is not null`, [failing.ruleId]))).rows[0].n;
	const deadline = Date.now() + 30_000;
	while ((await held()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
	expect(await held()).toBe(0);
	expect((await graphSends(sims)).length).toBe(sendsBefore);
}, 120_000);
