// The Messenger Sync's parameters: which owner, full or incremental, and how fast Facebook may be
// called (the Page's rate, the page sizes, the backoff).
import type { INodeProperties } from 'n8n-workflow';

export const properties: INodeProperties[] = [
	{
		displayName:
			'Reads the credential’s Page’s Messenger conversations and their messages from the Graph API into Supabase. Progress is in messenger_sync_jobs while it runs; a sync that stopped is resumed where it stopped by the next one.',
		name: 'syncNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Mode',
		name: 'mode',
		type: 'options',
		default: 'incremental',
		options: [
			{ name: 'Incremental', value: 'incremental', description: 'Only the conversations updated since the last completed sync (all of them the first time)' },
			{ name: 'Full', value: 'full', description: 'Every conversation again (a stopped sync is abandoned and started over)' },
		],
	},
	{
		displayName: 'Owner ID',
		name: 'owner',
		type: 'string',
		default: '',
		placeholder: 'e.g. 6f1c2a9e-…',
		description:
			'The Supabase Auth user the Page belongs to. Connects the Page to this owner the first time; in a workflow leave empty once the Page is connected (a row of messenger_pages). As an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI): another owner than the Page\'s is refused.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Backoff (Ms)',
				name: 'backoffMs',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 600000, numberPrecision: 1 },
				default: 5000,
				description: 'The wait before the first retry; it doubles with each retry (at most 10 minutes)',
			},
			{
				displayName: 'Conversations per Call',
				name: 'pageSize',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 100, roundsDownFractions: true },
				default: 100,
				description: 'The page size asked for; the largest needs the fewest calls. A fraction (from an expression) is rounded down.',
			},
			{
				displayName: 'Lease (Seconds)',
				name: 'leaseSeconds',
				type: 'number',
				typeOptions: { minValue: 10, maxValue: 86400, roundsDownFractions: true },
				default: 300,
				description: 'How long the job stays this run’s without news; a run that died is taken over by the next sync after it. A fraction (from an expression) is rounded down.',
			},
			{
				displayName: 'Messages per Conversation',
				name: 'messagesPerConversation',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 100, roundsDownFractions: true },
				default: 100,
				description: 'Messages read inside each conversation in the same call (field expansion); a longer conversation’s older messages take calls of their own. A fraction (from an expression) is rounded down.',
			},
			{
				displayName: 'Requests per Second',
				name: 'requestsPerSecond',
				type: 'number',
				typeOptions: { minValue: 0.1, maxValue: 100, numberPrecision: 2 },
				default: 2,
				description: 'The Page’s rate for the Conversations API: calls start no faster than this (Meta allows about 2 per second per Page)',
			},
			{
				displayName: 'Retries',
				name: 'maxRetries',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 20, roundsDownFractions: true },
				default: 5,
				description: 'How many times a throttled (codes 4, 17, 32, 613, 80001, 80006) or temporary failure is tried again, with backoff, before the sync stops (to be resumed later). A fraction (from an expression) is rounded down.',
			},
			{
				displayName: 'Timeout (Ms)',
				name: 'timeoutMs',
				type: 'number',
				typeOptions: { minValue: 1000, maxValue: 300000, numberPrecision: 1 },
				default: 30000,
				description: 'How long one Graph call may take',
			},
		],
	},
];
