// Meta signs every webhook delivery: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body,
// keyed with the app secret>`. The HMAC is computed over the bytes as they arrived (never over JSON
// parsed and written again: another spacing or escaping is another signature) and compared in
// constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck =
	| { ok: true }
	/** missing → 401; malformed or wrong → 403. */
	| { ok: false; status: 401 | 403; error: 'missing_signature' | 'invalid_signature'; message: string };

const HEADER = /^sha256=([0-9a-f]{64})$/i;

/** What Meta would send for `body` signed with `appSecret` (also used by the Graph simulator's helper and the tests). */
export function signatureFor(body: Buffer | string, appSecret: string): string {
	return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

export function checkSignature(rawBody: Buffer, header: string | string[] | undefined, appSecret: string): SignatureCheck {
	const value = Array.isArray(header) ? header[0] : header;
	if (value === undefined || value.trim() === '') {
		return { ok: false, status: 401, error: 'missing_signature', message: 'The request has no X-Hub-Signature-256 header: it was not sent by Meta.' };
	}
	const match = HEADER.exec(value.trim());
	const expected = createHmac('sha256', appSecret).update(rawBody).digest();
	// A malformed header is compared too (against a value that cannot match), so the answer takes
	// the same time whatever was sent.
	const given = match ? Buffer.from(match[1], 'hex') : Buffer.alloc(expected.length);
	const equal = timingSafeEqual(given, expected) && match !== null;
	if (equal) return { ok: true };
	return { ok: false, status: 403, error: 'invalid_signature', message: 'The X-Hub-Signature-256 header does not match the body: it was not signed with this app’s secret.' };
}

/** Compares two secrets (e.g. the verify token) in constant time. */
export function sameSecret(given: string, expected: string): boolean {
	const a = createHmac('sha256', 'leadflow').update(given).digest();
	const b = createHmac('sha256', 'leadflow').update(expected).digest();
	return timingSafeEqual(a, b) && expected !== '';
}
