// Sends each item's follow-up on Messenger exactly once: the duplicate guard is taken in Supabase
// before Facebook is called, every Graph error has its own outcome, and the editor routes items by
// outcome (Sent / Skipped / Failed). How a batch runs: helpers/sendBatch.ts.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, runForAgent, namedOutputs } from '../shared/outputs';
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
		// What an AI agent reads about the tool too (n8n describes a one-job node's tool by it), so true
		// in both modes: a tool's call holds no claim and runs with Record in Supabase off, which has no
		// Supabase credential and so checks no stop and takes no guard (docs/nodes.md, Conventions).
		description:
			'Send Messenger messages as a Page. Record in Supabase on: each claimed follow-up once, after the duplicate guard and the stop and window checks. Off (e.g. as an AI agent\'s tool): a plain message, its text and the recipient\'s PSID both required, with no stop checked and no duplicate guard, so each call sends again',
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
		return runForAgent(this, async () => await sendBatch(this));
	}
}
