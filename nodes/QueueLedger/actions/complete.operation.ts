// complete: records what became of claimed messages in one database call per worker and batch of at
// most 1,000 (queue_complete): sent (with Meta's message id; the lead becomes contacted), failed
// (tried again after the owner's backoff until the attempts run out, then dead; at once dead when
// the error is permanent), released (not attempted: back to the queue). A message the worker no
// longer holds (taken over meanwhile, claimed by another worker, reported otherwise before) is
// refused and nothing is recorded for it: accepted false with the reason. The same report again from
// the same worker (Retry On Fail after an answer lost on its way back) gets the first call's answer,
// accepted, and nothing is recorded twice (20261201001305). One output item per input item.
// Not as an AI agent's tool: a tool's call holds no claim and sends nothing, so what it reported
// would be made up (sent with a message ID nobody gave, a workflow's claim released).
// As a tool on this execution's own claim, sent or failed is recorded only for a message whose send
// began (a Send of this run let it go: queue_complete's p_send_begun_only); otherwise the Outcome is
// refused (send_not_begun), so a model cannot record a lead contacted (or its number invalid) with
// nothing sent. Failed with invalid_message (Send fails a message it cannot send as it is before any
// call: no send begins) is taken only when the message as stored, {{name}} filled, cannot be sent
// (then it ends dead as in a workflow instead of coming back every run); a model's own bad text is
// not the owner's message's fault (20261201002690). In a workflow the rule is unchanged: a workflow
// may send by other means and report it.
// For every caller, a message whose send began is never released, whatever the code and its lead's
// status, nor failed with a code Send gives only for a message it never let go (invalid_message,
// already_sending, not_held, …): such a report comes from a second Send of the message or from the
// caller, and taken, it put a message that may be out back in the queue (sent twice). Send gives
// back a message it let go and did not send by taking its own mark back first
// (queue_send_not_made), so its release finds the send not begun (20261201002770; before, a release
// with one of Send's four codes was taken on the reporter's word). Refused already_sending, nothing
// written (20261201002690, 20261201002700, 20261201002720, 20261201002770); as a tool it is thrown
// with advice, in a workflow the item says so (accepted false, reason already_sending). The message stays claimed until its lease ends; then the next
// Claim ends it dead uncertain, unless the report of the Send that let it go comes first.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { sendBatch } from '../../shared/batch-refusals';
import type { SendResult } from '../../shared/contract';
import { parameterReader } from '../../shared/default-fields';
import { asNodeError, failedItem, SettingRefusedError } from '../../shared/per-item';
import { runsAsTool } from '../../shared/outputs';
import { callRpc } from '../../shared/supabase';
import { textProblem, UUID } from '../../shared/valid-input';
import { BATCH, heldWorker, invalid, upstreamFailure } from '../helpers/common';
import { reportedError, sendResult } from '../helpers/sendReport';

const properties: INodeProperties[] = [
	{
		displayName: 'Queue Item ID',
		name: 'itemId',
		type: 'string',
		default: '={{ $json.item_id }}',
		required: true,
		description: 'The claimed message (item_id, as Claim and Send return it)',
	},
	{
		displayName: 'Worker Name',
		name: 'worker',
		type: 'string',
		default: '={{ $json.worker }}',
		required: true,
		description: 'The name the message was claimed under (Claim and Send put it on every item as worker). Claim\'s own Worker Name typed in is taken as that name; any other is refused.',
	},
	{
		displayName: 'Outcome',
		name: 'outcome',
		type: 'string',
		default: '={{ $json.outcome }}',
		required: true,
		description: 'What became of the message: sent, failed or released (not attempted), as Send returns it',
	},
	{
		displayName: 'Message ID',
		name: 'messageId',
		type: 'string',
		default: '={{ $json.message_id }}',
		description: 'For a sent message: the ID WhatsApp gave it (wamid.…)',
	},
	{
		displayName: 'Error',
		name: 'error',
		type: 'json',
		default: '={{ $json.error }}',
		description: 'For a failed message: {code, message, permanent?, retry_after_seconds?}, as Send returns it',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['complete'] } }, properties);

const OUTCOMES = ['sent', 'failed', 'released'] as const;

