// The Gemini API simulator: `POST /{v1beta|v1|v1alpha}/models/{model}:generateContent` with the key
// in `x-goog-api-key` (or `?key=`), answered with the deterministic reply from gemini-reply.ts and
// Google's error shapes. Good enough for the real `@google/genai` client pointed at it by
// `httpOptions.baseUrl`.
//
// Checks, in Google's order: key (missing → 403; unknown when a key list is set → 400
// API_KEY_INVALID, as Google answers; suspended → 403 PERMISSION_DENIED), model (unknown when a model
// list is set → 404 NOT_FOUND), body (→ 400 INVALID_ARGUMENT).
//
// Service control routes:
//   GET  /__sim/config   {apiKeys, models, suspendedKeys}
//   POST /__sim/config   {apiKeys?: string[] | null, models?: string[] | null, suspendedKeys?: string[]}
//                        (null accepts any key / any model)
import { randomBytes } from 'node:crypto';
import type { Answer, RequestDescription, VendorHandler, VendorRequest } from './engine';
import { apiKeyInvalid, apiKeyMissing, googleError, modelNotFound, quotaExceeded } from './gemini-errors';
import { promptTranscript, simulatedReply, stripModelPrefix, type GeminiRequestBody } from './gemini-reply';
import { validateGenerateContentBody } from './gemini-request';
import { isRecord, parseJsonBody } from './http';
import type { FaultEffect, GeminiRuntimeConfig } from './protocol';

export interface GeminiSimulatorOptions {
	/** Keys accepted; default: any non-empty key. */
	apiKeys?: string[];
	/** Keys whose project lost access: answered 403 PERMISSION_DENIED. */
	suspendedKeys?: string[];
	/** Models served; default: any model name. */
	models?: string[];
}

const GENERATE_PATH = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):generateContent$/;
// `GET /v1beta/models/{model}`: model metadata, what the Gemini credential's test request calls.
const MODEL_PATH = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+)$/;

interface GeminiConfig extends GeminiRuntimeConfig {
	suspendedKeys: string[];
}

export class GeminiHandler implements VendorHandler {
	readonly service = 'gemini';
	private config: GeminiConfig;

	constructor(private readonly options: GeminiSimulatorOptions = {}) {
		this.config = this.initialConfig();
	}

	describe(request: VendorRequest): RequestDescription {
		const parsed = parseJsonBody(request.rawBody);
		const route = GENERATE_PATH.exec(request.url.pathname);
		const key = headerValue(request.headers['x-goog-api-key']) ?? request.url.searchParams.get('key') ?? undefined;
		return {
			body: parsed.ok ? parsed.value : parsed.raw,
			...(key !== undefined && { key }),
			...(route && { model: stripModelPrefix(decodeURIComponent(route[2])) }),
			...(route && parsed.ok && { prompt: () => promptOf(parsed.value) }),
		};
	}

	answer(request: VendorRequest, description: RequestDescription): Answer {
		const modelRoute = MODEL_PATH.exec(request.url.pathname);
		if (modelRoute && request.method === 'GET') return this.describeModel(description.key, decodeURIComponent(modelRoute[2]), modelRoute[1]);
		const route = GENERATE_PATH.exec(request.url.pathname);
		if (!route || request.method !== 'POST') {
			return googleError(404, `Method not found: ${request.method} ${request.url.pathname}. This simulator serves POST /v1beta/models/{model}:generateContent.`);
		}
		const keyProblem = this.keyProblem(description.key);
		if (keyProblem) return keyProblem;
		const model = description.model ?? '';
		if (this.config.models && !this.config.models.includes(model)) return modelNotFound(model, route[1]);

		const parsed = parseJsonBody(request.rawBody);
		if (!parsed.ok) return googleError(400, `Invalid JSON payload received. ${parsed.error}`);
		const validated = validateGenerateContentBody(parsed.value);
		if (!validated.ok) return googleError(400, validated.message);
		return { status: 200, body: generateContentResponse(model, validated.body) };
	}

	private describeModel(key: string | undefined, rawModel: string, apiVersion: string): Answer {
		const keyProblem = this.keyProblem(key);
		if (keyProblem) return keyProblem;
		const model = stripModelPrefix(rawModel);
		if (this.config.models && !this.config.models.includes(model)) return modelNotFound(model, apiVersion);
		return {
			status: 200,
			body: {
				name: `models/${model}`,
				version: '001',
				displayName: model,
				inputTokenLimit: 1_048_576,
				outputTokenLimit: 65_536,
				supportedGenerationMethods: ['generateContent', 'countTokens'],
			},
		};
	}

