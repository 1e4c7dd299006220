// Each item's parameters, read and checked before anything is sent or written, so a bad item is
// reported without touching the database or Facebook.
import { NodeOperationError, type IDataObject, type IExecuteFunctions } from 'n8n-workflow';
import { parameterReader, type ParameterReader } from '../../shared/default-fields';
import { runsAsTool } from '../../shared/outputs';
import { FieldRefusedError, SettingRefusedError } from '../../shared/per-item';
import { fieldAsKnown, filledByModel, fromAIKey, isNotGivenWord } from '../../shared/tool-text';
import { OPTIONS, properties } from '../description';
import { readCheckedOptions, type OptionWhy } from '../../shared/checked-options';
// A recipient is a page-scoped id, the format of messenger_conversations.sender_id.
import { MESSENGER_ID as PSID } from '../../shared/valid-input';
import { isStateId, stateIdOf } from '../../shared/state-id';

export const MAX_TEXT_CHARACTERS = 2000;

export interface ItemSettings {
	itemIndex: number;
	messagingType: 'RESPONSE' | 'UPDATE';
	messagesPerSecond: number;
	/** How many sends may be in flight when this item starts (1: one after another). */
	concurrency: number;
	retries: number;
	backoffMs: number;
	timeoutMs: number;
	retryLaterSeconds: number;
	leaseSeconds: number;
	/** Recorded mode: the contact state and who holds its claim. */
	stateId?: string;
	leaseHolder?: string;
	/** Standalone mode: what to send to whom. */
	recipientId?: string;
	message?: string;
}

/** The highest rate the Page's shared schedule takes (limit_take_send_slots' p_per_second). */
export const MAX_MESSAGES_PER_SECOND = 10_000;

// The two recorded-mode parameters whose defaults read the claim's row: read straight from the item
// while they hold those defaults (nodes/shared/default-fields.ts).
const DEFAULT_FIELD_READERS = {
	stateId: (json: IDataObject) => json.state_id,
	leaseHolder: (json: IDataObject) => json.execution_id,
};

/** The reader a batch uses for every item's parameters. */
export function itemParameterReader(context: IExecuteFunctions): ParameterReader {
	return parameterReader(context, properties, DEFAULT_FIELD_READERS);
}

/** The item's Options, each checked against its range (description.ts) and set: its default when not given. */
interface SendOptions {
	backoffMs: number;
	concurrency: number;
	timeoutSeconds: number;
	retries: number;
	retryLaterMinutes: number;
	leaseSeconds: number;
}

/** Why a range is what it is, said in the refusal before what to do. */
const OPTION_WHY: OptionWhy = {
	backoffMs: 'Each retry waits twice as long as the one before; a wait longer than 2147483647 ms (about 24.8 days) would end at once.',
	concurrency: 'It is how many Send API calls may wait for Facebook\'s answer at once.',
	leaseSeconds: 'It is how long the batch may keep starting sends; the database holds a claim at most a day.',
};