interface Report {
	itemIndex: number;
	worker: string;
	result: SendResult;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function readError(context: IExecuteFunctions, raw: unknown, itemIndex: number): SendResult['error'] {
	let value = raw;
	if (typeof value === 'string' && value.trim() !== '') {
		try {
			value = JSON.parse(value) as unknown;
		} catch {
			value = { message: value };
		}
	}
	if (value === undefined || value === null || value === '') return null;
	if (!isRecord(value)) throw invalid(context, itemIndex, 'Error must be an object {code, message}', 'Map the error Send returns, e.g. {{ $json.error }}.');
	return reportedError(value);
}

function readReport(context: IExecuteFunctions, read: ReturnType<typeof parameterReader>, itemIndex: number): Report {
	const itemId = String(read('itemId', itemIndex, '') ?? '').trim();
	if (!UUID.test(itemId)) throw invalid(context, itemIndex, `The queue item ID "${itemId}" is not a UUID`, 'Map the item_id Claim returns with each message, e.g. {{ $json.item_id }}.');
	const worker = String(read('worker', itemIndex, '') ?? '').trim();
	const workerProblem = textProblem(worker, { kind: 'token', min: 1, max: 200 });
	if (workerProblem) throw invalid(context, itemIndex, `Worker Name ${worker ? workerProblem : 'is empty'}`, 'Map the worker name Claim puts on every item, e.g. {{ $json.worker }}.');
	const held = heldWorker(context, itemIndex, worker, context.getInputData()[itemIndex]?.json.worker);
	const outcome = String(read('outcome', itemIndex, '') ?? '').trim();
	if (!(OUTCOMES as readonly string[]).includes(outcome)) {
		throw invalid(context, itemIndex, `Outcome "${outcome}" is not one of sent, failed, released`, 'Map the outcome Send returns, e.g. {{ $json.outcome }}.');
	}
	const messageId = String(read('messageId', itemIndex, '') ?? '').trim();
	if (outcome === 'sent' && !messageId) throw invalid(context, itemIndex, 'A sent message needs its Message ID', 'Map the message_id Send returns, e.g. {{ $json.message_id }}.');
	const error = outcome === 'sent' ? null : readError(context, read('error', itemIndex, null), itemIndex);
	return { itemIndex, worker: held, result: sendResult(itemId, outcome as SendResult['outcome'], messageId, error) };
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// As an AI agent's tool, only the messages this execution's Claim holds (heldWorker refuses any
	// other Worker Name before anything is recorded): another execution's would be recorded sent with
	// a message ID the model made up, or released under the run about to send it.
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	const read = parameterReader(this, properties, {
		itemId: (json) => json.item_id,
		worker: (json) => json.worker,
		outcome: (json) => json.outcome,
		messageId: (json) => json.message_id,
		error: (json) => json.error,
	});
	const asTool = runsAsTool(this);
	// As a tool, the first Outcome refused (send_not_begun), thrown once every batch is recorded.
	let refusedOutcome: SettingRefusedError | undefined;
	const byWorker = new Map<string, Report[]>();
	// The same report again in one input (the same item, outcome, message ID and error: a node that
	// ran twice): recorded once, and each repeat answered as its first (the database refuses an item
	// listed twice in a batch, which would fail every report of it). Keyed by the first's input item.
	const firstReports = new Map<string, number>();
	const repeats = new Map<number, number[]>();
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			// An earlier node's failed item (Claim's for an owner it refused, Send's): passed on as it came.
			if (upstreamFailure(items[itemIndex].json, String(read('itemId', itemIndex, '') ?? '').trim())) {
				output.push({ json: items[itemIndex].json, pairedItem: { item: itemIndex } });
				continue;
			}
			const report = readReport(this, read, itemIndex);
			const key = JSON.stringify([report.worker, report.result]);
			const first = firstReports.get(key);
			if (first !== undefined) {
				repeats.set(first, [...(repeats.get(first) ?? []), itemIndex]);
				continue;
			}
			firstReports.set(key, itemIndex);
			byWorker.set(report.worker, [...(byWorker.get(report.worker) ?? []), report]);
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, itemIndex);
			output.push(failedItem(this, error, { item: itemIndex }));
		}
	}
	for (const [worker, reports] of byWorker) {
		for (let start = 0; start < reports.length; start += BATCH) {
			const batch = reports.slice(start, start + BATCH).map((report) => ({ itemIndex: report.itemIndex, payload: report.result }));
			try {
				// A report the database refuses is named by its input item; with Continue On Fail it
				// alone fails and the batch's other reports are recorded (nodes/shared/batch-refusals.ts).
				const { rows, sent } = await sendBatch(
					this,
					batch,
					async (results) => await callRpc(this, 'queue_complete', { p_worker: worker, p_results: results, ...(asTool && { p_send_begun_only: true }) }),
					(entry, error) => {
						for (const index of [entry.itemIndex, ...(repeats.get(entry.itemIndex) ?? [])]) output.push(failedItem(this, error, { item: index }));
					},
					'p_results',
				);
				for (const row of rows) {
					const { itemIndex, payload: result } = sent[row.item_index];
					if (row.reason === 'send_not_begun' || (asTool && row.reason === 'already_sending')) {
						const refusal = row.reason === 'send_not_begun' ? sendNotBegun(this, itemIndex, result) : sendBegun(this, itemIndex, result);
						if (this.continueOnFail()) for (const index of [itemIndex, ...(repeats.get(itemIndex) ?? [])]) output.push(failedItem(this, refusal, { item: index }));
						else refusedOutcome ??= refusal;
						continue;
					}
					for (const index of [itemIndex, ...(repeats.get(itemIndex) ?? [])]) {
						output.push({ json: { ...row, item_index: index, worker, outcome: result.outcome } as unknown as IDataObject, pairedItem: { item: index } });
					}
				}
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this, error);
				for (const report of batch) for (const index of [report.itemIndex, ...(repeats.get(report.itemIndex) ?? [])]) output.push(failedItem(this, error, { item: index }));
			}
		}
	}
	if (refusedOutcome) throw refusedOutcome;
	return [output];
}

