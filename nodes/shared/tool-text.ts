// What a model gives for a value it does not know. An AI agent's model fills every parameter its
// tool asks for ($fromAI), and for one it has no value for it often writes the text "null" or
// "undefined": used as the value, the model name became `models/null`, a prompt said "Contact name:
// null" and "Write in null.", a move's reason read "null". So, as a tool only, an optional text
// parameter whose trimmed text is `null` or `undefined` in any case is not given (its empty
// default). In a workflow the text is used as written: a person may be named Null.
import { extractFromAICalls, type INode } from 'n8n-workflow';
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
 * A `{{ $fromAI(…) }}` expression for the workflow's builder to paste into a tool's field: `key`,
 * `description` and `type` each in single quotes with `\` and `'` escaped, so n8n reads it as
 * written (extractFromAICalls) whatever the words hold ("the owner's time zone": pasted unescaped,
 * the call did not parse). No `type`: n8n reads the call as 'string'.
 */
export function fromAIExpression(key: string, description: string, type?: string): string {
	const quoted = (text: string) => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
	return `{{ $fromAI(${[key, description, ...(type === undefined ? [] : [type])].map(quoted).join(', ')}) }}`;
}

/**
 * How a refusal's first line names the field `name`: as the model knows it (the key of its one
 * `$fromAI` call) when the model fills it, else `label`, the field as the workflow's builder sees it
 * in the node's settings (e.g. "Owner ID, userId"). Advice and first line so speak to the same reader.
 */
export function fieldAsKnown(context: { getNode(): INode }, name: string, label: string): string {
	return (filledByModel(context, name) && fromAIKey(context, name)) || label;
}

// A field that is one $fromAI call and nothing else: `=`, one `{{ }}` holding the call (after the
// comment n8n's editor writes) and nothing around it. Only then does the node get the model's answer
// as n8n typed it: a `.id`, String(…), a template or a `||` around the call gives something else.
const CALL_FIRST = /^=\s*\{\{\s*(?:\/\*[\s\S]*?\*\/\s*)?\$fromAI\s*\(/i;

function onlyTheCall(raw: string): boolean {
	const first = CALL_FIRST.exec(raw);
	if (!first) return false;
	// Where the call ends, read as n8n's parser reads it: brackets counted outside quoted texts.
	let depth = 1;
	let quote = '';
	let at = first[0].length;
	for (; at < raw.length && depth > 0; at++) {
		const c = raw[at];
		if (quote) {
			if (c === '\\') at++;
			else if (c === quote) quote = '';
		} else if (c === "'" || c === '"' || c === '`') quote = c;
		else if (c === '(') depth++;
		else if (c === ')') depth--;
	}
	return depth === 0 && /^\s*\}\}\s*$/.test(raw.slice(at));
}

/**
 * The type n8n asks the model's answer for the parameter `name` in, lower case ('string' when the
 * call gives none), read by n8n's own parser (n8n-workflow's extractFromAICalls, the one that builds
 * the tool's schema); undefined when the field is not exactly one `$fromAI` call (onlyTheCall) or
 * n8n cannot parse it. Typed 'string', the node gets text unless the model sent something else (the
 * AI Agent 3.x path does not check the model's arguments against the type); typed 'number',
 * 'boolean' or 'json', never text: only the builder can mend that.
 */
export function fromAIType(context: { getNode(): INode }, name: string): string | undefined {
	const raw = context.getNode().parameters?.[name];
	return callsFromAI(raw) && onlyTheCall(raw) ? callType(raw) : undefined;
}

/**
 * The type of a field's one `$fromAI` call as n8n reads it, wrapped in more or not (`|| null`, `?? []`,
 * brackets: what toolFieldMender reads too); undefined when the field holds no such call, or not
 * exactly one. For a field whose value is no text (Requeue's list of conversation IDs), where
 * toolFieldMender's text rule does not fit.
 */
export function fromAICallType(context: { getNode(): INode }, name: string): string | undefined {
	const raw = context.getNode().parameters?.[name];
	return callsFromAI(raw) ? callType(raw) : undefined;
}

/** The type of the one `$fromAI` call n8n reads in a raw setting (extractFromAICalls), wrapped or not; undefined when not exactly one call or n8n cannot parse it. */
function callType(raw: string): string | undefined {
	if (typeof extractFromAICalls !== 'function') return undefined;
	try {
		const calls = extractFromAICalls(raw);
		return calls.length === 1 ? (calls[0].type ?? 'string').toLowerCase() : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Who can mend what an AI agent's tool was given in the field `name` (docs/nodes.md, *As an AI
 * agent's tool*), one rule for every tool's refusal of a value: the workflow's builder when the field
 * is set in the tool's settings (no `$fromAI`: `settings`); when the model fills it, the `$fromAI`
 * type decides, not the value: typed 'string' (or not typed, which n8n reads as 'string'), the model,
 * by its key (`model`); typed 'number', 'boolean' or 'json' the model can never give text, so the
 * builder must type it 'string' (`type`); a call wrapped in more (a `.id`, String(…), brackets, a
 * comment, `|| ''`) or not readable: a value that is not text came from the builder's expression
 * (`type`); text or nothing, the type of the one call n8n reads decides as above (a wrapped 'number'
 * left empty: the builder; before, the model was told to give text n8n refuses against the schema),
 * and the model when there is no one readable call.
 * `takes`: what the field reads. 'text' (the default) as above; 'number' (a whole-number field, which
 * reads a number or text holding one) lets the model mend a call typed 'number' as well as 'string',
 * and a number given through an expression around the call; 'boolean' or 'json' never gives a number,
 * so the builder must type it 'number' (`type`).
 * `key`: the field's `$fromAI` key when it is a plain name (fromAIKey), else undefined.
 */
export function toolFieldMender(context: { getNode(): INode }, name: string, value: unknown, takes: 'text' | 'number' = 'text'): { by: 'settings' | 'type' | 'model'; key?: string } {
	const raw = context.getNode().parameters?.[name];
	if (!callsFromAI(raw)) return { by: 'settings' };
	const key = fromAIKey(context, name);
	const type = fromAIType(context, name);
	const answers = (called: string | undefined) => called === undefined || called === 'string' || (takes === 'number' && called === 'number');
	if (type !== undefined) return { by: answers(type) ? 'model' : 'type', key };
	const read = typeof value === 'string' || (takes === 'number' && typeof value === 'number');
	if (value !== null && value !== undefined && !read) return { by: 'type', key };
	const called = callType(raw);
	// Text read out of a 'json' answer (`.id`, `[0]`) is the model's own: it can give the id there
	// (n8n passes {"id": "<uuid>"} through), so a name in it is the model's to mend, not the builder's.
	if (called === 'json' && read && String(value).trim() !== '') return { by: 'model', key };
	return { by: answers(called) ? 'model' : 'type', key };
}
