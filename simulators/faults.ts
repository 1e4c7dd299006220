// Fault rules: which requests they match, when they fire (always, the next N, or at a seeded rate so
// that a "10 % of sends fail" test gives the same failures on every run), and input validation.
import type { FaultEffect, FaultMatch, FaultRule, FaultTrigger, SimulatedService } from './protocol';
import { isRecord } from './http';

/** What a request looks like to fault matching. */
export interface RequestFacts {
	method: string;
	path: string;
	key?: string;
	recipient?: string;
	model?: string;
	/** The query string's parameters. */
	params?: URLSearchParams;
	/** Gemini: the prompt's text (promptTranscript) of a generateContent request; read only when a rule matches on it. */
	prompt?: () => string;
}

/** mulberry32: tiny, fast and good enough to make rate-triggered faults repeatable. */
function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const effectsByService: Record<SimulatedService, ReadonlySet<FaultEffect['kind']>> = {
	gemini: new Set(['http', 'blocked', 'finishReason', 'text', 'timeout', 'hold']),
	graph: new Set(['http', 'graphError', 'answer', 'timeout', 'hold']),
};

export class FaultRules {
	private rules: FaultRule[] = [];
	private randoms = new Map<string, () => number>();
	private nextId = 1;

	constructor(private readonly service: SimulatedService) {}

	list(): FaultRule[] {
		return this.rules.map((rule) => ({ ...rule }));
	}

	add(input: unknown): FaultRule {
		const rule = this.validate(input);
		this.rules.push(rule);
		if (rule.trigger.mode === 'rate') this.randoms.set(rule.id, seededRandom(rule.trigger.seed ?? 1));
		return { ...rule };
	}

	remove(id: string): boolean {
		const before = this.rules.length;
		this.rules = this.rules.filter((rule) => rule.id !== id);
		this.randoms.delete(id);
		return this.rules.length < before;
	}

	clear(): void {
		this.rules = [];
		this.randoms.clear();
	}

	/** The first rule that matches and fires for this request, counting the firing; else undefined. */
	fire(facts: RequestFacts): FaultRule | undefined {
		// Most requests in a benchmark meet no rule at all: keep that path allocation-free.
		if (this.rules.length === 0) return undefined;
		for (const rule of this.rules) {
			if (!matches(rule.match, facts) || !this.triggers(rule)) continue;
			rule.hits += 1;
			return rule;
		}
		return undefined;
	}

	private triggers(rule: FaultRule): boolean {
		const trigger = rule.trigger;
		if (trigger.mode === 'always') return true;
		if (trigger.mode === 'count') {
			if (!rule.remaining) return false;
			rule.remaining -= 1;
			return true;
		}
		const random = this.randoms.get(rule.id);
		return random !== undefined && random() < trigger.probability;
	}

	private validate(input: unknown): FaultRule {
		if (!isRecord(input)) throw new FaultInputError('a fault rule is an object: {match?, trigger?, effect}');
		const match = validateMatch(input.match);
		const trigger = validateTrigger(input.trigger);
		const effect = validateEffect(input.effect);
		if (!effectsByService[this.service].has(effect.kind)) {
			throw new FaultInputError(`effect "${effect.kind}" does not exist on the ${this.service} simulator`);
		}
		const id = `fault-${this.nextId++}`;
		return { id, match, trigger, effect, hits: 0, ...(trigger.mode === 'count' ? { remaining: trigger.count } : {}) };
	}
}

export class FaultInputError extends Error {}

function matches(match: FaultMatch, facts: RequestFacts): boolean {
	if (match.key !== undefined && match.key !== facts.key) return false;
	if (match.recipient !== undefined && match.recipient !== facts.recipient) return false;
	if (match.model !== undefined && match.model !== facts.model) return false;
	if (match.prompt !== undefined && !(facts.prompt?.() ?? '').includes(match.prompt)) return false;
	if (match.method !== undefined && match.method.toUpperCase() !== facts.method) return false;
	if (match.path !== undefined && !facts.path.includes(match.path)) return false;
	if (match.param !== undefined && !(facts.params?.has(match.param) ?? false)) return false;
	return true;
}

function optionalString(value: unknown, name: string): string | undefined {
	if (value === undefined) return undefined;
	if (typeof value !== 'string') throw new FaultInputError(`${name} must be a string`);
	return value;
}

function optionalNumber(value: unknown, name: string): number | undefined {
	if (value === undefined) return undefined;
	if (typeof value !== 'number' || !Number.isFinite(value)) throw new FaultInputError(`${name} must be a number`);
	return value;
}

