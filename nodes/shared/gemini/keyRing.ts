// Which Gemini key to use next: round-robin over the credential's keys, skipping keys that rest
// after Google throttled or refused them. Two places keep the turns and the rests:
//   - the database (sharedKeyRing.ts), whenever the node has Supabase: every worker and n8n
//     instance takes its turns from one cursor and sees the rests any of them recorded;
//   - this process (KeyRing below), for a node without Supabase (Generate Follow-Up with Record in
//     Supabase off): module-level state, so it outlasts one batch (n8n keeps node modules loaded
//     between executions, and a key Google throttled a second ago must not be hammered again by the
//     next run), but seen by this process only.
// Keys are known here only by a hash; the key text never enters these maps, the database, a log,
// an output or an error.
import { createHash } from 'node:crypto';
import { NodeOperationError, type INode } from 'n8n-workflow';

export type RestReason = 'throttled' | 'daily_quota' | 'refused';

interface KeyRest {
	until: number;
	reason: RestReason;
}

const restsByKey = new Map<string, KeyRest>();
const cursorsByRing = new Map<string, number>();

export function fingerprint(text: string): string {
	return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * What identifies a key in the database: the hex SHA-256 of 'leadflow:gemini-key:' + key. Unsalted
 * on purpose (supabase/migrations/20261201000610_limits_gemini_keys.sql says why): every worker and
 * instance must compute the same id without a shared secret, and keys are too random to guess.
 */
export function keyIdOf(key: string): string {
	return createHash('sha256').update(`leadflow:gemini-key:${key}`).digest('hex');
}

/**
 * A turn: the key to call with, or why none can be used now: when the first key is back, the one
 * reason for all (`refused` only when every key was refused), and how many of the resting keys were
 * refused (a key to fix even when the others only rest for their quota; undefined when not known: a
 * database from before 20261201002880).
 */
export type KeyTake = ({ ok: true } & KeyChoice) | { ok: false; waitMs: number; reason: RestReason; refusedKeys?: number };

/** Where the turns and rests of a credential's keys are kept (this process, or the database). */
export interface KeyTurns {
	readonly size: number;
	take(): KeyTake | Promise<KeyTake>;
	/** Takes a key out of the turns for `ms`; a longer rest already running is kept. */
	rest(index: number, ms: number, reason: RestReason): void | Promise<void>;
}

export interface KeyChoice {
	key: string;
	/** 0-based position in the credential's list: what logs and outputs may show instead of the key. */
	index: number;
}

export class KeyRing implements KeyTurns {
	private readonly ids: string[];
	private readonly ringId: string;

	constructor(
		private readonly keys: readonly string[],
		private readonly now: () => number = Date.now,
	) {
		this.ids = keys.map(fingerprint);
		this.ringId = fingerprint(this.ids.join(','));
	}

	get size(): number {
		return this.keys.length;
	}

	take(): KeyTake {
		const choice = this.next();
		return choice
			? { ok: true, ...choice }
			: { ok: false, waitMs: this.msUntilAvailable(), reason: this.restReason(), refusedKeys: this.refusedKeys() };
	}

	/** The next key that is not resting, in turn; undefined when every key rests. */
	next(): KeyChoice | undefined {
		const start = cursorsByRing.get(this.ringId) ?? 0;
		const now = this.now();
		for (let step = 0; step < this.keys.length; step++) {
			const index = (start + step) % this.keys.length;
			if (this.restOf(index, now) === undefined) {
				cursorsByRing.set(this.ringId, (index + 1) % this.keys.length);
				return { key: this.keys[index], index };
			}
		}
		return undefined;
	}

	/** Takes a key out of the rotation for `ms`; a longer rest already running is kept. */
	rest(index: number, ms: number, reason: RestReason): void {
		const until = this.now() + Math.max(0, ms);
		const current = restsByKey.get(this.ids[index]);
		if (current && current.until >= until) return;
		restsByKey.set(this.ids[index], { until, reason });
	}

	/** How long until some key can be used again (0 when one can be used now). */
	msUntilAvailable(): number {
		const now = this.now();
		let soonest = Infinity;
		for (let index = 0; index < this.keys.length; index++) {
			const rest = this.restOf(index, now);
			if (rest === undefined) return 0;
			soonest = Math.min(soonest, rest.until - now);
		}
		return soonest;
	}

	/** Why the keys rest right now: `refused` only when every resting key was refused (a bad key list, not a quota). */
	restReason(): RestReason {
		const now = this.now();
		const reasons = this.ids.map((_, index) => this.restOf(index, now)?.reason).filter((reason) => reason !== undefined);
		if (reasons.length > 0 && reasons.every((reason) => reason === 'refused')) return 'refused';
		return reasons.includes('daily_quota') && reasons.every((reason) => reason !== 'throttled') ? 'daily_quota' : 'throttled';
	}

	/** How many of the keys rest right now because Google refused them. */
	refusedKeys(): number {
		const now = this.now();
		return this.ids.filter((_, index) => this.restOf(index, now)?.reason === 'refused').length;
	}

	private restOf(index: number, now: number): KeyRest | undefined {
		const rest = restsByKey.get(this.ids[index]);
		if (!rest) return undefined;
		if (rest.until > now) return rest;
		restsByKey.delete(this.ids[index]);
		return undefined;
	}
}

/**
 * The error of a Gemini credential without a key, the same in every node that calls Gemini: thrown,
 * or with Continue On Fail given to every item (thrown with an error output, n8n would pass the
 * input items on as if they were the node's results).
 */
export function noApiKeyError(node: INode): NodeOperationError {
	return new NodeOperationError(node, 'The Leadflow Gemini API credential has no API key', {
		description: 'Add at least one Gemini API key to the credential, one per line.',
	});
}

/**
 * The most keys a credential may list: the database takes the turns and rests of at most this many
 * (limit_take_gemini_keys, supabase/migrations/20261201000610_limits_gemini_keys.sql), and a node
 * without Supabase keeps to the same limit, so a credential works the same in every node and mode.
 */
export const MAX_API_KEYS = 100;

/**
 * What is wrong with the credential's list of keys, the same in every node that calls Gemini: no
 * key, or more than MAX_API_KEYS. A setup problem: the node fails the run with it (with Continue On
 * Fail, every item fails with it), never falls back.
 */
export function apiKeysProblem(node: INode, keys: readonly string[]): NodeOperationError | undefined {
	if (keys.length === 0) return noApiKeyError(node);
	if (keys.length > MAX_API_KEYS) {
		return new NodeOperationError(node, `The Leadflow Gemini API credential has ${keys.length} API keys, more than the ${MAX_API_KEYS} it may have`, {
			description: `Keep at most ${MAX_API_KEYS} Gemini API keys in the credential, one per line (the turns and rests of its keys are shared through Supabase, which takes at most ${MAX_API_KEYS}); put the others in a second credential for another workflow.`,
		});
	}
	return undefined;
}

/** The credential's keys: one per line (commas too, as keys never contain them), trimmed, without repeats. */
export function parseApiKeys(raw: unknown): string[] {
	const keys = String(raw ?? '')
		.split(/[\r\n,]+/)
		.map((key) => key.trim())
		.filter((key) => key !== '');
	return [...new Set(keys)];
}
