// Hands the engine the credentials a test gives, by credential type, and applies them to requests
// the way n8n's own CredentialsHelper (packages/cli) does: a function-style `authenticate` is
// called; a generic one has its `={{$credentials.x}}` expressions resolved with the workflow's
// expression engine and set on the request (headers, qs, body, auth).
import {
	ICredentialsHelper,
	NodeHelpers,
	type ICredentialDataDecryptedObject,
	type ICredentials,
	type IDataObject,
	type IHttpRequestHelper,
	type IHttpRequestOptions,
	type INode,
	type INodeCredentialsDetails,
	type INodeParameters,
	type INodeProperties,
	type IRequestOptionsSimplified,
	type IWorkflowExecuteAdditionalData,
	type Workflow,
} from 'n8n-workflow';
import type { HarnessCredentialTypes } from './credential-types';

/** Test credentials by credential type name, e.g. `{ leadflowSupabaseApi: { url, serviceRoleKey } }`. */
export type TestCredentials = Record<string, ICredentialDataDecryptedObject>;

type AuthenticateTarget = 'headers' | 'qs' | 'body' | 'auth';

export class TestCredentialsHelper extends ICredentialsHelper {
	private readonly data: TestCredentials;

	constructor(
		private readonly credentialTypes: HarnessCredentialTypes,
		credentials: TestCredentials,
	) {
		super();
		this.data = { ...credentials };
	}

	getParentTypes(name: string): string[] {
		return this.credentialTypes.getParentTypes(name);
	}

	isCredentialUsableByNode(credentialType: string, nodeType: string): boolean {
		if (!this.credentialTypes.recognizes(credentialType)) return true;
		const type = this.credentialTypes.getByName(credentialType);
		if (!type.restrictToSupportedNodes) return true;
		const shortName = nodeType.slice(nodeType.lastIndexOf('.') + 1);
		return this.credentialTypes.getSupportedNodes(credentialType).includes(shortName);
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		return this.credentialTypes.getProperties(type);
	}

	/** The test's data for a type, with the type's defaults filled in as n8n does before use. */
	async getDecrypted(
		_additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
		type: string,
	): Promise<ICredentialDataDecryptedObject> {
		return this.decrypted(type, nodeCredentials.name);
	}

	decrypted(type: string, credentialName?: string | null): ICredentialDataDecryptedObject {
		const given = this.data[type];
		if (!given) {
			const named = credentialName ? ` ("${credentialName}" in the workflow)` : '';
			throw new Error(`No test credentials of type "${type}"${named}: pass them as credentials: { ${type}: {…} }.`);
		}
		const withDefaults = NodeHelpers.getNodeParameters(this.getCredentialsProperties(type), given as INodeParameters, true, false, null, null);
		return { ...given, ...(withDefaults as ICredentialDataDecryptedObject) };
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		incoming: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow?: Workflow,
		node?: INode,
	): Promise<IHttpRequestOptions> {
		const requestOptions = incoming as IHttpRequestOptions;
		const { authenticate } = this.credentialTypes.getByName(typeName);
		if (!authenticate) return requestOptions;
		if (typeof authenticate === 'function') return await authenticate(credentials, requestOptions);
		if (authenticate.type !== 'generic') return requestOptions;
		if (!workflow || !node) throw new Error(`Resolving ${typeName}'s authenticate expressions needs the workflow and the node.`);

		const resolve = (value: string): string => {
			const resolved = workflow.expression.getSimpleParameterValue(node, value, 'internal', { $credentials: credentials }, undefined, '');
			return resolved === undefined || resolved === null || resolved === '' ? '' : String(resolved as string | number | boolean);
		};
		requestOptions.headers ??= {};
		for (const [target, values] of Object.entries(authenticate.properties) as Array<[AuthenticateTarget, IDataObject]>) {
			const resolved: IDataObject = {};
			for (const [key, value] of Object.entries(values)) resolved[resolve(key)] = typeof value === 'string' ? resolve(value) : value;
			if (target === 'auth') {
				requestOptions.auth = { ...requestOptions.auth, ...(resolved as { username: string; password: string }) };
			} else {
				requestOptions[target] = { ...(requestOptions[target] as IDataObject | undefined), ...resolved };
			}
		}
		return requestOptions;
	}

	async preAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		_node: INode,
		credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const type = this.credentialTypes.getByName(typeName);
		const expirable = type.properties.find((property) => property.type === 'hidden' && property.typeOptions?.expirable === true);
		if (!expirable || typeof type.preAuthentication !== 'function') return undefined;
		if (credentials[expirable.name] !== '' && credentials[expirable.name] !== undefined && !credentialsExpired) return undefined;
		const output = (await type.preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject;
		if (output[expirable.name] === undefined) return undefined;
		// Kept for the rest of the run, as n8n keeps the refreshed token in the stored credential.
		this.data[typeName] = { ...this.data[typeName], ...output };
		return Object.assign(credentials, output);
	}

	async runPreAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const type = this.credentialTypes.getByName(typeName);
		if (typeof type.preAuthentication !== 'function') return undefined;
		return ((await type.preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject | undefined) ?? undefined;
	}

	// n8n reads the encrypted record here; a test has only decrypted data (and n8n-core's Credentials
	// class would create an instance encryption key under ~/.n8n), so nothing may ask for it.
	async getCredentials(nodeCredentials: INodeCredentialsDetails, type: string): Promise<ICredentials> {
		throw new Error(`The stored (encrypted) "${type}" credential "${nodeCredentials.name}" was asked for; the in-process harness has only test data.`);
	}

	async updateCredentials(_nodeCredentials: INodeCredentialsDetails, type: string, data: ICredentialDataDecryptedObject): Promise<void> {
		this.data[type] = data;
	}

	async updateCredentialsOauthTokenData(
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.data[type] = { ...this.data[type], ...data };
	}
}
