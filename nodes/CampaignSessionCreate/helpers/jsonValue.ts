// Checks for free-form JSON the app sends (the objective definitions): bounded in size and depth,
// and free of strings Postgres's jsonb refuses (NUL, lone surrogates), so a bad value is reported
// with its path instead of failing the database call.
import type { Problem } from './problems';
import { textProblem } from './text';

export interface JsonLimits {
	maxDepth: number;
	maxKeys: number;
	maxStringLength: number;
}

/** Appends the problems of `value` (at `path`) to `problems`. */
export function collectJsonProblems(value: unknown, path: string, limits: JsonLimits, problems: Problem[], depth = 0): void {
	if (typeof value === 'string') {
		const problem = textProblem(value, { max: limits.maxStringLength, multiline: true });
		if (problem) problems.push({ path, message: problem });
		return;
	}
	if (value === null || typeof value !== 'object') return;
	if (depth >= limits.maxDepth) {
		problems.push({ path, message: `is nested too deeply (at most ${limits.maxDepth} levels)` });
		return;
	}
	if (Array.isArray(value)) {
		if (value.length > limits.maxKeys) problems.push({ path, message: `has ${value.length} elements, at most ${limits.maxKeys}` });
		else value.forEach((element, index) => collectJsonProblems(element, `${path}[${index}]`, limits, problems, depth + 1));
		return;
	}
	const entries = Object.entries(value);
	if (entries.length > limits.maxKeys) {
		problems.push({ path, message: `has ${entries.length} keys, at most ${limits.maxKeys}` });
		return;
	}
	for (const [key, element] of entries) {
		const keyProblem = textProblem(key, { max: 100, min: 1 });
		const elementPath = `${path}.${key}`;
		if (keyProblem) problems.push({ path: `${path}.${JSON.stringify(key)}`, message: `has a key that ${keyProblem}` });
		else collectJsonProblems(element, elementPath, limits, problems, depth + 1);
	}
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
