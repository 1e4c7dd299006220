// Backfills a Facebook Page's Messenger conversations into Supabase from the Graph API's
// Conversations endpoint: resumable, incremental, paced at the Page's rate, with its progress in the
// database. How a sync runs: helpers/syncPage.ts.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, namedOutputs, withAdviceForAgent } from '../shared/outputs';
import { asNodeError, failedItem } from '../shared/per-item';
import { properties } from './description';
import { syncPage } from './helpers/syncPage';

export class MessengerSync implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Messenger Sync',
		name: 'messengerSync',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['input'],
		version: 1,
		subtitle: '={{ $parameter["mode"] === "full" ? "Full sync" : "Incremental sync" }}',
		description: 'Read a Facebook Page’s Messenger conversations into Supabase: resumable, incremental, paced at the Page’s rate',
		defaults: { name: 'Messenger Sync' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: namedOutputs('Sync'),
		credentials: [
			{ name: 'leadflowFacebookPageApi', required: true },
			{ name: 'leadflowSupabaseApi', required: true },
		],
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		try {
			return await syncPage(this);
		} catch (error) {
			// The package's one failed item ({error: {code, message, description}}): with "On Error:
			// Continue (using error output)" n8n routes it to the error output (docs/nodes.md).
			if (this.continueOnFail()) return [[failedItem(this, error, { item: 0 })]];
			throw withAdviceForAgent(this, asNodeError(this, error));
		}
	}
}
