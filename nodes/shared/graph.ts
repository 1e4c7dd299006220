// What every call to Meta's Graph API shares (the Messenger Send API in FacebookSend, the WhatsApp
// Cloud API in QueueLedger): reading a Graph error out of a response body, and telling a request
// that never reached Meta from one that may have.

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
