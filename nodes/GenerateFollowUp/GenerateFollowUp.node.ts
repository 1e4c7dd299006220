// Writes each claimed contact's follow-up with Gemini: a prompt from the rule's instructions, the
// contact's name, the last messages and the follow-up number; keys rotated, throttled keys rested,
// 5xx and timeouts retried; several calls at once. With stages recorded, the whole batch moves to
// generating in one database call first and its results are recorded in one call after.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, runForAgent, namedOutputs } from '../shared/outputs';
import { properties } from './description';
import { generateBatch } from './helpers/generateBatch';

export class GenerateFollowUp implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Generate Follow-Up',
		name: 'generateFollowUp',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["recordStages"] ? "Generate and record" : "Generate" }}',
		description: 'Write a personalised Messenger follow-up for each contact with Google Gemini, with key rotation and retries',
		defaults: { name: 'Generate Follow-Up' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: namedOutputs('Generated', 'Failed'),
		credentials: [
			{ name: 'leadflowGeminiApi', required: true },
			{ name: 'leadflowSupabaseApi', required: true, displayOptions: { show: { recordStages: [true] } } },
		],
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return runForAgent(this, async () => await generateBatch.call(this));
	}
}
