import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

/** A Supabase project reached through its Data API with the service role key (bypasses RLS). */
export class LeadflowSupabaseApi implements ICredentialType {
	name = 'leadflowSupabaseApi';

	displayName = 'Leadflow Supabase API';

	icon = { light: 'file:../icons/leadflow.svg', dark: 'file:../icons/leadflow.dark.svg' } as const;

	documentationUrl = 'https://supabase.com/docs/guides/api/api-keys';

	properties: INodeProperties[] = [
		{
			displayName: 'Project URL',
			name: 'url',
			type: 'string',
			default: '',
			required: true,
			placeholder: 'https://your-project.supabase.co',
			description: 'The project URL from Project Settings → Data API, without /rest/v1',
		},
		{
			displayName: 'Service Role Key',
			name: 'serviceRoleKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description:
				'The service_role secret from Project Settings → API Keys. It bypasses row level security, so keep it in n8n credentials only.',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				apikey: '={{$credentials.serviceRoleKey}}',
				Authorization: '=Bearer {{$credentials.serviceRoleKey}}',
			},
		},
	};

	// A read only the service role may make (anon has no grant on messenger_pages): the anon or
	// publishable key, which sits beside the service role key in Supabase's settings, fails here
	// instead of at the first node; a project without Leadflow's migrations fails too.
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.url.replace(/\\/+$/, "")}}',
			url: '/rest/v1/messenger_pages',
			method: 'GET',
			qs: { select: 'page_id', limit: 1 },
		},
		rules: [
			{
				type: 'responseCode',
				properties: {
					value: 401,
					message:
						'The key was refused or may not read Leadflow\'s tables: use the service_role key (Project Settings → API Keys), not the anon or publishable key',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 404,
					message: 'Leadflow\'s tables are not in this project: apply the migrations (supabase/migrations, README step 2) and check the Project URL',
				},
			},
		],
	};
}
