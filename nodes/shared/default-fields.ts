// Parameters whose default is an expression that only reads a field of the item
// (`={{ $json.state_id }}` …). n8n evaluates an expression in about a tenth of a millisecond, which
// on a 1,000-contact batch with several such parameters per item is most of a node's own time; so
// while a parameter still holds its default expression, the same field is read straight from the
// item, with the same result. A parameter the user changed is evaluated by n8n as always, so
// expressions keep working per item.
import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

/** What a parameter's default expression evaluates to for an item. */
export type FieldReader = (json: IDataObject) => unknown;

export type ParameterReader = (name: string, itemIndex: number, fallback: unknown) => unknown;

/** Reads a parameter for an item: straight from the item while it holds its default expression, else through n8n. */
export function parameterReader(context: IExecuteFunctions, properties: readonly INodeProperties[], readers: Record<string, FieldReader>): ParameterReader {
	const items = context.getInputData();
	const raw = context.getNode().parameters;
	const direct = new Map<string, FieldReader>();
	for (const [name, reader] of Object.entries(readers)) {
		const property = properties.find((one) => one.name === name);
		if (property && (raw[name] === undefined || raw[name] === property.default)) direct.set(name, reader);
	}
	return (name, itemIndex, fallback) => {
		const reader = direct.get(name);
		if (reader) return reader(items[itemIndex].json) ?? fallback;
		return context.getNodeParameter(name, itemIndex, fallback) as unknown;
	};
}
