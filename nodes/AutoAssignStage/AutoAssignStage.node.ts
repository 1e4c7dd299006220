// Places Messenger contacts in CRM pipeline stages: Analyze scores each conversation with Gemini
// (or a deterministic fallback), Assign places a batch in one database call, Move is a manual move.
// Webhook and notify actions the automations queue leave on the Automations output, once each;
// Claim Automations sweeps the outbox, Complete Automations reports deliveries (at least once).
// One resource, Contact, so that n8n describes each operation to an AI agent by its action (n8n reads
// an operation's action only under a resource: docs/nodes.md#conventions); a workflow saved without
// the resource key gets the default, so it runs as before.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, runForAgent, namedOutputs } from '../shared/outputs';
import { searchPipelines, searchStages } from '../shared/methods/listSearch';
import * as analyze from './actions/analyze.operation';
import * as assign from './actions/assign.operation';
import * as claimAutomations from './actions/claimAutomations.operation';
import * as completeAutomations from './actions/completeAutomations.operation';
import * as move from './actions/move.operation';
import { router } from './actions/router';

export class AutoAssignStage implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Auto Assign Stage',
		name: 'autoAssignStage',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description: 'Score Messenger contacts with Gemini and place them in CRM pipeline stages; move contacts by hand; hand out automation actions',
		defaults: { name: 'Leadflow Auto Assign Stage' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: namedOutputs('Contacts', 'Automations'),
		credentials: [
			{ name: 'leadflowSupabaseApi', required: true },
			{ name: 'leadflowGeminiApi', required: true, displayOptions: { show: { operation: ['analyze'] } } },
		],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				default: 'contact',
				options: [
					{
						name: 'Contact',
						value: 'contact',
						description: 'Messenger contacts in CRM pipeline stages, and the automation actions their stage changes fire',
					},
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['contact'] } },
				options: [
					{
						name: 'Analyze',
						value: 'analyze',
						description: 'Score each conversation with Gemini (lead score, status, recommended stage), or a fallback score when the model fails',
						action: 'Score conversations with AI and recommend a pipeline stage',
					},
					{
						name: 'Assign',
						value: 'assign',
						description: 'Place a batch of analysed contacts in their pipeline stages in one call',
						action: 'Assign analysed contacts to their pipeline stages',
					},
					{
						name: 'Claim Automations',
						value: 'claimAutomations',
						description: 'Hand out the webhook and notify actions waiting in the outbox: left by a crashed run, due for a retry, or fired with Hand Out Automations off',
						action: 'Claim the automation actions waiting to be delivered',
					},
					{
						name: 'Complete Automations',
						value: 'completeAutomations',
						description: 'Report what became of handed-out actions after delivering them: delivered, retry later, or failed',
						action: 'Record whether delivered automation actions succeeded',
					},
					{
						name: 'Move',
						value: 'move',
						description: 'Move contacts to a stage by ID or name, with a reason',
						action: 'Move a contact to a pipeline stage',
					},
				],
				default: 'analyze',
			},
			...analyze.description,
			...assign.description,
			...move.description,
			...claimAutomations.description,
			...completeAutomations.description,
		],
	};

	methods = {
		listSearch: { searchPipelines, searchStages },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return runForAgent(this, async () => await router.call(this));
	}
}
