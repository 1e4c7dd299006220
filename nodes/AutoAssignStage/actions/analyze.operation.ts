// analyze: per item, a conversation's last messages (the item's own, else read for the whole batch
// at once) → Gemini with a response schema → a validated analysis (score, status, confidence,
// recommended stage), or the deterministic fallback score when the model fails. Several contacts at
// once; keys, rests and retries as every Gemini call here. A setup problem fails the run, every item
// with it, instead of scoring anyone: no key or no model (before any call), every key refused or a
// model the API does not know (the first call that meets it; the calls not yet made are not made).
// A cancelled execution (Stop, the workflow's timeout) scores no one it had not analysed yet: each
// such conversation fails (without Continue On Fail the node stops), never a fallback score. An item's own messages say whose each is
// by direction, inbound or outbound (any case); any other direction fails the item, naming it.
// The stage names the model may recommend are those of the chosen pipeline, else of each
// conversation's Page pipeline, read for the whole batch at once. From the Input, with Skip Analyses
// Assign Would Not Use on, the conversations whose analysis Assign would drop (auto-assignment off,
// already placed on a SKIP_EXISTING Page, moved out of the pipeline) are found first, in one call for
// the batch, and come out with analysed false, the outcome and the reason, without a Gemini call.
// Owner User ID keeps the run to one owner's conversations, checked by the database (another
// owner's conversation is answered as a missing one, and so is its Pipeline): as an AI agent's tool it
// must be given, in either source (docs/nodes.md, "One owner per tool"; before 6 December 2026 a tool
// read and sent to Gemini any owner's conversation the model named, or every owner's due ones). In a
// workflow an empty one is every owner's, as before.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { apiKeysProblem, parseApiKeys } from '../../shared/gemini/keyRing';
import { SharedKeyRing } from '../../shared/gemini/sharedKeyRing';
import { numberedKeys, redactorFor } from '../../shared/redact';
import { asNodeError, failedItem } from '../../shared/per-item';
import { readCheckedOptions, type OptionWhy } from '../../shared/checked-options';
import { readWholeNumber } from '../../shared/valid-input';
import { mapWithConcurrency } from '../../shared/pool';
import { readConversationMessages, type MessageReading } from '../../shared/conversation-messages';
import { buildAnalysisPrompt, ANALYSIS_SCHEMA, type ChatMessage } from '../helpers/analysis';
import { checkUuid, CONTACTS, conversationIdHint, invalid, OUTPUT_COUNT, pipelineProperty, readPipelineId, type ConversationWords } from '../helpers/common';
import { readOwnerId } from '../../shared/owner-id';
import { runsAsTool } from '../../shared/outputs';
import { fieldAsKnown, filledByModel, fromAIKey } from '../../shared/tool-text';
import { requireToolOwner, toolOwnerAdvice, type ToolOwnerField, type ToolOwnerWords } from '../../shared/tool-owner';
import { analyzeContact, type AnalysisCancelled, type AnalysisOutcome, type AnalysisSetupFailure } from '../transport/analyzeContact';
import { readConversations, readDueConversations, readStageChoices, readUnusedAnalyses, unknownConversation, type ConversationFacts } from '../transport/conversations';

interface GeminiCredentials {
	apiKeys: string;
	baseUrl?: string;
	model?: string;
}

/** The run's Options (read from the first item), the numbers checked and set: their default when not given. */
interface AnalyzeOptions {
	maxMessages: number;
	model?: string;
	instructions?: string;
	concurrency: number;
	timeoutMs: number;
	maxRetries: number;
	retryDelayMs: number;
	keyRestSeconds: number;
	maxQuotaWaitMs: number;
	temperature: number;
}

const GOOGLE_BASE_URL = 'https://generativelanguage.googleapis.com';

/**
 * The Options collection. Every number option declares its range (minValue, maxValue), checked
 * against it whoever gives the value, the editor or an expression (nodes/shared/checked-options.ts).
 */
