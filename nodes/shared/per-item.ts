// The per-item loop our operations share, and the one shape of a continue-on-fail item.
// Parameters are read per item, each result goes to the output the operation chooses, every output
// item carries `pairedItem`, and with "Continue On Fail" a failing item becomes `failedItem(…)` on
// the node's failure output (docs/nodes.md, "When an item fails").
import {
	NodeApiError,
	NodeOperationError,
	type IBinaryKeyData,
	type IDataObject,
	type IExecuteFunctions,
	type INode,
	type INodeExecutionData,
	type IPairedItemData,
} from 'n8n-workflow';

export interface Routed {
	output: number;
	json: IDataObject;
	/** Files the item carries (e.g. an export). */
	binary?: IBinaryKeyData;
}

/** Rows a database call returned, each as one item on `output`. */
export function rowsTo(output: number, rows: readonly object[]): Routed[] {
	return rows.map((row) => ({ output, json: { ...row } as IDataObject }));
}

/** What failed, in a continue-on-fail item's `error`. */
export interface ItemError {
	/**
	 * invalid_input: a parameter or field of the item (checked by the node, or refused by the
	 * database's own checks); not_found: the database has no such row (an unknown contact, stage,
	 * lead…, or a NotFoundError the node threw); busy: another run holds what the call needs (a
	 * sync of the Page is running), try again once it is over; service_error: Supabase, Gemini or
	 * the Graph API refused or failed otherwise.
	 */
	code: 'invalid_input' | 'not_found' | 'busy' | 'service_error';
	message: string;
	/** What to do about it, when the error says. */
	description?: string;
	/**
	 * The node's own setting that was refused, as the editor shows it ("Lease (Seconds)"), when the
	 * failure is one (a SettingRefusedError): a setting of the workflow, not a field of the request,
	 * so a webhook answers it as its own fault (500), never the caller's 400. The code stays
	 * invalid_input.
	 */
	setting?: string;
	/**
	 * The node's parameter whose value was refused, by its name ("ruleId"), when the refusal says
	 * which input of the item is at fault (a FieldRefusedError): Tag Eligibility's rule or contact ID
	 * that is not a UUID, and Claim's rule of another Page than its Page ID. A workflow that gives the
	 * parameter from its request answers it as that request field's fault (400 naming it) by this
	 * field, never by the message's words. The code stays invalid_input.
	 */
	field?: string;
	/**
	 * Why that field was refused, when the refusal is one a workflow answers in its own way (a
	 * FieldRefusedError given a reason): Claim's `rule_of_another_page`, whose description says where
	 * the rule is claimed, whether the rule came from the request or was picked in the node.
	 */
	reason?: string;
}

/**
 * A row the node looked up that does not exist, found by the node rather than raised by the
 * database (e.g. a snapshot of an unknown rule, which automation_snapshot answers with null): a
 * failed item's code is not_found, as for the database's P0002.
 */
export class NotFoundError extends NodeOperationError {}

/**
 * A setting of the node itself refused (an option or run-wide parameter an expression gives out of
 * its range: nodes/shared/checked-options.ts, or a Limit / Lease read by readWholeNumber as a
 * setting), as opposed to a field of the item or the request. It names the setting as the editor
 * shows it (`setting`) and by its parameter (`parameter`, e.g. "options.leaseSeconds"); a failed
 * item made from it carries `setting`, so a workflow tells "fix the node" from "the caller sent
 * something wrong" by that field, not by the message's words.
 */
export class SettingRefusedError extends NodeOperationError {
	readonly setting: string;
	readonly parameter: string;

	constructor(node: INode, message: string, options: { itemIndex?: number; description?: string }, refused: { displayName: string; parameter: string }) {
		super(node, message, options);
		this.setting = refused.displayName;
		this.parameter = refused.parameter;
	}
}

/**
 * A value of the item refused (a parameter given per item, e.g. from a webhook's request), naming the
 * parameter it came from (`field`, its name: "ruleId"), so a failed item made from it carries
 * `field` and a workflow answers the request field it gave that parameter from, without reading the
 * message (which echoes the caller's value, and may be reworded).
 */
