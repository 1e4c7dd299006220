// The Messenger Sync's numeric options: the editor's bounds (typeOptions minValue / maxValue) are the
// ones the run accepts (readSettings), so a value the editor lets through is never refused at run time.
import type { IExecuteFunctions, INode, INodeProperties } from 'n8n-workflow';
import { properties } from '../../../nodes/MessengerSync/description';
import { readSettings } from '../../../nodes/MessengerSync/helpers/syncPage';

const node: INode = { id: 'sync', name: 'Messenger Sync', type: 'n8n-nodes-leadflow.messengerSync', typeVersion: 1, position: [0, 0], parameters: {} };

const contextWith = (options: Record<string, number>) =>
	({
		getNode: () => node,
		getNodeParameter: (name: string, _item: number, fallback: unknown) => (name === 'options' ? options : fallback),
	}) as unknown as IExecuteFunctions;

const numeric = ((properties.find((property) => property.name === 'options')?.options ?? []) as INodeProperties[]).filter((option) => option.type === 'number');

test('every numeric option has both bounds in the editor', () => {
	expect(numeric.map((option) => option.name).sort()).toEqual(['backoffMs', 'leaseSeconds', 'maxRetries', 'messagesPerConversation', 'pageSize', 'requestsPerSecond', 'timeoutMs']);
	for (const option of numeric) {
		expect({ name: option.name, min: typeof option.typeOptions?.minValue, max: typeof option.typeOptions?.maxValue }).toEqual({ name: option.name, min: 'number', max: 'number' });
	}
});

test.each(numeric.map((option) => [option.name, option.typeOptions?.minValue as number, option.typeOptions?.maxValue as number]))(
	'%s: the run accepts the editor’s bounds (%d to %d) and refuses what lies outside them',
	(name, min, max) => {
		expect(() => readSettings(contextWith({ [name]: min }))).not.toThrow();
		expect(() => readSettings(contextWith({ [name]: max }))).not.toThrow();
		expect(() => readSettings(contextWith({ [name]: max + 1 }))).toThrow(`The option ${name} must be a number from ${min} to ${max}`);
		expect(() => readSettings(contextWith({ [name]: min - 0.01 }))).toThrow(`The option ${name} must be a number from ${min} to ${max}`);
	},
);
