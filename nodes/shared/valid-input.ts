// What counts as valid input, in one place: every node checks text, ids and keys with these
// definitions, and the database's check constraints enforce the same ones
// (leadflow_private.is_valid_text, supabase/migrations/20261201000200_campaign_valid_text.sql).
// A value a node accepts is therefore never refused by a constraint: a bad value is a problem
// naming its field (a 400 from a webhook), never a failed database call.
//
// Text comes in three kinds:
//   line       one line of text (names, keys): no control character, i.e. no C0 (U+0000–U+001F),
//              no DEL (U+007F), no C1 (U+0080–U+009F), and no line or paragraph separator
//              (U+2028, U+2029), which are line breaks in Unicode and in JavaScript
//   multiline  free text (a job description): the same, except that tab, line feed, carriage
//              return and the two separators are allowed: they are how text breaks lines
//   token      an id (a session id): a line without whitespace either, i.e. without what
//              JavaScript's \s matches (space, U+00A0, U+1680, U+2000–U+200A, U+202F, U+205F,
//              U+3000, U+FEFF, besides the controls and separators a line already refuses)
// Everywhere: no NUL and no lone surrogate (half of a UTF-16 pair): Postgres text cannot hold them
// (the database needs no check for them; the Data API call would fail).
// Lengths count characters as Postgres's length() does: Unicode code points (an emoji outside
// the Basic Multilingual Plane is one character, not two UTF-16 units). Values are checked as
// received, then trimmed (String.prototype.trim) before they are stored.

import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { SettingRefusedError } from './per-item';

export type TextKind = 'line' | 'multiline' | 'token';

export interface TextRule {
	/** Default: 'line'. */
	kind?: TextKind;
	/** Longest accepted length in characters (code points), before trimming. */
	max: number;
	/** Shortest accepted length in characters after trimming; default 0. */
	min?: number;
}

/** The text columns the database checks, with the rule its check enforces. */
export const TEXT = {
	/** campaign_info.name: a campaign's display name (or the name a launch's `campaign` gives). */
	campaignName: { kind: 'line', min: 1, max: 200 },
	/** campaign_info.job_description */
	jobDescription: { kind: 'multiline', max: 50_000 },
	/** numbers.contact_name and session_info.display_name: a candidate's name. */
	personName: { kind: 'line', min: 1, max: 200 },
	/** session_info.session_id */
	sessionId: { kind: 'token', min: 1, max: 128 },
	/** campaign_session_requests.idempotency_key: a launch's Idempotency-Key header. */
	idempotencyKey: { kind: 'line', min: 1, max: 200 },
	/** session_objective_events.event_key */
	eventKey: { kind: 'line', min: 1, max: 200 },
} as const satisfies Record<string, TextRule>;

// Ids and formats the database checks. The *_PATTERN strings are unanchored, as n8n wants a
// resource locator mode's pattern (n8n matches it against the whole value).

/** campaign_info.name_uid: a slug, an underscore, a suffix ("plumber-london_abc123xyz"), at most 113 characters. */
export const CAMPAIGN_ID_PATTERN = '[a-z0-9]+(-[a-z0-9]+)*_[a-z0-9]{6,32}';
export const CAMPAIGN_ID = new RegExp(`^${CAMPAIGN_ID_PATTERN}$`);
export const MAX_CAMPAIGN_ID_LENGTH = 113;

export function isCampaignId(value: string): boolean {
	return value.length <= MAX_CAMPAIGN_ID_LENGTH && CAMPAIGN_ID.test(value);
}

/** Any uuid column (owners, rules, conversations, contact states), written the usual way. */
export const UUID_PATTERN = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
export const UUID = new RegExp(`^${UUID_PATTERN}$`);

/** numbers.phone_e164 and session_info.phone_e164: E.164, "+" and 7 to 15 digits. */
export const E164 = /^\+[1-9][0-9]{6,14}$/;

/** messenger_conversations.page_id and sender_id: a Page id or a page-scoped id (PSID). */
export const MESSENGER_ID = /^[0-9]{1,32}$/;

/** session_objective_events.objective: an objective's key. */
export const OBJECTIVE_KEY = /^[a-z][a-z0-9_]{0,62}$/;

