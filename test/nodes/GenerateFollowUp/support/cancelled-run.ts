// The GenerateFollowUp fixture run with n8n's engine as the harness runs it (test/harness), but with
// a handle on the execution: `cancel` is what n8n does when a user presses Stop or the workflow
// timeout ends the run (the engine aborts the execution's cancel signal, the node's code goes on).
// runWorkflow gives a test no such handle, so this builds the same run from the harness's parts.
import { WorkflowExecute } from 'n8n-core';
import { createRunExecutionData, type INode, type IRun, type IDataObject } from 'n8n-workflow';
import type { TestCredentials } from '../../../harness';
import { createAdditionalData, createHooks } from '../../../harness/additional-data';
import { HarnessCredentialTypes } from '../../../harness/credential-types';
import { TestCredentialsHelper } from '../../../harness/credentials-helper';
import { loaders } from '../../../harness/loaders';
import { HarnessNodeTypes } from '../../../harness/node-types';
import { workflowOf } from '../../../harness/workflow-file';
import { generateWorkflow } from './workflow';

export interface CancellableRun {
	/** Cancels the execution as n8n's Stop button does. */
	cancel(): void;
	/** Settles once the engine is done with the run (the node's code has returned). */
	finished: Promise<IRun>;
}

let runCounter = 0;

export async function startGenerate(contacts: IDataObject[], parameters: IDataObject, credentials: TestCredentials): Promise<CancellableRun> {
	const workflowJson = generateWorkflow(contacts, parameters);
	const loaded = await loaders();
	const nodeTypes = new HarnessNodeTypes(loaded);
	const credentialsHelper = new TestCredentialsHelper(new HarnessCredentialTypes(loaded), credentials);
	const workflowId = 'cancelled-generate';
	const workflow = workflowOf(workflowJson, workflowId, nodeTypes, false);
	const executionId = `cancel-${process.pid}-${++runCounter}`;
	const hooks = createHooks('manual', executionId, workflowJson, workflowId);
	const additionalData = createAdditionalData({ credentialsHelper, hooks, executionId, workflowId });
	const start = workflow.getNode('Start') as INode;
	const runExecutionData = createRunExecutionData({
		executionData: { nodeExecutionStack: [{ node: start, data: { main: [[{ json: {} }]] }, source: null }] },
	});
	const execution = new WorkflowExecute(additionalData, 'manual', runExecutionData).processRunExecutionData(workflow);
	return { cancel: () => execution.cancel(), finished: execution };
}