function validateMatch(value: unknown): FaultMatch {
	if (value === undefined) return {};
	if (!isRecord(value)) throw new FaultInputError('match must be an object');
	const match: FaultMatch = {};
	for (const field of ['key', 'recipient', 'model', 'prompt', 'path', 'method', 'param'] as const) {
		const text = optionalString(value[field], `match.${field}`);
		if (text !== undefined) match[field] = text;
	}
	return match;
}

function validateTrigger(value: unknown): FaultTrigger {
	if (value === undefined) return { mode: 'always' };
	if (!isRecord(value)) throw new FaultInputError('trigger must be an object');
	if (value.mode === 'always') return { mode: 'always' };
	if (value.mode === 'count') {
		const count = optionalNumber(value.count, 'trigger.count');
		if (count === undefined || !Number.isInteger(count) || count < 1) throw new FaultInputError('trigger.count must be a whole number ≥ 1');
		return { mode: 'count', count };
	}
	if (value.mode === 'rate') {
		const probability = optionalNumber(value.probability, 'trigger.probability');
		if (probability === undefined || probability < 0 || probability > 1) throw new FaultInputError('trigger.probability must be between 0 and 1');
		const seed = optionalNumber(value.seed, 'trigger.seed');
		return seed === undefined ? { mode: 'rate', probability } : { mode: 'rate', probability, seed };
	}
	throw new FaultInputError('trigger.mode must be always, count or rate');
}

function validateEffect(value: unknown): FaultEffect {
	if (!isRecord(value)) throw new FaultInputError('effect must be an object with a kind');
	switch (value.kind) {
		case 'http': {
			const status = optionalNumber(value.status, 'effect.status');
			if (status === undefined || !Number.isInteger(status) || status < 400 || status > 599) {
				throw new FaultInputError('effect.status must be an HTTP error status (400–599)');
			}
			const message = optionalString(value.message, 'effect.message');
			const retryDelaySeconds = optionalNumber(value.retryDelaySeconds, 'effect.retryDelaySeconds');
			return { kind: 'http', status, ...(message !== undefined && { message }), ...(retryDelaySeconds !== undefined && { retryDelaySeconds }) };
		}
		case 'graphError': {
			const code = optionalNumber(value.code, 'effect.code');
			if (code === undefined || !Number.isInteger(code)) throw new FaultInputError('effect.code must be a Graph error code');
			const subcode = optionalNumber(value.subcode, 'effect.subcode');
			const status = optionalNumber(value.status, 'effect.status');
			const message = optionalString(value.message, 'effect.message');
			const type = optionalString(value.type, 'effect.type');
			const details = optionalString(value.details, 'effect.details');
			return {
				kind: 'graphError',
				code,
				...(subcode !== undefined && { subcode }),
				...(status !== undefined && { status }),
				...(message !== undefined && { message }),
				...(type !== undefined && { type }),
				...(details !== undefined && { details }),
			};
		}
		case 'answer': {
			const status = optionalNumber(value.status, 'effect.status');
			if (status !== undefined && (!Number.isInteger(status) || status < 200 || status > 299)) {
				throw new FaultInputError('effect.status of an answer must be a success status (200–299)');
			}
			if (value.body === undefined) throw new FaultInputError('effect.body is required: the answer’s body');
			return { kind: 'answer', body: value.body, ...(status !== undefined && { status }) };
		}
		case 'blocked': {
			const blockReason = optionalString(value.blockReason, 'effect.blockReason');
			return { kind: 'blocked', blockReason: blockReason ?? 'SAFETY' };
		}
		case 'finishReason': {
			const finishReason = optionalString(value.finishReason, 'effect.finishReason');
			if (!finishReason) throw new FaultInputError('effect.finishReason is required (e.g. SAFETY, MAX_TOKENS)');
			return { kind: 'finishReason', finishReason };
		}
		case 'text': {
			const text = optionalString(value.text, 'effect.text');
			if (text === undefined) throw new FaultInputError('effect.text is required: the reply text the candidate holds');
			return { kind: 'text', text };
		}
		case 'timeout': {
			const holdMs = optionalNumber(value.holdMs, 'effect.holdMs');
			return holdMs === undefined ? { kind: 'timeout' } : { kind: 'timeout', holdMs };
		}
		case 'hold':
			return { kind: 'hold' };
		default:
			throw new FaultInputError('effect.kind must be http, graphError, answer, blocked, finishReason, text, timeout or hold');
	}
}
