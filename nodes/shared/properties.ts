// Parameters more than one node shows, defined once: the Options collection, the follow-up
// pipeline's "Record in Supabase" switch and the two fields that tie an item to its claimed contact.
import type { INodeProperties } from 'n8n-workflow';

/** The "Options" collection of less-used settings, as every node shows it. */
export function optionsCollection(options: INodeProperties[]): INodeProperties {
	return { displayName: 'Options', name: 'options', type: 'collection', placeholder: 'Add Option', default: {}, options };
}

/** Shown when the node records the pipeline's stages in Supabase. */
export const WHEN_RECORDING = { show: { recordStages: [true] } };

/** The switch between the recorded follow-up pipeline and a standalone use (e.g. by an AI agent). */
export function recordStagesProperty(description: string): INodeProperties {
	return { displayName: 'Record in Supabase', name: 'recordStages', type: 'boolean', default: true, description };
}

export const stateIdProperty: INodeProperties = {
	displayName: 'Contact State ID',
	name: 'stateId',
	type: 'string',
	default: '={{ $json.state_id }}',
	required: true,
	displayOptions: WHEN_RECORDING,
	description: "The claimed contact's follow-up state (state_id, returned by the claim with each contact)",
};

export const leaseHolderProperty: INodeProperties = {
	displayName: 'Claim Holder',
	name: 'leaseHolder',
	type: 'string',
	default: '={{ $json.execution_id }}',
	required: true,
	displayOptions: WHEN_RECORDING,
	description: 'The execution ID the contact was claimed with (returned by the claim with each contact)',
};
