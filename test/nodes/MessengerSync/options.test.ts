// The Messenger Sync's numeric options: the editor's bounds (typeOptions minValue / maxValue) are the
// ones the run accepts (readSettings), so a value the editor lets through is never refused at run time.
import type { IExecuteFunctions, INode, INodeProperties } from 'n8n-workflow';
import { properties } from '../../../nodes/MessengerSync/description';
import { readSettings } from '../../../nodes/MessengerSync/helpers/syncPage';
import { SettingRefusedError } from '../../../nodes/shared/per-item';

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

test.each(numeric.map((option) => [option.displayName, option.name, option.typeOptions?.minValue as number, option.typeOptions?.maxValue as number]))(
	'%s (%s): the run accepts the editor’s bounds (%d to %d) and refuses what lies outside them, naming it as the editor shows it',
	(label, name, min, max) => {
		const whole = name !== 'requestsPerSecond';
		const range = `${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`;
		expect(() => readSettings(contextWith({ [name]: min }))).not.toThrow();
		expect(() => readSettings(contextWith({ [name]: max }))).not.toThrow();
		expect(() => readSettings(contextWith({ [name]: max + 1 }))).toThrow(`${label} must be ${range} (got ${max + 1})`);
		expect(() => readSettings(contextWith({ [name]: min - 1 }))).toThrow(`${label} must be ${range} (got ${min - 1})`);
	},
);

// A refusal is the node's own setting, not the caller's: a SettingRefusedError naming the option as
// the editor shows it, so the failed item carries `setting` and the shipped webhook answers 500.
// (Before, "The option leaseSeconds must be a number from 10 to 86400" was a plain refusal, which
// messenger-sync.json answered 400 as if the request were at fault.)
test('a refused option is a SettingRefusedError naming it, with what to do; a fraction of a whole-number option is refused, not rounded', () => {
	const refusal = (options: Record<string, unknown>): unknown => {
		try {
			readSettings(contextWith(options as Record<string, number>));
		} catch (error) {
			return error;
		}
		throw new Error('not refused');
	};

	const lease = refusal({ leaseSeconds: 5 });
	expect(lease).toBeInstanceOf(SettingRefusedError);
	expect(lease).toMatchObject({
		setting: 'Lease (Seconds)',
		parameter: 'options.leaseSeconds',
		message: 'Lease (Seconds) must be a whole number from 10 to 86400 (got 5)',
		description: expect.stringContaining("Set Lease (Seconds) in the node's Options to a whole number from 10 to 86400"),
	});
	expect(refusal({ pageSize: 50.5 })).toMatchObject({ setting: 'Conversations per Call', message: 'Conversations per Call must be a whole number from 1 to 100 (got 50.5)' });
	expect(readSettings(contextWith({ requestsPerSecond: 0.5 })).requestsPerSecond).toBe(0.5);
	expect(readSettings(contextWith({}))).toMatchObject({ requestsPerSecond: 2, pageSize: 100, messagesPerConversation: 100, maxRetries: 5, backoffMs: 5000, timeoutMs: 30000, leaseSeconds: 300 });
});
