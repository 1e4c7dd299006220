// The follow-up part of `npm run demo`: seeds the demo data set for a new demo owner
// (scripts/demo/data-set.ts: about 300 Messenger contacts, five tags, three rules, some outside the
// 24 h window or the rule's active hours, some excluded, stopped or archived), runs the shipped workflow
// workflows/tag-monitor-send.json once per rule through n8n's engine in-process ("Trigger Now"),
// and reads each rule's monitor with workflows/automation-monitor.json.
import type { RunningSimulators } from '../../simulators';
import type { StackInfo } from '../../stack';
import { runWorkflow } from '../../test/harness';
import { addFacebookRefusals, seedDemoDataSet, WEBHOOK_KEY, type DemoDataSet } from './data-set';

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
	/** The demo owner and the credentials that reach the stack and the simulators (the pipeline part uses them too). */
	dataSet: DemoDataSet;
}

export async function runFollowUpDemo(stack: StackInfo, simulators: RunningSimulators): Promise<FollowUpDemo> {
	const started = performance.now();
	const seeded = await seedDemoDataSet(stack, simulators);
	const { credentials } = seeded;
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };
	const deliveredBefore = (await simulators.graph.control.messages()).length;
	const monitor = async (ruleId: string) => {
		const result = await runWorkflow('workflows/automation-monitor.json', { webhook: { method: 'GET', headers, query: { ruleId } }, credentials });
		if (result.response?.statusCode !== 200) throw new Error(`the monitor answered ${result.response?.statusCode}: ${JSON.stringify(result.response?.body ?? result.error)}`);
		return (result.response.body as { stats: { eligible_count: number; skipped_by_reason: Record<string, number> } }).stats;
	};

	const removeRefusals = await addFacebookRefusals(simulators, seeded);
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
		await removeRefusals();
	}
	const delivered = (await simulators.graph.control.messages()).length - deliveredBefore;
	return { contacts: seeded.contacts, rules, delivered, seconds: (performance.now() - started) / 1000, dataSet: seeded };
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
	console.log('  The reasons: not due, docs/follow-up.md (the claim\'s summary, its table of codes); skipped and failed, docs/graph-errors.md.');
}
