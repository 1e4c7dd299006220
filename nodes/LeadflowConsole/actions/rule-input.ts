// The console's operations read the same kinds of input: text and whole-number query parameters,
// optional UUIDs and a rule's settings object.
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { FieldRefusedError } from '../../shared/per-item';
import { shown, UUID, wholeNumber as wholeNumberOf } from '../../shared/valid-input';
import { runsAsTool } from '../../shared/outputs';
import { fieldAsKnown, fromAIExpression, optionalToolText, toolFieldMender } from '../../shared/tool-text';

/**
 * A parameter as trimmed text ('' when it is empty): the optional filters and settings of a query.
 * As a tool, a model's "null" or "undefined" is not given (nodes/shared/tool-text.ts): a search or
 * reason "null" found nothing. An ID (optionalUuid) keeps its refusal: left out, a rule write
 * would create a rule instead of changing one. Anything else that is not text (a request's
 * `?search[]=a&search[]=b` or `offsets[]=…`, an expression's or a model's list, object, number, true
 * or false) is refused naming the parameter, as idText refuses an ID: read as String(value), a list
 * of searches searched their joined text ("a,b") and `offsets[]=<stage>:20` passed as one pair.
 */
export function textParameter(context: IExecuteFunctions, name: string, i: number): string {
	const value = context.getNodeParameter(name, i, '') as unknown;
	if (value === null || value === undefined) return '';
	if (typeof value !== 'string') {
		throw new FieldRefusedError(
			context.getNode(),
			`${runsAsTool(context) ? fieldAsKnown(context, name, name) : name} must be text, and got ${shown(value)}`,
			{ itemIndex: i, description: notTextParameterAdvice(context, name, value) },
			name,
		);
	}
	return optionalToolText(context, value.trim());
}

/**
 * What to do about a text parameter given as something else, for whoever can mend it: a request
 * sends it once, as text; as an AI agent's tool, toolFieldMender's rule (the builder when the field
 * is set in the tool's settings or the $fromAI answer is typed other than 'string', else the model).
 */
function notTextParameterAdvice(context: IExecuteFunctions, name: string, value: unknown): string {
	if (!runsAsTool(context)) {
		return `Send ${name} once, as text (?${name}=… in a query, "${name}": "…" in a JSON body), not a list, object, number, true or false.`;
	}
	const mender = toolFieldMender(context, name, value);
	if (mender.by === 'settings') {
		return `${name} is set in this tool's settings, not given by the model, and is not text: set it there to text, or let the model give it with ${fromAIExpression(name, '…', 'string')}.`;
	}
	const key = mender.key ?? name;
	if (mender.by === 'type') {
		return `${name} in this tool's settings makes the model's answer something other than text: the workflow's builder must change it to ${fromAIExpression(key, '…', 'string')}. Tell the user this tool needs that change.`;
	}
	return `Give ${key} as one text, not a list (call the tool once per value), object, number, true or false.`;
}

/**
 * A whole-number parameter from min to max (query parameters come as text); refused otherwise naming
 * it (`field`: the parameter's name), so the console's webhook answers 400 with that field. The
 * advice: in a request, the query parameter to pass; as an AI agent's tool, for whoever can mend it
 * (set in the tool's settings: the builder; given by the model: the model, by its `$fromAI` key).
 */
export function wholeNumber(context: IExecuteFunctions, name: string, label: string, i: number, min: number, max: number, example = min === 0 ? 0 : 50): number {
	const { value, problem } = wholeNumberOf(context.getNodeParameter(name, i, '') as unknown, { min, max });
	if (problem === undefined) return value;
	throw refusedParameter(context, name, i, `${label} ${problem}`, `Pass ${name}=${example} or another whole number in that range.`, `a whole number from ${min} to ${max}`, true);
}

