// Text from outside that no one can be asked to send again (a webhook's message, a sync's message
// or participant name, a model's free text), made storable: Postgres text cannot hold NUL or a
// lone surrogate (half a UTF-16 pair), a name is one line, and a checked free text holds no control
// character but tab and line breaks (nodes/shared/valid-input.ts, the database's checks). One bad
// character must not fail a whole delivery (Meta would deliver it again and again) or a whole
// batch: it is replaced, never refused.
import { isAllowedCharacter, textProblem, type TextRule } from './valid-input';

const REPLACEMENT = '\uFFFD';

/**
 * The text with NUL and lone surrogates replaced by U+FFFD and, for one line or checked free text,
 * the characters that kind may not hold (controls; for one line, line breaks too) by spaces, at most
 * `max` code points.
 */
function clean(text: string, max: number, kind?: 'line' | 'multiline'): string {
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
		} else if (code === 0) out += kind === 'line' ? ' ' : REPLACEMENT;
		else if (kind && !isAllowedCharacter(code, kind)) out += ' ';
		else out += text[index];
	}
	return out;
}

/** The text with NUL and lone surrogates replaced by U+FFFD, at most `max` characters (code points). */
export function storableText(text: string, max = 20_000): string {
	return clean(text, max);
}

/** Free text for a column checked as multiline text (a model's summary): also controls but tab and line breaks replaced by spaces, at most `max` code points. */
export function storableFreeText(text: string, max: number): string {
	return clean(text, max, 'multiline');
}

/** A name as one line (controls and separators become spaces), trimmed, at most 200 characters; null when empty. */
export function storableName(name: unknown): string | null {
	if (typeof name !== 'string') return null;
	const line = clean(name, 200, 'line').trim();
	return line === '' ? null : line;
}

/** A Messenger message id as the database records it (messenger_record): a token (no whitespace, no control character) of 1 to 512 characters. */
const MESSAGE_ID: TextRule = { kind: 'token', min: 1, max: 512 };

/** What is wrong with a Messenger message id for the database, or undefined when it takes it. */
export const messageIdProblem = (mid: string): string | undefined => textProblem(mid, MESSAGE_ID);

/** The latest time the database records (3000-01-01T00:00:00Z in epoch milliseconds), for timestamps and watermarks alike. */
export const LAST_MESSENGER_TIME = 32_503_680_000_000;

/** Whether `ms` is a time the database records: whole epoch milliseconds from 0 to LAST_MESSENGER_TIME. */
export const isRecordableTime = (ms: unknown): ms is number => typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 && ms <= LAST_MESSENGER_TIME;