/** session_objective_events.source */
export const OBJECTIVE_SOURCES = ['whatsapp', 'call', 'manual', 'other'] as const;

// ---------------------------------------------------------------------------------------------
// Characters

const TAB = 0x09;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const LINE_SEPARATOR = 0x2028;
const PARAGRAPH_SEPARATOR = 0x2029;

/** C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F): Unicode's control characters (Cc). */
export function isControl(code: number): boolean {
	return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

/** What ends a line: line feed, carriage return, and Unicode's line and paragraph separators. */
export function isLineBreak(code: number): boolean {
	return code === LINE_FEED || code === CARRIAGE_RETURN || code === LINE_SEPARATOR || code === PARAGRAPH_SEPARATOR;
}

/** Whitespace that is neither a control nor a line break: space separators (Zs) and U+FEFF, as \s has them. */
export function isSpace(code: number): boolean {
	return (
		code === 0x20 ||
		code === 0xa0 ||
		code === 0x1680 ||
		(code >= 0x2000 && code <= 0x200a) ||
		code === 0x202f ||
		code === 0x205f ||
		code === 0x3000 ||
		code === 0xfeff
	);
}

/** Whether text of `kind` may hold the character `code` (a code point; NUL and surrogates aside). */
export function isAllowedCharacter(code: number, kind: TextKind): boolean {
	if (kind === 'multiline' && (code === TAB || isLineBreak(code))) return true;
	if (isControl(code) || code === LINE_SEPARATOR || code === PARAGRAPH_SEPARATOR) return false;
	return kind !== 'token' || !isSpace(code);
}

const codePoint = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** Characters as Postgres's length() counts them: code points (a valid surrogate pair is one). */
export function characterCount(value: string): number {
	let count = 0;
	for (let index = 0; index < value.length; index++) {
		const code = value.charCodeAt(index);
		if (code >= 0xd800 && code <= 0xdbff) {
			const next = value.charCodeAt(index + 1);
			if (next >= 0xdc00 && next <= 0xdfff) index++;
		}
		count++;
	}
	return count;
}

/** What is wrong with the first character `kind` may not hold, or undefined when there is none. */
function characterProblem(value: string, kind: TextKind): string | undefined {
	let position = 0;
	for (let index = 0; index < value.length; index++) {
		position++;
		const code = value.charCodeAt(index);
		if (code >= 0xd800 && code <= 0xdfff) {
			const next = value.charCodeAt(index + 1);
			if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
				index++;
				continue;
			}
			return 'is not valid Unicode (it contains a lone surrogate): send it as UTF-8 or as a JSON string without broken \\u escapes';
		}
		if (code === 0) return 'contains a NUL character (\\u0000), which cannot be stored: remove it';
		if (isAllowedCharacter(code, kind)) continue;
		const at = `${codePoint(code)} at character ${position}`;
		if (isLineBreak(code)) return `contains a line break (${at}): it must be a single line`;
		if (isControl(code)) return `contains a control character (${at}): remove it`;
		return `must not contain spaces (${at}): remove it`;
	}
	return undefined;
}

/** What is wrong with a text value under `rule`, in words for the caller, or undefined when it is valid. */
export function textProblem(value: string, rule: TextRule): string | undefined {
	const problem = characterProblem(value, rule.kind ?? 'line');
	if (problem) return problem;
	const length = characterCount(value);
	if (length > rule.max) return `is too long: ${length} characters, at most ${rule.max}`;
	const min = rule.min ?? 0;
	if (min > 0 && characterCount(value.trim()) < min) return min === 1 ? 'is empty' : `is shorter than ${min} characters`;
	return undefined;
}

/**
 * A value as a refusal shows it: short, and never the whole of a long text or an object. A number
 * JSON has no figures for (NaN, Infinity, -Infinity: what an expression's 0 / 0 or Number("ten")
 * gives) is shown as JavaScript writes it, not as JSON's null, so "got NaN" is told from a null.
 */
