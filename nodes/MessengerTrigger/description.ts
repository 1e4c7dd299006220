// The Messenger Trigger's parameters.
import type { INodeProperties } from 'n8n-workflow';

export const properties: INodeProperties[] = [
	{
		displayName:
			'Meta calls this node’s Production URL: GET to verify it (answered with the credential’s Webhook Verify Token), POST for each delivery (checked against the credential’s App Secret). Subscribe on Activation sets the subscription up for you.',
		name: 'setupNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Path',
		name: 'path',
		type: 'string',
		default: 'leadflow/messenger',
		required: true,
		description: 'The webhook’s path: Meta calls https://&lt;your n8n&gt;/webhook/&lt;path&gt; (the Production URL)',
	},
	{
		displayName: 'Subscribe on Activation',
		name: 'subscribe',
		type: 'boolean',
		default: true,
		description:
			'Whether activating the workflow subscribes the Page’s webhook to this node’s URL (the app’s Page subscription and the Page’s subscription to the app; needs the credential’s App ID, App Secret and Webhook Verify Token), and deactivating it unsubscribes them when the app’s webhooks still go to this URL. Off: subscribe in the app’s dashboard.',
	},
	{
		displayName: 'Owner ID',
		name: 'owner',
		type: 'string',
		default: '',
		placeholder: 'e.g. 6f1c2a9e-…',
		description:
			'The Supabase Auth user the Page belongs to. Connects the Page to this owner the first time; events of a Page connected to another owner are then ignored. Leave empty once the Page is connected (a row of messenger_pages). Empty while the Page is not connected: activation is refused (its messages would be acknowledged and not recorded).',
	},
	{
		displayName: 'Pages',
		name: 'pages',
		type: 'options',
		default: 'credentialPage',
		options: [
			{ name: 'The Credential’s Page', value: 'credentialPage', description: 'Events of other Pages are ignored (reason other_page), with a warning in n8n’s log' },
			{ name: 'Every Connected Page', value: 'connectedPages', description: 'An app subscribed for several Pages: each event goes to its Page’s owner' },
		],
		description: 'Which Pages’ events are recorded',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Include Duplicates',
				name: 'includeDuplicates',
				type: 'boolean',
				default: false,
				description: 'Whether to emit events Meta delivered again (recorded once already). Off: a redelivery starts nothing twice.',
			},
			{
				displayName: 'Include Ignored Events',
				name: 'includeIgnored',
				type: 'boolean',
				default: false,
				description: 'Whether to emit the events that were not recorded (another Page, a Page not connected, reactions, …) with the reason',
			},
			{
				displayName: 'Include Receipts',
				name: 'includeReceipts',
				type: 'boolean',
				default: false,
				description: 'Whether to emit delivery and read receipts (recorded on their conversation when it is known; one for an unknown conversation or a Page not connected is ignored: see Include Ignored Events)',
			},
		],
	},
];
