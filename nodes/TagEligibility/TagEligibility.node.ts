import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, forAgent } from '../shared/outputs';
import { searchConversations, searchRules } from '../shared/methods/listSearch';
import { getTags } from '../shared/methods/loadOptions';
import * as claim from './actions/claim.operation';
import * as explain from './actions/explain.operation';
import { router } from './actions/router';
import { configuredOutputs } from './helpers/outputs';
import * as snapshot from './actions/snapshot.operation';
import * as timeline from './actions/timeline.operation';

export class TagEligibility implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Tag Eligibility',
		name: 'tagEligibility',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description: 'Claim the tagged Messenger contacts due an AI follow-up, explain why others are not, and read the live monitor',
		defaults: { name: 'Leadflow Tag Eligibility' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: `={{(${configuredOutputs})($parameter)}}`,
		credentials: [{ name: 'leadflowSupabaseApi', required: true }],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Claim',
						value: 'claim',
						description: 'Atomically claim the contacts due a follow-up now, within each rule\'s limits',
						action: 'Claim the contacts due a follow up',
					},
					{
						name: 'Explain',
						value: 'explain',
						description: 'Judge every tagged contact without claiming, with the reason it is or is not due',
						action: 'Explain why contacts are or are not due',
					},
					{
						name: 'Snapshot',
						value: 'snapshot',
						description: 'Read the live monitor of a rule: totals, tagged contacts, active contacts, stage times',
						action: 'Read the live monitor of a rule',
					},
					{
						name: 'Timeline',
						value: 'timeline',
						description: 'Read one contact\'s stage history under a rule',
						action: 'Read a contact s stage timeline',
					},
				],
				default: 'claim',
			},
			...claim.description,
			...explain.description,
			...snapshot.description,
			...timeline.description,
		],
	};

	methods = {
		listSearch: { searchRules, searchConversations },
		loadOptions: { getTags },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return forAgent(this, await router.call(this));
	}
}
