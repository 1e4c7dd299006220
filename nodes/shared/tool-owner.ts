// "A tool needs an owner", the one rule and its words (docs/nodes.md, "One owner per tool"). The
// nodes reach Supabase with the service role, which bypasses row level security, so as an AI agent's
// tool an operation that reads or changes an owner's data needs the owner: set in the tool's settings
// by the workflow's builder, or given by the model where the builder chose $fromAI. Empty, null,
// undefined or a model's "null" / "undefined" is refused naming the field as the node lists it (or
// by its $fromAI key when the model fills it), with the advice for whoever fills it
// (nodes/shared/tool-text.ts); so is any value that is not text (an expression's list, object,
// number, true or false): a reader taking String(value) would read [] or [""] as empty, i.e. every
// owner's. What passes is non-blank text, which each node's reading takes as one owner's UUID or
// refuses. The database then keeps the call to that owner. In a workflow (not a tool) nothing here
// applies: each node reads its owner as before.
import type { IExecuteFunctions } from 'n8n-workflow';
import { runsAsTool } from './outputs';
import { FieldRefusedError } from './per-item';
import { fieldAsKnown, fromAIExpression, isNotGivenWord, toolFieldMender } from './tool-text';
import { shown } from './valid-input';

/** A node's owner field: its parameter and its name as the node lists it. */
export interface ToolOwnerField {
	/** The parameter's name, e.g. "ownerUserId" (the refusal's `field`). */
	parameter: string;
	/** As the node lists it in its settings, e.g. "Owner User ID". */
	displayName: string;
}

/** What an operation says of its owner. */
export interface ToolOwnerWords {
	/** The operation as the node lists it, e.g. "Move". */
	operation: string;
	/** After "the owner ": e.g. "whose contact to move". */
	purpose: string;
	/** After "this tool ": e.g. "moves no contact". */
	without: string;
}

/**
 * Whether an owner value counts as not given: null, undefined, empty or spaces, a model's "null" /
 * "undefined", or a list holding nothing else (an expression's [] or [""]).
 */
export function ownerNotGiven(value: unknown): boolean {
	if (Array.isArray(value)) return value.every(ownerNotGiven);
	return value === null || value === undefined || (typeof value === 'string' && value.trim() === '') || isNotGivenWord(value);
}

/**
 * The advice for whoever can mend the owner field of a tool (tool-text.ts toolFieldMender: the $fromAI
 * type decides, not the value): the model, by its $fromAI key, when the field is a $fromAI typed
 * 'string' (or not typed), or text read out of a call typed 'json' (`.id`: the model can give
 * {"id": "<uuid>"}, and gave text there); the workflow's builder when it is typed 'number', 'boolean'
 * or 'json' and read whole (the model cannot give text there, also when it left the field empty: a
 * json [""] or [null], or nothing on a path that does not check types), when text read out of a
 * 'json' call (`.id`) was left empty (the model could have filled it, but the builder's 'string' is
 * the way that always can), or an expression around the call gave something not text;
 * else the builder too (set it in the tool's settings, or let the model give it with $fromAI).
 * `value`: what the field gave, when the advice is about it.
 */
export function toolOwnerAdvice(context: IExecuteFunctions, field: ToolOwnerField, words: Omit<ToolOwnerWords, 'operation'>, value?: unknown): string {
	const mender = toolFieldMender(context, field.parameter, value);
	if (mender.by === 'type') return typedAdvice(field, words, mender.key);
	if (mender.by === 'model') {
		const key = mender.key ?? `${field.displayName} (${field.parameter})`;
		return `Give the user ID of the owner ${words.purpose} as ${key}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool ${words.without} without it.`;
	}
	return `${field.displayName} (${field.parameter}) is set in this tool's settings, not given by the model: set it there to the user ID of the owner ${words.purpose} (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with ${fromAIExpression(field.parameter, `the user ID of the owner ${words.purpose}`)}. This tool ${words.without} without it.`;
}

/** The refusal of a tool called with no owner, naming the field as whoever fills it knows it. */
export function noToolOwner(context: IExecuteFunctions, itemIndex: number, field: ToolOwnerField, words: ToolOwnerWords, value?: unknown): FieldRefusedError {
	return new FieldRefusedError(
		context.getNode(),
		`${words.operation} as an AI agent's tool needs the user ID of the owner ${words.purpose} (${fieldAsKnown(context, field.parameter, `${field.displayName}, ${field.parameter}`)}), and none was given`,
		{ itemIndex, description: toolOwnerAdvice(context, field, words, value) },
		field.parameter,
	);
}

/** The refusal of a tool whose owner is given as something other than text: a list, an object, a number, true or false. */
function notOneOwner(context: IExecuteFunctions, itemIndex: number, field: ToolOwnerField, words: ToolOwnerWords, value: unknown): FieldRefusedError {
	return new FieldRefusedError(
		context.getNode(),
		`${words.operation} as an AI agent's tool needs the user ID of one owner ${words.purpose}, as text (${fieldAsKnown(context, field.parameter, `${field.displayName}, ${field.parameter}`)}), and got ${shown(value)}`,
		{ itemIndex, description: toolOwnerAdvice(context, field, words, value) },
		field.parameter,
	);
}

/**
 * The builder's advice for a $fromAI owner field (toolFieldMender's `type`): a call typed 'number',
 * 'boolean' or 'json' read whole, an expression around any call that gave something not text, or text
 * read out of a 'json' call (`.id`) that the model left empty. Its aside "a $fromAI typed … 'json' cannot carry
 * a UUID" holds for a call read whole; for one read with `.id` the model could carry it as
 * {"id": "<uuid>"} but left it empty, and typing the call 'string' is still the mend that always works.
 */
function typedAdvice(field: ToolOwnerField, words: Omit<ToolOwnerWords, 'operation'>, fromAIKey: string | undefined): string {
	const key = fromAIKey ?? field.parameter;
	return `${field.displayName} (${field.parameter}) in this tool's settings makes the model's answer something other than text, so no owner can be given this way: the workflow's builder must change it to ${fromAIExpression(key, `the user ID of the owner ${words.purpose}`, 'string')} (a $fromAI typed 'number', 'boolean' or 'json' cannot carry a UUID), or set the owner there. Tell the user this tool needs that change; this tool ${words.without} until then.`;
}

/**
 * As an AI agent's tool, the owner field of item i must be one owner's user ID given as text:
 * refused when not given (noToolOwner; [] or [""] too) or not text (a list, object, number, true or
 * false: never read as empty, i.e. every owner's, nor as the id a one-element list holds). What
 * passes is non-blank text, which the node's own reading takes as a UUID or refuses. In a workflow
 * nothing is checked here.
 */
export function requireToolOwner(context: IExecuteFunctions, itemIndex: number, field: ToolOwnerField, words: ToolOwnerWords): void {
	if (!runsAsTool(context)) return;
	const value = context.getNodeParameter(field.parameter, itemIndex, '') as unknown;
	if (ownerNotGiven(value)) throw noToolOwner(context, itemIndex, field, words, value);
	if (typeof value !== 'string') throw notOneOwner(context, itemIndex, field, words, value);
}
