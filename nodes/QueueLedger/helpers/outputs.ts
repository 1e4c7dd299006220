// The node's outputs depend on the operation (as CampaignSessionCreate's do): what it produces, and
// for Add Leads an "Invalid" output for items it refuses (each with every problem and its field),
// so a workflow routes them without a Code node. Continue-on-fail items (nodes/shared/per-item.ts)
// go to Invalid for Add Leads and to the only output otherwise.
import type { INodeOutputConfiguration, INodeParameters } from 'n8n-workflow';

export const OUTPUT = {
	addLeads: { leads: 0, invalid: 1 },
} as const;

// Serialised into the node description as an expression (n8n evaluates it with the parameters), so
// it must not use anything from outside its own body: the configurations namedOutputs
// (nodes/shared/outputs.ts) makes, written out. No named function inside either: a bundler that
// keeps function names (tsx, esbuild) wraps those in a helper the expression cannot reach.
export const configuredOutputs = (parameters: INodeParameters): INodeOutputConfiguration[] => {
	const names: Record<string, string[]> = {
		addLeads: ['Leads', 'Invalid'],
		prepareTomorrow: ['Prepared'],
		claim: ['Messages'],
		send: ['Results'],
		complete: ['Completed'],
		takeLead: ['Taken Over'],
		settleLead: ['Settled'],
		export: ['File'],
		metrics: ['Days'],
	};
	return (names[String(parameters.operation)] ?? ['Leads', 'Invalid']).map((displayName) => ({ type: 'main' as const, displayName }));
};