	answerFault(effect: Exclude<FaultEffect, { kind: 'timeout' | 'hold' }>, request: VendorRequest, description: RequestDescription): Answer {
		const model = description.model ?? '';
		switch (effect.kind) {
			case 'http':
				return effect.status === 429 ? quotaExceeded(effect.message, effect.retryDelaySeconds) : googleError(effect.status, effect.message);
			case 'blocked':
				return { status: 200, body: blockedResponse(model, promptWords(request), effect.blockReason ?? 'SAFETY') };
			case 'finishReason':
				return { status: 200, body: stoppedResponse(model, promptWords(request), effect.finishReason) };
			case 'text':
				return { status: 200, body: textResponse(model, promptWords(request), effect.text) };
			case 'graphError':
				return googleError(500, 'graphError faults belong to the Graph simulator');
			case 'answer':
				return googleError(500, 'answer faults belong to the Graph simulator');
		}
	}

	answerBodyTooLarge(): Answer {
		return googleError(400, 'Request payload size exceeds the limit.');
	}

	control(method: string, route: string, body: unknown): Answer | undefined {
		if (route !== '/config') return undefined;
		if (method === 'GET') return { status: 200, body: this.config };
		if (method !== 'POST') return undefined;
		if (!isRecord(body)) return { status: 400, body: { error: 'config is {apiKeys?, models?, suspendedKeys?}' } };
		for (const field of ['apiKeys', 'models', 'suspendedKeys'] as const) {
			const value = body[field];
			if (value === undefined) continue;
			const isList = Array.isArray(value) && value.every((item) => typeof item === 'string');
			if (!isList && !(value === null && field !== 'suspendedKeys')) {
				return { status: 400, body: { error: `${field} must be a list of strings${field === 'suspendedKeys' ? '' : ' or null'}` } };
			}
		}
		this.config = {
			apiKeys: body.apiKeys === undefined ? this.config.apiKeys : (body.apiKeys as string[] | null),
			models: body.models === undefined ? this.config.models : (body.models as string[] | null),
			suspendedKeys: body.suspendedKeys === undefined ? this.config.suspendedKeys : (body.suspendedKeys as string[]),
		};
		return { status: 200, body: this.config };
	}

	resetState(): void {
		this.config = this.initialConfig();
	}

	private initialConfig(): GeminiConfig {
		return {
			apiKeys: this.options.apiKeys ? [...this.options.apiKeys] : null,
			models: this.options.models ? [...this.options.models] : null,
			suspendedKeys: [...(this.options.suspendedKeys ?? [])],
		};
	}

	private keyProblem(key: string | undefined): Answer | undefined {
		if (!key) return apiKeyMissing();
		if (this.config.suspendedKeys.includes(key)) {
			return googleError(403, `Permission denied: Consumer 'api_key:${key}' has been suspended.`, [
				{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_SUSPENDED', domain: 'googleapis.com' },
			]);
		}
		if (this.config.apiKeys && !this.config.apiKeys.includes(key)) return apiKeyInvalid();
		return undefined;
	}
}

function headerValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}

const responseId = () => randomBytes(12).toString('base64url');

/** The prompt's text a fault's `match.prompt` looks in; empty for a body the API would refuse. */
function promptOf(body: unknown): string {
	const validated = validateGenerateContentBody(body);
	return validated.ok ? promptTranscript(validated.body) : '';
}

function generateContentResponse(model: string, body: GeminiRequestBody) {
	const reply = simulatedReply(model, body);
	return {
		candidates: [{ content: { role: 'model', parts: [{ text: reply.text }] }, finishReason: reply.finishReason, index: 0 }],
		usageMetadata: {
			promptTokenCount: reply.promptTokenCount,
			candidatesTokenCount: reply.candidatesTokenCount,
			totalTokenCount: reply.totalTokenCount,
		},
		modelVersion: model,
		responseId: responseId(),
	};
}

/** Prompt size for fault answers, which may meet a body that would not validate (then 0). */
function promptWords(request: VendorRequest): number {
	const parsed = parseJsonBody(request.rawBody);
	const validated = parsed.ok ? validateGenerateContentBody(parsed.value) : undefined;
	return validated?.ok ? simulatedReply('', validated.body).promptTokenCount : 0;
}

function blockedResponse(model: string, promptTokenCount: number, blockReason: string) {
	return {
		promptFeedback: {
			blockReason,
			safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: blockReason === 'SAFETY' ? 'HIGH' : 'NEGLIGIBLE' }],
		},
		usageMetadata: { promptTokenCount, totalTokenCount: promptTokenCount },
		modelVersion: model,
		responseId: responseId(),
	};
}

function stoppedResponse(model: string, promptTokenCount: number, finishReason: string) {
	return {
		candidates: [{ finishReason, index: 0 }],
		usageMetadata: { promptTokenCount, totalTokenCount: promptTokenCount },
		modelVersion: model,
		responseId: responseId(),
	};
}

function textResponse(model: string, promptTokenCount: number, text: string) {
	const candidatesTokenCount = text.split(/\s+/).filter(Boolean).length;
	return {
		candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
		usageMetadata: { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount },
		modelVersion: model,
		responseId: responseId(),
	};
}