/**
 * As a tool: a report of a message whose send began that cannot be what became of it, refused by the
 * database (nothing recorded): a second Send's answer passed on (already_sending, invalid_message,
 * phone_mismatch: the advice says to report the first Send's), any release (Send gives back a
 * message it let go and did not send by taking back its send mark first; a release refused here is
 * one whose mark it could not take back), or a failure with a code Send gives only for a message it never
 * let go (migrations 20261201002690, 20261201002700, 20261201002720, 20261201002770).
 */
function sendBegun(context: IExecuteFunctions, itemIndex: number, result: SendResult): SettingRefusedError {
	const secondSend = ['phone_mismatch', 'invalid_message', 'already_sending'].includes(String(result.error?.code ?? ''));
	return new SettingRefusedError(
		context.getNode(),
		`Outcome "${result.outcome}"${result.error?.code ? ` with error ${result.error.code}` : ''} is refused for queue item ${result.item_id}: a Send of this run already began sending it, so this is not what became of it`,
		{
			itemIndex,
			description: secondSend
				? 'That error came from calling Send again for a message whose send had already begun: the second call sent nothing, and the message may already have reached its lead. Report the outcome the first Send answered for it (sent with its message_id, or its failure), never this one; Complete records that.'
				: 'Send let this message go, so it may already have reached its lead: it cannot be given back untried, nor failed with an error Send gives only for a message it never let go (the next run would send it again). Report the outcome Send answered for it (sent with its message_id, or its failure); Complete records that. If Send answered released for it, Send could not take back its send mark then (the database out of reach): the message stays held until its lease runs out and then ends dead, uncertain (it may have gone out, so it is never sent again); there is nothing more to report for it.',
		},
		{ displayName: 'Outcome', parameter: 'outcome' },
	);
}

/** As a tool: a sent or failed Outcome for a message whose send never began, refused by the database (nothing recorded). */
function sendNotBegun(context: IExecuteFunctions, itemIndex: number, result: SendResult): SettingRefusedError {
	return new SettingRefusedError(
		context.getNode(),
		`Outcome "${result.outcome}" is refused for queue item ${result.item_id}: no Send of this run began sending it, so there is nothing ${result.outcome} to record`,
		{
			itemIndex,
			description:
				'As an AI agent\'s tool, Complete records sent or failed only for a message Send let go in this run (failed with code invalid_message only when the owner\'s message itself cannot be sent; a message you gave Send that it refused is yours to shorten or correct and send again). To send it, use Send (Queue Ledger): it sends the message to its lead and answers its outcome, message_id and error, which Complete then records. To give the message back untried, give the outcome released.',
		},
		{ displayName: 'Outcome', parameter: 'outcome' },
	);
}
