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
// (nodes/shared/outputs.ts) makes, written out. No named function inside either: a bundler that
// keeps function names (tsx, esbuild) wraps those in a helper the expression cannot reach, and
// n8n then knows no output of the node (test/package/output-expressions.test.ts).
export const configuredOutputs = (parameters: INodeParameters): INodeOutputConfiguration[] => {
	const names: Record<string, string[]> = {
		recordObjective: ['Recorded', 'Invalid'],
		stats: ['Stats', 'Invalid'],
	};
	return (names[String(parameters.operation)] ?? ['Sessions', 'Summary', 'Invalid']).map((displayName) => ({ type: 'main' as const, displayName }));
};