const OPTIONS: INodeProperties = {
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add option',
	default: {},
	options: [
		{ displayName: 'Concurrency', name: 'concurrency', type: 'number', typeOptions: { minValue: 1, maxValue: 50 }, default: 5, description: 'How many Gemini calls run at once' },
		{ displayName: 'Instructions', name: 'instructions', type: 'string', typeOptions: { rows: 3 }, default: '', description: 'What a good lead is for this business, added to the prompt' },
		{ displayName: 'Key Rest (Seconds)', name: 'keyRestSeconds', type: 'number', typeOptions: { minValue: 1, maxValue: 172800, clampAboveMax: true }, default: 60, description: 'How long a throttled key rests when Google does not say. Above 172,800 (two days), two days are used.' },
		{ displayName: 'Max Messages', name: 'maxMessages', type: 'number', typeOptions: { minValue: 1, maxValue: 200 }, default: 20, description: 'How many of the last messages the model sees' },
		{ displayName: 'Max Quota Wait (Ms)', name: 'maxQuotaWaitMs', type: 'number', typeOptions: { minValue: 0, maxValue: 3600000, clampAboveMax: true }, default: 10000, description: 'Wait for a resting key only when one is back within this long; else fall back. Above 3,600,000 (an hour), an hour is used.' },
		{ displayName: 'Max Retries', name: 'maxRetries', type: 'number', typeOptions: { minValue: 0, maxValue: 10 }, default: 3, description: 'Retries after 5xx, timeouts or waiting for a key' },
		{ displayName: 'Model', name: 'model', type: 'string', default: '', description: 'The Gemini model; empty: the credential\'s default model' },
		{ displayName: 'Retry Delay (Ms)', name: 'retryDelayMs', type: 'number', typeOptions: { minValue: 0, maxValue: 30000, clampAboveMax: true }, default: 1000, description: 'The first backoff; it doubles per retry, with jitter, never more than 30 seconds. Above 30,000, 30,000 is used.' },
		{ displayName: 'Temperature', name: 'temperature', type: 'number', typeOptions: { minValue: 0, maxValue: 2, numberPrecision: 2 }, default: 0.2 },
		{ displayName: 'Timeout (Ms)', name: 'timeoutMs', type: 'number', typeOptions: { minValue: 1000, maxValue: 3600000, clampAboveMax: true }, default: 30000, description: 'How long one Gemini call may take. Above 3,600,000 (an hour), an hour is used.' },
	],
};

/** Why a range is what it is, said in the refusal before what to do. */
const OPTION_WHY: OptionWhy = {
	concurrency: 'It is how many Gemini calls run at once.',
	temperature: "Gemini's temperature runs from 0 to 2.",
	retryDelayMs: 'Each retry waits about twice as long as the one before, at most 30 seconds.',
	keyRestSeconds: "The database records a key's rest of at most 48 hours.",
	maxMessages: 'It is how many of the last messages the model sees.',
};

