// HS256 JSON Web Tokens, the kind Supabase signs its API keys and user sessions with.
// node:crypto does this in a few lines; a JWT library would add a dependency (and, for the well-kept
// ones, an ESM-only module that jest's CommonJS runtime cannot load) for no gain here.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type JwtClaims = Record<string, unknown>;

const base64url = (input: Buffer | string) => Buffer.from(input).toString('base64url');

export function signJwt(claims: JwtClaims, secret: string): string {
	const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
	const payload = base64url(JSON.stringify(claims));
	const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
	return `${header}.${payload}.${signature}`;
}

/** Returns the claims when the token is signed with `secret` and not expired, otherwise undefined. */
export function verifyJwt(token: string, secret: string): JwtClaims | undefined {
	const parts = token.split('.');
	if (parts.length !== 3) return undefined;
	const [header, payload, signature] = parts;
	const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
	const given = Buffer.from(signature, 'base64url');
	if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
	try {
		const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as JwtClaims;
		if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) return undefined;
		return claims;
	} catch {
		return undefined;
	}
}

const TEN_YEARS_S = 10 * 365 * 24 * 3600;

/** The `anon` and `service_role` API keys of a project, as Supabase issues them. */
export function projectKeys(secret: string, nowSeconds = Math.floor(Date.now() / 1000)) {
	const base = { iss: 'supabase', ref: 'leadflow-local', iat: nowSeconds, exp: nowSeconds + TEN_YEARS_S };
	return {
		anonKey: signJwt({ ...base, role: 'anon' }, secret),
		serviceRoleKey: signJwt({ ...base, role: 'service_role' }, secret),
	};
}

/** A signed-in user's access token: what `auth.uid()` and RLS policies see. */
export function userJwt(userId: string, secret: string, extraClaims: JwtClaims = {}): string {
	const now = Math.floor(Date.now() / 1000);
	return signJwt(
		{ iss: 'supabase', aud: 'authenticated', role: 'authenticated', sub: userId, iat: now, exp: now + 3600, ...extraClaims },
		secret,
	);
}
