// Which database refusals name one item of a batch (nodes/shared/batch-refusals.ts): only a check of
// that item's fields or rows (SQLSTATE class 22 or 23, or P0002) whose message starts with its
// position; the item is then named for the user next to the position.
import { NodeApiError, NodeOperationError, type IExecuteFunctions, type INode } from 'n8n-workflow';
import { forItem, refusedPosition, withWritten } from '../../../nodes/shared/batch-refusals';

const node: INode = { id: 'n1', name: 'Assign', type: 'n8n-nodes-leadflow.autoAssignStage', typeVersion: 1, position: [0, 0], parameters: {} };
const context = { getNode: () => node } as unknown as IExecuteFunctions;
const refusal = (code: string, message: string) => new NodeApiError(node, { code, message, details: null, hint: 'Use ids from messenger_conversations.' }, { message: `pipeline_assign failed: ${message}`, description: 'Use ids from messenger_conversations.' });

test.each([
	['P0002', 'p_items[3].conversation_id: conversation x does not exist', 10, 3],
	['22023', 'p_items[0].lead_score: required, a whole number from 0 to 100', 10, 0],
	['23514', 'p_items[9]: pipeline x has no stages', 10, 9],
	['22023', 'p_items: at most 1000 contacts per call (got 1001)', 10, undefined],
	['22023', 'p_items[12].lead_score: out of range', 10, undefined],
	['40001', 'p_items[2]: could not serialize access', 10, undefined],
	['PGRST202', 'p_items[2] is not a function argument', 10, undefined],
])('SQLSTATE %s, "%s" in a batch of %i: position %s', (code, message, size, position) => {
	expect(refusedPosition(refusal(code, message), size)).toBe(position);
});

test('an error that is not the database\'s names no position', () => {
	expect(refusedPosition(new NodeOperationError(node, 'p_items[1].x: bad'), 10)).toBeUndefined();
	expect(refusedPosition(new Error('p_items[1].x: bad'), 10)).toBeUndefined();
});

test('the refusal names the input item next to the position, keeps its code and advice, and carries the item index', () => {
	const named = forItem(context, refusal('P0002', 'p_items[3].conversation_id: conversation x does not exist'), 3, 1003);
	expect(named.message).toBe('pipeline_assign failed: item 1003 (p_items[3]).conversation_id: conversation x does not exist');
	expect(named.description).toBe('Use ids from messenger_conversations.');
	expect((named.errorResponse as { code?: string }).code).toBe('P0002');
	expect(named.context.itemIndex).toBe(1003);
});

describe('withWritten: which input items earlier or other calls wrote', () => {
	const entries = (...ranges: Array<[number, number]>) => ranges.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => ({ itemIndex: from + i })));
	const noteOf = (written: Array<{ itemIndex: number }>) => withWritten<{ description?: string | null }>({}, written, '.', "the run's other calls").description;

	it('names one item, one block, or each block when the calls wrote blocks with gaps between them', () => {
		expect(noteOf(entries([7, 7]))).toBe("Item 7 of the input (1) was written by the run's other calls and stay written.");
		expect(noteOf(entries([0, 999]))).toBe("Items 0–999 of the input (1000) were written by the run's other calls and stay written.");
		// Batch 0 and batch 2 ended, batch 1 was refused: items 1000–1999 were not written.
		expect(noteOf([...entries([2000, 2999]), ...entries([0, 999])])).toBe(
			"Items 0–999 and 2000–2999 of the input (2000) were written by the run's other calls and stay written.",
		);
		expect(noteOf(entries([0, 1], [5, 5], [9, 12]))).toBe("Items 0–1, 5 and 9–12 of the input (7) were written by the run's other calls and stay written.");
	});

	it('past four blocks, gives the count and the first and last item; nothing when none was written', () => {
		expect(noteOf(entries([0, 0], [2, 2], [4, 4], [6, 6], [8, 8]))).toBe(
			"5 items of the input, from item 0 to item 8, written by the run's other calls and stay written.",
		);
		expect(noteOf([])).toBeUndefined();
	});
});
