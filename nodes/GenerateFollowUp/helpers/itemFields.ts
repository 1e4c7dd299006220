// The parameters whose default reads a field of the claim's row (`={{ $json.state_id }}` …): eight
// per item, most of this node's own time on a 1,000-contact batch when n8n evaluated them. While a
// parameter holds its default (description.ts), the field is read straight from the item
// (nodes/shared/default-fields.ts); test/nodes/GenerateFollowUp proves the two agree.
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { parameterReader as sharedReader, type FieldReader, type ParameterReader } from '../../shared/default-fields';
import { properties } from '../description';

export type { ParameterReader };

const ruleOf = (json: IDataObject): IDataObject | undefined =>
	typeof json.rule === 'object' && json.rule !== null ? (json.rule as IDataObject) : undefined;

/** What each parameter's default expression evaluates to for an item. */
export const DEFAULT_FIELD_READERS: Record<string, FieldReader> = {
	stateId: (json) => json.state_id,
	leaseHolder: (json) => json.execution_id,
	instructions: (json) => ruleOf(json)?.instructions ?? '',
	contactName: (json) => json.sender_name ?? '',
	followUpNumber: (json) => json.follow_up_number ?? 1,
	messages: (json) => json.messages ?? [],
	model: (json) => ruleOf(json)?.model ?? '',
	language: (json) => ruleOf(json)?.language ?? '',
};

/** Reads a parameter for an item: straight from the item while it holds its default expression, else through n8n. */
export function parameterReader(context: IExecuteFunctions): ParameterReader {
	return sharedReader(context, properties, DEFAULT_FIELD_READERS);
}
