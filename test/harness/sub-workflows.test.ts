// Execute Workflow nodes in-process: a workflow calling itself through "When Executed by Another
// Workflow", once per batch of a Loop Over Items, waiting for each call or not; and a call naming a
// workflow the run was not given.
import type { INode } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '.';

const node = (name: string, type: string, typeVersion: number, parameters: INode['parameters']): INode => ({
	id: name,
	name,
	type: `n8n-nodes-base.${type}`,
	typeVersion,
	position: [0, 0],
	parameters,
});

/** Splits 1–5 into batches of 2 and hands each batch to a sub-execution of itself, which doubles them. */
function batchesToSelf(wait: boolean, workflowId = '={{ $workflow.id }}'): WorkflowJson {
	return {
		id: 'SubWorkflowSelf',
		name: 'Batches to a sub-execution',
		nodes: [
			node('Start', 'manualTrigger', 1, {}),
			node('Numbers', 'set', 3.4, { mode: 'raw', jsonOutput: '{ "numbers": [1, 2, 3, 4, 5] }', options: {} }),
			node('One Per Number', 'splitOut', 1, { fieldToSplitOut: 'numbers', options: {} }),
			node('Batches', 'splitInBatches', 3, { batchSize: 2, options: {} }),
			node('Call Self', 'executeWorkflow', 1.2, {
				source: 'database',
				workflowId: { __rl: true, mode: 'id', value: workflowId },
				mode: 'once',
				options: { waitForSubWorkflow: wait },
			}),
			node('When Called', 'executeWorkflowTrigger', 1.1, { inputSource: 'passthrough' }),
			node('Double', 'set', 3.4, {
				mode: 'manual',
				assignments: {
					assignments: [
						{ id: 'd', name: 'doubled', type: 'number', value: '={{ $json.numbers * 2 }}' },
						{ id: 'e', name: 'execution', type: 'string', value: '={{ $execution.id }}' },
					],
				},
				options: {},
			}),
		],
		connections: {
			Start: { main: [[{ node: 'Numbers', type: 'main', index: 0 }]] },
			Numbers: { main: [[{ node: 'One Per Number', type: 'main', index: 0 }]] },
			'One Per Number': { main: [[{ node: 'Batches', type: 'main', index: 0 }]] },
			Batches: { main: [[], [{ node: 'Call Self', type: 'main', index: 0 }]] },
			'Call Self': { main: [[{ node: 'Batches', type: 'main', index: 0 }]] },
			'When Called': { main: [[{ node: 'Double', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

const doubledOf = (items: Array<Record<string, unknown>>) => items.map((item) => item.doubled);

test('waiting, each batch runs as its own execution of the workflow and the caller gets what its last node returned', async () => {
	const result = await runWorkflow(batchesToSelf(true));

	expect(result.error).toBeUndefined();
	expect(result.subExecutions.map((sub) => ({ workflowId: sub.workflowId, waited: sub.waited, error: sub.error }))).toEqual([
		{ workflowId: 'SubWorkflowSelf', waited: true, error: undefined },
		{ workflowId: 'SubWorkflowSelf', waited: true, error: undefined },
		{ workflowId: 'SubWorkflowSelf', waited: true, error: undefined },
	]);
	expect(doubledOf(result.nodeOutputs['Call Self'])).toEqual([2, 4, 6, 8, 10]);
	// Each sub-execution has its own id, none the caller's.
	const executions = new Set(result.nodeOutputs['Call Self'].map((item) => item.execution));
	expect([...executions].sort()).toEqual(result.subExecutions.map((sub) => sub.executionId).sort());
	expect(result.subExecutions.every((sub) => sub.run?.mode === 'integrated' && sub.run.status === 'success')).toBe(true);
});

test('not waiting, the caller goes on with its own items while the sub-executions run; the harness returns once they ended', async () => {
	const result = await runWorkflow(batchesToSelf(false));

	expect(result.error).toBeUndefined();
	expect(result.nodeOutputs['Call Self'].map((item) => item.numbers)).toEqual([1, 2, 3, 4, 5]);
	expect(result.subExecutions).toHaveLength(3);
	expect(result.subExecutions.every((sub) => !sub.waited && sub.finishedAt !== undefined && sub.run?.status === 'success')).toBe(true);
	const doubled = result.subExecutions.flatMap((sub) => sub.run?.data.resultData.runData.Double[0].data?.main[0]?.map((item) => item.json.doubled) ?? []);
	expect(doubled).toEqual([2, 4, 6, 8, 10]);
});

test('a call to a workflow the run was not given fails naming it and saying how to give it', async () => {
	const result = await runWorkflow(batchesToSelf(true, 'SomeOtherWorkflow'));

	expect(result.status).toBe('error');
	expect(result.error?.node).toBe('Call Self');
	expect(`${result.error?.message} ${result.error?.description ?? ''}`).toMatch(/SomeOtherWorkflow is not known in-process: pass it in RunOptions\.workflows/);
});
