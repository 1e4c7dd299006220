// The numeric and enumerated settings of a node's Options collection, read and checked the one way:
// the editor keeps a typed-in value within the bounds it shows (typeOptions minValue / maxValue, the
// choices of an options list), but an expression (or an agent's $fromAI) escapes them, so "three",
// 3 for a lease of at least 5, or 1.5 calls at once would reach the code unchecked. Each such
// option is checked here against those same bounds, declared once on the property: a whole number
// unless the property has a numberPrecision, a number within [minValue, maxValue], one of the
// choices. A bad value is a SettingRefusedError (nodes/shared/per-item.ts) naming the option as the
// editor shows it, the value received and the range, with what to do (its description): a failed
// item made from it carries `setting`, the option's name, so a workflow answers it as its own
// node's fault, not the caller's; an option not set, or set to an empty
// expression, is the property's default. A maximum declared with typeOptions.clampAboveMax (one
// added after workflows were saved with larger values) is used for a value above it, with a warning
// logged, instead of refusing it; likewise a whole-number option declared with
// typeOptions.roundsDownFractions (one whose node rounded a fraction down before it was checked
// here) rounds a fraction within its range down, with a warning logged, instead of refusing it.
// Text and boolean options are left to their readers.
import { type IDataObject, type IExecuteFunctions, type INodeProperties } from 'n8n-workflow';
import { SettingRefusedError } from './per-item';
import { boundedNumber, shown } from './valid-input';

/** What to say, besides the range, about an option a value of which is refused (why the range is what it is). */
export type OptionWhy = Record<string, string>;

function optionsOf(collection: INodeProperties): INodeProperties[] {
	return (collection.options ?? []).filter((option): option is INodeProperties => 'type' in option && 'name' in option);
}

/** Whether a property is one this module checks: a number (with both bounds declared) or a list of choices. */
function isChecked(property: INodeProperties): boolean {
	return property.type === 'number' || property.type === 'options';
}

/**
 * The rule a number property's bounds make. A number option without a maxValue is a mistake of the
 * node's description (every one has a safe range), caught by the first run of any test.
 */
function numberRule(property: INodeProperties): { min: number; max: number; whole: boolean } {
	const { minValue, maxValue, numberPrecision } = property.typeOptions ?? {};
	if (typeof minValue !== 'number' || typeof maxValue !== 'number') {
		throw new Error(`The option ${property.displayName} declares no minValue and maxValue: every number option needs its range`);
	}
	return { min: minValue, max: maxValue, whole: !(typeof numberPrecision === 'number' && numberPrecision > 0) };
}

/**
 * Whether a number property uses its maximum for a value above it instead of refusing it
 * (typeOptions.clampAboveMax, said in its description): a maximum added after workflows were
 * saved with larger values, which the node took (as given, or clamped) before it had one. A saved
 * workflow keeps working; a warning is logged.
 */
function clampsAboveMax(property: INodeProperties): boolean {
	return property.typeOptions?.clampAboveMax === true;
}

/**
 * A number above the property's maximum, read as any value within the range is read (boundedNumber:
 * a number or its figures as text, whole where the rule says), when the property clamps it: the
 * maximum; else undefined.
 */
function clampedAbove(property: INodeProperties, raw: unknown, rule: { min: number; max: number; whole: boolean }): number | undefined {
	if (!clampsAboveMax(property)) return undefined;
	const { value } = boundedNumber(raw, { ...rule, max: Number.MAX_VALUE });
	return value !== undefined && value > rule.max ? rule.max : undefined;
}

/**
 * Whether a whole-number property rounds a fraction within its range down instead of refusing it
 * (typeOptions.roundsDownFractions, said in its description): the node rounded fractions down before
 * its options were checked here, so workflows were saved with them (an expression's 100 / 3). A
 * saved workflow keeps working as it did; a warning is logged. Below the minimum or above the
 * maximum (the range is the fraction's, as before) is still refused.
 */
function roundsDownFractions(property: INodeProperties): boolean {
	return property.typeOptions?.roundsDownFractions === true;
}

/**
 * A value the property rounds down, read as any value is read (boundedNumber: a number or its
 * figures as text) within the range (up to any number when it clamps above its maximum): the whole
 * number at or below it, `fraction` when it was one (a warning is due); else undefined (a whole
 * number given as a number, or a value refused or clamped as any other). Figures as text are read
 * here whatever they are, so "33.0" is 33 as "33.5" is 33 (the whole-number reader takes digits only).
 */
function roundedDown(property: INodeProperties, raw: unknown, rule: { min: number; max: number; whole: boolean }): { value: number; fraction: boolean } | undefined {
	if (!rule.whole || !roundsDownFractions(property)) return undefined;
	const { value } = boundedNumber(raw, { ...rule, whole: false, max: clampsAboveMax(property) ? Number.MAX_VALUE : rule.max });
	if (value === undefined || (Number.isInteger(value) && typeof raw !== 'string')) return undefined;
	return { value: Math.floor(value), fraction: !Number.isInteger(value) };
}

/** The choices of an options property, as their values. */
function choicesOf(property: INodeProperties): string[] {
	return (property.options ?? []).flatMap((choice) => ('value' in choice ? [String(choice.value)] : []));
}

