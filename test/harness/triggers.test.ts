// Manual and Schedule starts, a community package's nodes loaded from TypeScript source under both
// type forms, and what the harness cannot do (the Code node) failing with a useful message.
import path from 'node:path';
import { fixturePath } from './fixture-workflow';
import { PACKAGE_ROOT } from './package-entries';
import { runWorkflow } from '.';

const fixturePackage = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'harness-package');

test('a Manual Trigger run reaches community nodes by package name and as CUSTOM, per item', async () => {
	const result = await runWorkflow(fixturePath('manual-greeting.json'), { packageRoot: fixturePackage });

	expect(result.error).toBeUndefined();
	expect(result.mode).toBe('manual');
	expect(result.executedNodes).toEqual(['Start', 'Set Name', 'Greet By Package Name', 'Greet As Custom Extension']);
	expect(result.nodeOutputs['Greet By Package Name']).toEqual([{ greeting: 'Hello, Ada!' }]);
	expect(result.nodeOutputs['Greet As Custom Extension']).toEqual([{ greeting: 'Hello, Ada again!' }]);
});

test('a Schedule Trigger fires once and the run is a production (trigger-mode) run', async () => {
	const before = Date.now();
	const result = await runWorkflow(fixturePath('schedule-stamp.json'));

	expect(result.error).toBeUndefined();
	expect(result.mode).toBe('trigger');
	expect(result.executedNodes).toEqual(['Every Hour', 'Stamp']);
	const [stamp] = result.nodeOutputs.Stamp;
	expect(stamp.mode).toBe('production');
	expect(Date.parse(String(stamp.firedAt))).toBeGreaterThanOrEqual(before - 1000);
	expect(result.nodeOutputs['Every Hour'][0]).toHaveProperty('Timezone');
});

test('a node type from another package is refused with the reason', async () => {
	const workflow = {
		nodes: [
			{ id: '1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0] as [number, number], parameters: {} },
			{ id: '2', name: 'Agent', type: '@n8n/n8n-nodes-langchain.agent', typeVersion: 1, position: [200, 0] as [number, number], parameters: {} },
		],
		connections: { Start: { main: [[{ node: 'Agent', type: 'main' as const, index: 0 }]] } },
	};
	await expect(runWorkflow(workflow)).rejects.toThrow(/not available in-process/);
});

test('a Code node fails with a sentence saying the harness has no task runner', async () => {
	const result = await runWorkflow(fixturePath('manual-code-node.json'));
	expect(result.status).toBe('error');
	expect(result.error?.node).toBe('Compute');
	expect(result.error?.message).toMatch(/task runner/);
});

test('the start node must be unambiguous', async () => {
	await expect(runWorkflow(fixturePath('manual-greeting.json'), { trigger: 'webhook', packageRoot: fixturePackage })).rejects.toThrow(
		/no enabled webhook trigger/,
	);
});
