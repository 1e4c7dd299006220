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
	const indexes = written.map((entry) => entry.itemIndex).sort((a, b) => a - b);
	// The runs of consecutive items: with calls running side by side the written ones need not be
	// one block (a later call may have ended before an earlier one was refused).
	const runs: Array<[number, number]> = [];
	for (const index of indexes) {
		const run = runs[runs.length - 1];
		if (run && index === run[1] + 1) run[1] = index;
		else runs.push([index, index]);
	}
	const runText = ([from, to]: [number, number]) => (from === to ? `${from}` : `${from}–${to}`);
	const items =
		indexes.length === 1
			? `Item ${indexes[0]} of the input (1) was`
			: runs.length <= 4
				? `Items ${runs.length === 1 ? runText(runs[0]) : `${runs.slice(0, -1).map(runText).join(', ')} and ${runText(runs[runs.length - 1])}`} of the input (${indexes.length}) were`
				: `${indexes.length} items of the input, from item ${indexes[0]} to item ${indexes[indexes.length - 1]},`;
	const note = `${items} written by ${by} and stay written${after}`;
	error.description = error.description ? `${error.description} ${note}` : note;
	return error;
}
