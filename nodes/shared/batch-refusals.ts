// One database call per batch of items, and what happens when the database refuses one item of it.
// Our batch functions check every item before writing anything and refuse the first bad one by its
// position and field (`p_items[3].conversation_id: conversation … does not exist`, SQLSTATE class
// 22 or 23, or P0002 for an unknown row): the call writes nothing. The user knows input items, not
// positions in a batch, and one bad item must not cost the others their run. So:
//   - the refusal is reported for the input item it names (`item 1003 (p_items[3])…`, with the
//     item's index, so n8n shows which one);
//   - with Continue On Fail, that item alone fails and the rest of the batch is sent again: good
//     items are written, bad ones come out failed, each with its own reason;
//   - without it, the refusal stops the node, as before, naming the item.
// Any other failure (the service, a conflict, a refusal of the whole call) fails the whole batch.
import { NodeApiError, type IExecuteFunctions } from 'n8n-workflow';
import { asNodeError } from './per-item';

/** An entry of a batch: what is sent for one input item. */
export interface BatchEntry<Payload> {
	itemIndex: number;
	payload: Payload;
}

/** The position in a batch of `size` that a database refusal names for one of its items, if it does. */
export function refusedPosition(error: unknown, size: number, argument = 'p_items'): number | undefined {
	if (!(error instanceof NodeApiError)) return undefined;
	const response = error.errorResponse as { code?: unknown; message?: unknown } | undefined;
	const code = typeof response?.code === 'string' ? response.code : '';
	if (!(code.startsWith('22') || code.startsWith('23') || code === 'P0002')) return undefined;
	const message = typeof response?.message === 'string' ? response.message : '';
	const match = new RegExp(`^${argument}\\[(\\d+)\\]`).exec(message);
	if (!match) return undefined;
	const position = Number(match[1]);
	return position < size ? position : undefined;
}

/** The refusal as the user reads it: the input item named next to the batch position, its index set. */
export function forItem(context: IExecuteFunctions, error: NodeApiError, position: number, itemIndex: number, argument = 'p_items'): NodeApiError {
	const named = error.message.replace(`${argument}[${position}]`, `item ${itemIndex} (${argument}[${position}])`);
	return new NodeApiError(context.getNode(), error.errorResponse ?? {}, { message: named, description: error.description ?? undefined, itemIndex });
}

/**
 * Sends `batch` in one call (`argument`: the name of the function's array argument, which its
 * refusals name). A refusal naming one entry: without Continue On Fail it is thrown for
 * that item; with it, `onRefused` gets the entry and its error and the others are sent again (one
 * more call per refused entry). Returns the rows with the entries they answer (a row's item_index is
 * a position in `sent`). Other errors are thrown (as n8n errors): the caller fails the whole batch.
 */
export async function sendBatch<Payload, Row>(
	context: IExecuteFunctions,
	batch: ReadonlyArray<BatchEntry<Payload>>,
	send: (payloads: Payload[]) => Promise<ReadonlyArray<Row>>,
	onRefused: (entry: BatchEntry<Payload>, error: NodeApiError) => void,
	argument = 'p_items',
): Promise<{ rows: ReadonlyArray<Row>; sent: ReadonlyArray<BatchEntry<Payload>> }> {
	let sent = batch;
	while (sent.length > 0) {
		try {
			return { rows: await send(sent.map((entry) => entry.payload)), sent };
		} catch (error) {
			const position = refusedPosition(error, sent.length, argument);
			if (position === undefined) throw asNodeError(context, error);
			const refusal = forItem(context, error as NodeApiError, position, sent[position].itemIndex, argument);
			if (!context.continueOnFail()) throw refusal;
			onRefused(sent[position], refusal);
			sent = sent.filter((_, index) => index !== position);
		}
	}
	return { rows: [], sent };
}

/**
 * A node's error raised after other calls of the same run were committed (each batch is its own
 * transaction): its description says which input items those calls wrote (`by`: which calls they
 * were), then `after` (what became of them). Nothing is added when none did.
 */
export function withWritten<E extends { description?: string | null }>(
	error: E,
	written: ReadonlyArray<{ itemIndex: number }>,
	after: string,
	by = 'earlier calls',
): E {
	if (written.length === 0) return error;
	const first = written[0].itemIndex;
	const last = written[written.length - 1].itemIndex;
	const items =
		written.length === 1
			? `Item ${first} of the input (1) was`
			: last - first + 1 === written.length
				? `Items ${first}–${last} of the input (${written.length}) were`
				: `${written.length} items of the input, from item ${first} to item ${last},`;
	const note = `${items} written by ${by} and stay written${after}`;
	error.description = error.description ? `${error.description} ${note}` : note;
	return error;
}
