// send: each claimed message over the WhatsApp Cloud API (the credential's base URL, version and
// phone number), several at once, and one output item per message saying what happened (sent with
// Meta's message id, failed with Meta's code and whether a retry can help, or released: not
// attempted because the batch stopped), ready for Complete. A refused token or the number's
// throughput limit stops the batch: the messages not yet attempted are released, never sent into
// an error. Nothing is thrown once a message may have gone out, so Complete always records it.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { QueueMessage } from '../../shared/contract';
import { parameterReader } from '../../shared/default-fields';
import { asNodeError, failedItem } from '../../shared/per-item';
import { mapWithConcurrency } from '../../shared/pool';
import { optionsCollection } from '../../shared/properties';
import { E164, UUID } from '../../shared/valid-input';
import { invalid } from '../helpers/common';
import { readMessage } from '../helpers/messages';
import { notAttempted, outcomeOf, type BatchStop, type SendOutcome } from '../helpers/sendResults';
import { readWhatsAppTarget, sendMessage } from '../transport/whatsapp';

const properties: INodeProperties[] = [
	{
		displayName: 'Queue Item ID',
		name: 'itemId',
		type: 'string',
		default: '={{ $json.item_id }}',
		required: true,
		description: 'The claimed message (item_id, returned by Claim with each message)',
	},
	{
		displayName: 'Phone',
		name: 'phone',
		type: 'string',
		default: '={{ $json.phone }}',
		required: true,
		description: 'The recipient in E.164 (+447853723604), as Claim returns it',
	},
	{
		displayName: 'Message',
		name: 'message',
		type: 'json',
		default: '={{ $json.message }}',
		required: true,
		description: 'What to send, as Claim returns it: {"type": "text", "text": "…"} or {"type": "template", "name": "…", "language": "en_US"}',
	},
	{
		displayName: 'Worker Name',
		name: 'worker',
		type: 'string',
		default: '={{ $json.worker }}',
		description: 'The name the message was claimed under, passed on to Complete (Claim puts it on every item)',
	},
	optionsCollection([
		{
			displayName: 'Parallel Sends',
			name: 'concurrency',
			type: 'number',
			typeOptions: { minValue: 1, maxValue: 50 },
			default: 10,
			description: 'How many messages may wait for Meta\'s answer at once',
		},
		{
			displayName: 'Timeout (Ms)',
			name: 'timeoutMs',
			type: 'number',
			typeOptions: { minValue: 1000 },
			default: 30000,
			description: 'How long one send may take; a message without an answer may have been delivered, so it is not tried again',
		},
	]),
];

export const description = updateDisplayOptions({ show: { operation: ['send'] } }, properties);

interface Job {
	itemIndex: number;
	itemId: string;
	worker: string;
	phone: string;
	/** Undefined when the message could not be read: the item fails for good without a call. */
	message?: QueueMessage;
	problem?: string;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	const read = parameterReader(this, properties, {
		itemId: (json) => json.item_id,
		phone: (json) => json.phone,
		message: (json) => json.message,
		worker: (json) => json.worker,
	});
	const jobs: Job[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const itemId = String(read('itemId', itemIndex, '') ?? '').trim();
			if (!UUID.test(itemId)) {
				throw invalid(this, itemIndex, `The queue item ID "${itemId}" is not a UUID`, 'Map the item_id Claim returns with each message, e.g. {{ $json.item_id }}.');
			}
			const worker = String(read('worker', itemIndex, '') ?? '').trim();
			const phone = String(read('phone', itemIndex, '') ?? '').trim();
			const checked = readMessage(read('message', itemIndex, null));
			const problem = !E164.test(phone) ? `The phone "${phone}" is not in E.164 (+ and 7 to 15 digits)` : 'problem' in checked ? `The message ${checked.problem}` : undefined;
			jobs.push({ itemIndex, itemId: itemId.toLowerCase(), worker, phone, ...('message' in checked && { message: checked.message }), ...(problem && { problem }) });
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, itemIndex);
			output.push(failedItem(this, error, { item: itemIndex }));
		}
	}
	if (jobs.length === 0) return [output];

	const options = this.getNodeParameter('options', 0, {}) as { concurrency?: number; timeoutMs?: number };
	const target = await readWhatsAppTarget(this);
	const cancelSignal = this.getExecutionCancelSignal();
	let stopped: BatchStop | undefined;
	const outcomes = await mapWithConcurrency(jobs, options.concurrency ?? 10, async (job): Promise<SendOutcome> => {
		if (job.problem || !job.message) {
			return { outcome: 'failed', message_id: null, error: { code: 'invalid_message', message: job.problem ?? 'The message is missing', permanent: true } };
		}
		if (stopped) return notAttempted(stopped);
		if (cancelSignal?.aborted) return notAttempted('cancelled');
		const { outcome, stop } = outcomeOf(await sendMessage(this, target, job.phone, job.message, options.timeoutMs ?? 30_000));
		if (stop) stopped ??= stop;
		return outcome;
	});
	jobs.forEach((job, index) => {
		output.push({
			json: { item_id: job.itemId, worker: job.worker, lead_id: items[job.itemIndex].json.lead_id ?? null, phone: job.phone, ...outcomes[index] } as unknown as IDataObject,
			pairedItem: { item: job.itemIndex },
		});
	});
	return [output];
}
