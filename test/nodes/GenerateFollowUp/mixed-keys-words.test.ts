// The words of a quota failure when some keys were refused and the others rest for their quota (review
// RMMD1 F1): the resting keys' reason is one word for all of them, so "throttled" must not be said of a
// key out of its daily quota, and the earliest rest may be a refused key's, which is not "usable" then.
// Every key rests, so no call leaves the process (the base URL is never reached).
import { randomUUID } from 'node:crypto';
import { callGemini, type CallContext } from '../../../nodes/shared/gemini/call';
import { KeyRing } from '../../../nodes/shared/gemini/keyRing';

const policy = { maxRetries: 0, retryBaseMs: 1, keyRestMs: 1000, maxQuotaWaitMs: 10 };
const request = { model: 'gemini-3-flash', systemInstruction: 's', contents: [] } as never;
const HOUR = 3_600_000;
// A key's rest is kept by the key in the whole process (every ring of it shares it): new keys for each case.
const keys = (n: number) => Array.from({ length: n }, () => `key-${randomUUID()}`);

async function failure(ring: KeyRing) {
	const context: CallContext = { ring, baseUrl: 'http://127.0.0.1:9', policy, redact: (text) => text };
	const result = await callGemini(request, context, () => ({ ok: true, value: 1 }));
	if (result.ok) throw new Error('expected a failure: every key rests');
	return result;
}

describe('a quota failure with refused keys among resting ones', () => {
	it('a refused key and a key out of its daily quota: the daily quota is named, the time is when a key is tried again', async () => {
		const ring = new KeyRing(keys(2));
		ring.rest(0, 900_000, 'refused');
		ring.rest(1, 10 * HOUR, 'daily_quota');
		const result = await failure(ring);
		expect(result.code).toBe('quota');
		expect(result.message).toMatch(/^1 of the credential's 2 Gemini keys was refused by Google.*; the other 1 has reached its daily quota \(it resets at midnight Pacific time\); a key is tried again in about 900 s\.$/);
		expect(result.message).not.toMatch(/usable/);
	});

	it('a refused key, a throttled key and a key out of its daily quota: the two others rest for their quota, not "are throttled"', async () => {
		const ring = new KeyRing(keys(3));
		ring.rest(0, 900_000, 'refused');
		ring.rest(1, 45_000, 'throttled');
		ring.rest(2, 10 * HOUR, 'daily_quota');
		const result = await failure(ring);
		expect(result.code).toBe('quota');
		expect(result.message).toMatch(/; the other 2 rest for their quota \(429\); a key is tried again in about 4[0-5] s\.$/);
		expect(result.message).not.toMatch(/throttled/);
	});
});
