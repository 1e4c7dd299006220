import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Google Gemini API keys. Several keys (one per line) are rotated round-robin by the nodes, so that
 * a key resting after a 429 does not stop the batch. The base URL points at Google, or at a proxy
 * or a local simulator.
 */
export class LeadflowGeminiApi implements ICredentialType {
	name = 'leadflowGeminiApi';

	displayName = 'Leadflow Gemini API';

	icon = { light: 'file:../icons/leadflow.svg', dark: 'file:../icons/leadflow.dark.svg' } as const;

	documentationUrl = 'https://ai.google.dev/gemini-api/docs/api-key';

	properties: INodeProperties[] = [
		{
			displayName: 'API Keys',
			name: 'apiKeys',
			type: 'string',
			typeOptions: { password: true, rows: 4 },
			default: '',
			required: true,
			description:
				'One to 100 Gemini API keys, one per line (or separated by commas). Keys from different Google Cloud projects have separate quotas; the nodes rotate through them. A node refuses a credential with more than 100.',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://generativelanguage.googleapis.com',
			description: 'Where the Gemini API is reached. Change it only for a proxy or a local simulator.',
		},
		{
			displayName: 'Default Model',
			name: 'model',
			type: 'string',
			default: 'gemini-3.5-flash',
			description: 'The model used when a node does not name one, e.g. gemini-3.5-flash. Model names change often: check Google’s model list.',
		},
	];

	// Only the credential test uses this (the nodes pick a key per request for rotation). The keys
	// are split as the nodes split them (parseApiKeys: lines or commas), so the test sends the
	// first key the nodes would use.
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: { 'x-goog-api-key': '={{$credentials.apiKeys.split(/[\\r\\n,]+/).map(k => k.trim()).filter(Boolean)[0]}}' },
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}',
			url: '=/v1beta/models/{{$credentials.model}}',
			method: 'GET',
		},
	};
}
