// The Messenger Trigger's webhook description as n8n reads it on every request: with the node's own
// parameters (no expression in them) n8n must find the path without its expression engine, whose
// sandbox costs an isolate per evaluation (docs/messenger.md, Throughput). These are n8n-workflow's
// own functions, the ones n8n's webhook service calls.
import { resolveWebhookDescriptionField, webhookDescriptionIsNativelyResolvable, type INode } from 'n8n-workflow';
import { MessengerTrigger } from '../../../nodes/MessengerTrigger/MessengerTrigger.node';

const description = new MessengerTrigger().description;
const webhook = description.webhooks![0];

const node = (parameters: INode['parameters']): INode => ({
	id: 'trigger',
	name: 'Messenger Trigger',
	type: 'n8n-nodes-leadflow.messengerTrigger',
	typeVersion: 2,
	position: [0, 0],
	parameters,
});

describe('Messenger Trigger webhook description', () => {
	it('is version 2 by default, version 1 still loading', () => {
		expect(description.version).toEqual([1, 2]);
		expect(description.defaultVersion).toBe(2);
	});

	it('gives n8n the path of static parameters without the expression engine', () => {
		const parameters = { path: 'leadflow/messenger', subscribe: false, pages: 'credentialPage', owner: '', options: {} };
		expect(resolveWebhookDescriptionField(node(parameters), webhook, 'path')).toEqual({ resolved: true, value: 'leadflow/messenger' });
		expect(webhookDescriptionIsNativelyResolvable(webhook)).toBe(true);
	});

	it('leaves a path the user wrote as an expression to the engine', () => {
		const parameters = { path: '={{ "leadflow/" + "messenger" }}', subscribe: false, pages: 'credentialPage', options: {} };
		expect(resolveWebhookDescriptionField(node(parameters), webhook, 'path')).toEqual({ resolved: false });
	});

	it('keeps the editor’s template (what survives JSON) unchanged', () => {
		expect(JSON.parse(JSON.stringify(webhook))).toEqual({
			name: 'default',
			httpMethod: 'GET,POST',
			responseMode: 'onReceived',
			path: '={{$parameter["path"]}}',
			isFullPath: true,
		});
	});
});
