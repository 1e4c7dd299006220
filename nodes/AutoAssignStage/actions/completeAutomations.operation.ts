// completeAutomations: after the workflow delivered the actions handed out with "Confirm With
// Complete Automations", report each in one database call (pipeline_complete_outbox): delivered,
// failed to retry later, or failed for good. Only the execution holding an action may report it;
// one whose lease ran out and that another execution took since comes back `lease_lost`. The same
// report sent again by its holder (n8n's Retry On Fail after a call whose answer was lost) comes back
// with the first answer (`delivered`, `failed`, `retrying`), nothing written; another report of an
// action it already completed comes back `already_completed`, the first report kept. An action
// cancelled under its holder (its automation switched off or its action changed, found by a later
// claim, or cancelled by its owner) comes back `cancelled`; a retry asked at the 10th attempt fails
// it for good (`failed`). Every answer leaves as an item of the Automations output with `outcome`
// and `reported`, never as a failed item.
// As an AI agent's tool, only a holder of this execution (a Claim Automations earlier in this run,
// ending with this execution's mark: nodes/shared/execution-claim.ts): another execution's action
// is that execution's to deliver and report, and its holder may be guessed or read.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { sendBatch } from '../../shared/batch-refusals';
import type { CompleteOutboxArgs } from '../../shared/contract';
import { claimOfThisExecution } from '../../shared/execution-claim';
import { runsAsTool } from '../../shared/outputs';
import { asNodeError, failedItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { shown, textProblem } from '../../shared/valid-input';
import { AUTOMATIONS, checkUuid, invalid, OUTPUT_COUNT } from '../helpers/common';

type Report = CompleteOutboxArgs['p_items'][number];

const properties: INodeProperties[] = [
	{
		displayName: 'Outbox Item ID',
		name: 'outboxId',
		type: 'string',
		default: '={{ $json.outbox_id }}',
		required: true,
		description: 'The action handed out on the Automations output (its outbox_id)',
	},
	{
		displayName: 'Claim Holder',
		name: 'claimHolder',
		type: 'string',
		default: '={{ $json.execution_id }}',
		required: true,
		description: 'Who the action was handed out to (its execution_id): only the holder may report it',
	},
	{
		displayName: 'Outcome',
		name: 'outcome',
		type: 'options',
		default: 'delivered',
		options: [
			{ name: 'Delivered', value: 'delivered', description: 'Done: never handed out again' },
			{ name: 'Failed, Retry Later', value: 'retry', description: 'Handed out again after the retry delay; at the 10th attempt, failed for good instead' },
			{ name: 'Failed for Good', value: 'failed', description: 'Done, with the error: never handed out again' },
		],
		description: 'What became of the action; an expression can read it from the delivery step, e.g. retry when the step\'s output has an error',
	},
	{
		displayName: 'Error',
		name: 'error',
		type: 'string',
		default: '',
		displayOptions: { show: { outcome: ['retry', 'failed'] } },
		description: 'Why the delivery failed (kept with the action, at most 2,000 characters). An error object, as a step set to continue on fail gives, is kept as its message and description.',
	},
	{
		displayName: 'Retry After (Seconds)',
		name: 'retryAfterSeconds',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 604800 },
		default: 300,
		displayOptions: { show: { outcome: ['retry'] } },
	},
];

export const description = updateDisplayOptions({ show: { operation: ['completeAutomations'] } }, properties);

/** The default delay before a retry, in seconds: also what an empty Retry After means. */
const DEFAULT_RETRY_AFTER = 300;

/**
 * Retry After in seconds. Empty (an expression or an agent's `$fromAI` giving '' or nothing) means
 * the default, never 0 (handed out again at once); a number or a numeric text from 0 to 7 days is
 * taken; anything else (a word, true, a list) is refused, showing what came.
 */
function readRetryAfter(context: IExecuteFunctions, itemIndex: number): number {
	const raw = context.getNodeParameter('retryAfterSeconds', itemIndex, DEFAULT_RETRY_AFTER) as unknown;
	if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return DEFAULT_RETRY_AFTER;
	const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : Number.NaN;
	if (!(Number.isFinite(seconds) && seconds >= 0 && seconds <= 604800)) {
		throw invalid(context, itemIndex, `Retry After must be from 0 to 604,800 seconds (got ${shown(raw)})`, 'Give the delay before the action is handed out again, in seconds (at most 7 days), or leave it empty for 300.');
	}
	return seconds;
}

/** Longest error kept with an action (the database's limit). */
const MAX_ERROR = 2000;

/**
 * The Error parameter as text. A text is taken as it is (trimmed); an object (what a step with
 * Continue On Fail puts in `$json.error`, e.g. an HTTP Request's `{ message, description, … }`) is its
 * `message`, with its `description` after it when that says more, else a short JSON of it (cut to
 * 2,000 characters): never "[object Object]".
 */