/**
 * The refusal of a parameter's value (a status, a known version, offsets pairs, a page size… that
 * the console does not take), naming the parameter (`field`: its name), as idText's and notAUuid's
 * do, so the failed item and the console's webhook answer say which value to mend. `hint`: what a
 * request (the console's webhooks, a workflow) sends instead. As an AI agent's tool the advice is for
 * whoever can mend the field, by toolFieldMender's rule (nodes/shared/tool-text.ts): set in the
 * tool's settings, the builder sets it there to `what`; a `$fromAI` whose answer is not text (for a
 * number field, `numeric`: neither a number nor text), the builder types it 'string' ('number');
 * else the model, by its key, is told to give `what`. A number field's `$fromAI` typed 'number' or
 * 'string' is the model's; typed 'boolean' or 'json' it can never give a number: the builder's.
 */
export function refusedParameter(context: IExecuteFunctions, name: string, i: number, message: string, hint: string, what: string, numeric = false): FieldRefusedError {
	let description = hint;
	if (runsAsTool(context)) {
		const mender = toolFieldMender(context, name, context.getNodeParameter(name, i, '') as unknown, numeric ? 'number' : 'text');
		const key = mender.key ?? name;
		if (mender.by === 'settings') {
			description = `${name} is set in this tool's settings, not given by the model, and is refused: set it there to ${what}, or let the model give it with ${fromAIExpression(name, what)}.`;
		} else if (mender.by === 'type') {
			description = `${name} in this tool's settings makes the model's answer something other than ${numeric ? 'a number' : 'text'}: the workflow's builder must change it to ${fromAIExpression(key, what, numeric ? 'number' : 'string')}. Tell the user this tool needs that change.`;
		} else {
			description = `Give ${key} as ${what}.`;
		}
	}
	return new FieldRefusedError(context.getNode(), message, { itemIndex: i, description }, name);
}


/**
 * An ID parameter's text, trimmed ('' when null, undefined or empty). Anything else that is not text
 * (a request's or expression's list, object, number, true or false) is refused naming the field:
 * read as String(value), [] or [""] was '', i.e. not given (a rule save then CREATED a rule, an
 * Owner ID meant every owner), and ["<uuid>"] was that id, accepted silently. A number is refused
 * too: no number is a UUID, and the sender meant some other value. `hint`: what to send instead (a
 * request's advice; as an AI agent's tool the advice is notTextAdvice's, for whoever can mend it).
 */
export function idText(context: IExecuteFunctions, name: string, label: string, i: number, hint: string): string {
	const value = context.getNodeParameter(name, i, '') as unknown;
	if (value === null || value === undefined) return '';
	if (typeof value !== 'string') {
		throw new FieldRefusedError(
			context.getNode(),
			`The ${label} (${runsAsTool(context) ? fieldAsKnown(context, name, name) : name}) must be one UUID as text, and got ${shown(value)}`,
			{ itemIndex: i, description: notTextAdvice(context, name, label, value, hint) },
			name,
		);
	}
	return value.trim();
}

/**
 * What to do about an ID that is not text, for whoever can mend it. A request (the console's
 * webhooks, a workflow): send it once, as text, in the query or the JSON body. As an AI agent's tool,
 * the one rule of nodes/shared/tool-text.ts toolFieldMender (the $fromAI type decides, not the
 * value): a $fromAI typed 'string', the model by its key (AI Agent 3.x passes a model's list through
 * unchecked); typed 'number', 'boolean' or 'json', or an expression around the call, the builder must
 * type it 'string'; a field set in the tool's settings, the builder.
 */
function notTextAdvice(context: IExecuteFunctions, name: string, label: string, value: unknown, hint: string): string {
	if (!runsAsTool(context)) {
		return `Send ${name} once, as one UUID in text (?${name}=<id> in a query, "${name}": "<id>" in a JSON body), not a list, object, number, true or false. ${hint}`;
	}
	return toolIdAdvice(context, name, label, value, (key) => `Give ${key} as one UUID in text, not a list (call the tool once per ${label}), object, number, true or false.`);
}

