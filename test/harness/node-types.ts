// The node-types registry the engine asks for every node: `n8n-nodes-base.<name>` from
// n8n-nodes-base; `n8n-nodes-leadflow.<name>` (the installed-package form that shipped workflows
// use) or `CUSTOM.<name>` (n8n's custom-extensions form) from this package.
import { NodeConnectionTypes, NodeHelpers, type IDataObject, type INodeType, type INodeTypes, type IVersionedNodeType } from 'n8n-workflow';
import { TEST_AGENT_TYPE, TEST_ENGINE_AGENT_TYPE, testAgent, testEngineAgent } from './agent';
import type { Loaders } from './loaders';

const BASE_PREFIX = 'n8n-nodes-base.';
const CUSTOM_PREFIX = 'CUSTOM.';

export class HarnessNodeTypes implements INodeTypes {
	private readonly ownPrefixes: string[];

	constructor(private readonly loaders: Loaders) {
		this.ownPrefixes = [`${loaders.own.packageName}.`, CUSTOM_PREFIX];
	}

	getByName(nodeType: string): INodeType | IVersionedNodeType {
		if (nodeType.startsWith(BASE_PREFIX)) return this.loaders.base.getNode(nodeType.slice(BASE_PREFIX.length)).type;
		if (nodeType === TEST_AGENT_TYPE) return testAgent;
		if (nodeType === TEST_ENGINE_AGENT_TYPE) return testEngineAgent;
		const ownPrefix = this.ownPrefixes.find((prefix) => nodeType.startsWith(prefix));
		if (ownPrefix) {
			const name = nodeType.slice(ownPrefix.length);
			// A node's tool variant, as n8n makes it for an agent: the node itself, with no main input
			// and the ai_tool output (n8n also adds a tool-description parameter; its default applies).
			if (name.endsWith('Tool') && name.slice(0, -4) in this.loaders.own.nodeTypes) {
				const base = this.loaders.own.getNode(name.slice(0, -4)).type as INodeType;
				if (base.description.usableAsTool) {
					return { ...base, execute: base.execute, methods: base.methods, description: { ...base.description, name, inputs: [], outputs: [NodeConnectionTypes.AiTool] } } as INodeType;
				}
			}
			if (!(name in this.loaders.own.nodeTypes)) {
				throw new Error(`Node type "${nodeType}" is not one of this package's nodes: is it listed in the n8n.nodes of ${this.loaders.own.packageName}'s package.json?`);
			}
			return this.loaders.own.getNode(name).type;
		}
		throw new Error(
			`Node type "${nodeType}" is not available in-process: only n8n-nodes-base and ${this.loaders.own.packageName} nodes are loaded (run such workflows in real n8n, test/e2e).`,
		);
	}

	getByNameAndVersion(nodeType: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(nodeType), version);
	}

	getKnownTypes(): IDataObject {
		const known: IDataObject = {};
		for (const [name, entry] of Object.entries(this.loaders.base.known.nodes)) known[`${BASE_PREFIX}${name}`] = { ...entry };
		for (const [name, entry] of Object.entries(this.loaders.own.known.nodes)) known[`${this.loaders.own.packageName}.${name}`] = { ...entry };
		return known;
	}
}
