// The lead queue: leads to contact first (from items or the CRM), tomorrow's WhatsApp queue per
// owner, claiming and sending due messages, recording their outcome, a person taking a lead over,
// the queue as a CSV file, and its numbers per day. Every change of a queue item is written to the
// append-only ledger by the database itself. Operations live in actions/, one file each.
import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { searchCampaigns } from '../shared/methods/listSearch';
import { getTags } from '../shared/methods/loadOptions';
import { MAIN_INPUT, runForAgent } from '../shared/outputs';
import * as addLeads from './actions/addLeads.operation';
import * as claim from './actions/claim.operation';
import * as complete from './actions/complete.operation';
import * as exportQueue from './actions/export.operation';
import * as metrics from './actions/metrics.operation';
import * as prepareTomorrow from './actions/prepareTomorrow.operation';
import { router } from './actions/router';
import * as send from './actions/send.operation';
import * as settleLead from './actions/settleLead.operation';
import * as takeLead from './actions/takeLead.operation';
import { configuredOutputs } from './helpers/outputs';

export class QueueLedger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Queue Ledger',
		name: 'queueLedger',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["operation"] }}',
		description: 'The lead queue: add leads, prepare tomorrow\'s WhatsApp queue, claim, send and complete messages, take leads over, settle dead messages, export the queue as CSV, read its metrics',
		defaults: { name: 'Leadflow Queue Ledger' },
		usableAsTool: true,
		inputs: MAIN_INPUT,
		outputs: `={{(${configuredOutputs})($parameter)}}`,
		credentials: [
			{ name: 'leadflowSupabaseApi', required: true },
			{ name: 'leadflowWhatsAppApi', required: true, displayOptions: { show: { operation: ['send'] } } },
		],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				default: 'lead',
				options: [
					{ name: 'Lead', value: 'lead', description: 'The people to contact first' },
					{ name: 'Queued Message', value: 'message', description: 'The WhatsApp messages of each owner\'s daily queue' },
					{ name: 'Queue Report', value: 'report', description: 'The queue as a CSV file, and its numbers per day' },
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['lead'] } },
				default: 'addLeads',
				options: [
					{
						name: 'Add Leads',
						value: 'addLeads',
						action: 'Add leads to the queue',
						description: 'Create leads from the input items (phones checked and made E.164) or from the CRM, each once',
					},
					{
						name: 'Settle Dead Message',
						value: 'settleLead',
						action: 'Settle a lead whose last message ended dead',
						description: 'The owner decides on a dead (e.g. uncertain) WhatsApp message: delivered (the lead becomes contacted) or send again (the next Prepare sends a new one)',
					},
					{
						name: 'Take Lead',
						value: 'takeLead',
						action: 'Take a lead over by its lead ID',
						description: 'A person takes the lead: its queued messages are cancelled and its follow-ups stopped, in one transaction',
					},
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['message'] } },
				default: 'claim',
				options: [
					{
						name: 'Claim',
						value: 'claim',
						action: 'Claim the messages due now',
						description: 'Take up to N due WhatsApp messages, inside each owner\'s sending hours, held until Complete',
					},
					{
						name: 'Complete',
						value: 'complete',
						action: 'Record what became of claimed messages',
						description: 'Record sent, failed or released for a batch of claimed messages in one call',
					},
					{
						name: 'Prepare Tomorrow',
						value: 'prepareTomorrow',
						action: 'Prepare the queue of tomorrow',
						description: 'Fill each owner\'s queue for their tomorrow, up to the daily capacity, highest lead score first',
					},
					{
						name: 'Send',
						value: 'send',
						action: 'Send the claimed messages',
						description: 'Send each claimed message with the WhatsApp Cloud API and say what happened, for Complete',
					},
				],
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['report'] } },
				default: 'export',
				options: [
					{
						name: 'Export',
						value: 'export',
						action: 'Export the queue as a CSV file',
						description: 'The queue with each item\'s lead for a range of days, as a CSV file',
					},
					{
						name: 'Get Metrics',
						value: 'metrics',
						action: 'Get the metrics of the queue per day',
						description: 'Queued, sent, failed, cancelled, taken over, mean wait and processing time per day',
					},
				],
			},
			...addLeads.description,
			...prepareTomorrow.description,
			...claim.description,
			...send.description,
			...complete.description,
			...takeLead.description,
			...settleLead.description,
			...exportQueue.description,
			...metrics.description,
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
