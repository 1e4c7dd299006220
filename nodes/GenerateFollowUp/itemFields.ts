// The parameters whose default reads a field of the claim's row (`={{ $json.state_id }}` …). n8n
// evaluates an expression in about a tenth of a millisecond, but eight of them per item were most of
// this node's own time on a 1,000-contact batch; so while a parameter still holds its default
// expression (description.ts), the same field is read straight from the item, with the same result
// (test/generate proves the two agree). A parameter the user changed is evaluated by n8n as always.
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { properties } from './description';

type FieldReader = (json: IDataObject) => unknown;

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

const defaults = new Map(properties.map((property) => [property.name, property.default]));

export type ParameterReader = (name: string, itemIndex: number, fallback: unknown) => unknown;

/** Reads a parameter for an item: straight from the item while it holds its default expression, else through n8n. */
export function parameterReader(context: IExecuteFunctions): ParameterReader {
	const items = context.getInputData();
	const raw = context.getNode().parameters;
	const direct = new Map<string, FieldReader>();
	for (const [name, reader] of Object.entries(DEFAULT_FIELD_READERS)) {
		if (raw[name] === undefined || raw[name] === defaults.get(name)) direct.set(name, reader);
	}
	return (name, itemIndex, fallback) => {
		const reader = direct.get(name);
		if (reader) return reader(items[itemIndex].json) ?? fallback;
		return context.getNodeParameter(name, itemIndex, fallback) as unknown;
	};
}
