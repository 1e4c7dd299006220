// What the operations share: the owner parameter, reading ids and days, the worker name a claim is
// held under, and the error a refused parameter throws.
import { randomBytes } from 'node:crypto';
import { NodeApiError, NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import { claimOfThisExecution, executionMark } from '../../shared/execution-claim';
import { runsAsTool } from '../../shared/outputs';
import { asNodeError, FieldRefusedError, SettingRefusedError } from '../../shared/per-item';
import { parameterText } from '../../shared/resource-locator';
import { readOwnerId } from '../../shared/owner-id';
import { UUID } from '../../shared/valid-input';

export function invalid(context: IExecuteFunctions, itemIndex: number, message: string, description: string): NodeOperationError {
	return new NodeOperationError(context.getNode(), message, { itemIndex, description });
}

/** A parameter's text for item i ('' when empty or not text); `locator`: the value of a resource locator. */
export function readText(context: IExecuteFunctions, name: string, itemIndex: number, locator = false): string {
	const value = context.getNodeParameter(name, itemIndex, '', locator ? { extractValue: true } : undefined) as unknown;
	return parameterText(value);
}

/** The owner parameter's name as the editor shows it (what a refusal of the owner names: helpers/caller-fields.ts). */
export const OWNER_FIELD = 'Owner User ID';

/**
 * The owner of the rows an operation reads or writes: n8n reaches Supabase with the service role,
 * which bypasses row level security, so whose queue it is must be stated (an auth.users id).
 */
export function ownerProperty(required: boolean, description: string): INodeProperties {
	return {
		displayName: OWNER_FIELD,
		name: 'ownerUserId',
		type: 'string',
		default: '',
		required,
		placeholder: 'e.g. 7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f',
		description,
	};
}

/**
 * A UUID parameter of item i, lower case; empty → null when optional. Its refusal names the parameter
 * (`field`: `name`, e.g. "leadId"), so the failed item says which value to mend and a webhook answers
 * the request field it gave that parameter from.
 */
export function readUuid(context: IExecuteFunctions, name: string, label: string, itemIndex: number, hint: string, optional: true): string | null;
export function readUuid(context: IExecuteFunctions, name: string, label: string, itemIndex: number, hint: string, optional?: false): string;
export function readUuid(context: IExecuteFunctions, name: string, label: string, itemIndex: number, hint: string, optional = false): string | null {
	const text = readText(context, name, itemIndex);
	if (!text && optional) return null;
	if (!UUID.test(text)) throw new FieldRefusedError(context.getNode(), `The ${label} "${text}" is not a UUID`, { itemIndex, description: hint }, name);
	return text.toLowerCase();
}

/**
 * What an AI agent can do about a refused owner: give the owner's ID. As a tool the advice names only
 * that: "leave it empty for every owner" would widen the call (Prepare Tomorrow with no owner prepares
 * every owner's queue), and a request's X-Leadflow-Owner header is a workflow's, not a model's. In
 * the editor the advice is a person's.
 */
export const AGENT_OWNER_ADVICE = "Give the owner's user ID: a UUID, the id of the Supabase Auth user whose queue this is.";

/** Owner User ID of item i (nodes/shared/owner-id.ts: its refusal names the parameter, `field: ownerUserId`). */
export { readOwnerId };

export const readOwner = (context: IExecuteFunctions, itemIndex: number): string =>
	readOwnerId(
		context,
		itemIndex,
		runsAsTool(context) ? AGENT_OWNER_ADVICE : 'Use the id of the Supabase Auth user (auth.users) whose queue this is, e.g. from the X-Leadflow-Owner header.',
		false,
	);

export const readOptionalOwner = (context: IExecuteFunctions, itemIndex: number): string | null =>
	readOwnerId(
		context,
		itemIndex,
		runsAsTool(context) ? AGENT_OWNER_ADVICE : 'Use the id of the Supabase Auth user (auth.users) whose queue this is, or leave it empty for every owner.',
		true,
	);

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar day written YYYY-MM-DD, or undefined when it is not one (2026-02-30 is not). */
export function calendarDay(text: string): string | undefined {
	const match = DAY.exec(text);
	if (!match) return undefined;
	const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
	return date.toISOString().slice(0, 10) === text ? text : undefined;
}

/** Days from `from` to `to`, both included. */
export const daysBetween = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1;

export const MAX_RANGE_DAYS = 366;

/** The From and To day parameters of item i: calendar days, From ≤ To, at most a year apart; a day that is none is refused naming its parameter (field: fromDay, toDay). */
export function readDayRange(context: IExecuteFunctions, itemIndex: number): { from: string; to: string };
export function readDayRange(context: IExecuteFunctions, itemIndex: number, optional: true): { from: string | null; to: string | null };
/** With `optional`, an empty day is null: the database fills it (the owner's last 7 local days). */
export function readDayRange(context: IExecuteFunctions, itemIndex: number, optional = false): { from: string | null; to: string | null } {
	const read = (name: string, label: string) => {
		const text = readText(context, name, itemIndex);
		if (optional && !text) return null;
		const day = calendarDay(text);
		if (!day) {
			throw new FieldRefusedError(
				context.getNode(),
				text ? `${label} "${text}" is not a day` : `${label} is empty`,
				{ itemIndex, description: `Write the day as YYYY-MM-DD, e.g. 2026-12-02 (the owner's local day the queue was prepared for).` },
				name,
			);
		}
		return day;
	};
	const from = read('fromDay', 'From Day');
	const to = read('toDay', 'To Day');
	if (from === null || to === null) return { from, to };
	if (to < from) throw invalid(context, itemIndex, `To Day ${to} is before From Day ${from}`, 'Give the range with its first day in From Day.');
	if (daysBetween(from, to) > MAX_RANGE_DAYS) {
		throw invalid(context, itemIndex, `The range ${from} to ${to} is longer than ${MAX_RANGE_DAYS} days`, 'Ask for at most a year at a time.');
	}
	return { from, to };
}

export function dayRangeProperties(what: string, optional = false): INodeProperties[] {
	return [
		{
			displayName: 'From Day',
			name: 'fromDay',
			type: 'string',
			default: '',
			required: !optional,
			placeholder: 'e.g. 2026-12-02',
			description: `The first queue day of the ${what} (YYYY-MM-DD, the owner's local day the messages were prepared for)${optional ? '; empty: 6 days before To Day' : ''}`,
		},
		{
			displayName: 'To Day',
			name: 'toDay',
			type: 'string',
			default: '',
			required: !optional,
			placeholder: 'e.g. 2026-12-08',
			description: `The last queue day of the ${what}, included (YYYY-MM-DD); at most a year after From Day${optional ? '; empty: the owner\'s today in their time zone' : ''}`,
		},
	];
}

/** The longest worker name the database keeps (queue_claim's p_worker, lease_holder). */
export const WORKER_MAX = 200;

/**
 * What Claim adds to its Worker Name: this execution's mark, `-<execution id>-<12 hex of a hash of
 * this n8n's instance id>` (nodes/shared/execution-claim.ts). The same for every node of one
 * execution, so Send and Complete given the bare Worker Name (a saved workflow typing it in, as
 * the option's description before 5 December 2026 told users)
 * rebuild the name Claim holds the messages under. Different for two executions (n8n numbers every
 * execution, a manual one too, uniquely in its database) and for two n8n instances on one Supabase
 * (their instance ids differ). Without an execution id (not seen in n8n): a random suffix, so no
 * two runs share it; Send and Complete then hold only the name Claim puts on the item.
 */
function workerSuffix(context: IExecuteFunctions): string {
	return executionMark(context) ?? `-manual-${randomBytes(6).toString('hex')}`;
}

/**
 * The name a claim is held under; Complete must report with the same one (Claim puts it on every
 * item as `worker`): the prefix (Claim's Worker Name option; `n8n` when it is empty) and
 * workerSuffix, always. Unique whatever the option says: the database tells the run holding a
 * message by this name alone (queue_begin_send, queue_complete), so two runs under one name (a fixed
 * Worker Name, before 5 December 2026) could both send a message whose first run's lease ran out
 * before its send began, and the second's report was refused. A prefix too long for the database's
 * 200 characters with the suffix is cut (`cut` true), never refused.
 */
export function workerName(context: IExecuteFunctions, prefix = ''): { name: string; cut: boolean } {
	const suffix = workerSuffix(context);
	const characters = [...(prefix || 'n8n')];
	const room = WORKER_MAX - suffix.length;
	return { name: `${characters.slice(0, room).join('')}${suffix}`, cut: characters.length > room };
}

/**
 * The name Send or Complete holds an item's message under, from its Worker Name setting: the name
 * on the item (`{{ $json.worker }}`, the default) or one of this execution's full names as given;
 * a bare Worker Name (Claim's, typed in) as Claim made it in this execution. A name that is neither
 * (another Claim's prefix, another execution's full name) is refused as a setting, so the run fails
 * instead of its messages being answered not_held and ending dead, `uncertain`. Empty stays empty.
 * As an AI agent's tool, only a name of this execution (ending with its mark: claimOfThisExecution)
 * is taken: the name and the item both come from the model (or the agent's input item), so one of another
 * execution's claim (shown on the Console's queue page) would send or record that workflow's message
 * behind it, and the workflow would send it again (toolClaimOnly).
 */
export function heldWorker(context: IExecuteFunctions, itemIndex: number, given: string, itemWorker: unknown): string {
	return toolClaimOnly(context, itemIndex, nameHeld(context, itemIndex, given, itemWorker));
}

/**
 * As an AI agent's tool, `held` when it is this execution's (a workflow's Claim before the agent in
 * this run holds its messages under it), else the Worker Name refused, saying why; in a workflow,
 * `held` unchanged.
 */
function toolClaimOnly(context: IExecuteFunctions, itemIndex: number, held: string): string {
	if (!runsAsTool(context) || claimOfThisExecution(context, held)) return held;
	throw new SettingRefusedError(
		context.getNode(),
		held ? `Worker Name "${held}" is not a claim of this execution: as an AI agent's tool, only the messages this workflow's Claim holds in this run are sent or recorded` : 'Worker Name is empty: as an AI agent\'s tool, only the messages this workflow\'s Claim holds in this run are sent or recorded',
		{
			itemIndex,
			description:
				'Give the worker and item_id of a message a Claim earlier in this same run handed out. A message of another run is that run\'s to send and record (it would send it again); to see the queue, use Get Metrics or the Leadflow Console node\'s Queue Page.',
		},
		{ displayName: 'Worker Name', parameter: 'worker' },
	);
}

function nameHeld(context: IExecuteFunctions, itemIndex: number, given: string, itemWorker: unknown): string {
	if (given === '' || given === itemWorker) return given;
	if (claimOfThisExecution(context, given)) return given;
	const rebuilt = workerName(context, given).name;
	const onItem = typeof itemWorker === 'string' && itemWorker.trim() !== '' ? itemWorker.trim() : undefined;
	const fullForm = /-(?:\d+|manual)-[0-9a-f]{12}$/.test(given);
	if (!fullForm && (onItem === undefined || onItem === rebuilt)) return rebuilt;
	throw new SettingRefusedError(
		context.getNode(),
		`Worker Name "${given}" is not the name this run's Claim holds the message under${onItem ? ` (${onItem})` : ''}`,
		{ itemIndex, description: 'Map the name Claim puts on every item: {{ $json.worker }} (the default), or type the same Worker Name Claim is given.' },
		{ displayName: 'Worker Name', parameter: 'worker' },
	);
}

/** The most rows the Data API answers at once, so the most items one database call takes. */
export const BATCH = 1000;

/**
 * An earlier node's failed item (its Continue On Fail to the regular output: `{error: {…}}`, no
 * item_id), such as Claim's for an owner it refused: it names no message, so Send and Complete pass
 * it on unchanged, never failing (and giving back) the whole batch for it.
 */
export function upstreamFailure(json: IDataObject, itemId: string): boolean {
	return itemId === '' && json.item_id === undefined && typeof json.error === 'object' && json.error !== null && !Array.isArray(json.error);
}

/**
 * A database call, made once more when it failed with SQLSTATE 40001: a concurrent change (a lead
 * taken over while tomorrow's queue was prepared, two runs adding the same lead at once) made the
 * function write nothing and ask to be called again.
 */
export async function retryOnConflict<T>(context: IExecuteFunctions, call: () => Promise<T>): Promise<T> {
	try {
		return await call();
	} catch (error) {
		if (error instanceof NodeApiError && (error.errorResponse as { code?: unknown } | undefined)?.code === '40001') return await call();
		throw asNodeError(context, error);
	}
}
