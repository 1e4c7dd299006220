// The stack's Supabase URL through a pass-through that answers the database functions whose path
// matches with a given status and body, never reaching the database (PostgREST's 503 while its
// pool is out of connections, a 40001 the function raised…); every other request is forwarded
// unchanged. A workflow's Supabase credential points here to meet a failing Supabase.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testStack } from '../../helpers/stack';

export interface FailingSupabase {
	url: string;
	/** How many requests were answered with the failure. */
	failed(): number;
	/** How many requests reached the functions given, failed or forwarded. */
	calls(): number;
	/** From now on, the next `times` calls fail (then they are forwarded). */
	failNext(times: number): void;
	stop(): Promise<void>;
}

/** PostgREST's answer when it cannot get a connection to the database. */
export const POOL_TIMEOUT = { code: 'PGRST003', message: 'Timed out acquiring connection from connection pool.', details: null, hint: null };

/**
 * `functions`: the database functions to fail (`/rest/v1/rpc/<name>`); `times`: how many calls, then
 * forwarded (0: none until failNext); `after`: how many calls are forwarded before the first fails
 * (a loop's later round failing: queue-run-later-rounds.test.ts).
 */
export async function failingSupabase(functions: string[], status: number, body: unknown, times = Infinity, after = 0): Promise<FailingSupabase> {
	const upstream = new URL(testStack().supabaseUrl);
	const paths = new Set(functions.map((name) => `/rest/v1/rpc/${name}`));
	let failed = 0;
	let calls = 0;
	let left = times;
	let forwardFirst = after;
	const server = createServer((incoming, outgoing) => {
		const matched = paths.has((incoming.url ?? '').split('?')[0]);
		if (matched) calls += 1;
		const spared = matched && forwardFirst > 0;
		if (spared) forwardFirst -= 1;
		if (matched && !spared && left > 0) {
			failed += 1;
			left -= 1;
			incoming.resume();
			outgoing.writeHead(status, { 'content-type': 'application/json' });
			outgoing.end(JSON.stringify(body));
			return;
		}
		const forwarded = request(
			{ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
			(answer) => {
				outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(outgoing);
			},
		);
		forwarded.on('error', (error) => {
			outgoing.writeHead(502);
			outgoing.end(String(error));
		});
		incoming.pipe(forwarded);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		failed: () => failed,
		calls: () => calls,
		failNext: (next) => {
			left = next;
		},
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

/** A webhook's failure answer: `{status, error, hint}` and nothing else, no stack trace, none of `secrets`. */
export function expectFailureAnswer(body: unknown, status: number, secrets: string[]): { error: string; hint: string | null } {
	expect(Object.keys(body as object).sort()).toEqual(['error', 'hint', 'status']);
	expect(body).toMatchObject({ status });
	const text = JSON.stringify(body);
	expect(text).not.toMatch(/\bat \S+\.(js|ts):\d+|\\n\s*at /);
	for (const secret of secrets) expect(text).not.toContain(secret);
	return body as { error: string; hint: string | null };
}
