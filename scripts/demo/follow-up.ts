// The follow-up part of `npm run demo`: seeds a realistic data set for a new demo owner (about 300
// Messenger contacts, five tags, three rules, some outside the 24 h window or the rule's active
// hours, some excluded, stopped or archived), runs the shipped workflow
// workflows/tag-monitor-send.json once per rule through n8n's engine in-process ("Trigger Now"),
// and reads each rule's monitor with workflows/automation-monitor.json.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { RunningSimulators } from '../../simulators';
import { createAuthUser, type StackInfo } from '../../stack';
import { runWorkflow, type TestCredentials } from '../../test/harness';
import { addContacts, addRule, addStops, createTags, hoursExcludingNow, type Owner } from './seed';

const WEBHOOK_KEY = { name: 'X-Leadflow-Key', value: `demo-${randomUUID()}` };
const HOUR = 60;
const DAY = 24 * HOUR;

export interface RuleReport {
	name: string;
	ruleId: string;
	/** Not due before and after the run, by reason (from the monitor). */
	notDueBefore: Record<string, number>;
	notDueAfter: Record<string, number>;
	eligibleBefore: number;
	summary: { claimed: number; sent: number; skipped: number; failed: number; skippedByReason: Record<string, number>; failedByReason: Record<string, number> };
}

export interface FollowUpDemo {
	contacts: number;
	rules: RuleReport[];
	/** Messages the Graph simulator delivered during the run. */
	delivered: number;
	seconds: number;
}

interface DemoRules {
	contacts: number;
	rules: Array<{ name: string; ruleId: string }>;
	/** Webinar guests Facebook will refuse: two no longer reachable (551), one unknown (100/2018001). */
	unreachable: string[];
	unknown: string[];
}

/** About 300 contacts on one Page: who is due, and who is not and why, is known in advance. */
async function seedDemo(db: Client, owner: Owner): Promise<DemoRules> {
	const tags = await createTags(db, owner, ['Hot lead', 'Asked price', 'Webinar', 'Do not contact', 'Customer']);
	const groups = [
		// Hot leads: 80 wrote in the last 20 h, more than the rule's daily limit of 60.
		{ label: 'Hot lead', count: 80, tagIds: [tags['Hot lead']], lastMessageMinutesAgo: 20, spreadMinutes: 20 * HOUR },
		{ label: 'Cold lead', count: 30, tagIds: [tags['Hot lead']], lastMessageMinutesAgo: 2 * DAY, spreadMinutes: 8 * DAY },
		{ label: 'Opted out', count: 10, tagIds: [tags['Hot lead'], tags['Do not contact']], lastMessageMinutesAgo: 3 * HOUR },
		{ label: 'Price asker', count: 60, tagIds: [tags['Asked price']], lastMessageMinutesAgo: 45, spreadMinutes: 12 * HOUR },
		{ label: 'Webinar guest', count: 70, tagIds: [tags.Webinar], lastMessageMinutesAgo: 10, spreadMinutes: 22 * HOUR },
		{ label: 'Archived guest', count: 15, tagIds: [tags.Webinar], lastMessageMinutesAgo: 5 * HOUR, active: false },
		{ label: 'Customer', count: 30, tagIds: [tags.Customer], lastMessageMinutesAgo: 2 * HOUR, spreadMinutes: 10 * DAY },
	];
	let contacts = 0;
	const psidsOf: Record<string, string[]> = {};
	for (const group of groups) {
		psidsOf[group.label] = (await addContacts(db, owner, group)).psids;
		contacts += group.count;
	}
	const handedOver = await addContacts(db, owner, { label: 'With an agent', count: 5, tagIds: [tags['Hot lead']], lastMessageMinutesAgo: 30 });
	contacts += 5;

	const hot = await addRule(db, owner, {
		name: 'Hot leads: next-day nudge',
		includeTagIds: [tags['Hot lead']],
		excludeTagIds: [tags['Do not contact']],
		dailyLimit: 60,
	});
	await addStops(db, owner, handedOver.conversationIds, hot, 'human_takeover');
	const price = await addRule(db, owner, {
		name: 'Price askers: evening offer',
		includeTagIds: [tags['Asked price']],
		// An hour-long evening window that is not now, so the demo shows outside_active_hours.
		activeHours: hoursExcludingNow(),
	});
	const webinar = await addRule(db, owner, { name: 'Webinar guests: recording link', includeTagIds: [tags.Webinar], dailyLimit: 200 });
	return {
		contacts,
		rules: [
			{ name: 'Hot leads: next-day nudge', ruleId: hot },
			{ name: 'Price askers: evening offer', ruleId: price },
			{ name: 'Webinar guests: recording link', ruleId: webinar },
		],
		unreachable: psidsOf['Webinar guest'].slice(0, 2),
		unknown: psidsOf['Webinar guest'].slice(2, 3),
	};
}