export function readItemSettings(context: IExecuteFunctions, read: ParameterReader, itemIndex: number, recordStages: boolean): ItemSettings {
	// Checked here, before anything is claimed or sent: an expression's value out of range fails the
	// item (with Continue On Fail alone), naming the option.
	const options = readCheckedOptions<SendOptions>(context, itemIndex, OPTIONS, OPTION_WHY);
	const messagingType = context.getNodeParameter('messagingType', itemIndex, 'UPDATE') as string;
	const messagesPerSecond = Number(context.getNodeParameter('messagesPerSecond', itemIndex, 10));
	const fail = (message: string, description: string) => new NodeOperationError(context.getNode(), message, { itemIndex, description });
	// Messaging Type and Messages per Second are settings of the node, not fields of the item: refused,
	// their failed item names them (setting), so a workflow answers it as its own node's fault.
	const refused = (message: string, description: string, displayName: string, parameter: string) =>
		new SettingRefusedError(context.getNode(), message, { itemIndex, description }, { displayName, parameter });

	if (messagingType !== 'RESPONSE' && messagingType !== 'UPDATE') {
		throw refused(`Messaging type "${messagingType}" is not allowed`, 'Use UPDATE or RESPONSE; this node never sends message tags.', 'Messaging Type', 'messagingType');
	}
	// Checked here, before anything is claimed: the database's schedule (limit_take_send_slots)
	// refuses more, and every contact would be begun, refused rate_limit_unavailable and claimed
	// again, run after run.
	if (!(messagesPerSecond > 0 && messagesPerSecond <= MAX_MESSAGES_PER_SECOND)) {
		throw refused(
			`Messages per Second must be above 0 and at most ${MAX_MESSAGES_PER_SECOND.toLocaleString('en-US')} (got ${String(messagesPerSecond)})`,
			`Item ${itemIndex + 1}: set a rate such as 10; Meta allows about 300 per second for text.`,
			'Messages per Second',
			'messagesPerSecond',
		);
	}

	const settings: ItemSettings = {
		itemIndex,
		messagingType,
		messagesPerSecond,
		concurrency: options.concurrency,
		retries: options.retries,
		backoffMs: options.backoffMs,
		timeoutMs: options.timeoutSeconds * 1000,
		retryLaterSeconds: options.retryLaterMinutes * 60,
		leaseSeconds: options.leaseSeconds,
	};

	if (recordStages) {
		// Lower case, as the database answers it: the begin's rows are looked up by it (sendBatch.ts).
		const given = read('stateId', itemIndex, '');
		const stateId = stateIdOf(given);
		// As an AI agent's tool with no Contact State ID (the node as added: its default reads the
		// item's state_id, and a tool's call has none), the recorded mode has no claimed contact to
		// send, and the agent could only be told that "" is not a UUID, which it cannot fix. The
		// switch is the node's setting: refused naming it, with what a person does about it. A tool
		// given a Contact State ID and Claim Holder (e.g. $fromAI, the contact a Claim gave the
		// agent) sends that contact as in a workflow.
		if (runsAsTool(context) && String(given ?? '').trim() === '') {
			throw refused(
				'Facebook Send cannot run as an AI agent\'s tool with Record in Supabase on',
				'Record in Supabase sends a contact a follow-up workflow claimed, named by its Contact State ID and Claim Holder, and this call gave no Contact State ID. Map both from the claimed contact (e.g. with $fromAI), or turn off Record in Supabase in this tool\'s settings: it then sends the message to the Recipient PSID it is given (no stop checked, no duplicate guard, so each call sends again). A follow-up that must honour the stops and the duplicate guard is sent by the follow-up workflow, not by an agent.',
				'Record in Supabase',
				'recordStages',
			);
		}
		const leaseHolder = String(read('leaseHolder', itemIndex, '') ?? '').trim();
		if (!isStateId(stateId)) {
			throw fail(`Contact State ID "${String(given ?? '').trim()}" is not a UUID`, 'Map it from the claimed contact (state_id), or turn off "Record in Supabase" to send a plain message.');
		}
		if (leaseHolder === '') throw fail('Claim Holder is empty', 'Map it from the claimed contact (execution_id): the database only lets the claim holder send.');
		return { ...settings, stateId, leaseHolder };
	}

	const givenRecipient = context.getNodeParameter('recipientId', itemIndex, '') as unknown;
	// A PSID has up to 32 digits, more than a JavaScript number holds exactly: one an expression gives
	// as a Number above 2^53 - 1 has already lost its last digits (1234567890123456789 arrives as
	// 1234567890123456800), and sent, it would go to another person or to nobody. Refused, naming the
	// field and saying to pass it as text; a safe integer is read exactly, as its digits.
	if (typeof givenRecipient === 'number' && Number.isInteger(givenRecipient) && !Number.isSafeInteger(givenRecipient)) {
		throw fail(
			`Recipient PSID was given as the number ${String(givenRecipient)}, too large to be exact: pass it as text`,
			'A PSID has up to 32 digits; as a number, one above 9007199254740991 has lost its last digits before the node reads it, and the message would go to another person or to nobody. Keep it text where it comes from (a JSON string, a text column; the recipient_id of a Leadflow node is text): turning the number into text here is too late.',
		);
	}
	const recipientId = String(givenRecipient ?? '').trim();
	const message = String(context.getNodeParameter('message', itemIndex, '') ?? '');
	if (!PSID.test(recipientId)) {
		// As a tool, the advice (and the first line's name of the field) is for whoever fills it: the
		// model, by its $fromAI key, when the field calls $fromAI; else the workflow's builder, since
		// nothing the model gives changes it (its `{{ $json.… }}` default, a fixed value).
		if (!runsAsTool(context)) throw fail(`Recipient PSID "${recipientId}" is not a page-scoped ID`, 'A PSID is the numeric sender ID of a Messenger conversation.');
		const byModel = filledByModel(context, 'recipientId');
		throw new FieldRefusedError(
			context.getNode(),
			`Recipient PSID (${fieldAsKnown(context, 'recipientId', 'recipientId')}) "${recipientId}" is not a page-scoped ID`,
			{
				itemIndex,
				description: byModel
					? `Give the PSID of the person to send to as ${fromAIKey(context, 'recipientId') ?? 'Recipient PSID (recipientId)'}: the numeric sender ID of their Messenger conversation (a contact's sender_id), as you were told it, not a name. If you were not told it, ask for it. Nothing was sent.`
					: "Recipient PSID is set in this tool's settings, not given by the model: map it there to the person's PSID (the numeric sender ID of their Messenger conversation, a contact's sender_id), or let the model give it with {{ $fromAI('recipientId', 'the PSID of the person to send to') }}. Nothing was sent.",
			},
			'recipientId',
		);
	}
	// As an AI agent's tool, a model writes "null" or "undefined" for a text it does not have
	// (nodes/shared/tool-text.ts): the Message is required, so that is no message to send, refused
	// naming the field, never sent to the person as "null". In a workflow the text is sent as written.
	// The advice is for whoever fills the field: the model when it is `$fromAI`; else (its
	// `{{ $json.followUp?.message }}` default, which a tool's input item does not have, or a fixed
	// text) the workflow's builder, since nothing the model gives changes it.
	if (runsAsTool(context) && (message.trim() === '' || isNotGivenWord(message))) {
		throw new FieldRefusedError(
			context.getNode(),
			message.trim() === ''
				? `The Message (${fieldAsKnown(context, 'message', 'message')}) is empty: no text to send was given`
				: `The Message (${fieldAsKnown(context, 'message', 'message')}) is "${message.trim()}", a word for no value, not a text to send`,
			{
				itemIndex,
				description: filledByModel(context, 'message')
					? `Give the text to send to the person as ${fromAIKey(context, 'message') ?? 'message'}: the words of the Messenger message itself, at most 2,000 characters. Nothing was sent.`
					: "Map the text to send in this tool's settings: the Message is not given by the model, so let the model give it with {{ $fromAI('message', 'the text to send to the person') }}, or set the text there. Nothing was sent.",
			},
			'message',
		);
	}
	if (message.trim() === '') throw fail('The message is empty', 'Map the text to send, e.g. {{ $json.followUp.message }}.');
	if ([...message].length > MAX_TEXT_CHARACTERS) {
		throw fail(`The message has ${[...message].length} characters`, `Messenger accepts at most ${MAX_TEXT_CHARACTERS}; shorten it.`);
	}
	return { ...settings, recipientId, message };
}
