// The Messenger Sync's numeric options: the editor's bounds (typeOptions minValue / maxValue) are the
// ones the run accepts (readSettings), so a value the editor lets through is never refused at run time.
import type { IExecuteFunctions, INode, INodeProperties } from 'n8n-workflow';
import { properties } from '../../../nodes/MessengerSync/description';
import { readSettings } from '../../../nodes/MessengerSync/helpers/syncPage';
import { SettingRefusedError } from '../../../nodes/shared/per-item';

const node: INode = { id: 'sync', name: 'Messenger Sync', type: 'n8n-nodes-leadflow.messengerSync', typeVersion: 1, position: [0, 0], parameters: {} };

/** The warnings the node logs (n8n's logger), for the saved values it keeps working. */
let warnings: string[] = [];
beforeEach(() => {
	warnings = [];
});

const contextWith = (options: Record<string, unknown>) =>
	({
		getNode: () => node,
		getNodeParameter: (name: string, _item: number, fallback: unknown) => (name === 'options' ? options : fallback),
		logger: { warn: (message: string) => warnings.push(message) },
	}) as unknown as IExecuteFunctions;

const numeric = ((properties.find((property) => property.name === 'options')?.options ?? []) as INodeProperties[]).filter((option) => option.type === 'number');
const option = (name: string): INodeProperties => numeric.find((each) => each.name === name) as INodeProperties;

test('every numeric option has both bounds in the editor', () => {
	expect(numeric.map((option) => option.name).sort()).toEqual(['backoffMs', 'leaseSeconds', 'maxRetries', 'messagesPerConversation', 'pageSize', 'requestsPerSecond', 'timeoutMs']);
	for (const option of numeric) {
		expect({ name: option.name, min: typeof option.typeOptions?.minValue, max: typeof option.typeOptions?.maxValue }).toEqual({ name: option.name, min: 'number', max: 'number' });
	}
});