const properties: INodeProperties[] = [
	{
		displayName: 'Conversations to Analyse',
		name: 'source',
		type: 'options',
		default: 'input',
		options: [
			{ name: 'From the Input', value: 'input', description: 'One per input item: its conversation ID (and its messages, when it has them)' },
			{
				name: 'Due for Analysis',
				value: 'due',
				description:
					'Read from Supabase: conversations on Pages with auto-assignment on that are not in the Page\'s pipeline yet (and were never moved out of it), were placed by the fallback score, or (update mode UPDATE_EXISTING) have a customer message after their last analysis',
			},
		],
	},
	{
		displayName: 'Max Conversations',
		name: 'maxConversations',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 1000 },
		default: 100,
		description: 'How many due conversations one run analyses; the rest wait for the next run. Those who wrote within the last 24 hours and older ones (such as a Page\'s imported history) take turns, oldest customer message first in each: three of the first for one of the second, so a new writer comes first and, from 4 on, every run has room for the older ones. Those placed by the fallback score come last',
		displayOptions: { show: { source: ['due'] } },
	},
	{
		displayName: 'Owner User ID',
		name: 'ownerUserId',
		type: 'string',
		default: '',
		placeholder: 'e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f',
		description:
			'Only this Supabase user\'s conversations (Due for Analysis: its Pages\'): another owner\'s conversation is answered as one that does not exist. Empty: every owner\'s, in a workflow only (the credential\'s service role sees them all); as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
	},
	{
		displayName: 'Conversation ID',
		name: 'conversationId',
		type: 'string',
		default: '={{ $json.conversation_id }}',
		required: true,
		displayOptions: { show: { source: ['input'] } },
		description: 'The contact to analyse (an ID of messenger_conversations). When the item has a messages array (direction inbound or outbound, text, sent_at), those are analysed; else the last messages are read from Supabase.',
	},
	{
		displayName: 'Skip Analyses Assign Would Not Use',
		name: 'skipUnused',
		type: 'boolean',
		default: false,
		displayOptions: { show: { source: ['input'] } },
		description:
			'Whether to leave out of the Gemini calls a conversation whose analysis Assign would drop, by the Pipeline here (else the Page\'s) and the Page\'s update mode in pipeline_page_settings: no pipeline (auto-assignment off: skipped, auto_assign_off), already placed on a SKIP_EXISTING Page (kept, skip_existing), moved out of the pipeline (skipped, left_pipeline), a pipeline with no stages yet (skipped, pipeline_has_no_stages). Such an item comes out with analysed false, outcome and reason, and no score: Assign takes only analysed items, so route it around Assign (an If on analysed). Leave off to analyse every conversation, e.g. when Assign\'s Update Mode re-evaluates contacts on SKIP_EXISTING Pages.',
	},
	{
		...pipelineProperty('The pipeline whose stage names the model may recommend, passed on to Assign; empty: the conversation\'s Page\'s pipeline (pipeline_page_settings, when enabled; none: no stage names)'),
		// Due for Analysis always uses each conversation's Page pipeline.
		displayOptions: { show: { source: ['input'] } },
	},
	OPTIONS,
];

export const description = updateDisplayOptions({ show: { operation: ['analyze'] } }, properties);

/** An input item's conversation, checked, before its messages are read. */
interface Asked {
	itemIndex: number;
	conversationId: string;
	/** Only this owner's conversation (the database checks it); null: any owner's (a workflow's empty Owner User ID). */
	owner: string | null;
	pipelineId: string | null;
	/** The item's own messages, checked, when it has them; else they are read from Supabase. */
	own: ChatMessage[] | undefined;
}

interface Job {
	itemIndex: number;
	conversationId: string;
	/** Whose conversation it is asked as (null: any owner's): the stage names are read within it. */
	owner: string | null;
	/** The pipeline chosen on the node (passed on to Assign), or the Page's in Due for Analysis. */
	pipelineId: string | null;
	/** Whose stage names the prompt lists: pipelineId, else the conversation's Page pipeline; null: none. */
	stagesOf: string | null;
	messages: ChatMessage[];
	senderName: string;
}

/** Whose a message is and its order: the reading Generate Follow-Up shares (nodes/shared/conversation-messages.ts). */
function messageReading(context: IExecuteFunctions, itemIndex: number): MessageReading {
	return {
		name: (position) => `The messages[${position}]`,
		directionHint:
			'Give each message of the item\'s messages array a direction: "inbound" for what the customer wrote, "outbound" for what the Page sent (as messenger_messages.direction).',
		refuse: (message, description) => invalid(context, itemIndex, message, description),
	};
}

/**
 * The item's own messages (the output of a query), when it has them, each direction checked
 * ("inbound" or "outbound" in any case; anything else refused, naming the message: read as the
 * customer's, a Page's "OUTBOUND" or "sent" message would put the Page's own words in the
 * customer's mouth, in the transcript the model scores and in the fallback score's count of
 * customer messages); the last `limit`, oldest first (by time when every message has one: a query
 * or the Graph API may list newest first, and the slice must keep the last ones).
 */
function messagesOf(context: IExecuteFunctions, json: IDataObject, itemIndex: number, limit: number): ChatMessage[] | undefined {
	if (!Array.isArray(json.messages)) return undefined;
	return readConversationMessages(json.messages as unknown[], messageReading(context, itemIndex)).slice(-limit);
}

