// Campaign sessions for outbound recruiting: a launch request becomes a campaign and one session per
// candidate phone number (once, however often it arrives); the outreach side records objectives
// reached; the app reads live stats. Operations live in actions/, one file each, under one resource,
// Campaign, so that n8n describes each operation to an AI agent by its action (n8n reads an
// operation's action only under a resource: docs/nodes.md#conventions); a workflow saved without the
// resource key gets the default, so it runs as before.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { searchCampaigns } from '../shared/methods/listSearch';
import { getTags } from '../shared/methods/loadOptions';
import * as create from './actions/create.operation';
import * as recordObjective from './actions/recordObjective.operation';
import { router } from './actions/router';
import * as stats from './actions/stats.operation';
import { configuredOutputs } from './helpers/outputs';
import { MAIN_INPUT, runForAgent } from '../shared/outputs';

export class CampaignSessionCreate implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Campaign Session Create',
		name: 'campaignSessionCreate',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["operation"] }}',
		description: 'Create outreach campaign sessions from a launch request, record objectives reached and read live campaign stats',
		defaults: { name: 'Campaign Sessions' },
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
				default: 'campaign',
				options: [
					{
						name: 'Campaign',
						value: 'campaign',
						description: 'An outreach campaign: its sessions, one per phone number, the objectives they reach, its stats',
					},
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['campaign'] } },
				default: 'create',
				options: [
					{
						name: 'Create Sessions',
						value: 'create',
						action: 'Create a campaign and its sessions',
						description: 'Validate a launch request and create the campaign and one session per phone number, once',
					},
					{
						name: 'Record Objective',
						value: 'recordObjective',
						action: 'Record an objective reached on a session',
						description: 'Record that a session reached an objective and update its status',
					},
					{
						name: 'Get Stats',
						value: 'stats',
						action: 'Get live stats of a campaign',
						description: 'Count a campaign\'s sessions, contacts, messages, calls and objectives reached',
					},
				],
			},
			{
				displayName: 'Owner User ID',
				name: 'ownerUserId',
				type: 'string',
				default: '',
				required: true,
				placeholder: 'e.g. 7d0f4c1e-…',
				description:
					'The Supabase Auth user (auth.users ID) who owns the campaign. n8n connects with the service role, which bypasses row level security, so the owner is set here; an expression may take it from the request.',
			},
			...create.description,
			...recordObjective.description,
			...stats.description,
		],
	};

	methods = {
		listSearch: { searchCampaigns },
		loadOptions: { getTags },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return runForAgent(this, async () => await router.call(this));
	}
}