test.each(numeric.map((option) => [option.displayName, option.name, option.typeOptions?.minValue as number, option.typeOptions?.maxValue as number]))(
	'%s (%s): the run accepts the editor’s bounds (%d to %d) and refuses what lies outside them, naming it as the editor shows it',
	(label, name, min, max) => {
		const whole = !(Number(option(name).typeOptions?.numberPrecision) > 0);
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
test('a refused option is a SettingRefusedError naming it, with what to do', () => {
	const refusal = (options: Record<string, unknown>): unknown => {
		try {
			readSettings(contextWith(options));
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
	expect(refusal({ pageSize: 0 })).toMatchObject({ setting: 'Conversations per Call', message: 'Conversations per Call must be a whole number from 1 to 100 (got 0)' });
	expect(readSettings(contextWith({ requestsPerSecond: 0.5 })).requestsPerSecond).toBe(0.5);
	expect(readSettings(contextWith({}))).toMatchObject({ requestsPerSecond: 2, pageSize: 100, messagesPerConversation: 100, maxRetries: 5, backoffMs: 5000, timeoutMs: 30000, leaseSeconds: 300 });
	expect(warnings).toEqual([]);
});

// Before its Options were checked with readCheckedOptions (e9152f3), the node took any number within
// each range: the page sizes, Retries and Lease (Seconds) rounded down, Backoff and Timeout (Ms) as
// given, so workflows were saved with fractions (an expression's 100 / 3). They keep working as they
// did, the rounding logged as a warning; what failed then (out of range, not a number) still fails.
// (At e9152f3 each of these was refused: "Conversations per Call must be a whole number from 1 to 100
// (got 33.333333333333336)", and the shipped webhook answered 500 "fix it in the workflow".)
test('a fraction a saved workflow gives is taken as before: page sizes, Retries and Lease rounded down with a warning, Backoff and Timeout as given', () => {
	const settings = readSettings(contextWith({ pageSize: 100 / 3, messagesPerConversation: 50.5, maxRetries: 2.5, leaseSeconds: 300.5, backoffMs: 6250.5, timeoutMs: 45000.5, requestsPerSecond: 1.5 }));

	expect(settings).toMatchObject({ pageSize: 33, messagesPerConversation: 50, maxRetries: 2, leaseSeconds: 300, backoffMs: 6250.5, timeoutMs: 45000.5, requestsPerSecond: 1.5 });
	expect(warnings.sort()).toEqual([
		'Messenger Sync: Conversations per Call 33.333333333333336 is not a whole number; 33 is used',
		'Messenger Sync: Lease (Seconds) 300.5 is not a whole number; 300 is used',
		'Messenger Sync: Messages per Conversation 50.5 is not a whole number; 50 is used',
		'Messenger Sync: Retries 2.5 is not a whole number; 2 is used',
	]);
	// A number given as text (an expression's) is read the same way; a fraction just above the
	// minimum of one starting at 0 rounds down to it, as before.
	expect(readSettings(contextWith({ pageSize: ' 20.9 ', maxRetries: 0.5 }))).toMatchObject({ pageSize: 20, maxRetries: 0 });
	// A whole number written with a decimal point as text is that number, without a warning, as
	// "33.5" is 33 (review Z: "33.0" was refused "must be a whole number … (got "33.0")" while
	// "33.5" was taken, since only fractions went through the rounding).
	warnings = [];
	expect(readSettings(contextWith({ pageSize: '33.0', leaseSeconds: '300.00', maxRetries: '2' }))).toMatchObject({ pageSize: 33, leaseSeconds: 300, maxRetries: 2 });
	expect(warnings).toEqual([]);
	for (const name of ['pageSize', 'messagesPerConversation', 'maxRetries', 'leaseSeconds']) expect(option(name).typeOptions?.roundsDownFractions).toBe(true);
	for (const name of ['backoffMs', 'timeoutMs']) expect(option(name).typeOptions?.numberPrecision).toBeGreaterThan(0);
});

test.each([
	[{ pageSize: 0 }, 'Conversations per Call must be a whole number from 1 to 100 (got 0)'],
	[{ pageSize: 0.5 }, 'Conversations per Call must be a whole number from 1 to 100 (got 0.5)'],
	[{ pageSize: 100.5 }, 'Conversations per Call must be a whole number from 1 to 100 (got 100.5)'],
	[{ pageSize: 'abc' }, 'Conversations per Call must be a whole number from 1 to 100 (got "abc")'],
	[{ leaseSeconds: 9.5 }, 'Lease (Seconds) must be a whole number from 10 to 86400 (got 9.5)'],
	[{ maxRetries: -0.5 }, 'Retries must be a whole number from 0 to 20 (got -0.5)'],
	[{ messagesPerConversation: '50,5' }, 'Messages per Conversation must be a whole number from 1 to 100 (got "50,5")'],
	[{ backoffMs: 600000.5 }, 'Backoff (Ms) must be a number from 0 to 600000 (got 600000.5)'],
	[{ timeoutMs: 'soon' }, 'Timeout (Ms) must be a number from 1000 to 300000 (got "soon")'],
	[{ timeoutMs: 999.5 }, 'Timeout (Ms) must be a number from 1000 to 300000 (got 999.5)'],
])('what failed before still fails: %j is refused (%s), nothing rounded', (options, message) => {
	expect(() => readSettings(contextWith(options))).toThrow(message);
	expect(warnings).toEqual([]);
});

// The Mode is a choice the editor lists, but an expression or a workflow edited by hand escapes the
// list: another value is refused as the node's own setting, naming Mode and the values allowed. (Before,
// any value other than "full" ran incremental, silently.)
test('a Mode that is not one of its choices is a SettingRefusedError naming Mode and its values; incremental and full are read', () => {
	const withMode = (mode: unknown) =>
		({
			getNode: () => node,
			getNodeParameter: (name: string, _item: number, fallback: unknown) => (name === 'mode' ? mode : name === 'options' ? {} : fallback),
			logger: { warn: (message: string) => warnings.push(message) },
		}) as unknown as IExecuteFunctions;
	expect(readSettings(withMode('full')).full).toBe(true);
	expect(readSettings(withMode('incremental')).full).toBe(false);
	expect(readSettings(withMode('')).full).toBe(false);
	for (const [mode, got] of [['Full', '"Full"'], ['delta', '"delta"'], [Number.NaN, 'NaN'], [true, 'true']] as const) {
		let refused: unknown;
		try {
			readSettings(withMode(mode));
		} catch (error) {
			refused = error;
		}
		expect(refused).toBeInstanceOf(SettingRefusedError);
		expect(refused).toMatchObject({
			setting: 'Mode',
			parameter: 'mode',
			message: `Mode must be one of incremental, full (got ${got})`,
			description: expect.stringContaining('Set Mode to one of incremental, full (an expression must give one), or leave it empty to use the default, "incremental".'),
		});
	}
});
