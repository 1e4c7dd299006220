// What every call to Meta's Graph API shares (the Messenger Send API in FacebookSend, the
// Conversations API in MessengerSync, the WhatsApp Cloud API in QueueLedger): reading a Graph error
// out of a response body, telling a request that never reached Meta from one that may have, and
// which Page-token answers mean "too many calls, wait" (docs/graph-errors.md).

export interface GraphError {
	code: number;
	subcode?: number;
	message: string;
	type?: string;
	traceId?: string;
	/** The Cloud API's `error_data.details`: what Meta says went wrong, in words. */
	details?: string;
}

/** The Graph error in a response body, or undefined when the body is not one (e.g. a proxy's HTML page). */
export function graphErrorOf(body: unknown, traceHeader?: unknown): GraphError | undefined {
	if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
	const error = (body as { error: unknown }).error;
	if (typeof error !== 'object' || error === null) return undefined;
	const fields = error as Record<string, unknown>;
	const code = Number(fields.code);
	if (!Number.isInteger(code)) return undefined;
	const subcode = Number(fields.error_subcode);
	const traceId = typeof fields.fbtrace_id === 'string' ? fields.fbtrace_id : typeof traceHeader === 'string' ? traceHeader : undefined;
	const data = fields.error_data;
	const details = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).details : undefined;
	return {
		code,
		...(Number.isInteger(subcode) && { subcode }),
		message: typeof fields.message === 'string' ? fields.message : `Graph error ${code}`,
		...(typeof fields.type === 'string' && { type: fields.type }),
		...(traceId !== undefined && { traceId }),
		...(typeof details === 'string' && details !== '' && { details }),
	};
}

/**
 * The codes a Page's calls (a Page access token: the Send API, the Conversations API) are throttled
 * with: the Platform rate limits (4 the app's, 17 the user's, 32 the Page's with a user token, 613 a
 * custom one) and the Business Use Case rate limits a Page token is held to (80001 the Pages API's,
 * 80006 the Messenger Platform's). Each means "too many calls: wait, then call again"; nothing was
 * done. The WhatsApp Cloud API has limits of its own (QueueLedger's sendResults).
 */
export const PAGE_THROTTLING_CODES: ReadonlySet<number> = new Set([4, 17, 32, 613, 80001, 80006]);

/** Graph throttled a Page-token call: back off and try again. */
export const isPageThrottling = (error: Pick<GraphError, 'code'>): boolean => PAGE_THROTTLING_CODES.has(error.code);

/**
 * Failures that happen before a connection exists: Meta cannot have received the request. Anything
 * else (timeouts, resets, aborted executions) may have happened after it did.
 */
export const NEVER_CONNECTED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_INVALID_URL']);

/** The system error code (ECONNREFUSED, ETIMEDOUT, …) anywhere in the error's cause chain. */
export function networkCodeOf(error: unknown): string | undefined {
	let current: unknown = error;
	for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
		const code = (current as { code?: unknown }).code;
		if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
		current = (current as { cause?: unknown }).cause;
	}
	return undefined;
}
