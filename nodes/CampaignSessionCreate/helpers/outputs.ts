// The node's outputs depend on the operation: what it produces, then "Invalid" for requests it
// cannot serve (each with the HTTP status a webhook should answer and the problems found), so a
// workflow routes a bad request to its 400 answer without a Code node.
import type { INodeOutputConfiguration, INodeParameters } from 'n8n-workflow';

export const OUTPUT = {
	create: { sessions: 0, summary: 1, invalid: 2 },
	recordObjective: { recorded: 0, invalid: 1 },
	stats: { stats: 0, invalid: 1 },
} as const;

// Serialised into the node description as an expression (n8n evaluates it with the parameters),
// so it must not use anything from outside its own body: the same configurations namedOutputs
// (nodes/shared/outputs.ts) makes, written out.
export const configuredOutputs = (parameters: INodeParameters): INodeOutputConfiguration[] => {
	const main = (displayName: string) => ({ type: 'main' as const, displayName });
	if (parameters.operation === 'recordObjective') return [main('Recorded'), main('Invalid')];
	if (parameters.operation === 'stats') return [main('Stats'), main('Invalid')];
	return [main('Sessions'), main('Summary'), main('Invalid')];
};
