// The Gemini simulator's deterministic "model": a pure function of the model name and the request
// body, exported so tests can predict exactly what the simulator (and so a node) will produce.
//
// Reply format (plain text):
//
//   Hi {name}! Just following up on our conversation. [sim:{model}:{digest}]
//
//   {name}    the first word after "name:", "name =", "name is" or "first_name:" (any case, quotes
//             allowed, e.g. `"first_name": "Ana"`) in the user/model turns, else in the system
//             instruction; "there" when none is found.
//   {model}   the model as in the path, without "models/" (e.g. gemini-3-flash).
//   {digest}  the first 12 hex digits of SHA-256 over the transcript (see promptTranscript): one line
//             per turn, `system: …` first when there is a system instruction, then `{role}: …` with
//             the turn's text parts concatenated; role defaults to "user". Only texts count, so a
//             client's JSON formatting or field order does not change it.
//
// With `generationConfig.responseMimeType: 'application/json'` the text is JSON instead: a value
// shaped by `responseSchema` / `responseJsonSchema` (strings hold the plain reply, enums their first
// value, numbers 0, booleans false, arrays one item), or `{"text": reply}` without a schema.
//
// Token counts are word counts (whitespace-separated): prompt = words of every text in the
// transcript, candidates = words of the reply. With `generationConfig.maxOutputTokens` smaller than
// the reply's word count, the reply keeps that many words and finishes with MAX_TOKENS.
import { createHash } from 'node:crypto';

export interface GeminiPart {
	text?: string;
	[other: string]: unknown;
}

export interface GeminiContent {
	role?: string;
	parts: GeminiPart[];
}

export interface GeminiGenerationConfig {
	temperature?: number;
	maxOutputTokens?: number;
	responseMimeType?: string;
	responseSchema?: unknown;
	responseJsonSchema?: unknown;
	[other: string]: unknown;
}

/** A generateContent body after validation (snake_case fields already folded into camelCase). */
export interface GeminiRequestBody {
	contents: GeminiContent[];
	systemInstruction?: GeminiContent;
	generationConfig?: GeminiGenerationConfig;
	safetySettings?: unknown[];
}

export interface SimulatedReply {
	text: string;
	finishReason: 'STOP' | 'MAX_TOKENS';
	promptTokenCount: number;
	candidatesTokenCount: number;
	totalTokenCount: number;
}

const textOf = (content: GeminiContent | undefined): string =>
	(content?.parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');

export function countWords(text: string): number {
	let count = 0;
	for (const word of text.split(/\s+/)) if (word !== '') count += 1;
	return count;
}

/** The canonical text the digest is taken over. */
export function promptTranscript(body: GeminiRequestBody): string {
	const lines: string[] = [];
	if (body.systemInstruction) lines.push(`system: ${textOf(body.systemInstruction)}`);
	for (const content of body.contents) lines.push(`${content.role ?? 'user'}: ${textOf(content)}`);
	return lines.join('\n');
}

export function promptDigest(body: GeminiRequestBody): string {
	return createHash('sha256').update(promptTranscript(body)).digest('hex').slice(0, 12);
}

const NAME_PATTERN = /(?:^|[^\p{L}\p{N}_])(?:first[_ ]?name|name)["']?\s*(?:is\b|[:=])\s*["']?(\p{L}[\p{L}'’-]*)/iu;

/** The name the reply greets: see the format above. */
export function greetedName(body: GeminiRequestBody): string {
	for (const content of body.contents) {
		const found = NAME_PATTERN.exec(textOf(content));
		if (found) return found[1];
	}
	const fromSystem = NAME_PATTERN.exec(textOf(body.systemInstruction));
	return fromSystem ? fromSystem[1] : 'there';
}

export function stripModelPrefix(model: string): string {
	return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

export function plainReplyText(model: string, body: GeminiRequestBody): string {
	return `Hi ${greetedName(body)}! Just following up on our conversation. [sim:${stripModelPrefix(model)}:${promptDigest(body)}]`;
}

/** Everything the simulator answers for a successful generateContent call. */
export function simulatedReply(model: string, body: GeminiRequestBody): SimulatedReply {
	const plain = plainReplyText(model, body);
	const config = body.generationConfig ?? {};
	let text = config.responseMimeType === 'application/json' ? JSON.stringify(jsonReply(config, plain)) : plain;
	let finishReason: SimulatedReply['finishReason'] = 'STOP';
	const limit = config.maxOutputTokens;
	if (typeof limit === 'number' && countWords(text) > limit) {
		text = text.split(/\s+/).filter((word) => word !== '').slice(0, limit).join(' ');
		finishReason = 'MAX_TOKENS';
	}
	const promptTokenCount = countWords([textOf(body.systemInstruction), ...body.contents.map(textOf)].join(' '));
	const candidatesTokenCount = countWords(text);
	return { text, finishReason, promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount };
}

function jsonReply(config: GeminiGenerationConfig, plain: string): unknown {
	const schema = config.responseSchema ?? config.responseJsonSchema;
	return schema === undefined ? { text: plain } : sampleFromSchema(schema, plain);
}

/** A value of the schema's shape: Gemini's OpenAPI-style schema (OBJECT…) or JSON Schema (object…). */
function sampleFromSchema(schema: unknown, plain: string): unknown {
	if (typeof schema !== 'object' || schema === null) return plain;
	const node = schema as { type?: unknown; properties?: Record<string, unknown>; items?: unknown; enum?: unknown[] };
	if (Array.isArray(node.enum) && node.enum.length > 0) return node.enum[0];
	const types = Array.isArray(node.type) ? node.type : [node.type];
	const type = types.map((value) => String(value ?? '').toLowerCase()).find((value) => value !== 'null') ?? '';
	switch (type) {
		case 'object':
			return Object.fromEntries(Object.entries(node.properties ?? {}).map(([name, property]) => [name, sampleFromSchema(property, plain)]));
		case 'array':
			return [sampleFromSchema(node.items, plain)];
		case 'number':
		case 'integer':
			return 0;
		case 'boolean':
			return false;
		default:
			return plain;
	}
}
