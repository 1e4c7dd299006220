// An input item → everything needed to generate its follow-up: the prompt, the model call settings,
// the retry policy and (when stages are recorded) which claimed contact it is. Parameters are read
// per item; a missing or malformed value is a NodeOperationError for that item.
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import type { ModelRequest } from '../../shared/gemini/client';
import type { RetryPolicy } from '../transport/generateText';
import type { ParameterReader } from './itemFields';
import { buildPrompt, type Prompt } from './prompt';
import { readConversationMessages, type ConversationMessage } from '../../shared/conversation-messages';
import type { HeldContact } from '../transport/stages';
import { readCheckedOption, readCheckedOptions, type OptionWhy } from '../../shared/checked-options';
import { OPTIONS } from '../description';
import { isStateId, stateIdOf } from '../../shared/state-id';
import { optionalToolText } from '../../shared/tool-text';
import { FieldRefusedError } from '../../shared/per-item';

export interface GenerationJob {
	itemIndex: number;
	request: ModelRequest;
	policy: RetryPolicy;
	/** Set when the contact's stages are recorded in Supabase. */
	held?: HeldContact;
}

/** The Options of an item, each checked against its range (description.ts) and set: its default when not given. */
export interface Options {
	concurrency: number;
	keyRestSeconds: number;
	leaseSeconds: number;
	maxMessages: number;
	maxOutputTokens: number;
	maxRetries: number;
	maxQuotaWaitMs: number;
	retryDelayMs: number;
	temperature: number;
	timeoutMs: number;
	tooLongReply: 'shorten' | 'fail';
}

/** Why a range is what it is, said in the refusal before what to do. */
export const OPTION_WHY: OptionWhy = {
	leaseSeconds:
		'It is how long a worker that stops holds its contacts before another run may take them, renewed every third of it while this node works; the database takes 5 to 86400 seconds.',
	concurrency: 'It is how many Gemini calls run at once (read from the first item).',
	temperature: "Gemini's temperature runs from 0 to 2.",
	retryDelayMs: 'Each retry waits about twice as long as the one before, at most 30 seconds.',
	keyRestSeconds: 'The database records a key\'s rest of at most 48 hours.',
};

/**
 * Item `itemIndex`'s Options, checked: a value an expression gives out of its range fails the item
 * (before anything is moved to generating), naming the option, the value and the range.
 */
export function readOptions(context: IExecuteFunctions, itemIndex: number): Options {
	// Lease (Seconds) acts only with Record in Supabase on (the editor shows it only then): without it
	// a value saved before it was hidden is not checked, so it can never fail an item it does nothing for.
	const recorded = context.getNodeParameter('recordStages', itemIndex, true) as boolean;
	return readCheckedOptions<Options>(context, itemIndex, recorded ? OPTIONS : STANDALONE_OPTIONS, OPTION_WHY);
}

/** The Options as a standalone item reads them: every one but those shown only with Record in Supabase on. */
const STANDALONE_OPTIONS = { ...OPTIONS, options: (OPTIONS.options ?? []).filter((option) => option.name !== 'leaseSeconds') };

/** One option of item `itemIndex`, checked as readOptions checks it (the run's Concurrency and Lease, from the first item). */
export function readOption<K extends keyof Options>(context: IExecuteFunctions, itemIndex: number, name: K): Options[K] {
	return readCheckedOption<Options[K]>(context, itemIndex, OPTIONS, name, OPTION_WHY[name]);
}

function invalid(context: IExecuteFunctions, itemIndex: number, message: string, description: string): NodeOperationError {
	return new NodeOperationError(context.getNode(), message, { itemIndex, description });
}

/** What Last Messages holds, as the refusals say it. */
const MESSAGES_SHAPE = 'a list of {direction: "inbound" | "outbound", text, sent_at} (a chat\'s {role, content} is not read)';

function text(read: ParameterReader, name: string, itemIndex: number): string {
	const value = read(name, itemIndex, '');
	return value === null || value === undefined ? '' : String(value).trim();
}

/** An optional text field (Contact Name, Model, Language): as a tool, a model's "null" or "undefined" is not given (nodes/shared/tool-text.ts). */
function optionalText(context: IExecuteFunctions, read: ParameterReader, name: string, itemIndex: number): string {
	return optionalToolText(context, text(read, name, itemIndex));
}

/**
 * The item's Last Messages, read as Auto Assign's Analyze reads an item's messages
 * (nodes/shared/conversation-messages.ts): each direction "inbound" or "outbound" in any case, oldest
 * first (by sent_at when every message has one, so Max Messages in Prompt keeps the newest). A
 * message with another direction (a chat's {role, content} has none), an entry that is not a
 * message and a text that is not text are refused, naming the message: never shown to the model
 * as the other side's words, never dropped unsaid.
 */
