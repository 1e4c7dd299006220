// What the editor shows: where each item's prompt comes from (by default the fields a Tag
// Eligibility claim returns), which model, how hard to retry and how many calls run at once. Every
// value is read per item, so expressions work per item.
import type { INodeProperties } from 'n8n-workflow';
import { DEFAULT_MAX_MESSAGES } from './helpers/prompt';
import { leaseHolderProperty, optionsCollection, recordStagesProperty, stateIdProperty } from '../shared/properties';

/** An option shown only with Record in Supabase on (inside the Options collection a root parameter is named with a leading slash). */
const RECORDED_OPTION = { show: { '/recordStages': [true] } };

/** Generated items leave on the first output, failed ones on the second, so a workflow routes them without an IF node. */
export const OUTPUT = { generated: 0, failed: 1 } as const;

/**
 * The Options collection. Every number option declares its range (minValue, maxValue) and is checked
 * against it whoever gives the value, the editor or an expression (nodes/shared/checked-options.ts).
 */
export const OPTIONS: INodeProperties = optionsCollection([
	{
		displayName: 'Concurrency',
		name: 'concurrency',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 5,
		description:
			'How many Gemini calls run at once (read from the first item): n items take about ⌈n / concurrency⌉ × the model\'s latency. Keep it within your keys\' requests-per-minute quota.',
	},
	{
		displayName: 'Key Rest After 429 (Seconds)',
		name: 'keyRestSeconds',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 172800, clampAboveMax: true },
		default: 60,
		description:
			'How long a key Google throttled is left out of the rotation when Google does not say how long to wait. A daily quota rests the key until midnight Pacific time. Above 172,800 (two days), two days are used.',
	},
	{
		displayName: 'Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 5, maxValue: 86400 },
		default: 180,
		// Only where it acts: without Record in Supabase nothing is held. A standalone workflow saved
		// with a value keeps it in its JSON, hidden and not read (helpers/jobs.ts).
		displayOptions: RECORDED_OPTION,
		description:
			'How long the claimed contacts stay held if this worker stops (read from the first item that records in Supabase). Renewed every third of it while the node works, so a dead worker frees its contacts after this long (or the claim\'s lease, if later), not after the whole batch.',
	},
	{
		displayName: 'Max Messages in Prompt',
		name: 'maxMessages',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1000, clampAboveMax: true },
		default: DEFAULT_MAX_MESSAGES,
		description:
			"Only the last this many messages of the conversation are shown to the model. A claimed contact already carries its rule's last Messages of history (0–100), so by default the rule decides. Above 1,000, 1,000 is used.",
	},
	{
		displayName: 'Max Output Tokens',
		name: 'maxOutputTokens',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 65536, clampAboveMax: true },
		default: 0,
		description: "The model's output-token limit; 0 leaves the model's default. Thinking models count their thinking against it. Above 65,536, 65,536 is used.",
	},
	{
		displayName: 'Max Retries',
		name: 'maxRetries',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 10 },
		default: 3,
		description: 'How many more times to try after a 5xx, a timeout, or a short wait for a throttled key. Rejected requests (400, 403, 404) are never retried.',
	},
	{
		displayName: 'Max Wait for a Resting Key (Ms)',
		name: 'maxQuotaWaitMs',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 3600000, clampAboveMax: true },
		default: 10000,
		description: 'When every key rests after a 429, wait for one only if it is back within this long; otherwise the item fails at once with quota. Above 3,600,000 (an hour), an hour is used.',
	},
	{
		displayName: 'Retry Delay (Ms)',
		name: 'retryDelayMs',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 30000, clampAboveMax: true },
		default: 1000,
		description: 'The wait before the first retry; each further retry waits about twice as long (with random jitter), never more than 30 seconds. Above 30,000, 30,000 is used.',
	},
	{
		displayName: 'Temperature',
		name: 'temperature',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 },
		default: 0.7,
		description: 'Higher values make the wording more varied',
	},
	{
		displayName: 'Timeout (Ms)',
		name: 'timeoutMs',
		type: 'number',
		typeOptions: { minValue: 100, maxValue: 3600000, clampAboveMax: true },
		default: 30000,
		description: 'How long one Gemini call may take before it is abandoned and retried. Above 3,600,000 (an hour), an hour is used.',
	},
	{
		displayName: 'Too Long Reply',
		name: 'tooLongReply',
		type: 'options',
		default: 'shorten',
		options: [
			{ name: 'Shorten at a Sentence End', value: 'shorten', description: 'Cut the reply at the last sentence (or word) within 2,000 characters' },
			{ name: 'Fail the Item', value: 'fail', description: 'The item fails with too_long' },
		],
		description: 'What to do with a reply longer than the 2,000 characters Messenger accepts',
	},
]);

export const properties: INodeProperties[] = [
	recordStagesProperty(
		'Whether to move each claimed contact to generating, then to ready_to_send (with the message) or failed (with the reason) in Supabase, two database calls per batch. Turn off to use the node without a database, e.g. from an AI agent.',
	),
	stateIdProperty,
	leaseHolderProperty,
	{
		displayName: 'Instructions',
		name: 'instructions',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '={{ $json.rule?.instructions ?? "" }}',
		required: true,
		description: "What the business wants the follow-up to say and how (by default the rule's instructions)",
	},
	{
		displayName: 'Contact Name',
		name: 'contactName',
		type: 'string',
		default: '={{ $json.sender_name ?? "" }}',
		description: 'The name the message may greet; empty when unknown',
	},
	{
		displayName: 'Follow-Up Number',
		name: 'followUpNumber',
		// A text field: its default is an expression (the claim's number), which a number field cannot hold.
		type: 'string',
		default: '={{ $json.follow_up_number ?? 1 }}',
		description: 'Which follow-up this is, a whole number: 1 for the first after the contact went quiet',
	},
	{
		displayName: 'Last Messages',
		name: 'messages',
		type: 'json',
		default: '={{ $json.messages ?? [] }}',
		description:
			'The conversation so far: a list of {direction: "inbound" | "outbound" (any case), text, sent_at}, put oldest first by sent_at when every message has one. Another direction, or another shape such as {role, content}, fails the item naming the message.',
	},
	{
		displayName: 'Model',
		name: 'model',
		type: 'string',
		default: '={{ $json.rule?.model ?? "" }}',
		placeholder: 'e.g. gemini-3.5-flash',
		description: "The Gemini model. By default the rule's model; empty: the credential's default model.",
	},
	{
		displayName: 'Language',
		name: 'language',
		type: 'string',
		default: '={{ $json.rule?.language ?? "" }}',
		placeholder: 'e.g. English',
		description: 'The language to write in; empty: the language the contact used',
	},
	OPTIONS,
];