/** The range a property accepts, in words ("a whole number from 1 to 100", "one of shorten, fail"). */
export function rangeOf(property: INodeProperties): string {
	if (property.type === 'options') return `one of ${choicesOf(property).join(', ')}`;
	const { min, max, whole } = numberRule(property);
	return `${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`;
}

/**
 * The value of one checked option (or parameter, `inOptions` false), or the error naming it.
 * `parameter`: where it is set, as its parameter path ("options.leaseSeconds", "automationDelivery").
 */
function checkedValue(context: IExecuteFunctions, property: INodeProperties, raw: unknown, itemIndex: number, why: string | undefined, parameter: string, inOptions = true): unknown {
	const label = property.displayName;
	const refused = (message: string, description: string) => new SettingRefusedError(context.getNode(), message, { itemIndex, description }, { displayName: label, parameter });
	const where = inOptions ? ` in the node's Options` : '';
	const fallback = inOptions ? 'remove it' : 'leave it empty';
	const fix = `${why ? `${why} ` : ''}Set ${label}${where} to ${rangeOf(property)} (an expression must give one), or ${fallback} to use the default, ${JSON.stringify(property.default)}.`;
	if (property.type === 'options') {
		if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return property.default;
		const choices = choicesOf(property);
		const text = typeof raw === 'string' ? raw.trim() : undefined;
		if (text !== undefined && choices.includes(text)) return text;
		throw refused(`${label} must be ${rangeOf(property)} (got ${shown(raw)})`, fix);
	}
	const rule = numberRule(property);
	const floored = roundedDown(property, raw, rule);
	if (floored?.fraction) {
		context.logger?.warn(`${context.getNode().name}: ${label} ${shown(raw)} is not a whole number; ${floored.value} is used`, { itemIndex });
	}
	const read = floored?.value ?? raw;
	const clamped = clampedAbove(property, read, rule);
	if (clamped !== undefined) {
		context.logger?.warn(`${context.getNode().name}: ${label} ${shown(read)} is above its maximum, ${rule.max}; ${rule.max} is used`, { itemIndex });
		return clamped;
	}
	const { value, problem } = boundedNumber(read, { ...rule, fallback: property.default as number });
	if (problem !== undefined) throw refused(`${label} ${problem}`, fix);
	return value;
}

/**
 * Item `itemIndex`'s Options collection (parameter `name`, by default "options"), every number and
 * choice option of `collection` checked and set (its default when not given); other options as given.
 * `why`: a sentence per option name, said before what to do, when the range needs a reason.
 */
export function readCheckedOptions<T extends object>(
	context: IExecuteFunctions,
	itemIndex: number,
	collection: INodeProperties,
	why: OptionWhy = {},
	name = collection.name,
): T {
	const raw = context.getNodeParameter(name, itemIndex, {}) as unknown;
	if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
		throw new SettingRefusedError(
			context.getNode(),
			`${collection.displayName} must be a collection of settings (got ${shown(raw)})`,
			{ itemIndex, description: `Set each of the ${collection.displayName} on its own in the node, not the whole collection as one expression.` },
			{ displayName: collection.displayName, parameter: name },
		);
	}
	const given = raw as IDataObject;
	const options: IDataObject = { ...given };
	for (const property of optionsOf(collection)) {
		if (!isChecked(property)) continue;
		options[property.name] = checkedValue(context, property, given[property.name], itemIndex, why[property.name], `${name}.${property.name}`) as IDataObject[string];
	}
	return options as T;
}

/** One checked option of item `itemIndex` (see readCheckedOptions), e.g. where only one of them matters. */
export function readCheckedOption<V>(context: IExecuteFunctions, itemIndex: number, collection: INodeProperties, option: string, why?: string): V {
	const property = optionsOf(collection).find((one) => one.name === option);
	if (!property || !isChecked(property)) throw new Error(`${collection.displayName} has no number or choice option ${option}`);
	const raw = context.getNodeParameter(collection.name, itemIndex, {}) as unknown;
	const given = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as IDataObject)[option] : undefined;
	return checkedValue(context, property, given, itemIndex, why, `${collection.name}.${option}`) as V;
}

/**
 * A number or choice parameter of the node itself (not in a collection) for item `itemIndex`,
 * checked against its own declaration the same way: e.g. a run's setting read from the first item.
 */
export function readCheckedParameter<V>(context: IExecuteFunctions, itemIndex: number, property: INodeProperties, why?: string): V {
	if (!isChecked(property)) throw new Error(`${property.displayName} is not a number or choice parameter`);
	const raw = context.getNodeParameter(property.name, itemIndex, property.default) as unknown;
	return checkedValue(context, property, raw, itemIndex, why, property.name, false) as V;
}

/** The number and choice options of a collection, for a test or a page that lists their ranges. */
export function checkedOptionsOf(collection: INodeProperties): Array<{ displayName: string; name: string; range: string; default: unknown }> {
	return optionsOf(collection)
		.filter(isChecked)
		.map((property) => ({ displayName: property.displayName, name: property.name, range: rangeOf(property), default: property.default }));
}
