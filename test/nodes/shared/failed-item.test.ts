// The one continue-on-fail item: what its `code` (and, for a node's own setting refused, `setting`)
// says for each kind of failure, so a workflow can answer 400 / 404 / 409 / 500 from them instead of
// reading the message.
import { NodeApiError, NodeOperationError, type IDataObject, type IExecuteFunctions, type INode, type INodeProperties } from 'n8n-workflow';
import { readCheckedOptions, readCheckedParameter } from '../../../nodes/shared/checked-options';
import { failedItem, FieldRefusedError, NotFoundError, perItem, SettingRefusedError } from '../../../nodes/shared/per-item';
import { readWholeNumber } from '../../../nodes/shared/valid-input';
import { readRuleId, readUuid } from '../../../nodes/TagEligibility/actions/common';

const node: INode = { id: 'n1', name: 'Move Contact', type: 'n8n-nodes-leadflow.autoAssignStage', typeVersion: 1, position: [0, 0], parameters: {} };
const context = { getNode: () => node } as unknown as IExecuteFunctions;

/** A refusal as the Data API passes it on: Postgres's SQLSTATE in `code`. */
const databaseError = (code: string, message: string) => new NodeApiError(node, { code, message, details: null, hint: null }, { message: `pipeline_move failed: ${message}` });

test.each([
	['P0002', 'not_found', 'p_items[0].conversation_id: no such conversation'],
	['22023', 'invalid_input', 'p_items[0].lead_score: required, a whole number from 0 to 100'],
	['23505', 'invalid_input', 'duplicate key value violates unique constraint'],
	['55P03', 'busy', 'a sync of Page 1234 is already running (held by exec-1 until 2026-12-01 12:05:00+00)'],
	['40001', 'service_error', 'could not serialize access'],
	['PGRST301', 'service_error', 'JWT expired'],
])('a database refusal with SQLSTATE %s is %s', (sqlstate, code, message) => {
	const item = failedItem(context, databaseError(sqlstate, message), { item: 3 });
	expect(item.json).toMatchObject({ error: { code, message: `pipeline_move failed: ${message}` } });
	expect(Object.keys(item.json)).toEqual(['error']);
	expect(item.pairedItem).toEqual({ item: 3 });
});

test('a Graph API or Gemini error (a numeric or missing code) is service_error; a parameter the node refused is invalid_input', () => {
	const graph = new NodeApiError(node, { code: 190, message: 'Invalid OAuth access token' }, { message: 'Facebook refused the send' });
	expect(failedItem(context, graph, { item: 0 }).json).toMatchObject({ error: { code: 'service_error' } });
	const http = new NodeApiError(node, { message: 'Service unavailable', httpCode: '503' }, { message: 'Gemini failed' });
	expect(failedItem(context, http, { item: 0 }).json).toMatchObject({ error: { code: 'service_error' } });
	const parameter = new NodeOperationError(node, 'The stage ID "x" is not a UUID', { description: 'Pick the stage from the list.' });
	expect(failedItem(context, parameter, { item: 0 }).json).toEqual({
		error: { code: 'invalid_input', message: 'The stage ID "x" is not a UUID', description: 'Pick the stage from the list.' },
	});
});

test('a NotFoundError the node threw (a row it looked up does not exist) is not_found', () => {
	const missing = new NotFoundError(node, 'There is no automation rule with ID 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f', { description: 'Check the rule ID.' });
	expect(failedItem(context, missing, { item: 1 })).toEqual({
		json: { error: { code: 'not_found', message: 'There is no automation rule with ID 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f', description: 'Check the rule ID.' } },
		pairedItem: { item: 1 },
	});
});

