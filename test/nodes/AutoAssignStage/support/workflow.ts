// A small workflow around AutoAssignStage, run with n8n's engine in-process: Manual Trigger → Set
// (the items as raw JSON) → Split Out (one item per entry) → Auto Assign Stage.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../../../harness';
import { testStack } from '../../../helpers/stack';

export interface StageRun {
	result: RunResult;
	contacts: IDataObject[];
	automations: IDataObject[];
}

const position = (x: number): [number, number] => [x, 0];

export function stageWorkflow(entries: IDataObject[], parameters: IDataObject, settings: { continueOnFail?: boolean } = {}): WorkflowJson {
	return {
		name: 'AutoAssignStage fixture',
		nodes: [
			{ id: 'a1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: position(0), parameters: {} },
			{ id: 'a2', name: 'Entries', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: position(200), parameters: { mode: 'raw', jsonOutput: JSON.stringify({ entries }), options: {} } },
			{ id: 'a3', name: 'One Per Entry', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: position(400), parameters: { fieldToSplitOut: 'entries', options: {} } },
			{
				id: 'a4',
				name: 'Stage',
				type: 'n8n-nodes-leadflow.autoAssignStage',
				typeVersion: 1,
				position: position(600),
				parameters,
				credentials: { leadflowGeminiApi: { id: 'gemini', name: 'Gemini' }, leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } },
				...(settings.continueOnFail && { onError: 'continueRegularOutput' }),
			},
		],
		connections: {
			Start: { main: [[{ node: 'Entries', type: 'main', index: 0 }]] },
			Entries: { main: [[{ node: 'One Per Entry', type: 'main', index: 0 }]] },
			'One Per Entry': { main: [[{ node: 'Stage', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

export const supabaseCredentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

export function geminiCredentials(baseUrl: string, keys: string[], model = 'gemini-3-flash'): TestCredentials {
	return { leadflowGeminiApi: { apiKeys: keys.join('\n'), baseUrl, model }, ...supabaseCredentials() };
}

export async function runStage(entries: IDataObject[], parameters: IDataObject, credentials: TestCredentials, settings: { continueOnFail?: boolean } = {}): Promise<StageRun> {
	const result = await runWorkflow(stageWorkflow(entries, parameters, settings), { credentials });
	const [contacts = [], automations = []] = result.nodeBranches.Stage ?? [];
	return { result, contacts, automations };
}
