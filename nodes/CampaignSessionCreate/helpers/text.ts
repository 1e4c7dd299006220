// Checks shared by every text field: what Postgres will refuse (NUL, broken UTF-16) and what has no
// place in a name or an id (control characters), reported before anything reaches the database.

export interface TextRule {
	/** Longest accepted length in characters (UTF-16 code units, as JSON counts them). */
	max: number;
	/** Shortest accepted length after trimming; default 0. */
	min?: number;
	/** Allow line breaks and tabs (descriptions); default false. */
	multiline?: boolean;
}

const TAB = 0x09;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** C0 controls and DEL (a loop rather than a regular expression of control characters). */
function hasControlCharacter(value: string, multiline: boolean): boolean {
	for (let index = 0; index < value.length; index++) {
		const code = value.charCodeAt(index);
		if (code >= 0x20 && code !== 0x7f) continue;
		if (multiline && (code === TAB || code === LINE_FEED || code === CARRIAGE_RETURN)) continue;
		return true;
	}
	return false;
}

/** A high surrogate not followed by a low one, or a low one alone: JSON allows it, Postgres does not. */
function hasLoneSurrogate(value: string): boolean {
	for (let index = 0; index < value.length; index++) {
		const code = value.charCodeAt(index);
		if (code < 0xd800 || code > 0xdfff) continue;
		const next = value.charCodeAt(index + 1);
		if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
			index++;
			continue;
		}
		return true;
	}
	return false;
}

/** What is wrong with a string field, or undefined when it is acceptable. */
export function textProblem(value: string, rule: TextRule): string | undefined {
	if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
	if (hasLoneSurrogate(value)) return 'is not valid Unicode (it contains a lone surrogate)';
	if (hasControlCharacter(value, rule.multiline ?? false)) return 'contains control characters';
	if (value.length > rule.max) return `is too long: ${value.length} characters, at most ${rule.max}`;
	if (value.trim().length < (rule.min ?? 0)) return rule.min === 1 ? 'is empty' : `is shorter than ${rule.min} characters`;
	return undefined;
}
