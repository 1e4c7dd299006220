// The Console node's test setup, shared by its suites: the credentials on the test stack and the node
// alone in a workflow (Manual Trigger → Console, Continue On Fail), returning its one item.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../../harness';
import { testStack } from '../../../helpers/stack';

/** The Supabase credential as the harness takes it, on the test stack. */
export const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

/** The node's credential reference. */
export const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

/** The Console node's one output item (its failed item when it refuses, Continue On Fail) for these parameters. */
export async function consoleItemOf(parameters: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(
		{
			name: 'Console',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'console', name: 'Console', type: 'n8n-nodes-leadflow.leadflowConsole', typeVersion: 1, position: [200, 0], parameters, credentials: node, onError: 'continueRegularOutput' },
			],
			connections: { Start: { main: [[{ node: 'Console', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	return run.nodeOutputs.Console[0];
}