/** Analyze's owner field, and what its refusal as a tool says. */
const OWNER_FIELD: ToolOwnerField = { parameter: 'ownerUserId', displayName: 'Owner User ID' };
const OWNER_WORDS: ToolOwnerWords = { operation: 'Analyze', purpose: 'whose conversations to analyse', without: 'analyses no conversation' };
/** Analyze's Conversation ID, for its advice as a tool (conversationIdHint). */
const CONVERSATION_WORDS: ConversationWords = { thing: 'conversation', purpose: 'to analyse', without: 'analyses no conversation' };

/**
 * Owner User ID of item i, lower case: as an AI agent's tool it must be given (refused naming the
 * field otherwise); in a workflow empty is null, every owner's.
 */
function readAnalyzeOwner(context: IExecuteFunctions, itemIndex: number): string | null {
	requireToolOwner(context, itemIndex, OWNER_FIELD, OWNER_WORDS);
	const hint = runsAsTool(context) ? toolOwnerAdvice(context, OWNER_FIELD, OWNER_WORDS) : 'Use the id of the Supabase user whose conversations (and Pages) these are, or leave it empty for every owner.';
	return readOwnerId(context, itemIndex, hint, true);
}

function readAsked(context: IExecuteFunctions, json: IDataObject, itemIndex: number, maxMessages: number): Asked {
	const raw = context.getNodeParameter('conversationId', itemIndex) as unknown;
	const hint = conversationIdHint(context, raw, 'Map the id of messenger_conversations, e.g. {{ $json.conversation_id }}.', CONVERSATION_WORDS);
	const conversationId = checkUuid(context, raw, 'conversation ID', 'conversationId', itemIndex, hint);
	const owner = readAnalyzeOwner(context, itemIndex);
	return { itemIndex, conversationId, owner, pipelineId: readPipelineId(context, itemIndex), own: messagesOf(context, json, itemIndex, maxMessages) };
}

/** Items by their owner, each group in the items' order, owners in the order first met (one push per item: no copy per item). */
function groupByOwner<T extends { owner: string | null }>(items: T[]): Map<string | null, T[]> {
	const byOwner = new Map<string | null, T[]>();
	for (const item of items) {
		const group = byOwner.get(item.owner);
		if (group) group.push(item);
		else byOwner.set(item.owner, [item]);
	}
	return byOwner;
}

/** Where a conversation's facts (and a pipeline's stage names) are kept: by the owner they were read within. */
const withinOwner = (owner: string | null, id: string): string => `${owner ?? '*'}:${id}`;

/**
 * Reads the conversations of `entries` into `read`, one call per owner they are asked within (per
 * 1,000 conversations): an owner's call answers only that owner's conversations. When a call fails,
 * every item it was for fails (or, without Continue On Fail, the node stops); those are returned.
 */
async function readWithinOwners(context: IExecuteFunctions, entries: Asked[], maxMessages: number, read: Map<string, ConversationFacts>, results: INodeExecutionData[]): Promise<Set<Asked>> {
	const failed = new Set<Asked>();
	for (const [owner, group] of groupByOwner(entries)) {
		try {
			const facts = await readConversations(context, group.map((entry) => entry.conversationId), maxMessages, owner);
			for (const [conversationId, fact] of facts) read.set(withinOwner(owner, conversationId), fact);
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error);
			results.push(...group.map((entry) => failedItem(context, error, { item: entry.itemIndex })));
			for (const entry of group) failed.add(entry);
		}
	}
	return failed;
}

/**
 * As an AI agent's tool, what to do about a conversation that is not found within the owner (unknown,
 * or another owner's: the same words), for whoever fills Conversation ID and Owner User ID, as Move's
 * advice: the model may give another conversation only when it fills Conversation ID, and may check
 * the owner only when it gave it; what the builder set is the builder's to fix. Never the builder's
 * "{{ $json.conversation_id }}" to a model.
 */
