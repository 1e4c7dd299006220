// Campaign Session Create's Max Tasks per Request (an option of the node, not of the request) in the
// shipped workflows/campaign-session-created.json. Until 5 December 2026 it had no maximum and was
// not checked: text from an expression ("many") let every launch through, whatever its size, and 0
// refused every launch as the caller's 400 ("has 3 tasks, at most 0 per request"), though no request
// could be right. It is now read as every checked option is: 1 to 100,000, a value out of it that is
// not taken is the workflow's 500 "fix it in the workflow"; a larger value, which a workflow may have
// been saved with when there was no maximum, is used as 100,000 with a warning, and a fraction,
// which the comparison took before, is rounded down.
import { randomUUID } from 'node:crypto';
import type { IExecuteFunctions, INode, INodeProperties, INodeParameters } from 'n8n-workflow';
import { description } from '../../nodes/CampaignSessionCreate/actions/create.operation';
import { readCheckedOption } from '../../nodes/shared/checked-options';
import { SettingRefusedError } from '../../nodes/shared/per-item';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { seedLaunch } from '../helpers/campaign';
import { createTestUser, testStack } from '../helpers/stack';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;
let owner: string;

beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	owner = await createTestUser('recruiter');
});

/** The shipped workflow with Create Sessions' Options set to `options`, launching `body`. */
function launch(options: INodeParameters, body: unknown) {
	const shipped = loadWorkflow('workflows/campaign-session-created.json');
	expect(shipped.nodes.some((node) => node.name === 'Create Sessions')).toBe(true);
	const workflow = { ...shipped, nodes: shipped.nodes.map((node) => (node.name === 'Create Sessions' ? { ...node, parameters: { ...node.parameters, options } } : node)) };
	return runWorkflow(workflow, {
		startNode: 'Session Created',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body },
		credentials,
	});
}

test.each([
	['={{ 0 }}', 'Max Tasks per Request must be a whole number from 1 to 100000 (got 0)'],
	['={{ "many" }}', 'Max Tasks per Request must be a whole number from 1 to 100000 (got "many")'],
	['={{ 0 / 0 }}', 'Max Tasks per Request must be a whole number from 1 to 100000 (got NaN)'],
])('Max Tasks per Request %s is the workflow’s 500 naming it, not the caller’s 400 (nor a launch of any size)', async (maxTasks, message) => {
	const run = await launch({ maxTasks }, seedLaunch());

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toMatchObject({
		status: 500,
		error: message,
		hint: expect.stringMatching(
			/^The workflow's node Create Sessions refuses its own setting: fix it in the workflow \(the request is not at fault\)\. It is how many tasks one launch request may have; .*Set Max Tasks per Request in the node's Options to a whole number from 1 to 100000/,
		),
	});
	expect(run.executedNodes).not.toContain('Respond Created');
});

test('a Max Tasks per Request saved above 100,000 still launches (100,000 used); a fraction is rounded down, so 5 / 2 refuses 3 tasks naming the request’s tasks', async () => {
	const saved = await launch({ maxTasks: 1_000_000 }, seedLaunch());
	expect(saved.response?.statusCode).toBe(201);
	expect(saved.response?.body).toMatchObject({ created: 3 });

	const half = await launch({ maxTasks: '={{ 5 / 2 }}' }, seedLaunch());
	expect(half.response?.statusCode).toBe(400);
	expect(JSON.stringify(half.response?.body)).toContain('has 3 tasks, at most 2 per request: split the campaign into several requests');
});

// The option's reading itself: the editor's bounds, the clamp and the rounding, each with its warning.
const node: INode = { id: 'create', name: 'Create Sessions', type: 'n8n-nodes-leadflow.campaignSessionCreate', typeVersion: 1, position: [0, 0], parameters: {} };
const OPTIONS = description.find((property) => property.name === 'options') as INodeProperties;

function read(maxTasks: unknown): { value?: number; error?: unknown; warnings: string[] } {
	const warnings: string[] = [];
	const context = {
		getNode: () => node,
		getNodeParameter: (name: string, _item: number, fallback: unknown) => (name === 'options' ? (maxTasks === undefined ? {} : { maxTasks }) : fallback),
		logger: { warn: (text: string) => warnings.push(text) },
	} as unknown as IExecuteFunctions;
	try {
		return { value: readCheckedOption<number>(context, 0, OPTIONS, 'maxTasks'), warnings };
	} catch (error) {
		return { error, warnings };
	}
}

test('Max Tasks per Request: 1 to 100,000 as given, the default 10,000, above 100,000 clamped with a warning, a fraction rounded down with a warning, below 1 refused as a setting', () => {
	const option = (OPTIONS.options as INodeProperties[]).find((each) => each.name === 'maxTasks');
	expect(option?.typeOptions).toMatchObject({ minValue: 1, maxValue: 100_000, clampAboveMax: true, roundsDownFractions: true });
	expect(read(undefined)).toEqual({ value: 10_000, warnings: [] });
	expect(read(1)).toEqual({ value: 1, warnings: [] });
	expect(read(100_000)).toEqual({ value: 100_000, warnings: [] });
	expect(read('500')).toEqual({ value: 500, warnings: [] });
	expect(read(1_000_000)).toEqual({ value: 100_000, warnings: ['Create Sessions: Max Tasks per Request 1000000 is above its maximum, 100000; 100000 is used'] });
	expect(read(2.5)).toEqual({ value: 2, warnings: ['Create Sessions: Max Tasks per Request 2.5 is not a whole number; 2 is used'] });
	for (const [value, got] of [[0, '0'], [-5, '-5'], ['many', '"many"'], [Number.NaN, 'NaN']] as const) {
		const { error } = read(value);
		expect(error).toBeInstanceOf(SettingRefusedError);
		expect(error).toMatchObject({ setting: 'Max Tasks per Request', parameter: 'options.maxTasks', message: `Max Tasks per Request must be a whole number from 1 to 100000 (got ${got})` });
	}
});