export class FieldRefusedError extends NodeOperationError {
	readonly field: string;
	readonly reason?: string;

	constructor(node: INode, message: string, options: { itemIndex?: number; description?: string }, field: string, reason?: string) {
		super(node, message, options);
		this.field = field;
		if (reason !== undefined) this.reason = reason;
	}
}

/** The error as n8n shows it: a NodeOperationError / NodeApiError kept, anything else wrapped. */
export function asNodeError(context: IExecuteFunctions, error: unknown, itemIndex?: number): NodeOperationError | NodeApiError {
	if (error instanceof NodeOperationError || error instanceof NodeApiError) return error;
	return new NodeOperationError(context.getNode(), error instanceof Error ? error : new Error(String(error)), { itemIndex });
}

/**
 * What a database refusal means for the caller, from its SQLSTATE (the Data API passes Postgres's
 * `code` through): P0002 (no_data_found, what our functions raise for an unknown id or name) is
 * not_found; class 22 (data exception, e.g. 22023 for a bad argument) and 23 (a constraint) are
 * invalid_input; 55P03 (lock_not_available, what our functions raise when another run holds the
 * job, e.g. messenger_sync_begin while a sync of the Page runs) is busy. Anything else, and every
 * non-database error, is service_error.
 */
function serviceErrorCode(error: NodeApiError): ItemError['code'] {
	const code = (error.errorResponse as { code?: unknown } | undefined)?.code;
	if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return 'service_error';
	if (code === 'P0002') return 'not_found';
	if (code === '55P03') return 'busy';
	if (code.startsWith('22') || code.startsWith('23')) return 'invalid_input';
	return 'service_error';
}

/**
 * The package's one continue-on-fail item: `{ error: { code, message, description?, setting?, field?, reason? } }` and
 * nothing else (never the input's fields, which may hold a webhook's headers), with `pairedItem` to
 * reach the input. A json holding only `error` is what n8n recognises as an error item, so "On
 * Error: Continue (using error output)" routes it to the error output. (n8n's item-level `error`
 * field is not set: the engine would replace the json with the bare message.)
 */
export function failedItem(
	context: IExecuteFunctions,
	error: unknown,
	pairedItem: IPairedItemData | IPairedItemData[],
	/** The code when the error's kind does not say it (a credential the node cannot use: service_error, not the item's fault). */
	code?: ItemError['code'],
): INodeExecutionData {
	const itemIndex = Array.isArray(pairedItem) ? pairedItem[0]?.item : pairedItem.item;
	const nodeError = asNodeError(context, error, itemIndex);
	const json: ItemError = {
		code: code ?? (nodeError instanceof NodeApiError ? serviceErrorCode(nodeError) : nodeError instanceof NotFoundError ? 'not_found' : 'invalid_input'),
		message: nodeError.message,
		...(nodeError.description ? { description: nodeError.description } : {}),
		...(nodeError instanceof SettingRefusedError ? { setting: nodeError.setting } : {}),
		...(nodeError instanceof FieldRefusedError ? { field: nodeError.field, ...(nodeError.reason !== undefined ? { reason: nodeError.reason } : {}) } : {}),
	};
	return { json: { error: { ...json } }, pairedItem };
}

/**
 * Runs `handle` for every input item. `failureOutput`: where continue-on-fail items go (the node's
 * Invalid / Failed output; 0 for a node with one output).
 */
export async function perItem(
	context: IExecuteFunctions,
	outputCount: number,
	handle: (itemIndex: number) => Promise<Routed[]>,
	failureOutput = 0,
): Promise<INodeExecutionData[][]> {
	const outputs: INodeExecutionData[][] = Array.from({ length: outputCount }, () => []);
	const items = context.getInputData();
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			for (const routed of await handle(itemIndex)) {
				outputs[routed.output].push({ json: routed.json, ...(routed.binary && { binary: routed.binary }), pairedItem: { item: itemIndex } });
			}
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error, itemIndex);
			outputs[failureOutput].push(failedItem(context, error, { item: itemIndex }));
		}
	}
	return outputs;
}
