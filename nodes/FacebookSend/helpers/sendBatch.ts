// A batch of items, start to finish, with one database round trip per step and 1,000 contacts (the
// Data API answers at most 1,000 rows), whatever its size:
//   1. each item's parameters are read and checked;
//   2. ONE automation_begin_send per claim holder (normally one): guard, stop / window re-check,
//      ready_to_send → sending. Duplicates, stopped and closed-window contacts are settled here,
//      without a Graph call. Repeated with the same begin key when Supabase fails for a moment, so
//      a begin whose answer was lost still sends the contacts it began;
//   3. the Graph calls, started in item order, several at a time, paced by the Page's rate (sendQueue.ts);
//   4. ONE automation_record_send per claim holder for every contact moved to sending, also when
//      the token was refused (190), so no contact is left in sending by a batch that ends normally;
//      repeated a few times when Supabase fails for a moment, and if it still fails the node's error
//      (or, with Continue On Fail, each item on Failed) says what Facebook delivered.
// If the process dies between 2 and 4, the reaper turns the contacts left in sending into failed
// send_uncertain, never resent.
// When the node fails as a node (a credential it cannot use, a setting it refuses, a begin that
// failed), or with Continue On Fail an item fails with such an error, the claimed contacts no begin
// answered for are given back first (automation_release, reason send_setup_failed): claimable again
// at once, not held until the claim's lease ends. A contact a begin moved to sending is never given
// back (its send may have gone out); the database refuses that too. As an AI agent's tool nothing is
// given back: the claim is the workflow's (its Claim, its Generate Follow-Up's message), not the
// tool call's, and a release would drop the generated message and hand the contact to the next run,
// which would claim and generate it again; the agent may call again within the claim's lease.
import { NodeApiError, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type JsonObject } from 'n8n-workflow';
import type { BeginSendResult, RecordSendResult, SendOutcomeItem } from '../../shared/contract';
import { readGraphTarget } from '../transport/graphSend';
import { beginSend, recordSends } from '../transport/sendState';
import type { Delivery } from './deliver';
import { itemParameterReader, readItemSettings, type ItemSettings } from './itemSettings';
import type { ParameterReader } from '../../shared/default-fields';
import { asNodeError, failedItem } from '../../shared/per-item';
import { releaseBeforeReporting, type HandedContact } from '../../shared/release-handed';
import { readStateId } from '../../shared/state-id';
import { runsAsTool } from '../../shared/outputs';
import { piecesOf, RETRY_WAITS_MS } from '../../shared/supabase';
import { ledgerItemOf, OUTPUT, outputFor, reportOf, type SendReport } from './reports';
import { SLOT_SPACING } from './pacer';
import { RECORD_MARGIN_MS, sendAll, type PendingSend } from './sendQueue';

/** `unrecorded`: delivered or not, the outcome could not be recorded (Continue On Fail): to Failed. */
type ItemResult = { report: SendReport; unrecorded?: boolean } | { error: Error };

interface QueuedItem {
	pending: PendingSend;
	begun?: Extract<BeginSendResult, { outcome: 'send' }>;
}

/** The contacts automation_begin_send answered for (begun, or settled at the begin): never given back by this node. */
type Answered = Set<string>;

export async function sendBatch(context: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = context.getInputData();
	const results: Array<ItemResult | undefined> = new Array(items.length);
	const answered: Answered = new Set();
	try {
		await sendItems(context, items, results, answered);
	} catch (caught) {
		// Failed as a node: what it was handed and did not begin goes nowhere, so it is given back.
		const error = asNodeError(context, caught);
		await releaseBeforeReporting(context, notBegun(context, items.length, [...items.keys()], answered), 'send_setup_failed', [error]);
		throw error;
	}
	// With Continue On Fail, the items that failed with an error before their begin are given back.
	const failed = results.flatMap((result, index) => (result && 'error' in result ? [index] : []));
	if (failed.length > 0) {
		for (const index of failed) (results[index] as { error: Error }).error = asNodeError(context, (results[index] as { error: Error }).error, index);
		const errors = failed.map((index) => (results[index] as { error: ReturnType<typeof asNodeError> }).error);
		await releaseBeforeReporting(context, notBegun(context, items.length, failed, answered), 'send_setup_failed', errors);
	}
	return buildOutputs(context, items, results);
}

/**
 * The claimed contacts of the items (their Contact State ID and Claim Holder, by default the claim's
 * state_id and execution_id, in recorded mode) that no begin answered for. An item whose fields
 * cannot be read names no contact.
 */
