// Every generated malformed launch whose body n8n's parser accepts (JSON sent as JSON), run
// through the shipped workflow in-process: each is answered with the status its case names and
// problems at exactly the paths it names (a case refused for another reason fails), and the
// owner's rows are unchanged. The raw bodies, including the ones n8n's parser refuses or passes
// on as text, go to real n8n in test/e2e/campaign-sessions.e2e.test.ts.
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../../harness';
import { createTestUser, testStack } from '../../helpers/stack';
import { rowCounts } from '../../helpers/campaign-counts';
import { seedLaunch } from '../../helpers/campaign';
import { malformedLaunches } from './malformed';

const WORKFLOW = 'workflows/campaign-session-created.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };

test('at least 200 malformed launches are refused for the reason each names, and write nothing', async () => {
	const stack = testStack();
	const credentials: TestCredentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	const owner = await createTestUser('recruiter');
	const cases = malformedLaunches().filter((one) => one.json !== undefined);
	expect(cases.length).toBeGreaterThanOrEqual(200);
	expect(cases.filter((one) => !one.refused).map((one) => one.label)).toEqual([]);
	const before = await rowCounts(owner);

	const wrong: string[] = [];
	for (const one of cases) {
		const result = await runWorkflow(WORKFLOW, {
			startNode: 'Session Created',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner, 'content-type': 'application/json' }, body: one.json },
			credentials,
		});
		const status = result.response?.statusCode ?? 0;
		const body = result.response?.body as { problems?: Array<{ path: string; message: string }> } | undefined;
		const problems = body?.problems ?? [];
		const paths = problems.map((problem) => problem.path).sort();
		const expected = [...one.refused!.paths].sort();
		const sameStatus = status === one.refused!.status;
		const samePaths = paths.length === expected.length && paths.every((path, index) => path === expected[index]);
		if (!sameStatus || !samePaths || problems.some((problem) => typeof problem.message !== 'string' || !problem.message)) {
			const shown = problems.slice(0, 4).map((problem) => `${JSON.stringify(problem.path)} ${problem.message}`.slice(0, 120));
			wrong.push(`${one.label}: expected ${one.refused!.status} at ${JSON.stringify(expected).slice(0, 120)}, got ${status} ${JSON.stringify(shown)}`);
		}
	}
	expect(wrong).toEqual([]);
	expect(await rowCounts(owner)).toEqual(before);

	// And the workflow still serves a good request afterwards.
	const good = await runWorkflow(WORKFLOW, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: seedLaunch() },
		credentials,
	});
	expect(good.response?.statusCode).toBe(201);
}, 300_000);
