// What our resource locators share. Each offers the modes n8n's own nodes (Postgres, Airtable,
// Notion) offer: "From List", a searchable list the editor fills with a listSearch method
// (nodes/shared/methods), and "By ID", a pasted id or an expression from an earlier node, checked
// by a pattern in the editor (the node checks again when it runs). Nodes read the chosen id with
// `getNodeParameter(name, i, '', { extractValue: true })`, which also returns the plain string that
// workflows saved before these parameters were resource locators hold.

/** A UUID (unanchored as n8n writes a mode's pattern; UUID anchored), defined in valid-input.ts. */
export { UUID, UUID_PATTERN } from './valid-input';

/** A mode's pattern that also lets an empty value pass (an optional parameter left empty). */
export const orEmpty = (pattern: string) => `(?:${pattern})?`;

/**
 * A parameter's value as text: a string trimmed, a number as written, nothing ('' ) for null or
 * undefined. Anything else (an object, an array, a boolean: an expression mapping the wrong field,
 * e.g. a webhook body's `pipelineId: ["…"]`) comes back as its JSON text, so the check after it
 * (a UUID, a name) refuses it naming what it got, instead of reading it as "left empty" and acting
 * on every owner, every rule or the default pipeline.
 */
export function parameterText(value: unknown): string {
	if (typeof value === 'string') return value.trim();
	if (typeof value === 'number') return String(value);
	if (value === undefined || value === null) return '';
	return JSON.stringify(value) ?? String(value);
}
