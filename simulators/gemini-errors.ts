// Google API error bodies as the Gemini API sends them: `{error: {code, message, status, details?}}`,
// where `status` is the google.rpc.Code name for the HTTP status.
import type { Answer } from './engine';

const STATUS_NAMES: Record<number, string> = {
	400: 'INVALID_ARGUMENT',
	401: 'UNAUTHENTICATED',
	403: 'PERMISSION_DENIED',
	404: 'NOT_FOUND',
	409: 'ABORTED',
	429: 'RESOURCE_EXHAUSTED',
	499: 'CANCELLED',
	500: 'INTERNAL',
	501: 'NOT_IMPLEMENTED',
	503: 'UNAVAILABLE',
	504: 'DEADLINE_EXCEEDED',
};

const DEFAULT_MESSAGES: Record<number, string> = {
	400: 'Request contains an invalid argument.',
	403: 'The caller does not have permission',
	404: 'Requested entity was not found.',
	429: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
	500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
	503: 'The model is overloaded. Please try again later.',
	504: 'Deadline expired before operation could complete.',
};

export function googleStatusName(httpStatus: number): string {
	return STATUS_NAMES[httpStatus] ?? (httpStatus >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}

export function googleError(httpStatus: number, message?: string, details?: unknown[]): Answer {
	return {
		status: httpStatus,
		body: {
			error: {
				code: httpStatus,
				message: message ?? DEFAULT_MESSAGES[httpStatus] ?? googleStatusName(httpStatus),
				status: googleStatusName(httpStatus),
				...(details && { details }),
			},
		},
	};
}

/** A 429 as a quota overrun reports it; with a delay, the RetryInfo detail clients use to back off. */
export function quotaExceeded(message?: string, retryDelaySeconds?: number): Answer {
	const details: unknown[] = [
		{
			'@type': 'type.googleapis.com/google.rpc.QuotaFailure',
			violations: [
				{
					quotaMetric: 'generativelanguage.googleapis.com/generate_content_requests',
					quotaId: 'GenerateRequestsPerMinutePerProjectPerModel',
				},
			],
		},
	];
	if (retryDelaySeconds !== undefined) {
		details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryDelaySeconds}s` });
	}
	return googleError(429, message, details);
}

/** What Google answers for a key it does not know: a 400, not a 403, with reason API_KEY_INVALID. */
export function apiKeyInvalid(): Answer {
	return googleError(400, 'API key not valid. Please pass a valid API key.', [
		{
			'@type': 'type.googleapis.com/google.rpc.ErrorInfo',
			reason: 'API_KEY_INVALID',
			domain: 'googleapis.com',
			metadata: { service: 'generativelanguage.googleapis.com' },
		},
	]);
}

export function apiKeyMissing(): Answer {
	return googleError(
		403,
		"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
	);
}

export function modelNotFound(model: string, apiVersion: string): Answer {
	return googleError(
		404,
		`models/${model} is not found for API version ${apiVersion}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
	);
}