function credentialsFor(stack: StackInfo, simulators: RunningSimulators, owner: Owner): TestCredentials {
	return {
		httpHeaderAuth: WEBHOOK_KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: 'demo-gemini-key-1\ndemo-gemini-key-2', baseUrl: simulators.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowFacebookPageApi: { pageId: owner.pageId, accessToken: 'demo-page-token', appSecret: '', graphApiVersion: 'v25.0', baseUrl: simulators.graph.baseUrl },
	};
}

export async function runFollowUpDemo(stack: StackInfo, simulators: RunningSimulators): Promise<FollowUpDemo> {
	const started = performance.now();
	const owner: Owner = { userId: await createAuthUser(stack.dbUrl, `demo-${randomUUID()}@leadflow.demo`), pageId: '104857600012345' };
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	let seeded: DemoRules;
	try {
		seeded = await seedDemo(db, owner);
	} finally {
		await db.end();
	}
	const credentials = credentialsFor(stack, simulators, owner);
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };
	const deliveredBefore = (await simulators.graph.control.messages()).length;
	const monitor = async (ruleId: string) => {
		const result = await runWorkflow('workflows/automation-monitor.json', { webhook: { method: 'GET', headers, query: { ruleId } }, credentials });
		if (result.response?.statusCode !== 200) throw new Error(`the monitor answered ${result.response?.statusCode}: ${JSON.stringify(result.response?.body ?? result.error)}`);
		return (result.response.body as { stats: { eligible_count: number; skipped_by_reason: Record<string, number> } }).stats;
	};

	// Facebook's real refusals, so that the report shows skips and failures with their reasons.
	const faults = [
		...seeded.unreachable.map((recipient) => ({ match: { recipient }, effect: { kind: 'graphError' as const, code: 551, subcode: 1545041 } })),
		...seeded.unknown.map((recipient) => ({ match: { recipient }, effect: { kind: 'graphError' as const, code: 100, subcode: 2018001 } })),
	];
	const added = await Promise.all(faults.map((fault) => simulators.graph.control.addFault(fault)));
	const rules: RuleReport[] = [];
	try {
		for (const rule of seeded.rules) {
			const before = await monitor(rule.ruleId);
			const run = await runWorkflow('workflows/tag-monitor-send.json', { startNode: 'Trigger Now', webhook: { method: 'POST', headers, body: { ruleId: rule.ruleId } }, credentials });
			if (run.response?.statusCode !== 200) throw new Error(`the trigger answered ${run.response?.statusCode}: ${JSON.stringify(run.response?.body ?? run.error)}`);
			const after = await monitor(rule.ruleId);
			rules.push({
				...rule,
				eligibleBefore: before.eligible_count,
				notDueBefore: before.skipped_by_reason,
				notDueAfter: after.skipped_by_reason,
				summary: run.response.body as RuleReport['summary'],
			});
		}
	} finally {
		await Promise.all(added.map((fault) => simulators.graph.control.removeFault(fault.id)));
	}
	const delivered = (await simulators.graph.control.messages()).length - deliveredBefore;
	return { contacts: seeded.contacts, rules, delivered, seconds: (performance.now() - started) / 1000 };
}

const byReason = (counts: Record<string, number>) =>
	Object.entries(counts)
		.sort(([, a], [, b]) => b - a)
		.map(([reason, count]) => `${reason} ${count}`)
		.join(', ') || 'none';

export function printFollowUpDemo(demo: FollowUpDemo): void {
	console.log(`\nFollow-up pipeline (workflows/tag-monitor-send.json, once per rule, in-process): ${demo.contacts} contacts seeded, ${demo.seconds.toFixed(1)} s`);
	for (const rule of demo.rules) {
		const { claimed, sent, skipped, failed, skippedByReason, failedByReason } = rule.summary;
		console.log(`  ${rule.name}`);
		console.log(`    before the run: ${rule.eligibleBefore} due; not due: ${byReason(rule.notDueBefore)}`);
		console.log(`    run: claimed ${claimed}, sent ${sent}, skipped ${skipped} (${byReason(skippedByReason)}), failed ${failed} (${byReason(failedByReason)})`);
		console.log(`    after the run, not due: ${byReason(rule.notDueAfter)}`);
	}
	const sent = demo.rules.reduce((sum, rule) => sum + rule.summary.sent, 0);
	console.log(`  Graph simulator delivered ${demo.delivered} messages; the runs report ${sent} sent.`);
}
