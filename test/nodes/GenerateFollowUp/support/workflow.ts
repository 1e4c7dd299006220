// A small workflow around GenerateFollowUp, run with n8n's engine in-process: Manual Trigger →
// Set (the contacts as raw JSON) → Split Out (one item per contact) → Generate Follow-Up. The
// harness has no task runner, so the items come from core nodes rather than a Code node.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../../../harness';

export interface GenerateRun {
	result: RunResult;
	generated: IDataObject[];
	failed: IDataObject[];
}

const position = (x: number): [number, number] => [x, 0];

export function generateWorkflow(contacts: IDataObject[], parameters: IDataObject, settings: { continueOnFail?: boolean } = {}): WorkflowJson {
	return {
		name: 'GenerateFollowUp fixture',
		nodes: [
			{ id: 'g1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: position(0), parameters: {} },
			{
				id: 'g2',
				name: 'Contacts',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: position(200),
				parameters: { mode: 'raw', jsonOutput: JSON.stringify({ contacts }), options: {} },
			},
			{
				id: 'g3',
				name: 'One Per Contact',
				type: 'n8n-nodes-base.splitOut',
				typeVersion: 1,
				position: position(400),
				parameters: { fieldToSplitOut: 'contacts', options: {} },
			},
			{
				id: 'g4',
				name: 'Generate',
				type: 'n8n-nodes-leadflow.generateFollowUp',
				typeVersion: 1,
				position: position(600),
				parameters,
				credentials: {
					leadflowGeminiApi: { id: 'gemini', name: 'Gemini' },
					leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' },
				},
				...(settings.continueOnFail && { onError: 'continueRegularOutput' }),
			},
		],
		connections: {
			Start: { main: [[{ node: 'Contacts', type: 'main', index: 0 }]] },
			Contacts: { main: [[{ node: 'One Per Contact', type: 'main', index: 0 }]] },
			'One Per Contact': { main: [[{ node: 'Generate', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

export async function runGenerate(
	contacts: IDataObject[],
	parameters: IDataObject,
	credentials: TestCredentials,
	settings: { continueOnFail?: boolean } = {},
): Promise<GenerateRun> {
	const result = await runWorkflow(generateWorkflow(contacts, parameters, settings), { credentials });
	const [generated = [], failed = []] = result.nodeBranches.Generate ?? [];
	return { result, generated, failed };
}

/** Gemini credentials for the simulator with fresh keys (rotation state is per key and outlives a run). */
export function geminiCredentials(baseUrl: string, keys: string[], model = 'gemini-3-flash'): TestCredentials {
	return { leadflowGeminiApi: { apiKeys: keys.join('\n'), baseUrl, model } };
}
