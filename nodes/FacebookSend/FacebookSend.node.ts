// Sends each item's follow-up on Messenger exactly once: the duplicate guard is taken in Supabase
// before Facebook is called, every Graph error has its own outcome, and the editor routes items by
// outcome (Sent / Skipped / Failed). How a batch runs: helpers/sendBatch.ts.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, forAgent, namedOutputs } from '../shared/outputs';
import { properties } from './description';
import { OUTPUT_NAMES } from './helpers/reports';
import { sendBatch } from './helpers/sendBatch';

export class FacebookSend implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Facebook Send',
		name: 'facebookSend',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['output'],
		version: 1,
		subtitle: '={{ $parameter["recordStages"] ? "Send follow-ups once" : "Send a message" }}',
		description: 'Send Messenger follow-ups once each: duplicate guard, stop and window checks, Graph error handling and rate limiting',
		defaults: { name: 'Facebook Send' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: namedOutputs(...OUTPUT_NAMES),
		credentials: [
			{ name: 'leadflowFacebookPageApi', required: true },
			{ name: 'leadflowSupabaseApi', required: true, displayOptions: { show: { recordStages: [true] } } },
		],
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return forAgent(this, await sendBatch(this));
	}
}
