// How every node declares its connections: `inputs: [NodeConnectionTypes.Main]`, and outputs as
// named output configurations, so the editor labels each one. A node whose outputs depend on a
// parameter returns the same configurations from an expression (CampaignSessionCreate).
import { NodeConnectionTypes, type INodeOutputConfiguration } from 'n8n-workflow';

export const MAIN_INPUT = [NodeConnectionTypes.Main];

/** One main output per name, in order. */
export function namedOutputs(...names: string[]): INodeOutputConfiguration[] {
	return names.map((displayName) => ({ type: NodeConnectionTypes.Main, displayName }));
}
