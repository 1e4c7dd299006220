import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { MAIN_INPUT, namedOutputs, runForAgent } from '../shared/outputs';
import * as monitor from './actions/monitor.operation';
import * as page from './actions/page.operation';
import * as pipelineBoard from './actions/pipelineBoard.operation';
import * as queuePage from './actions/queuePage.operation';
import * as requeue from './actions/requeue.operation';
import * as ruleDelete from './actions/ruleDelete.operation';
import * as rulePrompt from './actions/rulePrompt.operation';
import * as rules from './actions/rules.operation';
import * as ruleWrite from './actions/ruleWrite.operation';
import { router } from './actions/router';
import * as timeline from './actions/timeline.operation';

export class LeadflowConsole implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Console',
		name: 'leadflowConsole',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description: 'Serve the Leadflow console page and the follow-up monitor it shows, one page of contacts at a time',
		defaults: { name: 'Leadflow Console' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: namedOutputs('Result'),
		credentials: [{ name: 'leadflowSupabaseApi', required: true, displayOptions: { show: { operation: ['pipelineBoard', 'monitor', 'timeline', 'rules', 'ruleWrite', 'ruleDelete', 'queuePage', 'rulePrompt', 'requeue'] } } }],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				default: 'followUp',
				options: [
					{ name: 'Console Page', value: 'console', description: 'The console\'s web page itself' },
					{ name: 'Follow-Up Monitor', value: 'followUp', description: 'What a follow-up rule is doing: its stages, totals, contacts and timelines; its failed contacts requeued' },
					{ name: 'Follow-Up Rule', value: 'rule', description: 'The follow-up rules: list, create, change, preview (what is due, the prompt), delete' },
					{ name: 'Lead Queue', value: 'queue', description: 'An owner\'s lead queue of the day: counts by status and its messages one page at a time' },
					{ name: 'Pipeline Board', value: 'pipeline', description: 'A CRM pipeline as a board: its stages with counts and time in stage, and one page of contacts each' },
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['console'] } },
				options: [
					{
						name: 'Get Page',
						value: 'page',
						description: 'The console\'s web page (HTML with its script and styles, shipped in the package), as the item\'s html',
						action: 'Get the console web page',
					},
				],
				default: 'page',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['followUp'] } },
				options: [
					{
						name: 'Contact Timeline',
						value: 'timeline',
						description: 'Read one contact\'s stage events under a rule, as one item with its events (none yet: an empty list)',
						action: 'Read the timeline of a contact',
					},
					{
						name: 'Monitor Page',
						value: 'monitor',
						description: 'Read a rule\'s monitor: totals, stages, one page of tagged contacts (by status, reason, search), active contacts',
						action: 'Read a page of the monitor of a rule',
					},
					{
						name: 'Requeue Failed',
						value: 'requeue',
						description: 'Make a rule\'s failed contacts (all, or those listed) due again now, as one item with each contact\'s outcome and the counts; sends that may have arrived only once checked',
						action: 'Requeue the failed contacts of a rule',
					},
				],
				default: 'monitor',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['rule'] } },
				options: [
					{
						name: 'Delete Rule',
						value: 'ruleDelete',
						description: 'Delete a follow-up rule with its contact states and history',
						action: 'Delete a follow up rule',
					},
					{
						name: 'List Rules',
						value: 'rules',
						description: 'Read the follow-up rules in full with their tags by name, and the tags to pick from',
						action: 'List follow up rules and tags',
					},
					{
						name: 'Preview Prompt',
						value: 'rulePrompt',
						description: 'Show the prompt Generate Follow-Up would send Gemini for one of the rule\'s tagged contacts with unsaved settings (no Gemini call, nothing saved)',
						action: 'Preview the prompt of a follow up rule',
					},
					{
						name: 'Save Rule',
						value: 'ruleWrite',
						description: 'Create or change a follow-up rule (or preview its settings), judged by the database\'s own checks',
						action: 'Save or preview a follow up rule',
					},
				],
				default: 'rules',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['pipeline'] } },
				options: [
					{
						name: 'Read Board',
						value: 'pipelineBoard',
						description: 'Read the pipelines and, for one, its stages in order with counts, mean time in stage and one page of cards each (lead score, status, last activity, the AI\'s reasoning)',
						action: 'Read a pipeline board',
					},
				],
				default: 'pipelineBoard',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['queue'] } },
				options: [
					{
						name: 'Queue Page',
						value: 'queuePage',
						description: 'Read an owner\'s queue day (today in their time zone): counts by status and one page of messages (by status, search) with each lead and its last ledger row',
						action: 'Read a page of the lead queue of one owner by user ID',
					},
				],
				default: 'queuePage',
			},
			...monitor.description,
			...queuePage.description,
			...page.description,
			...timeline.description,
			...rules.description,
			...ruleWrite.description,
			...ruleDelete.description,
			...pipelineBoard.description,
			...rulePrompt.description,
			...requeue.description,
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return runForAgent(this, async () => await router.call(this));
	}
}
