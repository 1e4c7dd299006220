// The credential-types registry: this package's credentials first, then n8n-nodes-base's built-ins
// (e.g. `httpHeaderAuth` for the Webhook node's Header Auth).
import { NodeHelpers, type ICredentialType, type ICredentialTypes, type INodeProperties } from 'n8n-workflow';
import type { Loaders } from './loaders';

export class HarnessCredentialTypes implements ICredentialTypes {
	constructor(private readonly loaders: Loaders) {}

	recognizes(type: string): boolean {
		return type in this.loaders.own.known.credentials || type in this.loaders.base.known.credentials;
	}

	getByName(type: string): ICredentialType {
		if (type in this.loaders.own.known.credentials) return this.loaders.own.getCredential(type).type;
		if (type in this.loaders.base.known.credentials) return this.loaders.base.getCredential(type).type;
		throw new Error(`Unknown credential type "${type}": not one of this package's credentials nor an n8n-nodes-base built-in.`);
	}

	getSupportedNodes(type: string): string[] {
		const known = this.loaders.own.known.credentials[type] ?? this.loaders.base.known.credentials[type];
		return known?.supportedNodes ?? [];
	}

	/** Every type this one extends, nearest first (e.g. oAuth2Api for an OAuth2 credential). */
	getParentTypes(type: string): string[] {
		const parents = this.getByName(type).extends ?? [];
		return parents.flatMap((parent) => [parent, ...this.getParentTypes(parent)]);
	}

	/** The fields of a type with those of the types it extends, as n8n merges them. */
	getProperties(type: string): INodeProperties[] {
		const { properties, extends: parents = [] } = this.getByName(type);
		const merged: INodeProperties[] = [];
		for (const parent of parents) NodeHelpers.mergeNodeProperties(merged, this.getProperties(parent));
		NodeHelpers.mergeNodeProperties(merged, properties);
		return merged;
	}
}
