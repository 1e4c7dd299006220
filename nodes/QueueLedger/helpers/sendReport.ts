// A send's result as queue_complete takes it, built the same way whoever reports it: Complete from
// its items (what Send put out, or a hand-written report), and Send itself when its execution is
// cancelled (n8n runs no node after a cancelled one, so Send records what it did before returning).
// Both build the same report, so the same result reported twice by the same worker is the same
// report, which queue_complete answers as the first time and records once (20261201001305).
import type { SendResult } from '../../shared/contract';
import { isControl, isLineBreak } from '../../shared/valid-input';

/** One line of at most `max` characters (code points), control characters as spaces: what the database keeps of a send's error. */
export function clip(text: string, max: number): string {
	const characters = [...text]
		.filter((character) => !(character.length === 1 && character.charCodeAt(0) >= 0xd800 && character.charCodeAt(0) <= 0xdfff))
		.map((character) => {
			const code = character.codePointAt(0) ?? 0;
			return isControl(code) || isLineBreak(code) ? ' ' : character;
		});
	return characters.slice(0, max).join('').trim() || 'No message';
}

/** A send error (an object {code?, message?, details?, permanent?, retry_after_seconds?}) as queue_complete keeps it. */
export function reportedError(value: Record<string, unknown>): NonNullable<SendResult['error']> {
	const text = typeof value.message === 'string' && value.message.trim() !== '' ? value.message.trim() : 'No message';
	// Meta's details (error_data.details) say more than its title: kept with it.
	const details = typeof value.details === 'string' && value.details.trim() !== '' ? ` (${value.details.trim()})` : '';
	const message = clip(`${text}${details}`, 2000);
	const retryAfter = Number(value.retry_after_seconds);
	return {
		code: value.code === undefined || value.code === null || value.code === '' ? null : clip(String(value.code), 100),
		message,
		permanent: value.permanent === true,
		...(Number.isInteger(retryAfter) && retryAfter > 0 && { retry_after_seconds: retryAfter }),
	};
}

/** The result for queue_complete: a sent one carries no error; a failed one always has one. */
export function sendResult(itemId: string, outcome: SendResult['outcome'], messageId: string | null, error: SendResult['error']): SendResult {
	return {
		item_id: itemId.toLowerCase(),
		outcome,
		message_id: messageId || null,
		error: outcome === 'sent' ? null : outcome === 'failed' ? (error ?? { message: 'Failed without an error message' }) : error,
	};
}
