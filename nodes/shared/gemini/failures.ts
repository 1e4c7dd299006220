// What a failed Gemini call means for the next step. Google's errors arrive from @google/genai as
// `ApiError` with `.status` and the JSON error body as the message; a timeout is an AbortError; a
// dropped connection is a TypeError from fetch. Duck-typed, because the client library is loaded
// lazily and its classes are not in scope when this file loads.

export type FailureKind =
	/** 429: rest this key, try another. */
	| 'throttled'
	/** 500/502/503/504 or a dropped connection: back off and retry. */
	| 'unavailable'
	/** No answer within the timeout: back off and retry. */
	| 'timeout'
	/** This key is invalid, suspended or lacks access: rest it, try another; not a retry of the request. */
	| 'key_refused'
	/** Any other 4xx (bad request, unknown model): retrying cannot help. */
	| 'rejected'
	/** The n8n execution was cancelled. */
	| 'cancelled';

export interface CallFailure {
	kind: FailureKind;
	status?: number;
	/** Google's message (keys removed by the caller before it leaves the node). */
	message: string;
	/** From RetryInfo: how long Google asks the caller to wait. */
	retryDelayMs?: number;
	/** A per-day quota ran out (it resets at midnight Pacific time). */
	daily: boolean;
}

interface GoogleErrorDetail {
	'@type'?: string;
	reason?: string;
	retryDelay?: string;
	violations?: Array<{ quotaId?: string; quotaMetric?: string }>;
}

interface GoogleError {
	code?: number;
	message?: string;
	status?: string;
	details?: GoogleErrorDetail[];
}

function googleErrorOf(message: string): GoogleError | undefined {
	try {
		const parsed = JSON.parse(message) as { error?: GoogleError };
		return parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object' ? parsed.error : undefined;
	} catch {
		return undefined;
	}
}

/** "30s", "1.5s" (protobuf Duration as JSON) → milliseconds. */
export function parseRetryDelay(value: unknown): number | undefined {
	if (typeof value !== 'string') return undefined;
	const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
	return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

const UNAVAILABLE = new Set([500, 502, 503, 504]);
const KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED', 'CONSUMER_SUSPENDED', 'API_KEY_SERVICE_BLOCKED', 'SERVICE_DISABLED']);

// The client's abort timer fired: thrown as the AbortError itself, or wrapped ("exception
// AbortError: … sending request") with the AbortError as its cause.
function isAbort(error: unknown): boolean {
	if (typeof error !== 'object' || error === null) return false;
	const { name } = error as { name?: unknown };
	return name === 'AbortError' || name === 'TimeoutError';
}

export function describeFailure(error: unknown, cancelled: boolean): CallFailure {
	if (cancelled) return { kind: 'cancelled', message: 'The execution was cancelled.', daily: false };
	// Read by shape, not instanceof: a timeout's DOMException comes from another realm than this
	// module's Error in some hosts (a vm context, as in tests).
	const fields = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; message?: unknown; status?: unknown; cause?: unknown };
	const text = typeof fields.message === 'string' ? fields.message : String(error);
	const status = typeof fields.status === 'number' ? fields.status : undefined;
	if (isAbort(fields) || isAbort(fields.cause)) return { kind: 'timeout', message: 'Gemini did not answer within the timeout.', daily: false };
	if (status === undefined) {
		// fetch failed, connection reset or refused: the service was not reached or dropped us.
		return { kind: 'unavailable', message: `Gemini could not be reached: ${text}`, daily: false };
	}
	const google = googleErrorOf(text);
	const message = google?.message ?? text;
	const details = google?.details ?? [];
	if (status === 429) {
		const retryDelayMs = details.map((detail) => parseRetryDelay(detail.retryDelay)).find((ms) => ms !== undefined);
		const daily = details.some((detail) => (detail.violations ?? []).some((violation) => /PerDay/i.test(violation.quotaId ?? '')));
		return { kind: 'throttled', status, message, daily, ...(retryDelayMs !== undefined && { retryDelayMs }) };
	}
	if (UNAVAILABLE.has(status)) return { kind: 'unavailable', status, message, daily: false };
	if (status === 408) return { kind: 'timeout', status, message, daily: false };
	const keyProblem = status === 401 || status === 403 || details.some((detail) => KEY_REASONS.has(detail.reason ?? ''));
	return { kind: keyProblem ? 'key_refused' : 'rejected', status, message, daily: false };
}
