// Which tagged Messenger contacts are due a follow-up under a rule: Claim (atomic), Explain (every
// contact's reason), Give Back (a failed run's claimed contacts freed at once), Requeue (failed
// contacts due again), Snapshot (the live monitor) and Timeline (one contact's stages), one file
// each in actions/. One resource, Tagged Contact, so that n8n describes each operation to an AI agent by its
// action (n8n reads an operation's action only under a resource: docs/nodes.md#conventions); a
// workflow saved without the resource key gets the default, so it runs as before.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, runForAgent } from '../shared/outputs';
import { searchConversations, searchRules } from '../shared/methods/listSearch';
import { getTags } from '../shared/methods/loadOptions';
import * as claim from './actions/claim.operation';
import * as explain from './actions/explain.operation';
import * as giveBack from './actions/giveBack.operation';
import * as requeue from './actions/requeue.operation';
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
		description: 'Claim the tagged Messenger contacts due an AI follow-up, explain why others are not, give back a failed run\'s claim, requeue failed ones, and read the live monitor',
		defaults: { name: 'Leadflow Tag Eligibility' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: `={{(${configuredOutputs})($parameter)}}`,
		credentials: [{ name: 'leadflowSupabaseApi', required: true }],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				default: 'taggedContact',
				options: [
					{
						name: 'Tagged Contact',
						value: 'taggedContact',
						description: 'The Messenger contacts a follow-up rule\'s tags select, and their stages under the rule',
					},
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['taggedContact'] } },
				options: [
					{
						name: 'Claim',
						value: 'claim',
						description: 'Atomically claim the contacts due a follow-up now, within each rule\'s limits',
						action: 'Claim the tagged contacts due a follow up now',
					},
					{
						name: 'Explain',
						value: 'explain',
						description: 'Judge every tagged contact without claiming, with the reason it is or is not due',
						action: 'Explain why each tagged contact is or is not due a follow up',
					},
					{
						name: 'Give Back',
						value: 'giveBack',
						description: 'Give back the contacts a claim holds before their send began, when the run that claimed them fails: claimable again at once',
						action: 'Give back the claimed contacts of a failed run',
					},
					{
						name: 'Requeue',
						value: 'requeue',
						description: 'Make a rule\'s failed contacts due again now (after fixing what failed); sends that may have arrived only when checked',
						action: 'Requeue the failed contacts of a follow up rule',
					},
					{
						name: 'Snapshot',
						value: 'snapshot',
						description: 'Read the live monitor of a rule: totals, tagged contacts, active contacts, stage times',
						action: 'Read the live monitor of a follow up rule',
					},
					{
						name: 'Timeline',
						value: 'timeline',
						description: 'Read one contact\'s stage history under a rule',
						action: 'Read the stage timeline of one contact under a rule',
					},
				],
				default: 'claim',
			},
			...claim.description,
			...explain.description,
			...giveBack.description,
			...requeue.description,
			...snapshot.description,
			...timeline.description,
		],
	};

	methods = {
		listSearch: { searchRules, searchConversations },
		loadOptions: { getTags },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return runForAgent(this, async () => await router.call(this));
	}
}