export function shown(value: unknown): string {
	if (value === undefined) return 'nothing';
	if (value === null) return 'null';
	if (Array.isArray(value)) return `an array of ${value.length}`;
	if (typeof value === 'object') return 'an object';
	if ((typeof value === 'number' && !Number.isFinite(value)) || typeof value === 'bigint') return String(value);
	const text = JSON.stringify(value) ?? String(value);
	return text.length > 42 ? `${text.slice(0, 40)}…"` : text;
}

/**
 * What is wrong with an optional text field of a request ("must be text (got an object)"), or
 * undefined when it is text or absent: a number or an object from a request's JSON is refused, never
 * written as "[object Object]" or as its JSON text.
 */
export function notTextProblem(value: unknown): string | undefined {
	return value === undefined || value === null || typeof value === 'string' ? undefined : `must be text (got ${shown(value)})`;
}

export interface WholeNumberRule {
	min: number;
	max: number;
	/** What an empty value ('' or nothing, as an expression or an agent's $fromAI may give) stands for; without it, empty is refused. */
	fallback?: number;
}

/**
 * The whole number a parameter's value stands for, or what is wrong with it ("must be a whole number
 * from 1 to 500 (got "x")"): a number, or its digits as text (a query parameter, an expression); an
 * editor's bounds do not hold for an expression, so every reader checks them here, the same way.
 */
export function wholeNumber(raw: unknown, rule: WholeNumberRule): { value: number; problem?: undefined } | { value?: undefined; problem: string } {
	const text = typeof raw === 'string' ? raw.trim() : undefined;
	if ((raw === undefined || raw === null || text === '') && rule.fallback !== undefined) return { value: rule.fallback };
	const value = typeof raw === 'number' ? raw : text !== undefined && /^\d+$/.test(text) ? Number(text) : Number.NaN;
	if (Number.isInteger(value) && value >= rule.min && value <= rule.max) return { value };
	return { problem: `must be a whole number from ${rule.min} to ${rule.max} (got ${shown(raw)})` };
}

export interface NumberRule extends WholeNumberRule {
	/** Whether only whole numbers are accepted (the default); false: any number, e.g. 0.7. */
	whole?: boolean;
}

/**
 * The number a parameter's value stands for within [min, max] (whole unless `whole` is false), or
 * what is wrong with it ("must be a number from 0 to 2 (got "hot")"): a number, or its figures as
 * text, read as `wholeNumber` reads them.
 */
export function boundedNumber(raw: unknown, rule: NumberRule): { value: number; problem?: undefined } | { value?: undefined; problem: string } {
	if (rule.whole !== false) return wholeNumber(raw, rule);
	const text = typeof raw === 'string' ? raw.trim() : undefined;
	if ((raw === undefined || raw === null || text === '') && rule.fallback !== undefined) return { value: rule.fallback };
	const value = typeof raw === 'number' ? raw : text !== undefined && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
	if (Number.isFinite(value) && value >= rule.min && value <= rule.max) return { value };
	return { problem: `must be a number from ${rule.min} to ${rule.max} (got ${shown(raw)})` };
}

export interface WholeNumberParameter extends WholeNumberRule {
	/** How the message names it ("Limit", "The offset"). */
	label: string;
	/** What to do instead: the error's description. */
	hint: string;
	/**
	 * Whether it is a setting of the node (a claim's Limit or Lease, Analyze's Max Conversations),
	 * not a value a request or an item gives: refused, it is a SettingRefusedError naming it by
	 * `label`, so its failed item carries `setting` (nodes/shared/per-item.ts).
	 */
	setting?: boolean;
}

/** A whole-number parameter of item `itemIndex`, read by `wholeNumber`; refused naming it ("Limit must be …"), with the hint. */
export function readWholeNumber(context: IExecuteFunctions, name: string, itemIndex: number, parameter: WholeNumberParameter): number {
	const { value, problem } = wholeNumber(context.getNodeParameter(name, itemIndex, '') as unknown, parameter);
	if (problem === undefined) return value;
	const message = `${parameter.label} ${problem}`;
	const options = { itemIndex, description: parameter.hint };
	if (parameter.setting) throw new SettingRefusedError(context.getNode(), message, options, { displayName: parameter.label, parameter: name });
	throw new NodeOperationError(context.getNode(), message, options);
}
