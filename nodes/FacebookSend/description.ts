// What the editor shows for the node: where each item's contact and message come from, how fast
// to send, and how hard to retry. Every value is read per item, so expressions work per item.
import type { INodeProperties } from 'n8n-workflow';
import { leaseHolderProperty, optionsCollection, recordStagesProperty, stateIdProperty } from '../shared/properties';

const standalone = { show: { recordStages: [false] } };
// Inside the Options collection a root parameter is named with a leading slash.
const recordedOption = { show: { '/recordStages': [true] } };

/**
 * The Options collection. Every number option declares its range (minValue, maxValue), checked
 * against it whoever gives the value, the editor or an expression (nodes/shared/checked-options.ts).
 */
export const OPTIONS: INodeProperties = optionsCollection([
	{
		displayName: 'Backoff (Ms)',
		name: 'backoffMs',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 2147483647, clampAboveMax: true },
		default: 1000,
		description: 'The wait before the first retry; each further retry waits twice as long. Above 2,147,483,647 (about 24.8 days, Node\'s longest timer), that is used.',
	},
	{
		displayName: 'Parallel Sends',
		name: 'concurrency',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 10,
		description:
			'How many Send API calls may wait for Facebook\'s answer at once. Messages per Second still caps how fast calls start. 1 sends strictly one after another: then the token refused or the lease run out stops exactly at the item that saw it.',
	},
	{
		displayName: 'Request Timeout (Seconds)',
		name: 'timeoutSeconds',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 3600, clampAboveMax: true },
		default: 30,
		description: 'How long to wait for Facebook\'s answer. A send without an answer is send_uncertain and never resent. Above 3,600 (an hour), an hour is used.',
	},
	{
		displayName: 'Retries',
		name: 'retries',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 10 },
		default: 3,
		description:
			'How many more times to try a message Facebook refused without delivering it for a passing reason (throttling 4/17/32/613/80001/80006, temporary error 2, connection refused). Never for an answer that may hide a delivery.',
	},
	{
		displayName: 'Retry Later After (Minutes)',
		name: 'retryLaterMinutes',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 43200, clampAboveMax: true },
		default: 15,
		displayOptions: recordedOption,
		description:
			'When a message could not be delivered for a passing reason (throttled, temporary, unreachable, invalid token), the contact may be claimed again after this long. Above 43,200 (30 days), 30 days are used.',
	},
	{
		displayName: 'Send Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 5, maxValue: 86400, clampAboveMax: true },
		default: 120,
		displayOptions: recordedOption,
		description:
			'How long the batch may keep starting sends; the time the rate setting needs for the batch is added. A contact whose turn comes later is not sent (lease_expired, claimable again). The claim is held a Timeout and 5 s longer, to record the outcomes; a contact still in sending after that (its sender died) is declared send_uncertain (never resent). Above 86,400 (a day, the longest the database holds a claim), a day is used.',
	},
]);

export const properties: INodeProperties[] = [
	recordStagesProperty(
		'Whether the send goes through the follow-up pipeline: the duplicate guard is taken, stop and window are re-checked and the outcome is recorded, all in Supabase. The text sent is the message Generate Follow-Up recorded for the contact, not the item\'s followUp.message: an item whose message a node changed after Generate says so (send.itemMessageIgnored). Turn off to send a plain message (e.g. from an AI agent): then the node has no Supabase credential, checks no stop and takes no guard, so the same message sent again goes out again.',
	),
	stateIdProperty,
	leaseHolderProperty,
	{
		displayName: 'Recipient PSID',
		name: 'recipientId',
		type: 'string',
		default: '={{ $json.recipient_id }}',
		required: true,
		displayOptions: standalone,
		description: 'The page-scoped ID of the person to write to',
	},
	{
		displayName: 'Message',
		name: 'message',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '={{ $json.followUp?.message }}',
		required: true,
		displayOptions: standalone,
		description: 'The text to send: at most 2,000 characters',
	},
	{
		displayName: 'Messaging Type',
		name: 'messagingType',
		type: 'options',
		default: 'UPDATE',
		options: [
			{
				name: 'Update: a Proactive Message',
				value: 'UPDATE',
				description: 'A message the Page starts itself, such as a follow-up to a lead who went quiet',
			},
			{
				name: 'Response: a Reply to the Person',
				value: 'RESPONSE',
				description: 'A reply to a message the person just sent',
			},
		],
		description:
			'How Meta should classify the message. Both are allowed only inside the 24 h window after the person\'s last message; outside it the item is skipped (outside_window). Message tags are never used: an AI sales follow-up fits none of them.',
	},
	{
		displayName: 'Messages per Second',
		name: 'messagesPerSecond',
		type: 'number',
		typeOptions: { minValue: 0.1, maxValue: 10000, numberPrecision: 2 },
		default: 10,
		description:
			'At most this many Send API calls per second for the Page (retries count). With Record in Supabase on, the rate is kept in Supabase and shared by every execution, n8n worker and n8n instance sending for the Page; off, by this n8n process only. Meta allows about 300 per second for text; at most 10,000.',
	},
	OPTIONS,
];