function toolNotFoundAdvice(context: IExecuteFunctions): string {
	const conversation = fieldAsKnown(context, 'conversationId', 'Conversation ID (conversationId)');
	const ownerKey = fromAIKey(context, 'ownerUserId') ?? 'Owner User ID (ownerUserId)';
	const modelOwner = filledByModel(context, 'ownerUserId');
	if (filledByModel(context, 'conversationId')) {
		return modelOwner
			? `Give the id of one of this owner's conversations as ${conversation}; if that conversation is the one you mean, check the owner you gave as ${ownerKey}.`
			: `This tool analyses only the conversations of the owner set in its settings: give the id of one of them as ${conversation}. Another owner's conversation cannot be analysed with this tool.`;
	}
	return modelOwner
		? `The conversation is set in this tool's settings (Conversation ID), not given by you: check the owner you gave as ${ownerKey}; if it is right, this conversation cannot be analysed with this tool.`
		: "The conversation (Conversation ID) and its owner (Owner User ID) are both set in this tool's settings, and the conversation is not that owner's or does not exist: this tool cannot analyse it. Set Conversation ID or Owner User ID in the tool's settings so they agree, or let the model give the conversation with $fromAI.";
}

/** Whether entry's conversation was read; if not, it fails alone, naming its Conversation ID (unknown, or another owner's: the same words). */
function readOrFailed(context: IExecuteFunctions, entry: Asked, read: Map<string, ConversationFacts>, results: INodeExecutionData[]): boolean {
	if (read.has(withinOwner(entry.owner, entry.conversationId))) return true;
	const error = unknownConversation(context, entry.conversationId, entry.itemIndex);
	if (runsAsTool(context)) error.description = toolNotFoundAdvice(context);
	if (!context.continueOnFail()) throw error;
	results.push(failedItem(context, error, { item: entry.itemIndex }));
	return false;
}

/**
 * The items asked with an owner (as a tool, every item) whose conversation is that owner's: each is
 * read within its owner first, before anything else is read or called for it, even one that brings
 * its own messages; another owner's conversation fails as one that does not exist. Items without an
 * owner (a workflow's empty Owner User ID) pass unread, as before.
 * An item bringing its own messages needs only its conversation's owner checked: it is read with one
 * message, not Max Messages thrown away (100 conversations: about 7 times less database time than
 * at the default 20, 60 times less than at 200), into `checked`, never into `read`: `read` holds the
 * facts readJobs gives Gemini, and a one-message read must never stand in for the full read of
 * another item asking the same conversation without messages of its own. With Skip Analyses Assign
 * Would Not Use on (`checkOnly`), every item is checked so, before the skip: a conversation then left
 * out as unused never has its messages read, and readJobs reads the others in full.
 */
async function keepOwned(context: IExecuteFunctions, asked: Asked[], maxMessages: number, read: Map<string, ConversationFacts>, results: INodeExecutionData[], checkOnly: boolean): Promise<Asked[]> {
	const scoped = asked.filter((entry) => entry.owner);
	if (scoped.length === 0) return asked;
	const checked = new Map<string, ConversationFacts>();
	const short = (entry: Asked): boolean => checkOnly || entry.own !== undefined;
	const failed = new Set<Asked>([
		...(await readWithinOwners(context, scoped.filter(short), 1, checked, results)),
		...(await readWithinOwners(context, scoped.filter((entry) => !short(entry)), maxMessages, read, results)),
	]);
	return asked.filter((entry) => !entry.owner || (!failed.has(entry) && readOrFailed(context, entry, short(entry) ? checked : read, results)));
}

/**
 * The job of each asked item, in order: its own messages when it has them, else its conversation's
 * sender name and last messages (already read by keepOwned, or read here for all such items at once,
 * one call per owner and 1,000 conversations). An item whose conversation does not exist fails
 * alone, naming its Conversation ID.
 */