/**
 * As an AI agent's tool, what to do about an ID field's value, for whoever can mend it
 * (toolFieldMender): set in the tool's settings, the builder sets it there; a $fromAI whose answer is
 * not text (typed otherwise, or an expression around the call), the builder types it 'string'; else
 * the model, by its key (`toModel`). Never a request's advice (a query, a JSON body, GET …/api/…).
 */
function toolIdAdvice(context: IExecuteFunctions, name: string, label: string, value: unknown, toModel: (key: string) => string): string {
	const mender = toolFieldMender(context, name, value);
	if (mender.by === 'settings') {
		return `The ${label} (${name}) is set in this tool's settings, not given by the model, and is not one UUID as text: set it there to one UUID, or let the model give it with ${fromAIExpression(name, `the ${label}`, 'string')}.`;
	}
	const key = mender.key ?? name;
	if (mender.by === 'type') {
		return `The ${label} (${name}) in this tool's settings makes the model's answer something other than text, so no ${label} can be given this way: the workflow's builder must change it to ${fromAIExpression(key, `the ${label}`, 'string')}. Tell the user this tool needs that change.`;
	}
	return toModel(key);
}

/**
 * The refusal of an ID given as text that is not a UUID (a name such as "Welcome rule", a typo). In a
 * request (the console's webhooks, a workflow) `hint` says where the id comes from; as an AI agent's
 * tool the advice is for whoever can mend the field (toolIdAdvice: the model is told to give the id a
 * listing shows, not a name), or `toolHint` when the field has words of its own (the owner's,
 * tool-owner.ts). It names its field (`field`: the parameter's name), as idText's refusal does, so
 * the failed item and the console's webhook answer say which value to mend.
 */
export function notAUuid(context: IExecuteFunctions, name: string, label: string, raw: string, i: number, hint: string, toolHint?: string): FieldRefusedError {
	const description = !runsAsTool(context)
		? hint
		: (toolHint ??
			toolIdAdvice(context, name, label, raw, (key) => `Give ${key} as the ${label} itself: one UUID exactly as a listing shows it (its id), not a name or other text. If you have no such id, list them first or ask for it.`));
	return new FieldRefusedError(context.getNode(), `The ${label} "${raw.slice(0, 60)}" is not a UUID`, { itemIndex: i, description }, name);
}

/**
 * A UUID parameter, or null when it is empty; `hint`: what to do instead in a request (default: the
 * rules list's ID); as a tool the advice is notAUuid's, or `toolHint` (the owner's own words).
 */
export function optionalUuid(context: IExecuteFunctions, name: string, label: string, i: number, hint?: string, toolHint?: string): string | null {
	const advice = hint ?? `Use the ${label} from the rules list (GET …/api/rules).`;
	const raw = idText(context, name, label, i, advice);
	if (!raw) return null;
	if (!UUID.test(raw)) throw notAUuid(context, name, label, raw, i, advice, toolHint);
	return raw.toLowerCase();
}

/** A JSON object parameter (an object, or its JSON text). */
export function settingsObject(context: IExecuteFunctions, name: string, i: number): Record<string, unknown> {
	let value = context.getNodeParameter(name, i, {}) as unknown;
	if (typeof value === 'string') {
		try {
			value = value.trim() ? JSON.parse(value) : {};
		} catch {
			throw new NodeOperationError(context.getNode(), 'The rule settings are not valid JSON', {
				itemIndex: i,
				description: 'Send a JSON object of the rule\'s columns, e.g. {"name": "Follow-up", "daily_limit": 50}.',
			});
		}
	}
	if (value === null || typeof value !== 'object' || Array.isArray(value)) {
		throw new NodeOperationError(context.getNode(), 'The rule settings must be a JSON object of the rule\'s columns', {
			itemIndex: i,
			description: 'Send e.g. {"name": "Follow-up", "daily_limit": 50}.',
		});
	}
	return value as Record<string, unknown>;
}
