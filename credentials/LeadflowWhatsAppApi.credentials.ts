import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

/** A WhatsApp Business phone number on Meta's WhatsApp Cloud API (part of the Graph API). */
export class LeadflowWhatsAppApi implements ICredentialType {
	name = 'leadflowWhatsAppApi';

	displayName = 'Leadflow WhatsApp Cloud API';

	icon = { light: 'file:../icons/leadflow.svg', dark: 'file:../icons/leadflow.dark.svg' } as const;

	documentationUrl = 'https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages';

	properties: INodeProperties[] = [
		{
			displayName: 'Phone Number ID',
			name: 'phoneNumberId',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'e.g. 106540352242922',
			description: 'The ID of the business phone number that sends (WhatsApp Manager → API Setup), not the phone number itself',
		},
		{
			displayName: 'Access Token',
			name: 'accessToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'A System User access token with the whatsapp_business_messaging permission for the phone number\'s WhatsApp Business Account',
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

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: { Authorization: '=Bearer {{$credentials.accessToken}}' },
		},
	};

	// The address Send uses (readWhatsAppTarget): the ID trimmed, an empty Base URL or version as
	// their defaults, so the Test passes exactly when Send can reach the number.
	test: ICredentialTestRequest = {
		request: {
			baseURL:
				'={{String($credentials.baseUrl || "https://graph.facebook.com").replace(/\\/+$/, "")}}/{{String($credentials.graphApiVersion || "v25.0").replace(/^\\/+|\\/+$/g, "")}}',
			url: '={{"/" + String($credentials.phoneNumberId).trim()}}',
			method: 'GET',
			qs: { fields: 'display_phone_number,verified_name' },
		},
		rules: [
			{
				type: 'responseCode',
				properties: { value: 401, message: 'The Access Token was refused: use a System User token with whatsapp_business_messaging' },
			},
			{
				type: 'responseCode',
				properties: {
					value: 400,
					message:
						'WhatsApp refused it: the Phone Number ID must be the numeric ID of the business number (WhatsApp Manager → API Setup, not the number itself) that this token may use',
				},
			},
		],
	};
}