function notBegun(context: IExecuteFunctions, count: number, itemIndexes: readonly number[], answered: Answered): HandedContact[] {
	if (runsAsTool(context)) return [];
	const read: ParameterReader = itemParameterReader(context);
	const contacts: HandedContact[] = [];
	for (const itemIndex of itemIndexes) {
		if (itemIndex >= count) continue;
		try {
			if (!context.getNodeParameter('recordStages', itemIndex, true)) continue;
			const stateId = readStateId(read, itemIndex);
			const holder = String(read('leaseHolder', itemIndex, '') ?? '').trim();
			if (stateId !== '' && holder !== '' && !answered.has(stateId)) contacts.push({ stateId, holder });
		} catch {
			continue;
		}
	}
	return contacts;
}

async function sendItems(context: IExecuteFunctions, items: INodeExecutionData[], results: Array<ItemResult | undefined>, answered: Answered): Promise<void> {
	const settings = readAll(context, items.length, results);

	// The credential is read before anything is claimed, so a missing one changes nothing.
	const target = settings.some(Boolean) ? await readGraphTarget(context) : undefined;
	const queued = new Map<number, QueuedItem>();
	for (const item of settings) {
		if (item && item.recipientId !== undefined) queued.set(item.itemIndex, { pending: { settings: item, recipientId: item.recipientId, text: item.message ?? '' } });
	}
	const beginFailure = await beginRecorded(context, settings, results, queued, answered);

	const order = [...queued.keys()].sort((a, b) => a - b);
	const { deliveries, signal } = target ? await sendAll(context, target, order.map((index) => queued.get(index)!.pending)) : { deliveries: [], signal: {} };
	const deliveryOf = new Map(order.map((index, position) => [index, deliveries[position]]));
	for (const [index, delivery] of deliveryOf) results[index] = { report: reportOf(delivery) };
	markIgnoredMessages(context, items, queued, results);

	await recordOutcomes(context, queued, deliveryOf, results);

	if (signal.invalidToken && !context.continueOnFail()) {
		const first = order.find((index) => deliveryOf.get(index)?.outcome === 'failed' && (deliveryOf.get(index) as { reason?: string }).reason === 'invalid_token');
		const notSent = order.filter((index) => deliveryOf.get(index)?.outcome === 'failed' && deliveryOf.get(index)?.attempts === 0).length;
		const { code, subcode, message, type, traceId } = signal.invalidToken;
		throw new NodeApiError(context.getNode(), { code, error_subcode: subcode ?? null, message, type: type ?? null, fbtrace_id: traceId ?? null } as JsonObject, {
			message: 'The Page token is invalid or expired: reconnect the credential',
			description: `Facebook answered ${code} (${message}). Generate a new Page access token with pages_messaging and save it in the Leadflow Facebook Page API credential. Messages already sent in this batch are recorded; ${notSent} were not tried and may be claimed again later.`,
			itemIndex: first,
		});
	}
	if (beginFailure !== undefined && !context.continueOnFail()) throw asNodeError(context, beginFailure);
}

/** The item's own `followUp.message` (Generate Follow-Up's output, perhaps changed by a node after it), when it has one. */
function itemMessageOf(item: INodeExecutionData): string | undefined {
	const followUp = item.json.followUp;
	if (followUp === null || typeof followUp !== 'object' || Array.isArray(followUp)) return undefined;
	const message = (followUp as IDataObject).message;
	return typeof message === 'string' ? message : undefined;
}

/**
 * Recorded mode sends the message Generate Follow-Up recorded for the contact (the begin's answer),
 * never the item's: the guard, the ledger and the echo that settles an uncertain send all hold that
 * text. An item whose followUp.message says something else (a node after Generate changed it) says
 * so in its `send` (itemMessageIgnored, recordedMessage: what Facebook was given), and the run
 * carries a warning, so the change is not lost silently.
 */
function markIgnoredMessages(context: IExecuteFunctions, items: INodeExecutionData[], queued: Map<number, QueuedItem>, results: Array<ItemResult | undefined>): void {
	let ignored = 0;
	for (const [index, { begun }] of queued) {
		const result = results[index];
		const given = itemMessageOf(items[index]);
		if (!begun || given === undefined || given === begun.message || !result || !('report' in result)) continue;
		result.report = { ...result.report, itemMessageIgnored: true, recordedMessage: begun.message };
		ignored++;
	}
	if (ignored === 0) return;
	context.addExecutionHints({
		type: 'warning',
		location: 'outputPane',
		message:
			`${ignored === 1 ? '1 item has' : `${ignored} items have`} a followUp.message other than the one Generate Follow-Up recorded for the contact: ` +
			'with Record in Supabase on, the recorded message is what Facebook is sent (the item\'s send.recordedMessage), so the duplicate guard and the ledger hold what went out. ' +
			'To change what follow-ups say, change the instructions Generate Follow-Up is given (the rule\'s).',
	});
}