async function readJobs(context: IExecuteFunctions, items: INodeExecutionData[], asked: Asked[], maxMessages: number, results: INodeExecutionData[], read: Map<string, ConversationFacts>): Promise<Job[]> {
	const toRead = asked.filter((entry) => !entry.own && !read.has(withinOwner(entry.owner, entry.conversationId)));
	if (toRead.length > 0) {
		const failed = await readWithinOwners(context, toRead, maxMessages, read, results);
		asked = asked.filter((entry) => !failed.has(entry));
	}
	const jobs: Job[] = [];
	for (const entry of asked) {
		const { itemIndex, conversationId, pipelineId, owner } = entry;
		const messages = entry.own;
		const json = items[itemIndex].json;
		if (!messages && !readOrFailed(context, entry, read, results)) continue;
		const facts = messages ? { messages, senderName: typeof json.sender_name === 'string' ? json.sender_name : '' } : read.get(withinOwner(owner, conversationId))!;
		jobs.push({ itemIndex, conversationId, owner, pipelineId, stagesOf: pipelineId, messages: facts.messages, senderName: facts.senderName });
	}
	return jobs;
}

/**
 * The stage names each job's prompt lists, by owner and pipeline (withinOwner): its chosen
 * pipeline's, else (a job without one takes it here) its conversation's Page pipeline's. One call
 * per owner the jobs are asked within: another owner's pipeline has no stage names there.
 */
async function readStageLists(context: IExecuteFunctions, jobs: Job[]): Promise<Map<string, string[]>> {
	const lists = new Map<string, string[]>();
	for (const [owner, group] of groupByOwner(jobs)) {
		const open = group.filter((job) => !job.stagesOf);
		const chosen = group.flatMap((job) => (job.stagesOf ? [job.stagesOf] : []));
		const { stageNames, pagePipelineOf } = await readStageChoices(context, chosen, open.map((job) => job.conversationId), owner);
		for (const job of open) job.stagesOf = pagePipelineOf.get(job.conversationId) ?? null;
		for (const [pipelineId, names] of stageNames) lists.set(withinOwner(owner, pipelineId), names);
	}
	return lists;
}

/**
 * The execution was cancelled before a conversation was analysed. Its name says Cancelled: n8n's
 * engine records a run that a node stops with such an error as cancelled, as the Stop or the
 * timeout made it, not as failed (no Error Workflow for a person's Stop).
 */
class AnalysisCancelledError extends NodeOperationError {}

/**
 * A setup problem (no key, no model, every key refused, a model the API does not know) fails the
 * run: without Continue On Fail the node stops with it; with it every input item fails with it
 * (service_error: the credential or the node's Model, not the item), so the error output (a
 * webhook's 500 answer, a scheduled run's error) gets the message and what to do, and nothing
 * reaches Assign: no contact is placed by a score the model never gave.
 */
