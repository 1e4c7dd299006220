// Gemini keys' turns and rests in the database (limit_take_gemini_keys, limit_rest_gemini_key):
// one round robin per list of keys whoever takes the turns, a rested key skipped by everyone until
// its rest ends, why every key rests when they all do, keys known only by their hash, and bad input
// refused naming its argument with nothing written. Judged at fixed instants (p_now).
import { createHash, randomUUID } from 'node:crypto';
import { createTestUser, serviceClient, userClient, withDb } from '../../helpers/stack';
import { keyIdOf } from '../../../nodes/shared/gemini/keyRing';

const NOW = new Date('2026-12-02T10:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
/** A credential's worth of fresh keys, as ids. */
const freshIds = (count: number) => Array.from({ length: count }, () => keyIdOf(`AIza-test-${randomUUID()}`));

interface Turns {
	key_indexes: number[];
	wait_ms: number | null;
	rest_reason: string | null;
	refused_keys: number | null;
}

async function take(ids: string[], count: number, nowMs = 0): Promise<Turns> {
	const { data, error } = await serviceClient().rpc('limit_take_gemini_keys', { p_key_ids: ids, p_count: count, p_now: at(nowMs) });
	if (error) throw new Error(error.message);
	return (data as Turns[])[0];
}

async function rest(id: string, ms: number, reason: string, nowMs = 0) {
	const { data, error } = await serviceClient().rpc('limit_rest_gemini_key', { p_key_id: id, p_rest_ms: ms, p_reason: reason, p_now: at(nowMs) });
	if (error) throw new Error(error.message);
	return (data as Array<{ rested_until: string; rest_reason: string }>)[0];
}

describe('limit_take_gemini_keys', () => {
	it('takes the keys in turn, continuing where the last taker stopped, whoever it was', async () => {
		const ids = freshIds(3);
		expect(await take(ids, 4)).toEqual({ key_indexes: [0, 1, 2, 0], wait_ms: null, rest_reason: null, refused_keys: null });
		// Another worker (another connection) goes on from key 2, not from key 1 again.
		expect((await take(ids, 1)).key_indexes).toEqual([1]);
		const together = await Promise.all([take(ids, 2), take(ids, 2), take(ids, 2)]);
		const counts = [0, 0, 0];
		for (const index of together.flatMap((turns) => turns.key_indexes)) counts[index] += 1;
		expect(counts).toEqual([2, 2, 2]);
	});

	it('a rested key gets no turn from anyone until its rest ends, then its turns come back', async () => {
		const ids = freshIds(3);
		await rest(ids[1], 5000, 'throttled');
		expect((await take(ids, 4, 10)).key_indexes).toEqual([0, 2, 0, 2]);
		expect((await take(ids, 2, 4999)).key_indexes).toEqual([0, 2]);
		expect((await take(ids, 3, 5000)).key_indexes).toEqual([0, 1, 2]);
	});

	it('when every key rests: no turn, how long until the first is back, and why', async () => {
		const ids = freshIds(2);
		await rest(ids[0], 2000, 'throttled');
		await rest(ids[1], 9000, 'daily_quota');
		expect(await take(ids, 3, 500)).toEqual({ key_indexes: [], wait_ms: 1500, rest_reason: 'throttled', refused_keys: 0 });
		// The throttled key is back when its rest ends; the other still rests for its daily quota.
		expect((await take(ids, 1, 2000)).key_indexes).toEqual([0]);
		await rest(ids[0], 9000, 'daily_quota', 2000);
		expect(await take(ids, 1, 2000)).toMatchObject({ key_indexes: [], rest_reason: 'daily_quota' });
		const refused = freshIds(2);
		await rest(refused[0], 900_000, 'refused');
		await rest(refused[1], 900_000, 'refused');
		expect(await take(refused, 1)).toMatchObject({ key_indexes: [], wait_ms: 900_000, rest_reason: 'refused', refused_keys: 2 });
	});

	it('when every key rests, some refused and some throttled: how many were refused (the owner must fix those)', async () => {
		const ids = freshIds(3);
		await rest(ids[0], 900_000, 'refused');
		await rest(ids[1], 45_000, 'throttled');
		await rest(ids[2], 60_000, 'daily_quota');
		// Before 20261201002880 the answer said only 'throttled': nothing told a key was refused.
		expect(await take(ids, 1)).toEqual({ key_indexes: [], wait_ms: 45_000, rest_reason: 'throttled', refused_keys: 1 });
		// A refused key's rest is counted only while it runs (and only for this list's keys).
		expect(await take(ids, 1, 900_000)).toMatchObject({ key_indexes: [0] });
	});

	it('a rest is the key\'s, whatever list it is in; a shorter rest does not shorten a longer one', async () => {
		const [shared, other] = freshIds(2);
		const third = freshIds(1)[0];
		expect(await rest(shared, 60_000, 'daily_quota')).toMatchObject({ rest_reason: 'daily_quota' });
		expect(await rest(shared, 1_000, 'throttled')).toMatchObject({ rest_reason: 'daily_quota' });
		expect((await take([other, shared, third], 3, 30_000)).key_indexes).toEqual([0, 2, 0]);
		const { rows } = await withDb((db) => db.query('select rests from leadflow_private.limit_gemini_keys where key_id = $1', [shared]));
		expect(rows).toEqual([{ rests: '2' }]);
	});

	it('keys are never stored: the tables hold only the ids the node sends, and an id is the SHA-256 of the prefixed key', async () => {
		const key = `AIza-test-${randomUUID()}`;
		expect(keyIdOf(key)).toBe(createHash('sha256').update(`leadflow:gemini-key:${key}`).digest('hex'));
		await rest(keyIdOf(key), 1000, 'throttled');
		const { rows } = await withDb((db) =>
			db.query(`select count(*)::int as n from leadflow_private.limit_gemini_keys g where g::text like '%' || $1 || '%'`, [key]),
		);
		expect(rows).toEqual([{ n: 0 }]);
	});
});

describe('bad input is refused naming the argument, and nothing is written', () => {
	it.each([
		['a key itself instead of its id', () => ({ p_key_ids: ['AIzaSyA-not-a-hash'] }), 'p_key_ids[0] must be a key id: 64 lowercase hex digits, the SHA-256 of the key (never the key itself)'],
		['no keys', () => ({ p_key_ids: [] }), 'p_key_ids must list 1 to 100 key ids (got 0)'],
		['a key twice', () => { const [a, b] = freshIds(2); return { p_key_ids: [a, b, a] }; }, 'p_key_ids[0] is listed twice'],
		['no turns', () => ({ p_key_ids: freshIds(1), p_count: 0 }), 'p_count must be between 1 and 1000 turns (got 0)'],
	])('limit_take_gemini_keys: %s', async (_what, args, message) => {
		const { error } = await serviceClient().rpc('limit_take_gemini_keys', { p_count: 1, ...args() });
		expect(error).toMatchObject({ code: '22023', message });
	});

	it.each([
		['a key itself', { p_key_id: 'AIzaSyA-not-a-hash' }, 'p_key_id must be a key id: 64 lowercase hex digits, the SHA-256 of the key (never the key itself)'],
		['a rest of 0 ms', { p_rest_ms: 0 }, 'p_rest_ms must be between 1 and 172800000 milliseconds (got 0)'],
		['an unknown reason', { p_reason: 'tired' }, 'p_reason must be throttled, daily_quota or refused (got tired)'],
	])('limit_rest_gemini_key: %s', async (_what, override, message) => {
		const id = freshIds(1)[0];
		const { error } = await serviceClient().rpc('limit_rest_gemini_key', { p_key_id: id, p_rest_ms: 1000, p_reason: 'throttled', ...override });
		expect(error).toMatchObject({ code: '22023', message });
		const { rows } = await withDb((db) => db.query('select 1 from leadflow_private.limit_gemini_keys where key_id = $1', [id]));
		expect(rows).toEqual([]);
	});

	it('a signed-in user may not take turns or rest keys', async () => {
		const user = await createTestUser('limits');
		const { error } = await userClient(user).rpc('limit_rest_gemini_key', { p_key_id: freshIds(1)[0], p_rest_ms: 1000, p_reason: 'throttled' });
		expect(error?.code).toBe('42501');
	});
});
