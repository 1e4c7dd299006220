// A problem with a request: where it is (`tasks[3].phone_number`) and what is wrong, in words a
// caller can act on. Requests the node cannot serve leave on the "Invalid" output as one item
// carrying the HTTP status a webhook should answer with and every problem found.
import type { IDataObject } from 'n8n-workflow';

export interface Problem {
	path: string;
	message: string;
}

/** Enough to fix a request; a 100,000-task request with every phone wrong still answers quickly. */
export const MAX_REPORTED_PROBLEMS = 1000;

export interface InvalidRequest extends IDataObject {
	status_code: number;
	message: string;
	problem_count: number;
	problems: IDataObject[];
}

export function invalidRequest(statusCode: number, problems: Problem[]): InvalidRequest {
	const shown = problems.slice(0, MAX_REPORTED_PROBLEMS);
	const count = problems.length;
	const more = count > shown.length ? ` (the first ${shown.length} are listed)` : '';
	return {
		status_code: statusCode,
		message: count === 1 ? `The request has 1 problem${more}` : `The request has ${count} problems${more}`,
		problem_count: count,
		problems: shown.map((problem) => ({ path: problem.path, message: problem.message })),
	};
}

/** A short, safe rendering of a received value for a problem message. */
export { shown } from '../../shared/valid-input';

export function typeName(value: unknown): string {
	// Not "a undefined": a value that is not there.
	if (value === undefined) return 'nothing';
	if (value === null) return 'null';
	if (Array.isArray(value)) return 'an array';
	return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
