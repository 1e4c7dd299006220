// A claimed message as the WhatsApp Cloud API takes it: the queue's {type: "text", text} or
// {type: "template", name, language}, checked before any call (a malformed one fails for good
// without reaching Meta).
import type { QueueMessage } from '../../shared/contract';
import { characterCount, textProblem } from '../../shared/valid-input';

/** Meta's limit for a text message body, in characters. */
export const MAX_TEXT = 4096;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The message, or what is wrong with it ("The message …"). A JSON string is read too. */
export function readMessage(raw: unknown): { message: QueueMessage } | { problem: string } {
	let value = raw;
	if (typeof value === 'string') {
		try {
			value = JSON.parse(value) as unknown;
		} catch {
			return { problem: 'is not JSON' };
		}
	}
	if (!isRecord(value)) return { problem: 'must be an object {type, …}' };
	if (value.type === 'text') {
		const text = value.text;
		if (typeof text !== 'string' || text.trim() === '') return { problem: 'is a text message without text' };
		if (characterCount(text) > MAX_TEXT) return { problem: `is a text of ${characterCount(text)} characters; WhatsApp takes at most ${MAX_TEXT}` };
		return { message: { type: 'text', text } };
	}
	if (value.type === 'template') {
		const { name, language } = value;
		if (typeof name !== 'string' || textProblem(name, { kind: 'token', min: 1, max: 512 })) return { problem: 'is a template message without a valid template name' };
		if (typeof language !== 'string' || !/^[a-z]{2,3}(_[A-Z]{2})?$/.test(language)) return { problem: 'is a template message without a language code like en_US' };
		return { message: { type: 'template', name, language } };
	}
	return { problem: `has type ${JSON.stringify(value.type ?? null)}; it must be text or template` };
}
