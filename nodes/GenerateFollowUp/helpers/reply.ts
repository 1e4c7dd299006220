// What the model wrote → a message Messenger accepts: trimmed, not empty, at most 2,000 characters
// (Messenger's limit, counted in Unicode code points as the database does). A long reply is cut at
// the last sentence end (or word) before the limit, or refused, as the node is set.

export const MAX_MESSAGE_CHARACTERS = 2000;

export type ReplyCheck =
	| { ok: true; message: string; shortened: boolean }
	| { ok: false; code: 'empty_reply' | 'too_long'; message: string };

// A sentence ends at . ! ? … before a space or the end, or at a CJK full stop, exclamation or
// question mark (written without a space after them).
const SENTENCE_END = /[.!?…](?=\s|$)|[。！？]/gu;

// Models sometimes wrap the whole message in quotes although told not to.
const WRAPPING_QUOTES = /^(["“”'])([\s\S]*)(["“”'])$/u;

function tidy(text: string): string {
	const trimmed = text.trim();
	const quoted = WRAPPING_QUOTES.exec(trimmed);
	return quoted && !quoted[2].includes(quoted[1]) ? quoted[2].trim() : trimmed;
}

/** The text cut to at most `limit` code points: at a sentence end when one is in the last half, else at a space. */
export function shortenTo(text: string, limit: number): string {
	const characters = Array.from(text);
	if (characters.length <= limit) return text;
	const head = characters.slice(0, limit).join('');
	const sentenceEnds = [...head.matchAll(SENTENCE_END)];
	const lastSentenceEnd = sentenceEnds.at(-1);
	if (lastSentenceEnd?.index !== undefined && lastSentenceEnd.index + 1 >= head.length / 2) return head.slice(0, lastSentenceEnd.index + 1).trim();
	const lastSpace = head.search(/\s\S*$/u);
	return (lastSpace > head.length / 2 ? head.slice(0, lastSpace) : head).trim();
}

/**
 * A reply that ran into the output-token limit stops mid-sentence: its complete sentences, or ''
 * when it has none (not one sentence was finished: nothing of it can be sent).
 */
export function dropUnfinishedSentence(text: string): string {
	const ends = [...text.matchAll(SENTENCE_END)];
	const last = ends.at(-1);
	return last?.index !== undefined ? text.slice(0, last.index + 1).trim() : '';
}

export function checkReply(raw: string, tooLong: 'shorten' | 'fail', limit = MAX_MESSAGE_CHARACTERS): ReplyCheck {
	const text = tidy(raw);
	if (text === '') return { ok: false, code: 'empty_reply', message: 'The model returned an empty reply.' };
	const length = Array.from(text).length;
	if (length <= limit) return { ok: true, message: text, shortened: false };
	if (tooLong === 'fail') {
		return { ok: false, code: 'too_long', message: `The model's reply has ${length} characters; Messenger accepts at most ${limit}.` };
	}
	return { ok: true, message: shortenTo(text, limit), shortened: true };
}
