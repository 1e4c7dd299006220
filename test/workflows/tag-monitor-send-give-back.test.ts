// workflows/tag-monitor-send.json on its schedule (batches of 50) when a node fails as a node, through
// n8n's engine in-process against the local stack and the simulators, each run pinned to the test's
// own rule. Generate Follow-Up failing (a Gemini credential without a key) gives back the batch it
// was handed, and the run's failure path (Run Failed → Give Back Claimed Contacts) gives back the
// rest of the claim before Fail The Scheduled Run: every contact of the claim is queued, held by
// nobody, and a Trigger Now once the key is added claims and sends them all at once. Before the
// failure path gave the claim back, the 70 contacts past the first batch stayed held for the lease
// (600 s) and that Trigger Now answered claimed 50, in_progress 70. Facebook Send failing as a node
// in the schedule's batches (a Page credential without a Page ID): every batch is handed over (the
// run does not wait), and each batch's execution gives its own contacts back.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { withDb } from '../helpers/stack';
import { graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.gemini.control.reset();
});

/** The shipped workflow, its claim (and Give Back's) pinned to the test's rule. */
function scheduledFor(ruleId: string): WorkflowJson {
	const shipped = loadWorkflow('workflows/tag-monitor-send.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((node) =>
			node.name === 'Claim Due Contacts' ? { ...node, parameters: { ...node.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId } } } : node,
		),
	};
}

/** The rule's contacts by stage, whether held, and the reason their stage was entered. */
async function statesOf(ruleId: string) {
	const { rows } = await withDb((db) =>
		db.query<{ stage: string; held: boolean; reason: string | null; n: number }>(
			`select current_stage as stage, locked_by is not null as held, stage_detail ->> 'reason' as reason, count(*)::int as n
			   from public.ai_automation_contact_states where rule_id = $1 group by 1, 2, 3 order by 1, 2, 3`,
			[ruleId],
		),
	);
	return rows;
}

const NO_KEY = 'The Leadflow Gemini API credential has no API key';

test('a scheduled run whose Generate Follow-Up fails as a node gives back every contact of its claim, not only the first batch; a Trigger Now with the key then sends all 120', async () => {
	const seed = await dueContacts(120, 500, 'give-back-generate');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	const noKey = { ...credentials, leadflowGeminiApi: { ...credentials.leadflowGeminiApi, apiKeys: '' } };

	const result = await runWorkflow(scheduledFor(seed.ruleId), { trigger: 'schedule', credentials: noKey });

	// Still a failed run, with Generate Follow-Up's message, so n8n calls the Error Workflow.
	expect(result.status).toBe('error');
	expect(result.error).toEqual({ message: NO_KEY, description: 'Add at least one Gemini API key to the credential, one per line.', node: 'Fail The Scheduled Run' });
	expect(result.executedNodes).not.toContain('Send Batch');
	// Generate Follow-Up gave back its batch of 50; the failure path the claim's 70 others.
	expect(await statesOf(seed.ruleId)).toEqual([
		{ stage: 'queued', held: false, reason: 'generation_setup_failed', n: 50 },
		{ stage: 'queued', held: false, reason: 'run_failed', n: 70 },
	]);
	const outcomes = (result.nodeOutputs['Give Back Claimed Contacts'] as Array<{ outcome: string }>).map((row) => row.outcome);
	expect(outcomes.filter((outcome) => outcome === 'released')).toHaveLength(70);
	expect(outcomes.filter((outcome) => outcome === 'not_held')).toHaveLength(50);

	// The key added: Trigger Now at once claims and sends all 120, none held by the failed run.
	const { summary } = await triggerNow(credentials, { ruleId: seed.ruleId });
	expect(summary).toMatchObject({ claimed: 120, sent: 120, failed: 0 });
	expect(summary.notClaimedByReason).not.toHaveProperty('in_progress');
	expect((await graphSends(sims)).length).toBe(120);
});

test('on the schedule, Facebook Send failing as a node in every batch: each batch\'s execution gives its own contacts back, so none stays held', async () => {
	const seed = await dueContacts(120, 500, 'give-back-send');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	const noPage = { ...credentials, leadflowFacebookPageApi: { ...credentials.leadflowFacebookPageApi, pageId: '' } };

	const result = await runWorkflow(scheduledFor(seed.ruleId), { trigger: 'schedule', credentials: noPage });

	// The run hands all three batches over without waiting and ends well; each batch's execution fails.
	expect(result.status).toBe('success');
	expect(result.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status, error: sub.error }))).toEqual(
		Array.from({ length: 3 }, () => ({ waited: false, status: 'error', error: 'The Facebook Page credential has no valid Page ID' })),
	);
	expect(result.executedNodes).not.toContain('Give Back Claimed Contacts');
	expect(await graphSends(sims)).toEqual([]);
	expect(await statesOf(seed.ruleId)).toEqual([{ stage: 'queued', held: false, reason: 'send_setup_failed', n: 120 }]);
});
