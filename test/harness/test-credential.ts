// A credential type's "Test" button, done as n8n's CredentialsTester does it: the type's
// `test.request` becomes the routing of a one-parameter declarative node, run through n8n-core's
// RoutingNode, so the base URL and URL are resolved from `$credentials` and `authenticate` is
// applied by the same request helper the nodes use.
import { ExecuteContext, RoutingNode } from 'n8n-core';
import {
	createEmptyRunExecutionData,
	Workflow,
	type ICredentialDataDecryptedObject,
	type ICredentialsDecrypted,
	type ICredentialTestRequest,
	type INode,
	type INodeType,
	type INodeTypes,
} from 'n8n-workflow';
import { createAdditionalData, createHooks } from './additional-data';
import { HarnessCredentialTypes } from './credential-types';
import { TestCredentialsHelper } from './credentials-helper';
import { loaders } from './loaders';
import { HarnessNodeTypes } from './node-types';

export interface CredentialTestResult {
	status: 'OK' | 'Error';
	message: string;
}

interface RequestFailure {
	message?: string;
	cause?: { code?: string; response?: { status: number; statusText?: string } };
}

const PROBE_NODE_TYPE = 'n8n-nodes-base.noOp';

export async function testCredential(
	typeName: string,
	data: ICredentialDataDecryptedObject,
	options: { packageRoot?: string } = {},
): Promise<CredentialTestResult> {
	const loaded = await loaders(options.packageRoot);
	const credentialTypes = new HarnessCredentialTypes(loaded);
	const credentialType = credentialTypes.getByName(typeName);
	const test: ICredentialTestRequest | undefined = credentialType.test;
	if (!test) return { status: 'Error', message: 'No testing function found for this credential.' };

	const credentialsHelper = new TestCredentialsHelper(credentialTypes, { [typeName]: data });
	const credentialsDecrypted: ICredentialsDecrypted = { id: 'test', name: `${typeName} (test)`, type: typeName, data: credentialsHelper.decrypted(typeName) };

	const baseTypes = new HarnessNodeTypes(loaded);
	const noOp = baseTypes.getByNameAndVersion(PROBE_NODE_TYPE);
	const probe: INodeType = {
		description: {
			...noOp.description,
			credentials: [{ name: typeName, required: true }],
			properties: [{ displayName: 'Temp', name: 'temp', type: 'string', default: '', routing: { request: test.request } }],
		},
	};
	const nodeTypes: INodeTypes = {
		getByName: (type) => (type === PROBE_NODE_TYPE ? probe : baseTypes.getByName(type)),
		getByNameAndVersion: (type, version) => (type === PROBE_NODE_TYPE ? probe : baseTypes.getByNameAndVersion(type, version)),
		getKnownTypes: () => baseTypes.getKnownTypes(),
	};
	const node: INode = {
		id: 'temp',
		name: 'Temp-Node',
		type: PROBE_NODE_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
		credentials: { [typeName]: { id: credentialsDecrypted.id, name: credentialsDecrypted.name } },
	};
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	const hooks = createHooks('internal', 'credential-test', { nodes: [node], connections: {} }, 'credential-test');
	const additionalData = createAdditionalData({ credentialsHelper, hooks, executionId: 'credential-test', workflowId: 'credential-test' });
	const context = new ExecuteContext(workflow, node, additionalData, 'internal', createEmptyRunExecutionData(), 0, [], { main: [[{ json: {} }]] }, { node, data: {}, source: null }, []);

	let response;
	try {
		response = await new RoutingNode(context, probe, credentialsDecrypted).runNode();
	} catch (error) {
		return failureResult(error as RequestFailure, test);
	}
	for (const rule of test.rules ?? []) {
		if (rule.type !== 'responseSuccessBody') continue;
		const body = response?.[0]?.[0]?.json ?? {};
		const value = rule.properties.key.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], body);
		if (value === rule.properties.value) return { status: 'Error', message: rule.properties.message };
	}
	return { status: 'OK', message: 'Connection successful!' };
}

/** The verdicts n8n gives a failed test request: a matching rule, else the HTTP status, else the network error. */
function failureResult(error: RequestFailure, test: ICredentialTestRequest): CredentialTestResult {
	const response = error.cause?.response;
	if (response) {
		for (const rule of test.rules ?? []) {
			if (rule.type === 'responseCode' && rule.properties.value === response.status) return { status: 'Error', message: rule.properties.message };
		}
		if (response.status < 199 || response.status > 299) {
			return { status: 'Error', message: response.statusText || `Received HTTP status code: ${response.status}` };
		}
	} else if (error.cause?.code) {
		return { status: 'Error', message: error.cause.code };
	}
	return { status: 'Error', message: String(error.message) };
}
