// What an AI agent reads about each tool a Leadflow node gives it. n8n describes a node's tool
// (descriptionType "Set Automatically", the default) with NodeHelpers.makeDescription: "<action> in
// <node's default name>" from the chosen operation's `action`, but only when the node has a `resource`
// parameter and the `operation` property shown for it holds that operation; otherwise every operation
// gets the node's own description, and the agent cannot tell Claim from Explain or Timeline. So, for
// every node usable as a tool and each of its operations, the description n8n's tool path builds
// (getToolDescriptionForNode on the node as n8n's Workflow fills its parameters) is that operation's
// action, and no two operations of a node read alike; a workflow saved without a `resource` key (the
// shipped ones with Tag Eligibility, Auto Assign Stage or Campaign Session Create, and users' own from
// before these nodes had the parameter) gets the default resource, so the same operation and text.
import { NodeHelpers, Workflow, type INode, type INodeParameters, type INodeProperties, type INodePropertyOptions, type INodeType } from 'n8n-workflow';
import { HarnessNodeTypes } from '../harness/node-types';
import { loaders } from '../harness/loaders';

const PACKAGE = 'n8n-nodes-leadflow';

interface Operation {
	value: string;
	action: string | undefined;
	/** The resource the `operation` property holding it is shown for (none: no resource). */
	resource: string | undefined;
}

/** Every operation of a node: each option of each `operation` property, with the resource it is shown for. */
function operationsOf(type: INodeType): Operation[] {
	return type.description.properties
		.filter((property: INodeProperties) => property.name === 'operation' && property.type === 'options')
		.flatMap((property) => {
			const resources = (property.displayOptions?.show?.resource as string[] | undefined) ?? [undefined];
			return (property.options as INodePropertyOptions[]).flatMap((option) =>
				resources.map((resource) => ({ value: String(option.value), action: option.action, resource })),
			);
		});
}

let nodeTypes: HarnessNodeTypes;
let toolNodes: string[];

beforeAll(async () => {
	const loaded = await loaders();
	nodeTypes = new HarnessNodeTypes(loaded);
	toolNodes = Object.keys(loaded.own.known.nodes).filter(
		(name) => (nodeTypes.getByNameAndVersion(`${PACKAGE}.${name}`, 1) as INodeType).description.usableAsTool,
	);
});

/** The tool's description as n8n builds it for an agent: the node in a workflow (defaults filled by n8n's Workflow), described automatically. */
function toolDescription(name: string, parameters: INodeParameters): string {
	const type = `${PACKAGE}.${name}Tool`;
	const node: INode = { id: 'tool', name: 'Tool', type, typeVersion: 1, position: [0, 0], parameters };
	const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
	const filled = workflow.getNode('Tool') as INode;
	return NodeHelpers.getToolDescriptionForNode({ ...filled, parameters: { ...filled.parameters, descriptionType: 'auto' } }, nodeTypes.getByNameAndVersion(type, 1));
}

test('every node but the trigger is a tool, and every node with operations has them under a resource', () => {
	expect([...toolNodes].sort()).toEqual(
		['autoAssignStage', 'campaignSessionCreate', 'facebookSend', 'generateFollowUp', 'leadflowConsole', 'messengerSync', 'queueLedger', 'tagEligibility'].sort(),
	);
	const withoutResource = toolNodes.flatMap((name) =>
		operationsOf(nodeTypes.getByNameAndVersion(`${PACKAGE}.${name}`, 1))
			.filter((operation) => operation.resource === undefined)
			.map((operation) => `${name}.${operation.value}`),
	);
	expect(withoutResource).toEqual([]);
});

test('each operation of a tool is described by its action, "<action> in <node name>", and no two alike', () => {
	const described: Array<{ name: string; operation?: string; description: string }> = [];
	const expected: typeof described = [];
	for (const name of toolNodes) {
		const type = nodeTypes.getByNameAndVersion(`${PACKAGE}.${name}`, 1);
		const operations = operationsOf(type);
		if (operations.length === 0) {
			// One job: the node's own description says what the tool does.
			described.push({ name, description: toolDescription(name, {}) });
			expected.push({ name, description: type.description.description });
			continue;
		}
		for (const operation of operations) {
			const parameters = { ...(operation.resource === undefined ? {} : { resource: operation.resource }), operation: operation.value };
			described.push({ name, operation: operation.value, description: toolDescription(name, parameters) });
			expected.push({ name, operation: operation.value, description: `${operation.action} in ${type.description.defaults.name}` });
			// A sentence of a few words (n8n's lint keeps it sentence-cased, without apostrophes or hyphens),
			// written so: not a possessive with its apostrophe stripped ("a rule s monitor").
			expect({ name, operation: operation.value, action: operation.action }).toEqual({ name, operation: operation.value, action: expect.stringMatching(/^[A-Z]\w*( \w+){2,}$/) });
			expect({ name, operation: operation.value, action: operation.action }).toEqual({ name, operation: operation.value, action: expect.not.stringMatching(/\w s\b/) });
		}
	}
	expect(described).toEqual(expected);
	for (const name of toolNodes) {
		const texts = described.filter((d) => d.name === name).map((d) => d.description);
		expect({ name, distinct: new Set(texts).size }).toEqual({ name, distinct: texts.length });
	}
});

test('a workflow saved without a resource key gets the default resource: each operation there keeps its value and reads its action', () => {
	const filledOperations: Array<{ name: string; operation: unknown; resource: unknown; description: string }> = [];
	const expected: typeof filledOperations = [];
	for (const name of toolNodes) {
		const type = nodeTypes.getByNameAndVersion(`${PACKAGE}.${name}`, 1);
		const resource = type.description.properties.find((property) => property.name === 'resource');
		for (const operation of operationsOf(type).filter((o) => o.resource === undefined || o.resource === resource?.default)) {
			const node: INode = { id: 'n', name: 'N', type: `${PACKAGE}.${name}`, typeVersion: 1, position: [0, 0], parameters: { operation: operation.value } };
			const filled = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes }).getNode('N') as INode;
			// n8n keeps the chosen operation (were `operation` hidden, n8n would drop it and the node would run its default one).
			filledOperations.push({ name, operation: filled.parameters.operation, resource: filled.parameters.resource, description: toolDescription(name, { operation: operation.value }) });
			expected.push({ name, operation: operation.value, resource: resource?.default, description: `${operation.action} in ${type.description.defaults.name}` });
		}
	}
	expect(filledOperations).toEqual(expected);
	expect(filledOperations.map((o) => `${o.name}.${String(o.operation)}`)).toEqual(
		expect.arrayContaining([
			'autoAssignStage.analyze',
			'autoAssignStage.assign',
			'autoAssignStage.move',
			'autoAssignStage.claimAutomations',
			'autoAssignStage.completeAutomations',
			'tagEligibility.claim',
			'tagEligibility.explain',
			'tagEligibility.snapshot',
			'tagEligibility.timeline',
			'campaignSessionCreate.create',
			'campaignSessionCreate.recordObjective',
			'campaignSessionCreate.stats',
		]),
	);
});
