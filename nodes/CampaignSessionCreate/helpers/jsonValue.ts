// Checks for free-form JSON the app sends (the objective definitions, an objective's value):
// bounded in size and depth, keys one line of text and strings valid multiline text
// (nodes/shared/valid-input.ts), so nothing Postgres's jsonb refuses (NUL, lone surrogates) reaches
// it: a bad value is reported with its path instead of failing the database call.
import { textProblem } from '../../shared/valid-input';
import type { Problem } from './problems';

export interface JsonLimits {
	maxDepth: number;
	maxKeys: number;
	maxStringLength: number;
}

/** For a campaign's objective definitions and for the value an objective is recorded with. */
export const OBJECTIVE_JSON_LIMITS: JsonLimits = { maxDepth: 6, maxKeys: 100, maxStringLength: 5000 };

/** Appends the problems of `value` (at `path`) to `problems`. */
export function collectJsonProblems(value: unknown, path: string, limits: JsonLimits, problems: Problem[], depth = 0): void {
	if (typeof value === 'string') {
		const problem = textProblem(value, { kind: 'multiline', max: limits.maxStringLength });
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
		const keyProblem = textProblem(key, { kind: 'line', max: 100, min: 1 });
		const elementPath = `${path}.${key}`;
		if (keyProblem) problems.push({ path: `${path}.${JSON.stringify(key)}`, message: `has a key that ${keyProblem}` });
		else collectJsonProblems(element, elementPath, limits, problems, depth + 1);
	}
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
