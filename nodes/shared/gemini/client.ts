// One generateContent call with one key, through @google/genai at the credential's base URL. The
// library is loaded on first use (n8n requires every node file at start-up; the load-time check
// fails the build if a node file pulls in a client library), and one client is kept per key, base
// URL and timeout, so a batch does not rebuild clients per item.
import type { GoogleGenAI } from '@google/genai';
import { fingerprint } from './keyRing';

export interface ModelRequest {
	model: string;
	systemInstruction: string;
	userText: string;
	temperature?: number;
	maxOutputTokens?: number;
	/** A JSON reply shaped by this OpenAPI schema (responseMimeType application/json). */
	responseSchema?: Record<string, unknown>;
	timeoutMs: number;
	abortSignal?: AbortSignal;
}

export interface ModelAnswer {
	text: string;
	finishReason?: string;
	blockReason?: string;
	tokens: { prompt: number; output: number; total: number };
	/** The model that answered, as Google reports it (falls back to the one asked). */
	modelVersion: string;
}

const clients = new Map<string, GoogleGenAI>();

async function clientFor(apiKey: string, baseUrl: string, timeoutMs: number): Promise<GoogleGenAI> {
	const cacheKey = fingerprint(`${baseUrl}\n${timeoutMs}\n${apiKey}`);
	const cached = clients.get(cacheKey);
	if (cached) return cached;
	const { GoogleGenAI: Client } = await import('@google/genai');
	// apiVersion: @google/genai 3.x calls /v1 unless told otherwise; the generateContent features
	// used here (systemInstruction, usage metadata) are documented on v1beta.
	const client = new Client({ apiKey, apiVersion: 'v1beta', httpOptions: { baseUrl, timeout: timeoutMs } });
	clients.set(cacheKey, client);
	return client;
}

/**
 * A signal for one call that aborts when `shared` (the execution's cancel signal) does. The client
 * adds an abort listener to the signal it is given and keeps it after a successful call, so given
 * the execution's signal directly, a batch of n calls would leave n listeners on it, each added
 * after a scan of those already there (n² / 2 steps in all). The link is removed by `release`.
 */
function callSignal(shared: AbortSignal | undefined): { signal?: AbortSignal; release: () => void } {
	if (!shared) return { release: () => {} };
	const controller = new AbortController();
	if (shared.aborted) controller.abort(shared.reason);
	const onAbort = () => controller.abort(shared.reason);
	shared.addEventListener('abort', onAbort, { once: true });
	return { signal: controller.signal, release: () => shared.removeEventListener('abort', onAbort) };
}

export async function generateOnce(apiKey: string, baseUrl: string, request: ModelRequest): Promise<ModelAnswer> {
	const client = await clientFor(apiKey, baseUrl, request.timeoutMs);
	const { signal, release } = callSignal(request.abortSignal);
	const response = await client.models
		.generateContent({
			model: request.model,
			contents: [{ role: 'user', parts: [{ text: request.userText }] }],
			config: {
				systemInstruction: request.systemInstruction,
				...(request.temperature !== undefined && { temperature: request.temperature }),
				...(request.maxOutputTokens !== undefined && { maxOutputTokens: request.maxOutputTokens }),
				...(request.responseSchema && { responseMimeType: 'application/json', responseSchema: request.responseSchema }),
				...(signal && { abortSignal: signal }),
			},
		})
		.finally(release);
	const candidate = response.candidates?.[0];
	// Thinking models may return thought parts; only the answer's text is the message.
	const text = (candidate?.content?.parts ?? [])
		.filter((part) => !part.thought && typeof part.text === 'string')
		.map((part) => part.text)
		.join('');
	const usage = response.usageMetadata;
	const prompt = usage?.promptTokenCount ?? 0;
	const output = usage?.candidatesTokenCount ?? 0;
	return {
		text,
		finishReason: candidate?.finishReason ? String(candidate.finishReason) : undefined,
		blockReason: response.promptFeedback?.blockReason ? String(response.promptFeedback.blockReason) : undefined,
		tokens: { prompt, output, total: usage?.totalTokenCount ?? prompt + output },
		modelVersion: response.modelVersion ?? request.model,
	};
}
