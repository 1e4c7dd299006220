// runForAgent, as an AI agent's tool, puts a thrown error's advice (its description) into the
// message the model reads. It throws a new error for that, of the same class with the same fields,
// and leaves the caught one as it was: before, it rewrote the caught error's message in place, so an
// error held elsewhere (a node's list of refusals, a cached one) carried "Details: …" from then on.
import { NodeApiError, NodeOperationError, type INode } from 'n8n-workflow';
import { runForAgent } from '../../../nodes/shared/outputs';
import { FieldRefusedError, SettingRefusedError } from '../../../nodes/shared/per-item';

const node = (type: string): INode => ({ id: 'n1', name: 'Queue Ledger', type, typeVersion: 1, position: [0, 0], parameters: {} });
const asTool = { getNode: () => node('n8n-nodes-leadflow.queueLedgerTool') };
const inWorkflow = { getNode: () => node('n8n-nodes-leadflow.queueLedger') };

async function thrownBy(context: { getNode(): INode }, error: Error): Promise<unknown> {
	try {
		await runForAgent(context, async () => {
			throw error;
		});
	} catch (thrown) {
		return thrown;
	}
	throw new Error('runForAgent did not throw');
}

it('as a tool, a refusal is thrown as a new FieldRefusedError with the advice; the original keeps its message and fields', async () => {
	const original = new FieldRefusedError(node('x'), 'The owner user ID "Maria" is not a UUID', { itemIndex: 2, description: 'Give the owner\'s user ID.' }, 'ownerUserId', 'not_uuid');
	const thrown = await thrownBy(asTool, original);
	expect(original.message).toBe('The owner user ID "Maria" is not a UUID');
	expect(original.stack).not.toMatch(/Details:/);
	expect(thrown).not.toBe(original);
	expect(thrown).toBeInstanceOf(FieldRefusedError);
	expect(thrown).toBeInstanceOf(NodeOperationError);
	const copy = thrown as FieldRefusedError;
	expect(copy.message).toBe('The owner user ID "Maria" is not a UUID\n\nDetails: Give the owner\'s user ID.');
	expect({ description: copy.description, field: copy.field, reason: copy.reason, node: copy.node, context: copy.context }).toEqual({
		description: original.description,
		field: 'ownerUserId',
		reason: 'not_uuid',
		node: original.node,
		context: original.context,
	});
	expect(copy.stack).toMatch(/^FieldRefusedError: The owner user ID "Maria" is not a UUID\n\nDetails: Give the owner's user ID\.\n/);
});

it('as a tool, a setting refusal and a database error keep their class and fields in the copy', async () => {
	const setting = new SettingRefusedError(node('x'), 'Worker Name "x" is not a claim of this execution', { description: 'Give the worker of a message a Claim in this run handed out.' }, { displayName: 'Worker Name', parameter: 'worker' });
	const copy = (await thrownBy(asTool, setting)) as SettingRefusedError;
	expect(setting.message).toBe('Worker Name "x" is not a claim of this execution');
	expect(copy).toBeInstanceOf(SettingRefusedError);
	expect([copy.setting, copy.parameter, copy.message]).toEqual(['Worker Name', 'worker', 'Worker Name "x" is not a claim of this execution\n\nDetails: Give the worker of a message a Claim in this run handed out.']);

	const api = new NodeApiError(node('x'), { message: 'p_limit must be between 1 and 500', code: '22023' }, { message: 'The database refused the call', description: 'Give a limit from 1 to 500.', httpCode: '400' });
	const before = { message: api.message, description: api.description, httpCode: api.httpCode, errorResponse: api.errorResponse };
	const apiCopy = (await thrownBy(asTool, api)) as NodeApiError;
	expect({ message: api.message, description: api.description, httpCode: api.httpCode, errorResponse: api.errorResponse }).toEqual(before);
	expect(apiCopy).toBeInstanceOf(NodeApiError);
	expect(apiCopy).not.toBe(api);
	expect({ message: apiCopy.message, httpCode: apiCopy.httpCode, errorResponse: apiCopy.errorResponse }).toEqual({ message: `${api.message}\n\nDetails: Give a limit from 1 to 500.`, httpCode: '400', errorResponse: api.errorResponse });
});

it('in a workflow, and as a tool when the message holds the advice already, the caught error itself is thrown', async () => {
	const refused = new FieldRefusedError(node('x'), 'The owner user ID "Maria" is not a UUID', { description: 'Give the owner\'s user ID.' }, 'ownerUserId');
	expect(await thrownBy(inWorkflow, refused)).toBe(refused);
	expect(refused.message).toBe('The owner user ID "Maria" is not a UUID');
	const told = new NodeOperationError(node('x'), 'Give the owner\'s user ID.', { description: 'Give the owner\'s user ID.' });
	expect(await thrownBy(asTool, told)).toBe(told);
});
