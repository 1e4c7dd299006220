// A caller's id with a quote in it (a shell or JSON quoting slip: "\"<uuid>\"", x"y) is the caller's
// own bad input: the shipped webhooks answer 400 naming the header or field, as they do for any other
// malformed id (Run Now names X-Leadflow-Owner since its 400 is told by the failed item's field). The workflows
// told the caller's refusals from their own nodes' refused settings by the refusal's words (today by
// the failed item's `setting`); a pattern that stopped at the first quote inside the echoed value
// answered such requests 500, "fix the workflow", which sends integrators retrying and operators to
// a workflow that is fine.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { everyWorkflowCredentials } from './support/pipeline';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;
let credentials: TestCredentials;

beforeAll(async () => {
	sims = await startSimulators();
	credentials = everyWorkflowCredentials(sims, KEY);
});

afterAll(async () => {
	await sims.stop();
});

test.each([
	['auto-assign', 'Analyse Now', { 'X-Leadflow-Owner': `"${randomUUID()}"` }, {}, 'X-Leadflow-Owner'],
	['auto-assign', 'Analyse Now', { 'X-Leadflow-Owner': 'x"y' }, {}, 'X-Leadflow-Owner'],
	['queue-run', 'Run Now', { 'X-Leadflow-Owner': `"${randomUUID()}"` }, {}, 'X-Leadflow-Owner'],
	['tag-monitor-send', 'Trigger Now', {}, { ruleId: `"${randomUUID()}"` }, 'ruleId'],
	['tag-monitor-send', 'Trigger Now', {}, { ruleId: 'rule\n"1"' }, 'ruleId'],
])('%s (%s) with %j %j answers 400 (field: %s)', async (workflow, startNode, headers, body, field) => {
	const run = await runWorkflow(loadWorkflow(`workflows/${workflow}.json`), {
		startNode,
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body },
		credentials,
	});

	expect(run.response?.statusCode).toBe(400);
	expect(run.response?.body).toMatchObject(field === undefined ? { status: 400 } : { status: 400, field });
	expect(String((run.response?.body as { error?: unknown }).error)).toMatch(/is not a UUID/);
});
