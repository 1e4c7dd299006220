// The one continue-on-fail item: what its `code` says for each kind of failure, so a workflow can
// answer 400 / 404 / 409 / 500 from the code instead of reading the message.
import { NodeApiError, NodeOperationError, type IExecuteFunctions, type INode } from 'n8n-workflow';
import { failedItem, NotFoundError } from '../../../nodes/shared/per-item';

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