function readMessages(context: IExecuteFunctions, read: ParameterReader, itemIndex: number): ConversationMessage[] {
	let value = read('messages', itemIndex, []);
	if (typeof value === 'string') {
		try {
			value = value.trim() === '' ? [] : JSON.parse(value);
		} catch {
			throw invalid(context, itemIndex, 'Last Messages is not valid JSON', `Give ${MESSAGES_SHAPE}, e.g. the \`messages\` field a claim returns.`);
		}
	}
	if (value === null || value === undefined) return [];
	if (!Array.isArray(value)) {
		throw invalid(context, itemIndex, 'Last Messages must be a list', `Give ${MESSAGES_SHAPE}, e.g. the \`messages\` field a claim returns.`);
	}
	return readConversationMessages(value as unknown[], {
		name: (position) => `Last Messages[${position}]`,
		directionHint: `Give each message a direction: "inbound" for what the contact wrote, "outbound" for what the Page sent (as messenger_messages.direction): Last Messages is ${MESSAGES_SHAPE}.`,
		strict: {
			entryHint: `Last Messages is ${MESSAGES_SHAPE}.`,
			textHint: 'Give each message its text as text (null or no text for a message without any, such as an attachment).',
		},
		refuse: (message, description) => invalid(context, itemIndex, message, description),
	});
}

function readFollowUpNumber(context: IExecuteFunctions, read: ParameterReader, itemIndex: number): number {
	const raw = read('followUpNumber', itemIndex, 1);
	const value = raw === '' || raw === null || raw === undefined ? 1 : Number(raw);
	if (!Number.isInteger(value) || value < 1) {
		throw invalid(context, itemIndex, `Follow-Up Number must be a whole number of at least 1 (got ${JSON.stringify(raw)})`, 'Map it from the claim\'s follow_up_number, or set 1.');
	}
	return value;
}

/**
 * The claimed contact an item names, when stages are recorded: its Contact State ID in lower case,
 * the form the database answers it in (the answers are looked up by it), and its Claim Holder. An
 * ID that is not a UUID fails this item alone, naming the field, before anything is moved: in the
 * database call it would fail every contact of the batch.
 */
function readHeld(context: IExecuteFunctions, read: ParameterReader, itemIndex: number): HeldContact | undefined {
	if (!context.getNodeParameter('recordStages', itemIndex, true)) return undefined;
	const given = text(read, 'stateId', itemIndex);
	const holder = text(read, 'leaseHolder', itemIndex);
	if (!given || !holder) {
		throw invalid(
			context,
			itemIndex,
			`The item has no ${given ? 'claim holder (execution_id)' : 'contact state ID (state_id)'}`,
			'Feed the node the contacts a Tag Eligibility claim returns, or turn off "Record in Supabase" to generate without a database.',
		);
	}
	const stateId = stateIdOf(given);
	if (!isStateId(stateId)) {
		// Named (field: stateId), as the other nodes' refusals of an ID are.
		throw new FieldRefusedError(
			context.getNode(),
			`Contact State ID "${given.slice(0, 100)}" is not a UUID`,
			{ itemIndex, description: 'Map it from the claimed contact (state_id), or turn off "Record in Supabase" to generate without a database.' },
			'stateId',
		);
	}
	return { stateId, holder };
}

/**
 * The prompt an item makes: its instructions, contact name, follow-up number, messages and language
 * (read with `read`, e.g. a claimed row's fields), the last `maxMessages` (option, default
 * DEFAULT_MAX_MESSAGES: the rule's own Messages of history decides) shown.
 * GenerateFollowUp sends it; the Leadflow Console's Preview Prompt shows it.
 */
export function readPrompt(context: IExecuteFunctions, read: ParameterReader, itemIndex: number): Prompt {
	const instructions = text(read, 'instructions', itemIndex);
	if (!instructions) {
		throw invalid(context, itemIndex, 'Instructions are empty', "Write what the follow-up should say, or map the rule's instructions ($json.rule.instructions).");
	}
	return buildPrompt({
		instructions,
		contactName: optionalText(context, read, 'contactName', itemIndex),
		followUpNumber: readFollowUpNumber(context, read, itemIndex),
		messages: readMessages(context, read, itemIndex),
		language: optionalText(context, read, 'language', itemIndex),
		maxMessages: readOption(context, itemIndex, 'maxMessages'),
	});
}

export function readJob(context: IExecuteFunctions, read: ParameterReader, itemIndex: number, defaultModel: string): GenerationJob {
	const prompt = readPrompt(context, read, itemIndex);
	const model = optionalText(context, read, 'model', itemIndex) || defaultModel.trim();
	if (!model) throw invalid(context, itemIndex, 'No model is set', 'Set Model on the node, on the rule, or as the Default Model of the Gemini credential.');
	const options = readOptions(context, itemIndex);
	const held = readHeld(context, read, itemIndex);
	return {
		itemIndex,
		request: {
			model,
			systemInstruction: prompt.systemInstruction,
			userText: prompt.userText,
			temperature: options.temperature,
			...(options.maxOutputTokens ? { maxOutputTokens: options.maxOutputTokens } : {}),
			timeoutMs: options.timeoutMs,
		},
		policy: {
			maxRetries: options.maxRetries,
			retryBaseMs: options.retryDelayMs,
			keyRestMs: options.keyRestSeconds * 1_000,
			maxQuotaWaitMs: options.maxQuotaWaitMs,
			tooLong: options.tooLongReply,
		},
		...(held && { held }),
	};
}
