// Small HTTP helpers shared by the simulators: reading and parsing bodies the way the vendors accept
// them (JSON, or form-encoded for Graph), and writing JSON answers.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bodies over this size are refused: nothing the nodes send comes close, and a test must not OOM. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;

export class BodyTooLargeError extends Error {}

export function readBody(request: IncomingMessage): Promise<string> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		request.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (size > MAX_BODY_BYTES) {
				reject(new BodyTooLargeError(`body over ${MAX_BODY_BYTES} bytes`));
				request.destroy();
				return;
			}
			chunks.push(chunk);
		});
		request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		request.on('error', reject);
	});
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; raw: string; error: string };

export function parseJsonBody(raw: string): ParsedBody {
	if (raw.trim() === '') return { ok: true, value: null };
	try {
		return { ok: true, value: JSON.parse(raw) as unknown };
	} catch (error) {
		return { ok: false, raw, error: (error as Error).message };
	}
}

/**
 * A form-encoded body as Graph reads it: fields whose value is JSON (`recipient={"id":"1"}`) are
 * parsed, the rest stay strings.
 */
export function parseGraphFormBody(raw: string): Record<string, unknown> {
	const fields: Record<string, unknown> = {};
	for (const [name, value] of new URLSearchParams(raw)) {
		const looksLikeJson = value.startsWith('{') || value.startsWith('[');
		if (!looksLikeJson) {
			fields[name] = value;
			continue;
		}
		try {
			fields[name] = JSON.parse(value) as unknown;
		} catch {
			fields[name] = value;
		}
	}
	return fields;
}

export function isFormEncoded(headers: IncomingMessage['headers']): boolean {
	return (headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const text = JSON.stringify(body);
	response.writeHead(status, {
		'content-type': 'application/json; charset=UTF-8',
		'content-length': Buffer.byteLength(text),
		...headers,
	});
	response.end(text);
}

export function queryRecord(url: URL): Record<string, string> {
	return Object.fromEntries(url.searchParams);
}

export function headerRecord(request: IncomingMessage): Record<string, string> {
	const headers: Record<string, string> = {};
	for (const [name, value] of Object.entries(request.headers)) {
		if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
	}
	return headers;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
