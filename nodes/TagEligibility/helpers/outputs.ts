// The node's outputs depend on the operation: Claim has the claimed contacts, then one Summary item
// per claim call saying why nothing, or fewer than asked, was claimed (docs/follow-up.md); the read
// operations have their rows only.
import type { INodeOutputConfiguration, INodeParameters } from 'n8n-workflow';

export const OUTPUT = { contacts: 0, summary: 1 } as const;

// Serialised into the node description as an expression (n8n evaluates it with the parameters),
// so it must not use anything from outside its own body: the same configurations namedOutputs
// (nodes/shared/outputs.ts) makes, written out. No named function inside either: a bundler that
// keeps function names (tsx, esbuild) wraps those in a helper the expression cannot reach, and
// n8n then knows no output of the node (test/package/output-expressions.test.ts).
export const configuredOutputs = (parameters: INodeParameters): INodeOutputConfiguration[] =>
	(parameters.operation === 'claim' || parameters.operation === undefined ? ['Contacts', 'Summary'] : ['Contacts']).map((displayName) => ({
		type: 'main' as const,
		displayName,
	}));
