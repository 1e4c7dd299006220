// Graph API error bodies: `{error: {message, type, code, error_subcode?, fbtrace_id}}`. Messages and
// subcodes follow Meta's Messenger error-code list; HTTP statuses are what Graph is seen to use
// (400 for nearly everything, 403 for permission codes 200–299, 500 for the "unknown/temporary"
// codes 1 and 2). A sender should classify by `code`/`error_subcode`, never by HTTP status alone.
import { randomBytes } from 'node:crypto';
import type { Answer } from './engine';

export interface GraphErrorInput {
	code: number;
	subcode?: number;
	message?: string;
	type?: string;
	status?: number;
}

const MESSAGES: Record<string, string> = {
	'1': 'An unknown error occurred.',
	'2': 'An unexpected error has occurred. Please retry your request later.',
	'4': '(#4) Application request limit reached',
	'10': '(#10) Application does not have permission for this action',
	'10/2018278': '(#10) This message is sent outside of allowed window.',
	'17': '(#17) User request limit reached',
	'32': '(#32) Page request limit reached',
	'100': '(#100) Invalid parameter',
	'100/2018001': '(#100) No matching user found',
	'104': 'An access token is required to request this resource.',
	'190': 'Error validating access token: Session has expired.',
	'200': '(#200) Permissions error',
	'230': '(#230) Requires pages_messaging permission to manage the object',
	'551': '(#551) This person isn\'t available right now.',
	'551/1545041': '(#551) This person isn\'t available right now.',
	'613': '(#613) Calls to this api have exceeded the rate limit.',
	// Business Use Case rate limits (Meta's rate-limiting page): 80001 as Meta's sample words it;
	// 80006's wording is the simulator's own.
	'80001': '(#80001) There have been too many calls to this Page account. Wait a bit and try again.',
	'80006': '(#80006) There have been too many Messenger calls for this Page. Wait a bit and try again.',
};

export function graphHttpStatus(code: number): number {
	if (code === 1 || code === 2) return 500;
	if (code >= 200 && code < 300) return 403;
	return 400;
}

export function defaultGraphMessage(code: number, subcode?: number): string {
	return (subcode !== undefined && MESSAGES[`${code}/${subcode}`]) || MESSAGES[String(code)] || `(#${code}) Simulated Graph error`;
}

/** Like Graph's: short, opaque, different for every error. */
const traceId = () => randomBytes(8).toString('base64').replace(/=+$/, '');

export function graphError(input: GraphErrorInput): Answer {
	const fbtraceId = traceId();
	return {
		status: input.status ?? graphHttpStatus(input.code),
		headers: { 'x-fb-trace-id': fbtraceId },
		body: {
			error: {
				message: input.message ?? defaultGraphMessage(input.code, input.subcode),
				type: input.type ?? 'OAuthException',
				code: input.code,
				...(input.subcode !== undefined && { error_subcode: input.subcode }),
				fbtrace_id: fbtraceId,
			},
		},
	};
}

/** `code: 100` parameter errors are GraphMethodException or OAuthException depending on the check. */
export const invalidParameter = (message: string, subcode?: number): Answer =>
	graphError({ code: 100, message, ...(subcode !== undefined && { subcode }) });

export const invalidToken = (): Answer => graphError({ code: 190, message: 'Invalid OAuth access token - Cannot parse access token' });

export const missingToken = (): Answer => graphError({ code: 104 });

export const invalidAppSecretProof = (): Answer =>
	graphError({ code: 100, type: 'GraphMethodException', message: 'Invalid appsecret_proof provided in the API argument' });

export const missingAppSecretProof = (): Answer =>
	graphError({ code: 100, type: 'GraphMethodException', message: 'API calls from the server require an appsecret_proof argument' });

/** What Graph answers for an object the token cannot reach (e.g. another Page's id). */
export const unsupportedObject = (method: string, objectId: string): Answer =>
	graphError({
		code: 100,
		subcode: 33,
		type: 'GraphMethodException',
		message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
	});

export const unknownPath = (path: string): Answer => graphError({ code: 2500, message: `Unknown path components: ${path}` });

/** An `http` fault on Graph: the Graph error that fits the status. */
export function graphErrorForStatus(status: number, message?: string): Answer {
	if (status === 429) return graphError({ code: 4, status, ...(message !== undefined && { message }) });
	if (status >= 500) return graphError({ code: 2, status, ...(message !== undefined && { message }) });
	if (status === 401) return graphError({ code: 190, status, ...(message !== undefined && { message }) });
	if (status === 403) return graphError({ code: 200, status, ...(message !== undefined && { message }) });
	return graphError({ code: 100, status, ...(message !== undefined && { message }) });
}
