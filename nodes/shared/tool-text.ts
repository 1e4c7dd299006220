// What a model gives for a value it does not know. An AI agent's model fills every parameter its
// tool asks for ($fromAI), and for one it has no value for it often writes the text "null" or
// "undefined": used as the value, the model name became `models/null`, a prompt said "Contact name:
// null" and "Write in null.", a move's reason read "null". So, as a tool only, an optional text
// parameter whose trimmed text is `null` or `undefined` in any case is not given (its empty
// default). In a workflow the text is used as written: a person may be named Null.
import type { INode } from 'n8n-workflow';
import { runsAsTool } from './outputs';

const NOT_GIVEN = /^\s*(?:null|undefined)\s*$/i;

/** Whether text is a model's word for no value: `null` or `undefined`, trimmed, in any case. */
export function isNotGivenWord(value: unknown): boolean {
	return typeof value === 'string' && NOT_GIVEN.test(value);
}

/**
 * An optional text parameter's value as the node reads it: as an AI agent's tool, `null` or
 * `undefined` (trimmed, any case) is not given, `''`; otherwise `value` unchanged. Only for a
 * parameter that may be left empty: a required one keeps its own refusal of what it is given.
 */
export function optionalToolText<T>(context: { getNode(): INode }, value: T): T | '' {
	return runsAsTool(context) && isNotGivenWord(value) ? '' : value;
}

// n8n's own pattern of a $fromAI call (n8n-workflow's from-ai-parse-utils): any case, spaces before
// the bracket. The editor's "let the model define this parameter" writes one too.
const FROM_AI_CALL = /\$fromAI\s*\(/i;

/**
 * Whether, as an AI agent's tool, the model gives the parameter `name`: its value in the node's
 * settings is an expression calling `$fromAI`. When it is not, the model cannot give it (a field at
 * its `{{ $json.… }}` default or a fixed value is the workflow builder's), so a refusal of what the
 * field holds advises the builder (set it in the tool's settings, or let the model fill it with
 * `$fromAI`), not the model.
 */
export function filledByModel(context: { getNode(): INode }, name: string): boolean {
	return callsFromAI(context.getNode().parameters?.[name]);
}

/**
 * Whether a raw setting is an expression calling `$fromAI`: it begins with `=` (n8n evaluates only
 * such a value) and a `$fromAI(` call stands inside one of its `{{ … }}`. A fixed text that merely
 * holds the words `$fromAI(` (a note, a message about the tool) is the builder's, used as written:
 * n8n fills nothing into it, so the model cannot change it.
 */
function callsFromAI(raw: unknown): raw is string {
	if (typeof raw !== 'string' || !raw.startsWith('=')) return false;
	const calls = new RegExp(FROM_AI_CALL.source, 'gi');
	for (let call = calls.exec(raw); call; call = calls.exec(raw)) {
		const opened = raw.lastIndexOf('{{', call.index);
		if (opened !== -1 && raw.lastIndexOf('}}', call.index) < opened && raw.indexOf('}}', call.index) !== -1) return true;
	}
	return false;
}

// The key of a field's one $fromAI call when it is a plain quoted name (n8n's tool schema names the
// argument by it: what the model knows the field as). Anything else (two calls, a computed key) is
// not read: the caller names the field instead.
const FROM_AI_KEY = /\$fromAI\s*\(\s*(['"`])([A-Za-z0-9_-]{1,64})\1\s*[,)]/i;

/**
 * The argument name the model fills the parameter `name` by: the first argument of the one
 * `$fromAI('<key>', …)` call in its raw setting, an expression (`filledByModel`); undefined when the
 * field is no such expression, calls more than one, or one whose key is not a plain quoted name.
 */
export function fromAIKey(context: { getNode(): INode }, name: string): string | undefined {
	const raw = context.getNode().parameters?.[name];
	if (!callsFromAI(raw) || (raw.match(/\$fromAI\s*\(/gi) ?? []).length !== 1) return undefined;
	return FROM_AI_KEY.exec(raw)?.[2];
}

/**
 * How a refusal's first line names the field `name`: as the model knows it (the key of its one
 * `$fromAI` call) when the model fills it, else `label`, the field as the workflow's builder sees it
 * in the node's settings (e.g. "Owner ID, userId"). Advice and first line so speak to the same reader.
 */
export function fieldAsKnown(context: { getNode(): INode }, name: string, label: string): string {
	return (filledByModel(context, name) && fromAIKey(context, name)) || label;
}

// The third argument of a $fromAI call, its type, when the first two are quoted texts (a description
// may hold escaped quotes): n8n types the model's answer by it ('string' when it is left out).
const FROM_AI_TYPE = /\$fromAI\s*\(\s*(['"`])(?:\\.|(?!\1)[^\\])*\1\s*,\s*(['"`])(?:\\.|(?!\2)[^\\])*\2\s*,\s*(['"`])\s*([A-Za-z]+)\s*\3/i;

/**
 * The type n8n asks the model's answer for the parameter `name` in, lower case: the third argument
 * of the one `$fromAI` call in its raw setting ('string' when that call has no readable type), or
 * undefined when the field is not one such call (fromAIKey's rule). A 'number', 'boolean' or 'json'
 * answer is checked against that type by n8n, so such a field can never be given text by the model.
 */
export function fromAIType(context: { getNode(): INode }, name: string): string | undefined {
	const raw = context.getNode().parameters?.[name];
	if (!callsFromAI(raw) || (raw.match(/\$fromAI\s*\(/gi) ?? []).length !== 1) return undefined;
	return FROM_AI_TYPE.exec(raw)?.[4].toLowerCase() ?? 'string';
}
