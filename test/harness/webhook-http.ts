// The request a Webhook node reads and the response it (or n8n) writes, without an HTTP server:
// the fields of Express's request that n8n's webhook layer fills in (parsed body, raw body, lower-
// cased headers, query, path parameters), and a response that records what is written to it.
import type { IDataObject } from 'n8n-workflow';

export interface WebhookRequest {
	method?: string;
	/** The path after `/webhook/`; default: the Webhook node's own path. */
	path?: string;
	headers?: Record<string, string>;
	query?: Record<string, string | string[]>;
	body?: unknown;
	/** Values of `:name` segments of the node's path, if not given through `path`. */
	params?: Record<string, string>;
}

export interface CapturedResponse {
	statusCode: number;
	headers: Record<string, string>;
	/** Parsed JSON when the body was JSON, otherwise the text (undefined when none). */
	body: unknown;
}

export interface FakeRequest {
	method: string;
	url: string;
	path: string;
	headers: Record<string, string>;
	query: IDataObject;
	params: Record<string, string>;
	body: unknown;
	rawBody: Buffer;
	contentType?: string;
	ip: string;
	ips: string[];
	readRawBody(): Promise<void>;
}

export function fakeRequest(request: WebhookRequest, method: string, path: string, params: Record<string, string>): FakeRequest {
	const headers: Record<string, string> = {};
	for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
	const hasBody = request.body !== undefined;
	if (hasBody && !headers['content-type']) headers['content-type'] = typeof request.body === 'string' ? 'text/plain' : 'application/json';
	const raw = !hasBody ? '' : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
	const query = new URLSearchParams();
	for (const [name, value] of Object.entries(request.query ?? {})) for (const one of [value].flat()) query.append(name, one);
	const search = query.size ? `?${query.toString()}` : '';
	return {
		method,
		url: `/webhook/${path}${search}`,
		path: `/webhook/${path}`,
		headers,
		query: { ...(request.query ?? {}) },
		params,
		// Express leaves an empty object when nothing was parsed.
		body: hasBody ? request.body : {},
		rawBody: Buffer.from(raw),
		contentType: headers['content-type']?.split(';')[0].trim(),
		ip: '127.0.0.1',
		ips: [],
		readRawBody: async () => undefined,
	};
}

/** Records status, headers and body written the Node.js/Express way. */
export class RecordingResponse {
	statusCode = 200;

	headersSent = false;

	finished = false;

	readonly headers: Record<string, string> = {};

	private readonly chunks: Buffer[] = [];

	status(code: number): this {
		this.statusCode = code;
		return this;
	}

	setHeader(name: string, value: string | number | readonly string[]): this {
		this.headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
		return this;
	}

	set(name: string | Record<string, string>, value?: string): this {
		if (typeof name === 'string') return this.setHeader(name, value ?? '');
		for (const [key, one] of Object.entries(name)) this.setHeader(key, one);
		return this;
	}

	header(name: string, value: string): this {
		return this.setHeader(name, value);
	}

	getHeader(name: string): string | undefined {
		return this.headers[name.toLowerCase()];
	}

	removeHeader(name: string): void {
		delete this.headers[name.toLowerCase()];
	}

	writeHead(statusCode: number, headers?: Record<string, string | number>): this {
		this.statusCode = statusCode;
		for (const [name, value] of Object.entries(headers ?? {})) this.setHeader(name, value);
		this.headersSent = true;
		return this;
	}

	flushHeaders(): void {
		this.headersSent = true;
	}

	write(chunk: string | Buffer): boolean {
		this.headersSent = true;
		this.chunks.push(Buffer.from(chunk));
		return true;
	}

	end(chunk?: string | Buffer): this {
		if (chunk !== undefined) this.write(chunk);
		this.headersSent = true;
		this.finished = true;
		return this;
	}

	send(body: unknown): this {
		if (Buffer.isBuffer(body) || typeof body === 'string') return this.end(body);
		return this.json(body);
	}

	json(body: unknown): this {
		if (!this.headers['content-type']) this.setHeader('content-type', 'application/json; charset=utf-8');
		return this.end(JSON.stringify(body));
	}

	captured(): CapturedResponse {
		const text = Buffer.concat(this.chunks).toString('utf8');
		let body: unknown = text === '' ? undefined : text;
		if (text !== '' && (this.headers['content-type'] ?? '').includes('json')) {
			try {
				body = JSON.parse(text);
			} catch {
				// not JSON after all: keep the text
			}
		}
		return { statusCode: this.statusCode, headers: { ...this.headers }, body };
	}
}
