// Sends each item's follow-up on Messenger exactly once: the duplicate guard is taken in Supabase
// before Facebook is called, every Graph error has its own outcome, and the editor routes items by
// outcome (Sent / Skipped / Failed). How a batch runs: helpers/sendBatch.ts.
import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';
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
		subtitle: '={{ $parameter["recordInSupabase"] ? "Send follow-ups once" : "Send a message" }}',
		description: 'Send Messenger follow-ups once each: duplicate guard, stop and window checks, Graph error handling and rate limiting',
		defaults: { name: 'Facebook Send' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: OUTPUT_NAMES,
		credentials: [
			{ name: 'leadflowFacebookPageApi', required: true },
			{ name: 'leadflowSupabaseApi', required: true, displayOptions: { show: { recordInSupabase: [true] } } },
		],
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await sendBatch(this);
	}
}
