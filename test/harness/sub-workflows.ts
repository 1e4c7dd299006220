// Sub-workflows in-process, as n8n's own `executeWorkflow` (packages/cli,
// workflow-execute-additional-data.ts) runs them: the called workflow starts at its "When Executed
// by Another Workflow" node with the caller's items, in 'integrated' mode, as an execution of its
// own (its own id, hooks and additionalData, the caller's credentials); the caller gets the items of
// the node that ran last, or, not waiting (`doNotWaitToFinish`), only the execution's id while it
// runs on. A workflow is found by id: the caller itself (an Execute Workflow node pointing at
// `{{ $workflow.id }}`), or one of the workflows the run was given (RunOptions.workflows).
import { WorkflowExecute } from 'n8n-core';
import {
	createRunExecutionData,
	type Workflow,
	type ExecuteWorkflowData,
	type ExecuteWorkflowOptions,
	type IExecuteWorkflowInfo,
	type INode,
	type INodeExecutionData,
	type IRun,
	type IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';
import { workflowOf, type WorkflowJson } from './workflow-file';

export const SUB_WORKFLOW_TRIGGER = 'n8n-nodes-base.executeWorkflowTrigger';

/** A sub-execution the run started: awaited by the harness before the run's result is returned. */
export interface SubExecution {
	executionId: string;
	workflowId: string;
	/** Whether the caller waited for it (false: started with "Wait For Sub-Workflow Completion" off). */
	waited: boolean;
	/** Milliseconds from the start of the run to the start and the end of this execution. */
	startedAt: number;
	finishedAt?: number;
	run?: IRun;
	/** What made it fail, if it failed. */
	error?: string;
}

export interface SubWorkflowHost {
	/** The workflows a call may name by id (the running one included). */
	workflows: Map<string, WorkflowJson>;
	nodeTypes: Workflow['nodeTypes'];
	/** A new execution's additionalData (credentials, URLs) for a workflow: its own hooks and id. */
	additionalDataFor(workflow: WorkflowJson, workflowId: string, executionId: string): IWorkflowExecuteAdditionalData;
	nextExecutionId(): string;
	/** Every sub-execution started, in order, and the promise of each one's end. */
	started: SubExecution[];
	running: Array<Promise<unknown>>;
	/** When the run began (performance.now()). */
	origin: number;
}

/** n8n's findSubworkflowStart: the enabled "When Executed by Another Workflow" node. */
function subWorkflowStart(workflow: WorkflowJson, workflowId: string): INode {
	const start = workflow.nodes.find((node) => node.type === SUB_WORKFLOW_TRIGGER && !node.disabled);
	if (!start) throw new Error(`Workflow ${workflowId} has no enabled "When Executed by Another Workflow" node to start a sub-execution from.`);
	return start;
}

/** The items of the node that ran last (n8n's getDataLastExecutedNodeData). */
function lastNodeData(run: IRun): Array<INodeExecutionData[] | null> {
	const { lastNodeExecuted, runData } = run.data.resultData;
	const task = lastNodeExecuted ? runData[lastNodeExecuted]?.at(-1) : undefined;
	return task?.data?.main ?? [null];
}

export function executeWorkflowIn(host: SubWorkflowHost): IWorkflowExecuteAdditionalData['executeWorkflow'] {
	const execute = async (workflowInfo: IExecuteWorkflowInfo, _caller: IWorkflowExecuteAdditionalData, options: ExecuteWorkflowOptions): Promise<ExecuteWorkflowData> => {
		const workflowId = workflowInfo.id ?? options.parentWorkflowId;
		const workflowJson: WorkflowJson | undefined = workflowInfo.code ?? host.workflows.get(workflowId);
		if (!workflowJson) {
			throw new Error(`Workflow ${workflowId} is not known in-process: pass it in RunOptions.workflows (n8n would look it up in its database).`);
		}
		const start = subWorkflowStart(workflowJson, workflowId);
		const executionId = host.nextExecutionId();
		const workflow = workflowOf(workflowJson, workflowId, host.nodeTypes, true);
		const additionalData = host.additionalDataFor(workflowJson, workflowId, executionId);
		// Nested calls go through the same function, as n8n passes its executeWorkflow on.
		additionalData.executeWorkflow = execute;
		const runExecutionData = createRunExecutionData({
			executionData: {
				nodeExecutionStack: [
					{ node: workflow.getNode(start.name) as INode, data: { main: [options.inputData ?? [{ json: {} }]] }, metadata: { parentExecution: options.parentExecution }, source: null },
				],
			},
			parentExecution: options.parentExecution,
		});
		const record: SubExecution = { executionId, workflowId, waited: !options.doNotWaitToFinish, startedAt: performance.now() - host.origin };
		host.started.push(record);
		const finished = (async (): Promise<ExecuteWorkflowData> => {
			try {
				const run = await new WorkflowExecute(additionalData, 'integrated', runExecutionData).processRunExecutionData(workflow);
				record.run = run;
				const failure = run.data.resultData.error;
				if (failure && !(run.finished === true || run.status === 'waiting')) {
					record.error = failure.message;
					throw Object.assign(new Error(failure.message), { executionId, workflowId, description: failure.description });
				}
				return { executionId, data: lastNodeData(run), waitTill: run.waitTill };
			} finally {
				record.finishedAt = performance.now() - host.origin;
			}
		})();
		host.running.push(finished.catch((error: unknown) => (record.error ??= (error as Error).message)));
		if (options.doNotWaitToFinish) return { executionId, data: [null] };
		return await finished;
	};
	return execute;
}
