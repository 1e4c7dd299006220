// Facebook Send's Messaging Type and Messages per Second are settings of the node, not fields of the
// item: refused (an expression's value out of range), each is a SettingRefusedError naming it as the
// editor shows it, so its failed item carries `setting` (docs/nodes.md, When an item fails) and a
// workflow answers it as its own node's fault. A field of the item (the recipient) is not one.
import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { readItemSettings } from '../../../nodes/FacebookSend/helpers/itemSettings';
import { failedItem, SettingRefusedError } from '../../../nodes/shared/per-item';

const node: INode = { id: 'send', name: 'Facebook Send', type: 'n8n-nodes-leadflow.facebookSend', typeVersion: 1, position: [0, 0], parameters: {} };

const contextWith = (parameters: Record<string, unknown>) =>
	({
		getNode: () => node,
		getNodeParameter: (name: string, _item: number, fallback?: unknown) => (name in parameters ? parameters[name] : fallback),
	}) as unknown as IExecuteFunctions;

const refusal = (parameters: Record<string, unknown>): unknown => {
	const context = contextWith({ recipientId: '1234567890', message: 'Hello', ...parameters });
	try {
		readItemSettings(context, () => undefined, 0, false);
	} catch (error) {
		return error;
	}
	throw new Error('not refused');
};

test.each([
	[{ messagesPerSecond: 20_000 }, 'Messages per Second', 'messagesPerSecond', 'Messages per Second must be above 0 and at most 10,000 (got 20000)'],
	[{ messagesPerSecond: 0 }, 'Messages per Second', 'messagesPerSecond', 'Messages per Second must be above 0 and at most 10,000 (got 0)'],
	[{ messagingType: 'MESSAGE_TAG' }, 'Messaging Type', 'messagingType', 'Messaging type "MESSAGE_TAG" is not allowed'],
])('%j is refused as the node\'s own setting %s; its failed item says so', (parameters, setting, parameter, message) => {
	const error = refusal(parameters);

	expect(error).toBeInstanceOf(SettingRefusedError);
	expect(error).toMatchObject({ setting, parameter, message });
	expect(failedItem(contextWith({}), error, { item: 0 }).json.error).toEqual({ code: 'invalid_input', message, description: expect.any(String), setting });
});

test('a recipient that is no PSID (a field of the item) is no setting', () => {
	const error = refusal({ recipientId: 'not-a-psid' });

	expect(error).not.toBeInstanceOf(SettingRefusedError);
	expect(Object.keys(failedItem(contextWith({}), error, { item: 0 }).json.error as object)).toEqual(['code', 'message', 'description']);
});