function readAll(context: IExecuteFunctions, count: number, results: Array<ItemResult | undefined>): Array<ItemSettings | undefined> {
	const settings: Array<ItemSettings | undefined> = [];
	const read = itemParameterReader(context);
	for (let itemIndex = 0; itemIndex < count; itemIndex++) {
		try {
			const record = context.getNodeParameter('recordStages', itemIndex, true) as boolean;
			settings.push(readItemSettings(context, read, itemIndex, record));
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error);
			results[itemIndex] = { error: error as Error };
			settings.push(undefined);
		}
	}
	return settings;
}

/** Groups recorded items by claim holder, in first-seen order. */
function byHolder(settings: Array<ItemSettings | undefined>): Map<string, ItemSettings[]> {
	const groups = new Map<string, ItemSettings[]>();
	for (const item of settings) {
		if (!item?.stateId || !item.leaseHolder) continue;
		const group = groups.get(item.leaseHolder) ?? [];
		group.push(item);
		groups.set(item.leaseHolder, group);
	}
	return groups;
}

async function beginRecorded(
	context: IExecuteFunctions,
	settings: Array<ItemSettings | undefined>,
	results: Array<ItemResult | undefined>,
	queued: Map<number, QueuedItem>,
	answered: Answered,
): Promise<unknown> {
	// The first begin call that failed (after its repeats), thrown once what the others began is sent
	// and recorded (without Continue On Fail): failing at once would leave their contacts in sending.
	let failure: unknown;
	let begunAny = false;
	for (const [holder, group] of byHolder(settings)) {
		// Calls may start during the configured time plus what the rate needs for the whole group
		// (slots are 1.1 / rate apart; other workers sending for the Page at the same time take their
		// share of it too, which the configured time must cover). The lease also covers the last
		// call's timeout and the record after it, so the outcomes are recorded while it holds
		// (sendQueue.ts stops starting calls that long before it ends).
		const rate = Math.min(...group.map((item) => item.messagesPerSecond));
		const startingSeconds = Math.max(...group.map((item) => item.leaseSeconds)) + Math.ceil((group.length * SLOT_SPACING) / rate);
		const leaseSeconds = startingSeconds + Math.ceil((Math.max(...group.map((item) => item.timeoutMs)) + RECORD_MARGIN_MS) / 1000);
		const startedAt = Date.now();
		// One call per 1,000 contacts (the Data API answers at most 1,000 rows: a longer answer would
		// be cut, the contacts past it left in sending unknown to the node), each piece with its own
		// begin key; the lease covers the whole group. A piece whose call fails began nothing the node
		// knows of; the others' contacts are sent.
		const begun = new Map<string, BeginSendResult>();
		const refused = new Map<string, unknown>();
		for (const piece of piecesOf([...new Set(group.map((item) => item.stateId!))])) {
			try {
				for (const [stateId, row] of await beginSend(context, holder, piece, leaseSeconds)) {
					begun.set(stateId, row);
					answered.add(stateId);
				}
			} catch (error) {
				failure ??= error;
				for (const stateId of piece) refused.set(stateId, error);
			}
		}
		const seen = new Set<string>();
		for (const item of group) {
			if (refused.has(item.stateId!)) {
				results[item.itemIndex] = { error: asNodeError(context, refused.get(item.stateId!), item.itemIndex) };
				continue;
			}
			const row = begun.get(item.stateId!);
			// The same contact twice in one batch: the first item sends, the others are duplicates.
			if (row?.outcome === 'send' && !seen.has(row.state_id)) {
				seen.add(row.state_id);
				queued.set(item.itemIndex, {
					begun: row,
					pending: {
						settings: item,
						recipientId: row.recipient_id,
						text: row.message,
						pageId: row.page_id,
						windowClosesAt: row.window_closes_at ? Date.parse(row.window_closes_at) : undefined,
						leaseUntil: startedAt + leaseSeconds * 1000,
					},
				});
				continue;
			}
			results[item.itemIndex] = { report: settledAtBegin(row, seen.has(item.stateId!)) };
		}
		if (begun.size > 0) begunAny = true;
	}
	// Nothing begun: fail at once, before any Graph call, as a single begin does.
	if (failure !== undefined && !begunAny && !context.continueOnFail()) throw asNodeError(context, failure);
	return failure;
}

function settledAtBegin(row: BeginSendResult | undefined, repeatedInBatch: boolean): SendReport {
	if (!row) return { outcome: 'lease_lost', reason: 'not_returned' };
	if (repeatedInBatch) return { outcome: 'duplicate', reason: 'same_batch', followUpNumber: row.follow_up_number };
	return {
		outcome: row.outcome === 'send' ? 'duplicate' : row.outcome,
		reason: row.reason,
		...(row.follow_up_number !== null && { followUpNumber: row.follow_up_number }),
	};
}