// A refused setting of the node (an option or run-wide parameter an expression gives out of range)
// carries `setting`, its name as the editor shows it, beside the same code invalid_input: the shipped
// webhooks answer it 500 "fix it in the workflow" by that field. A caller's bad field carries none,
// whatever its message's words.
describe('setting: which node setting was refused', () => {
	const options: INodeProperties = {
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		default: {},
		options: [
			{ displayName: 'Lease (Seconds)', name: 'leaseSeconds', type: 'number', typeOptions: { minValue: 5, maxValue: 86400 }, default: 600 },
			{ displayName: 'Worker Name', name: 'worker', type: 'string', default: '' },
		],
	};
	const delivery: INodeProperties = {
		displayName: 'Delivery',
		name: 'automationDelivery',
		type: 'options',
		options: [
			{ name: 'Mark Delivered When Handed Out', value: 'onHandOut' },
			{ name: 'Confirm', value: 'confirm' },
		],
		default: 'onHandOut',
	};
	/** A node's context whose parameters are `parameters` (one input item), continuing on fail. */
	const contextWith = (parameters: Record<string, unknown>) =>
		({
			getNode: () => node,
			getNodeParameter: (name: string, _itemIndex: number, fallback?: unknown) => (name in parameters ? parameters[name] : fallback),
			getInputData: () => [{ json: {} }],
			continueOnFail: () => true,
		}) as unknown as IExecuteFunctions;
	const refusalOf = (read: () => unknown): unknown => {
		try {
			read();
		} catch (error) {
			return error;
		}
		throw new Error('not refused');
	};

	test('an option out of range: the failed item says which (code, message and description as before); the error names its parameter too', () => {
		const refused = refusalOf(() => readCheckedOptions(contextWith({ options: { leaseSeconds: 'three' } }), 0, options));

		expect(refused).toBeInstanceOf(SettingRefusedError);
		expect(refused).toMatchObject({ setting: 'Lease (Seconds)', parameter: 'options.leaseSeconds' });
		expect(failedItem(context, refused, { item: 0 }).json).toEqual({
			error: {
				code: 'invalid_input',
				message: 'Lease (Seconds) must be a whole number from 5 to 86400 (got "three")',
				description: expect.stringMatching(/^Set Lease \(Seconds\) in the node's Options to a whole number from 5 to 86400/),
				setting: 'Lease (Seconds)',
			},
		});
	});

	test('a run-wide choice, the Options given as one expression, and a whole-number setting (a claim\'s Limit) each say which', () => {
		const choice = refusalOf(() => readCheckedParameter(contextWith({ automationDelivery: 'Confirm' }), 0, delivery));
		const whole = refusalOf(() => readCheckedOptions(contextWith({ options: 'fast' }), 0, options));
		const limit = refusalOf(() => readWholeNumber(contextWith({ limit: 0 }), 'limit', 0, { label: 'Limit', min: 1, max: 1000, fallback: 50, hint: 'Give how many.', setting: true }));

		expect([choice, whole, limit].map((error) => failedItem(context, error, { item: 0 }).json.error)).toEqual([
			expect.objectContaining({ code: 'invalid_input', message: 'Delivery must be one of onHandOut, confirm (got "Confirm")', setting: 'Delivery' }),
			expect.objectContaining({ code: 'invalid_input', message: 'Options must be a collection of settings (got "fast")', setting: 'Options' }),
			expect.objectContaining({ code: 'invalid_input', message: 'Limit must be a whole number from 1 to 1000 (got 0)', setting: 'Limit' }),
		]);
		expect([choice, whole, limit].map((error) => (error as SettingRefusedError).parameter)).toEqual(['automationDelivery', 'options', 'limit']);
	});

	test('through the per-item loop (Continue On Fail) the failed item keeps it', async () => {
		const run = contextWith({ options: { leaseSeconds: 3 } });

		const [output] = await perItem(run, 1, async (itemIndex) => {
			readCheckedOptions(run, itemIndex, options);
			return [];
		});

		expect(output).toEqual([{ json: { error: expect.objectContaining({ message: 'Lease (Seconds) must be a whole number from 5 to 86400 (got 3)', setting: 'Lease (Seconds)' }) }, pairedItem: { item: 0 } }]);
	});

	test("a caller's bad field is no setting, even when its message has a refused option's words", () => {
		const ruleId = refusalOf(() => readRuleId(contextWith({ ruleId: 'x must be one of a, b (got c)' }), 0, true));
		const pageSize = refusalOf(() => readWholeNumber(contextWith({ limit: 'all' }), 'limit', 0, { label: 'The page size (limit)', min: 1, max: 500, hint: 'Pass limit=50.' }));

		for (const [error, keys] of [
			[ruleId, ['code', 'message', 'description', 'field']],
			[pageSize, ['code', 'message', 'description']],
		] as const) {
			expect(error).not.toBeInstanceOf(SettingRefusedError);
			const json = failedItem(context, error, { item: 0 }).json.error as IDataObject;
			expect(json.code).toBe('invalid_input');
			expect(Object.keys(json)).toEqual(keys);
		}
		expect((failedItem(context, pageSize, { item: 0 }).json.error as IDataObject).message).toBe('The page size (limit) must be a whole number from 1 to 500 (got "all")');
	});
});

// A refused value of the item that names the parameter it came from carries `field` (its name): the
// shipped tag-monitor-send.json answers a refused ruleId 400 naming it by that field, not by the
// message's words (which echo the caller's value). The code stays invalid_input; no `setting`.
test('field: a rule or contact ID the node refused names its parameter; any other refusal carries none', () => {
	const contextWith = (parameters: Record<string, unknown>) =>
		({ getNode: () => node, getNodeParameter: (name: string, _itemIndex: number, fallback?: unknown) => (name in parameters ? parameters[name] : fallback) }) as unknown as IExecuteFunctions;
	const refusalOf = (read: () => unknown): unknown => {
		try {
			read();
		} catch (error) {
			return error;
		}
		throw new Error('not refused');
	};
	const rule = refusalOf(() => readRuleId(contextWith({ ruleId: 'rule-42' }), 0, false));
	const contact = refusalOf(() => readUuid(contextWith({ conversationId: 'Maria Santos' }), 'conversationId', 'conversation ID', 0));

	expect(rule).toBeInstanceOf(FieldRefusedError);
	expect(failedItem(context, rule, { item: 0 }).json).toEqual({
		error: { code: 'invalid_input', message: 'The rule ID "rule-42" is not a UUID', description: expect.stringMatching(/ai_automation_rules/), field: 'ruleId' },
	});
	expect(failedItem(context, contact, { item: 0 }).json.error).toEqual(expect.objectContaining({ code: 'invalid_input', field: 'conversationId' }));
	const parameter = new NodeOperationError(node, 'The stage ID "x" is not a UUID', { description: 'Pick the stage from the list.' });
	expect(failedItem(context, parameter, { item: 0 }).json.error).not.toHaveProperty('field');
});
