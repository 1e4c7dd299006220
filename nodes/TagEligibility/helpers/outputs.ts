// The node's outputs depend on the operation: Claim has the claimed contacts, then one Summary item
// per claim call saying why nothing, or fewer than asked, was claimed (docs/follow-up.md); the read
// operations have their rows only.
import type { INodeOutputConfiguration, INodeParameters } from 'n8n-workflow';

export const OUTPUT = { contacts: 0, summary: 1 } as const;

// Serialised into the node description as an expression (n8n evaluates it with the parameters),
// so it must not use anything from outside its own body: the same configurations namedOutputs
// (nodes/shared/outputs.ts) makes, written out.
export const configuredOutputs = (parameters: INodeParameters): INodeOutputConfiguration[] => {
	const main = (displayName: string) => ({ type: 'main' as const, displayName });
	if (parameters.operation === 'claim' || parameters.operation === undefined) return [main('Contacts'), main('Summary')];
	return [main('Contacts')];
};