async function recordOutcomes(
	context: IExecuteFunctions,
	queued: Map<number, QueuedItem>,
	deliveryOf: Map<number, Delivery>,
	results: Array<ItemResult | undefined>,
): Promise<void> {
	const groups = new Map<string, Array<{ index: number; line: SendOutcomeItem }>>();
	for (const [index, { begun, pending }] of queued) {
		const delivery = deliveryOf.get(index);
		if (!begun || !delivery || !pending.settings.leaseHolder) continue;
		const group = groups.get(pending.settings.leaseHolder) ?? [];
		group.push({ index, line: ledgerItemOf(begun.state_id, delivery, pending.settings.retryLaterSeconds) });
		groups.set(pending.settings.leaseHolder, group);
	}
	// One record per holder and 1,000 contacts (the Data API's max-rows, as for the begin). Every
	// one is tried; without Continue On Fail, one error then lists what Facebook delivered for all
	// those that could not be recorded.
	const unrecorded: Array<{ index: number; delivery: Delivery }> = [];
	let firstError: unknown;
	for (const [holder, group] of [...groups].flatMap(([holder, all]) => piecesOf(all).map((piece) => [holder, piece] as const))) {
		let recorded: Map<string, RecordSendResult['outcome']>;
		try {
			recorded = await recordSends(context, holder, group.map((entry) => entry.line));
		} catch (error) {
			const entries = group.map(({ index }) => ({ index, delivery: deliveryOf.get(index)! }));
			if (!context.continueOnFail()) {
				firstError ??= error;
				unrecorded.push(...entries);
				continue;
			}
			const failure = unrecordedError(context, error, entries);
			// Each item to Failed with what Facebook did for it, so the messages sent are known.
			for (const { index } of group) {
				const result = results[index];
				if (result && 'report' in result) {
					results[index] = {
						report: { ...result.report, followUpNumber: queued.get(index)?.begun?.follow_up_number, recorded: 'not_recorded', recordError: failure.message },
						unrecorded: true,
					};
				}
			}
			continue;
		}
		for (const { index, line } of group) {
			const result = results[index];
			const state = recorded.get(line.state_id);
			const followUpNumber = queued.get(index)?.begun?.follow_up_number;
			if (result && 'report' in result) {
				results[index] = { report: { ...result.report, followUpNumber, recorded: state ?? 'not_returned', ...(state === 'completed' && { completed: true }) } };
			}
		}
	}
	if (unrecorded.length > 0) throw unrecordedError(context, firstError, unrecorded);
}

/**
 * automation_record_send failed after its retries: the batch's contacts stay in sending until the
 * reaper turns them into send_uncertain (never resent). What Facebook did is only in this error, so
 * it lists the messages that were delivered.
 */
function unrecordedError(context: IExecuteFunctions, error: unknown, group: Array<{ index: number; delivery: Delivery }>): NodeApiError {
	const sent = group.filter(({ delivery }) => delivery.outcome === 'sent') as Array<{ index: number; delivery: Extract<Delivery, { outcome: 'sent' }> }>;
	const notCalled = group.filter(({ delivery }) => delivery.attempts === 0).length;
	const cause = error instanceof NodeApiError ? error : asNodeError(context, error);
	const list = sent.map(({ index, delivery }) => `item ${index + 1}: ${delivery.messageId}`).join(', ');
	return new NodeApiError(context.getNode(), { message: cause.message } as JsonObject, {
		message: `The outcome of ${group.length} sends could not be recorded in Supabase: ${sent.length} messages were delivered`,
		description:
			`automation_record_send failed after ${RETRY_WAITS_MS.length + 1} tries (${cause.message}). ` +
			(sent.length > 0 ? `Delivered by Facebook: ${list}. ` : '') +
			`${notCalled} were not sent. The contacts stay in sending until their send lease ends, then become send_uncertain and are not resent automatically: check the Supabase project, then requeue those not delivered (Leadflow Tag Eligibility → Requeue, Uncertain Sends: Requeue Them).`,
		itemIndex: group[0]?.index,
	});
}

function buildOutputs(context: IExecuteFunctions, items: INodeExecutionData[], results: Array<ItemResult | undefined>): INodeExecutionData[][] {
	const outputs: INodeExecutionData[][] = [[], [], []];
	results.forEach((result, itemIndex) => {
		const input = items[itemIndex].json;
		if (!result) return;
		if ('error' in result) {
			outputs[OUTPUT.failed].push(failedItem(context, result.error, { item: itemIndex }));
			return;
		}
		outputs[result.unrecorded ? OUTPUT.failed : outputFor(result.report)].push({ json: { ...input, send: result.report as IDataObject }, pairedItem: { item: itemIndex } });
	});
	return outputs;
}
