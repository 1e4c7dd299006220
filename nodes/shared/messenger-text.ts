// Text from Messenger (a webhook's message, a sync's message or participant name), made storable:
// Postgres text cannot hold NUL or a lone surrogate (half a UTF-16 pair), and a name is one line
// (nodes/shared/valid-input.ts, the database's check). One bad character must not fail a whole
// delivery (Meta would deliver it again and again): it is replaced, never refused.

const REPLACEMENT = '\uFFFD';

/** C0, DEL, C1 and the line and paragraph separators: what one line may not hold. */
const breaksLine = (code: number) => code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;

/** The text with NUL and lone surrogates replaced by U+FFFD (and, for one line, line breaks and controls by spaces), at most `max` code points. */
function clean(text: string, max: number, oneLine: boolean): string {
	let out = '';
	let points = 0;
	for (let index = 0; index < text.length && points < max; index++, points++) {
		const code = text.charCodeAt(index);
		if (code >= 0xd800 && code <= 0xdfff) {
			const next = text.charCodeAt(index + 1);
			if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
				out += text[index] + text[index + 1];
				index++;
			} else out += REPLACEMENT;
		} else if (code === 0) out += oneLine ? ' ' : REPLACEMENT;
		else if (oneLine && breaksLine(code)) out += ' ';
		else out += text[index];
	}
	return out;
}

/** The text with NUL and lone surrogates replaced by U+FFFD, at most `max` characters (code points). */
export function storableText(text: string, max = 20_000): string {
	return clean(text, max, false);
}

/** A name as one line (controls and separators become spaces), trimmed, at most 200 characters; null when empty. */
export function storableName(name: unknown): string | null {
	if (typeof name !== 'string') return null;
	const line = clean(name, 200, true).trim();
	return line === '' ? null : line;
}
