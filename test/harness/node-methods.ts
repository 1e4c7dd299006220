// The editor's calls of a node's list and options methods, made the way n8n makes them: n8n's
// DynamicNodeParametersService (packages/cli) puts the node alone in a workflow as "Temp-Node" with
// the parameters the editor sends, gives the additional data those parameters
// (`currentNodeParameters`), and calls `methods.listSearch[name](filter, paginationToken)` or
// `methods.loadOptions[name]()` with n8n-core's LoadOptionsContext as `this`. Credentials come from
// the test, by type, as in runWorkflow.
import { randomUUID } from 'node:crypto';
import { LoadOptionsContext } from 'n8n-core';
import { Workflow, type INode, type INodeListSearchResult, type INodeParameters, type INodePropertyOptions } from 'n8n-workflow';
import { createAdditionalData, createHooks } from './additional-data';
import { HarnessCredentialTypes } from './credential-types';
import { TestCredentialsHelper, type TestCredentials } from './credentials-helper';
import { loaders } from './loaders';
import { HarnessNodeTypes } from './node-types';

export interface NodeMethodCall {
	/** The node type as workflows name it, e.g. `n8n-nodes-leadflow.tagEligibility`. */
	nodeType: string;
	version?: number;
	/** The node's parameters as the editor holds them (defaults are filled in as n8n does). */
	parameters?: INodeParameters;
	/** Test credentials by type; the node is given one of each type. */
	credentials: TestCredentials;
	/** The parameter the editor asks for, e.g. `parameters.ruleId` (read by `&`-relative parameter paths). */
	path?: string;
	packageRoot?: string;
}

async function contextFor(call: NodeMethodCall, kind: 'listSearch' | 'loadOptions', methodName: string) {
	const loaded = await loaders(call.packageRoot);
	const nodeTypes = new HarnessNodeTypes(loaded);
	const nodeType = nodeTypes.getByNameAndVersion(call.nodeType, call.version);
	const method = nodeType.methods?.[kind]?.[methodName];
	if (typeof method !== 'function') throw new Error(`Node type "${call.nodeType}" has no ${kind} method "${methodName}"`);

	const node: INode = {
		id: 'uuid-1234',
		name: 'Temp-Node',
		type: call.nodeType,
		typeVersion: call.version ?? 1,
		position: [0, 0],
		parameters: call.parameters ?? {},
		credentials: Object.fromEntries(Object.keys(call.credentials).map((type) => [type, { id: `${type}-test`, name: `${type} (test)` }])),
	};
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	const tempNode = workflow.nodes['Temp-Node'];
	const executionId = `methods-${randomUUID()}`;
	const credentialsHelper = new TestCredentialsHelper(new HarnessCredentialTypes(loaded), call.credentials);
	const hooks = createHooks('internal', executionId, { nodes: [tempNode], connections: {} }, 'methods');
	const additionalData = createAdditionalData({ credentialsHelper, hooks, executionId, workflowId: 'methods' });
	additionalData.currentNodeParameters = tempNode.parameters;
	const context = new LoadOptionsContext(workflow, tempNode, additionalData, call.path ?? 'parameters');
	return { method, context };
}

/** A resource locator's "From List" page: what the editor shows for `filter`, after `paginationToken`. */
export async function listSearch(call: NodeMethodCall, methodName: string, filter?: string, paginationToken?: string): Promise<INodeListSearchResult> {
	const { method, context } = await contextFor(call, 'listSearch', methodName);
	return await (method as (this: LoadOptionsContext, filter?: string, token?: string) => Promise<INodeListSearchResult>).call(context, filter, paginationToken);
}

/** An options parameter's choices (`typeOptions.loadOptionsMethod`). */
export async function loadOptions(call: NodeMethodCall, methodName: string): Promise<INodePropertyOptions[]> {
	const { method, context } = await contextFor(call, 'loadOptions', methodName);
	return await (method as (this: LoadOptionsContext) => Promise<INodePropertyOptions[]>).call(context);
}
