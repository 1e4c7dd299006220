// The turns and rests of a credential's Gemini keys in the database (limit_take_gemini_keys,
// limit_rest_gemini_key; see supabase/migrations/20261201000610_limits_gemini_keys.sql), shared by
// every worker and n8n instance: a key one of them rested is not called by any of them before its
// rest ends, and the round robin continues from where the last turn of any of them ended.
// Each call asks for its turn just before it starts; the calls that start at the same moment (a
// batch's first calls, the next ones when several answers came together) share one database call,
// which also takes as many turns again for the calls about to follow. A spare turn is used only
// within TURN_TTL_MS of being taken (and never for a key this process rested since): another
// worker's rest may come later, so a key rested by one worker is called by no other more than that
// long after the rest was recorded. Keys are known to the database by their id (keyIdOf), never
// by their text.
import type { IExecuteFunctions } from 'n8n-workflow';
import type { RestGeminiKeyArgs, TakeGeminiKeysArgs } from '../contract';
import { callRpc } from '../supabase';
import { keyIdOf, type KeyTake, type KeyTurns, type RestReason } from './keyRing';

interface Waiting {
	resolve: (take: KeyTake) => void;
	reject: (error: unknown) => void;
}

/** How long a turn taken ahead may wait for its call. */
export const TURN_TTL_MS = 50;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * How many turns one database call takes for `callers` calls starting now over `keys` keys: as
 * many again for the calls about to follow, and one more while that count and the number of keys
 * have a common divisor. The shared round robin moves on by every turn taken, used or not, so the
 * first turn of successive takes moves by this count: with 2 keys and one caller at a time, taking
 * 2 would give the first key every call whenever the spare turn expires unused (Gemini answering
 * later than TURN_TTL_MS, as it does); taking 3 alternates them. Coprime with the number of keys,
 * the first turns pass over every key in turn.
 */
export function turnsToTake(callers: number, keys: number): number {
	let count = callers * 2;
	while (gcd(count, keys) !== 1) count += 1;
	return Math.min(1000, count);
}

export class SharedKeyRing implements KeyTurns {
	private readonly ids: string[];
	private waiting: Waiting[] = [];
	/** Turns taken ahead, in turn order: the key's position and when the turn was taken. */
	private spare: Array<{ index: number; takenAt: number }> = [];

	constructor(
		private readonly context: IExecuteFunctions,
		private readonly keys: readonly string[],
	) {
		this.ids = keys.map(keyIdOf);
	}

	get size(): number {
		return this.keys.length;
	}

	take(): Promise<KeyTake> | KeyTake {
		const now = Date.now();
		while (this.spare.length > 0) {
			const turn = this.spare.shift()!;
			if (now - turn.takenAt <= TURN_TTL_MS) return { ok: true, key: this.keys[turn.index], index: turn.index };
		}
		return new Promise<KeyTake>((resolve, reject) => {
			this.waiting.push({ resolve, reject });
			// The first caller of this moment asks for everyone who asks before the next turn of the event loop.
			if (this.waiting.length === 1) setImmediate(() => void this.takeForWaiting());
		});
	}

	async rest(index: number, ms: number, reason: RestReason): Promise<void> {
		this.spare = this.spare.filter((turn) => turn.index !== index);
		const args: RestGeminiKeyArgs = { p_key_id: this.ids[index], p_rest_ms: Math.min(172_800_000, Math.max(1, Math.round(ms))), p_reason: reason };
		await callRpc(this.context, 'limit_rest_gemini_key', args);
	}

	private async takeForWaiting(): Promise<void> {
		const waiting = this.waiting;
		this.waiting = [];
		for (let from = 0; from < waiting.length; from += 500) {
			const part = waiting.slice(from, from + 500);
			try {
				// As many turns again for the calls about to follow (a call that ends starts the next).
				const args: TakeGeminiKeysArgs = { p_key_ids: this.ids, p_count: turnsToTake(part.length, this.keys.length) };
				const [turns] = await callRpc(this.context, 'limit_take_gemini_keys', args);
				const takenAt = Date.now();
				this.spare.push(...turns.key_indexes.slice(part.length).map((index) => ({ index, takenAt })));
				part.forEach((caller, position) => {
					const index = turns.key_indexes[position];
					caller.resolve(
						index === undefined
							? {
									ok: false,
									waitMs: Math.max(0, turns.wait_ms ?? 0),
									reason: turns.rest_reason ?? 'throttled',
									...(typeof turns.refused_keys === 'number' && { refusedKeys: turns.refused_keys }),
								}
							: { ok: true, key: this.keys[index], index },
					);
				});
			} catch (error) {
				for (const caller of part) caller.reject(error);
			}
		}
	}
}