function setupFailed(context: IExecuteFunctions, error: NodeOperationError, outputs: INodeExecutionData[][]): INodeExecutionData[][] {
	if (!context.continueOnFail()) throw error;
	outputs[CONTACTS].push(...context.getInputData().map((_, item) => failedItem(context, error, { item }, 'service_error')));
	return outputs;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const credentials = await this.getCredentials<GeminiCredentials>('leadflowGeminiApi');
	const keys = parseApiKeys(credentials.apiKeys);
	const outputs: INodeExecutionData[][] = Array.from({ length: OUTPUT_COUNT }, () => []);
	// The run's Options, from the first item, checked before anything is read or called: a value an
	// expression gives out of range fails the run naming the option (with Continue On Fail every
	// item fails with it, invalid_input: the settings, not the credential).
	let options: AnalyzeOptions;
	try {
		options = readCheckedOptions<AnalyzeOptions>(this, 0, OPTIONS, OPTION_WHY);
	} catch (error) {
		if (!this.continueOnFail()) throw asNodeError(this, error);
		outputs[CONTACTS].push(...items.map((_, item) => failedItem(this, error, { item })));
		return outputs;
	}
	const model = String(options.model || credentials.model || '').trim();
	let setupProblem = apiKeysProblem(this.getNode(), keys);
	if (!setupProblem && !model) setupProblem = new NodeOperationError(this.getNode(), 'No model is set', { description: 'Set Model in the options, or the Default Model of the Gemini credential.' });
	if (setupProblem) return setupFailed(this, setupProblem, outputs);
	const maxMessages = options.maxMessages;

	const results: INodeExecutionData[] = [];
	let jobs: Job[] = [];
	let stageNames = new Map<string, string[]>();
	const source = items.length > 0 && this.getNodeParameter('source', 0, 'input') === 'due' ? 'due' : 'input';
	if (source === 'due') {
		// One read for the run, from the first item: when the owner is refused or the read fails,
		// that item fails (with Continue On Fail, the one failed item, so a webhook answers 400).
		try {
			const owner = readAnalyzeOwner(this, 0);
			const maxConversations = readWholeNumber(this, 'maxConversations', 0, {
				label: 'Max Conversations',
				min: 1,
				max: 1000,
				fallback: 100,
				hint: 'Set Max Conversations to a whole number from 1 to 1000 (how many due conversations one run analyses), or leave it empty for 100.',
				setting: true,
			});
			const due = await readDueConversations(this, maxConversations, owner, maxMessages);
			for (const conversation of due) {
				jobs.push({
					itemIndex: 0,
					conversationId: conversation.conversation_id,
					owner,
					pipelineId: conversation.pipeline_id,
					stagesOf: conversation.pipeline_id,
					messages: conversation.messages,
					senderName: conversation.sender_name ?? '',
				});
			}
			stageNames = await readStageLists(this, jobs);
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, 0);
			results.push(failedItem(this, error, { item: 0 }));
			jobs = [];
		}
	} else {
		let asked: Asked[] = [];
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				asked.push(readAsked(this, items[itemIndex].json, itemIndex, maxMessages));
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this, error, itemIndex);
				results.push(failedItem(this, error, { item: itemIndex }));
			}
		}
		const read = new Map<string, ConversationFacts>();
		const skipUnused = Boolean(this.getNodeParameter('skipUnused', 0, false));
		asked = await keepOwned(this, asked, maxMessages, read, results, skipUnused);
		if (asked.length > 0 && skipUnused) {
			try {
				const unused = await readUnusedAnalyses(this, asked);
				asked.forEach((entry, index) => {
					const row = unused.get(index);
					if (!row) return;
					results.push({
						json: {
							conversation_id: entry.conversationId,
							analysed: false,
							outcome: row.outcome,
							reason: row.reason,
							...(entry.pipelineId && { pipeline_id: entry.pipelineId }),
						},
						pairedItem: { item: entry.itemIndex },
					});
				});
				asked = asked.filter((_, index) => !unused.has(index));
			} catch (error) {
				// A read for the whole batch: when it fails, every item does.
				if (!this.continueOnFail()) throw asNodeError(this, error);
				results.push(...asked.map((entry) => failedItem(this, error, { item: entry.itemIndex })));
				asked = [];
			}
		}
		jobs = await readJobs(this, items, asked, maxMessages, results, read);
		try {
			stageNames = await readStageLists(this, jobs);
		} catch (error) {
			// A read for the whole batch: when it fails, every item does.
			if (!this.continueOnFail()) throw asNodeError(this, error);
			results.push(...jobs.map((job) => failedItem(this, error, { item: job.itemIndex })));
			jobs = [];
		}
	}

	const context = {
		// The keys' turns and rests are the database's, shared by every worker (nodes/shared/gemini/sharedKeyRing.ts).
		ring: new SharedKeyRing(this, keys),
		baseUrl: String(credentials.baseUrl || GOOGLE_BASE_URL).replace(/\/+$/, ''),
		redact: redactorFor(numberedKeys(keys)),
		cancelSignal: this.getExecutionCancelSignal(),
		policy: {
			maxRetries: options.maxRetries,
			retryBaseMs: options.retryDelayMs,
			keyRestMs: options.keyRestSeconds * 1_000,
			maxQuotaWaitMs: options.maxQuotaWaitMs,
		},
	};
	// A setup problem (every key refused, a model the API does not know) fails the run only when it
	// is the setup's: no call of the run got an answer from the model. One 404 or one refusal among
	// answered calls is that request's failure: its contact gets the fallback score, as before. Every
	// call is made (a 404 or a refused key answers at once, and a refused key rests: the next calls
	// meet the rest without calling Google).
	const outcomes = await mapWithConcurrency(jobs, options.concurrency, async (job): Promise<AnalysisOutcome | AnalysisCancelled | AnalysisSetupFailure> => {
		const prompt = buildAnalysisPrompt({
			contactName: job.senderName,
			messages: job.messages,
			stages: job.stagesOf ? (stageNames.get(withinOwner(job.owner, job.stagesOf)) ?? []) : [],
			instructions: options.instructions ?? '',
		});
		const request = { model, ...prompt, temperature: options.temperature, responseSchema: ANALYSIS_SCHEMA, timeoutMs: options.timeoutMs };
		return analyzeContact(request, job.messages, context, () => Date.now(), source);
	});
	const modelAnswered = outcomes.some((outcome) => !('cancelled' in outcome) && !('setupProblem' in outcome) && (outcome.fallback === undefined || outcome.fallback.code === 'invalid_json' || outcome.fallback.code === 'schema_violation' || outcome.fallback.code === 'blocked'));
	const setup = outcomes.find((outcome): outcome is AnalysisSetupFailure => 'setupProblem' in outcome);
	if (setup && !modelAnswered) return setupFailed(this, new NodeOperationError(this.getNode(), setup.setupProblem.message, { description: setup.setupProblem.description }), outputs);
	const analyses = outcomes.map((outcome) => ('setupProblem' in outcome ? outcome.fallback : outcome));
	// The execution was cancelled: the conversations it had not analysed get no score (a cancel says
	// nothing about them; the fallback score would place them). Without Continue On Fail the node
	// stops with it; with it each fails, naming its conversation. n8n runs no node after a cancel.
	const cancelled = jobs.filter((_, index) => analyses[index] !== undefined && 'cancelled' in analyses[index]);
	if (cancelled.length > 0) {
		const notAnalysed = (what: string) =>
			new AnalysisCancelledError(this.getNode(), `The execution was cancelled before ${what} analysed`, {
				description:
					'It was stopped, or the workflow\'s timeout ended it: no score was given, not even the fallback score. A due conversation stays due: the next run analyses it; an input item, run it again.',
			});
		const one = (job: Job) => `conversation ${job.conversationId} was`;
		if (!this.continueOnFail()) throw notAnalysed(cancelled.length === 1 ? one(cancelled[0]) : `${cancelled.length} of the ${jobs.length} conversations were`);
		for (const job of cancelled) results.push(failedItem(this, notAnalysed(one(job)), { item: job.itemIndex }, 'service_error'));
	}
	jobs.forEach((job, index) => {
		const outcome = analyses[index];
		if (!outcome || 'cancelled' in outcome) return;
		const lastMessageAt = job.messages.reduce<string | null>((latest, message) => (message.sent_at && (!latest || Date.parse(message.sent_at) > Date.parse(latest)) ? message.sent_at : latest), null);
		results.push({
			json: {
				conversation_id: job.conversationId,
				analysed: true,
				...outcome.analysis,
				model: outcome.model,
				fallback: outcome.fallback !== undefined,
				...(outcome.fallback && { fallback_reason: outcome.fallback.code, fallback_message: outcome.fallback.message }),
				...(outcome.fallback?.retryAfterSeconds !== undefined && { fallback_retry_after_seconds: outcome.fallback.retryAfterSeconds }),
				...(outcome.fallback?.refusedKeys !== undefined && { fallback_refused_keys: outcome.fallback.refusedKeys }),
				...(outcome.fallback?.description !== undefined && { fallback_description: outcome.fallback.description }),
				last_message_at: lastMessageAt,
				...(job.pipelineId && { pipeline_id: job.pipelineId }),
				attempts: outcome.attempts,
			},
			pairedItem: { item: job.itemIndex },
		});
	});
	outputs[CONTACTS].push(...results);
	return outputs;
}
