import { createHmac } from 'node:crypto';
import type {
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

/** A Facebook Page access token for the Messenger Send API. */
export class LeadflowFacebookPageApi implements ICredentialType {
	name = 'leadflowFacebookPageApi';

	displayName = 'Leadflow Facebook Page API';

	icon = { light: 'file:../icons/leadflow.svg', dark: 'file:../icons/leadflow.dark.svg' } as const;

	documentationUrl = 'https://developers.facebook.com/docs/messenger-platform/reference/send-api/';

	properties: INodeProperties[] = [
		{
			displayName: 'Page ID',
			name: 'pageId',
			type: 'string',
			default: '',
			required: true,
			description: 'The numeric ID of the Facebook Page that sends the messages',
		},
		{
			displayName: 'Page Access Token',
			name: 'accessToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'A Page access token with the pages_messaging permission',
		},
		{
			displayName: 'App Secret',
			name: 'appSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				'Optional for sending; the Messenger Trigger needs it. When set, every call carries appsecret_proof (required by apps with “Require App Secret” on) and inbound webhook signatures can be verified.',
		},
		{
			displayName: 'App ID',
			name: 'appId',
			type: 'string',
			default: '',
			description:
				'The ID of the Meta app the Page’s webhook belongs to (its digits: the app’s dashboard → App settings → Basic). Sending and syncing work without it, but the Messenger Trigger needs it to tell the app’s own echoes from messages a person sent from the Page: without it no human takeover stops follow-ups and no echo settles an uncertain follow-up, and that is warned about in n8n’s log at each activation of the trigger and on each Messenger Sync’s output. Spaces in it are ignored; one that is not digits is taken for none, with the same warnings (and one in n8n’s log with each delivery).',
		},
		{
			displayName: 'Webhook Verify Token',
			name: 'verifyToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				'Optional. The Verify Token entered in the app’s Webhooks settings; the Messenger Trigger answers Meta’s verification request only when it matches.',
		},
		{
			displayName: 'Graph API Version',
			name: 'graphApiVersion',
			type: 'string',
			default: 'v25.0',
			description: 'The Graph API version to call, e.g. v25.0',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://graph.facebook.com',
			description: 'Where the Graph API is reached. Change it only for a proxy or a local simulator.',
		},
	];

	async authenticate(credentials: ICredentialDataDecryptedObject, requestOptions: IHttpRequestOptions): Promise<IHttpRequestOptions> {
		const accessToken = String(credentials.accessToken ?? '');
		const appSecret = String(credentials.appSecret ?? '');
		const qs: Record<string, string> = { ...(requestOptions.qs as Record<string, string> | undefined), access_token: accessToken };
		if (appSecret) qs.appsecret_proof = createHmac('sha256', appSecret).update(accessToken).digest('hex');
		return { ...requestOptions, qs };
	}

	// The Page's own conversations: only a token of that Page (with pages_messaging) may read them,
	// so a wrong or empty Page ID, a token of another Page or a wrong App Secret fails the test,
	// not every send after it (page_mismatch).
	test: ICredentialTestRequest = {
		request: {
			baseURL:
				'={{String($credentials.baseUrl || "https://graph.facebook.com").replace(/\\/+$/, "")}}/{{String($credentials.graphApiVersion || "v25.0").replace(/^\\/+|\\/+$/g, "")}}',
			url: '=/{{String($credentials.pageId).trim()}}/conversations',
			method: 'GET',
			qs: { fields: 'id', limit: 1 },
		},
		rules: [
			{
				type: 'responseCode',
				properties: {
					value: 400,
					message:
						'Facebook refused it: the Page Access Token must be a token of this Page ID (its numeric ID) with pages_messaging, and the App Secret the app\'s own (or empty when the app does not require appsecret_proof)',
				},
			},
			{
				type: 'responseCode',
				properties: { value: 404, message: 'No Page at this Page ID: set the numeric ID of your Facebook Page' },
			},
		],
	};
}
