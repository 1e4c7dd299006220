// Starts a workflow when a person writes to a Facebook Page on Messenger (or the Page writes back):
// Meta's webhook, its signature checked over the raw bytes, every event recorded in Supabase in one
// call (conversations, messages once each, the 24 h window, stop on reply, human takeover), then one
// item per event. How a request is handled: helpers/webhook.ts.
import type { IHookFunctions, INodeParameters, INodeType, INodeTypeDescription, IWebhookDescription, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { namedOutputs } from '../shared/outputs';
import { properties } from './description';
import { handleWebhook } from './helpers/webhook';
import { checkPageCanBeRecorded } from './transport/pages';
import { activationStarted, activationSucceeded, activationUnfinished, subscribe, subscriptionExists, unsubscribe } from './transport/subscription';

// n8n (2.x) works out a trigger's webhook path on every request. Written as an expression, the path
// would start an isolate of n8n's expression sandbox for each delivery, unless the description also
// says how to read it without one: n8n-workflow's webhookDescriptionFields declares this for n8n's
// own nodes under this global symbol (used directly, so the node still loads on an n8n without it).
const WEBHOOK_RESOLVERS = Symbol.for('n8n.webhookDescriptionResolvers');
const PATH = '={{$parameter["path"]}}';
const webhook = {
	name: 'default',
	httpMethod: 'GET,POST',
	responseMode: 'onReceived',
	path: PATH,
	isFullPath: true,
	[WEBHOOK_RESOLVERS]: { path: { template: PATH, resolve: (parameters: INodeParameters) => parameters.path } },
} as IWebhookDescription;

/** Whether activation manages the subscription (the node's Subscribe on Activation), and the URL to subscribe. */
function managed(context: IHookFunctions): string | undefined {
	if (!context.getNodeParameter('subscribe', true)) return undefined;
	return context.getNodeWebhookUrl('default');
}

export class MessengerTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Leadflow Messenger Trigger',
		name: 'messengerTrigger',
		icon: { light: 'file:../../icons/leadflow.svg', dark: 'file:../../icons/leadflow.dark.svg' },
		group: ['trigger'],
		// Version 2 does exactly what version 1 does. n8n (2.x) reads one more expression of a
		// version-1 webhook node on every request (its binary-data option), and an expression starts
		// an isolate of n8n's expression sandbox: more CPU than the rest of a delivery. A version-2
		// node has no expression on its request path (see docs/messenger.md, Throughput).
		version: [1, 2],
		defaultVersion: 2,
		subtitle: '={{ $parameter["pages"] === "connectedPages" ? "Every connected Page" : "The credential’s Page" }}',
		description: 'Records what people write to a Facebook Page on Messenger, verified and once each, and starts the workflow with each event',
		defaults: { name: 'Messenger Trigger' },
		inputs: [],
		outputs: namedOutputs('Events'),
		credentials: [
			{ name: 'leadflowFacebookPageApi', required: true },
			{ name: 'leadflowSupabaseApi', required: true },
		],
		// One path for both: Meta verifies with GET and delivers with POST to the same URL.
		webhooks: [webhook],
		properties,
	};

	webhookMethods = {
		default: {
			// n8n calls checkExists first on every activation (and for a test listen), create only
			// when it answers false: the Page is checked there, before anything is subscribed.
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const url = managed(this);
				if (url === undefined) {
					await checkPageCanBeRecorded(this);
					// Subscribed in the app's dashboard: nothing for n8n to check or create.
					return true;
				}
				activationStarted(this, url);
				await checkPageCanBeRecorded(this);
				const exists = await subscriptionExists(this, url);
				if (exists) activationSucceeded(this, url);
				return exists;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				const url = managed(this);
				if (url === undefined) return true;
				await subscribe(this, url);
				activationSucceeded(this, url);
				return true;
			},
			// n8n calls delete on deactivation, and also after checkExists threw or create failed:
			// then it leaves Meta alone (the subscription found may be the live one, see
			// transport/subscription.ts). Otherwise only a subscription sending to this URL is removed.
			async delete(this: IHookFunctions): Promise<boolean> {
				const url = managed(this);
				if (url === undefined || activationUnfinished(this, url)) return true;
				return await unsubscribe(this, url);
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await handleWebhook(this);
	}
}