function errorText(raw: unknown): string {
	if (raw === undefined || raw === null) return '';
	if (typeof raw === 'string') return raw.trim();
	if (typeof raw !== 'object') return String(raw).trim();
	const record = raw as Record<string, unknown>;
	const part = (key: string) => (typeof record[key] === 'string' ? (record[key] as string).trim() : '');
	const message = Array.isArray(raw) ? '' : part('message');
	const detail = Array.isArray(raw) ? '' : part('description');
	let text: string;
	if (message && detail && !message.includes(detail)) text = `${message}: ${detail}`;
	else if (message || detail) text = message || detail;
	else {
		try {
			text = JSON.stringify(raw) ?? '';
		} catch {
			text = '';
		}
		if (!text || text === '{}' || text === '[]') return '';
	}
	// Cut by characters (code points, as the database counts them), never inside an emoji's
	// surrogate pair: half of one is refused as not valid Unicode, failing every report of the run.
	const characters = Array.from(text);
	return characters.length > MAX_ERROR ? `${characters.slice(0, MAX_ERROR - 1).join('')}…` : text;
}

/** What the user chose: Delivered, Failed, Retry Later (`retry`) or Failed for Good (`failed`). */
type Chosen = 'delivered' | 'retry' | 'failed';

function readReport(context: IExecuteFunctions, itemIndex: number): { holder: string; chosen: Chosen; report: Report } {
	const outboxId = checkUuid(context, context.getNodeParameter('outboxId', itemIndex), 'outbox item ID', 'outboxId', itemIndex, 'Map the outbox_id of an item from the Automations output, e.g. {{ $json.outbox_id }}.');
	const holder = String(context.getNodeParameter('claimHolder', itemIndex, '') ?? '').trim();
	if (!holder) throw invalid(context, itemIndex, 'Claim Holder is empty', 'Map the execution_id of the item from the Automations output: only the execution holding an action may report it.');
	if (runsAsTool(context) && !claimOfThisExecution(context, holder)) {
		throw invalid(
			context,
			itemIndex,
			`Claim Holder "${holder}" is not this execution: as an AI agent's tool, only the actions a Claim Automations earlier in this run handed out are reported`,
			'Give the execution_id and outbox_id of an action a Claim Automations in this same run handed out. Another run\'s action is that run\'s to deliver and report; Assign and Move used as tools leave their actions waiting for a workflow (the shipped auto-assign.json claims, delivers and reports them every 15 minutes).',
		);
	}
	const outcome = context.getNodeParameter('outcome', itemIndex, 'delivered') as string;
	if (!['delivered', 'retry', 'failed'].includes(outcome)) {
		throw invalid(context, itemIndex, `Outcome "${outcome}" is not one of delivered, retry, failed`, 'Choose an outcome, or make the expression give one of these three words.');
	}
	if (outcome === 'delivered') return { holder, chosen: 'delivered', report: { outbox_id: outboxId, outcome: 'delivered' } };
	const error = errorText(context.getNodeParameter('error', itemIndex, '') as unknown);
	const problem = error ? textProblem(error, { kind: 'multiline', max: 2000 }) : undefined;
	if (problem) throw invalid(context, itemIndex, `Error ${problem}`, 'Give the failure as plain text of at most 2,000 characters.');
	const retryAfter = outcome === 'retry' ? readRetryAfter(context, itemIndex) : null;
	return {
		holder,
		chosen: outcome as Chosen,
		report: { outbox_id: outboxId, outcome: 'failed', error: error || null, ...(retryAfter !== null && { retry_after_seconds: retryAfter }) },
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// As an AI agent's tool, readReport takes only a Claim Holder of this execution, before anything
	// is reported.
	const items = this.getInputData();
	const outputs: INodeExecutionData[][] = Array.from({ length: OUTPUT_COUNT }, () => []);
	// One call per claim holder (an execution reports what it holds); reports keep their item.
	const byHolder = new Map<string, Array<{ itemIndex: number; chosen: Chosen; report: Report }>>();
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const { holder, chosen, report } = readReport(this, itemIndex);
			byHolder.set(holder, [...(byHolder.get(holder) ?? []), { itemIndex, chosen, report }]);
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, itemIndex);
			outputs[AUTOMATIONS].push(failedItem(this, error, { item: itemIndex }));
		}
	}
	// The outcome each item's report chose (Failed, Retry Later is sent as failed with a delay).
	const chosenOf = new Map<number, Chosen>();
	for (const reports of byHolder.values()) for (const entry of reports) chosenOf.set(entry.itemIndex, entry.chosen);
	for (const [holder, reports] of byHolder) {
		for (let start = 0; start < reports.length; start += 1000) {
			const batch = reports.slice(start, start + 1000).map((entry) => ({ itemIndex: entry.itemIndex, payload: entry.report }));
			try {
				// A report the database refuses is named by its input item; with Continue On Fail it
				// alone fails and the batch's other reports are recorded (nodes/shared/batch-refusals.ts).
				const { rows, sent } = await sendBatch(
					this,
					batch,
					async (payloads) => await callRpc(this, 'pipeline_complete_outbox', { p_execution_id: holder, p_items: payloads }),
					(entry, error) => outputs[AUTOMATIONS].push(failedItem(this, error, { item: entry.itemIndex })),
				);
				const outcomeOf = new Map(rows.map((row) => [row.outbox_id, row.outcome]));
				for (const entry of sent) {
					outputs[AUTOMATIONS].push({
						json: { outbox_id: entry.payload.outbox_id, outcome: outcomeOf.get(entry.payload.outbox_id) ?? 'not_found', reported: chosenOf.get(entry.itemIndex) },
						pairedItem: { item: entry.itemIndex },
					});
				}
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this, error);
				for (const entry of batch) outputs[AUTOMATIONS].push(failedItem(this, error, { item: entry.itemIndex }));
			}
		}
	}
	return outputs;
}
