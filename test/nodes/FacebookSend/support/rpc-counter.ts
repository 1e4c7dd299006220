// A counting pass-through in front of the stack's Supabase URL: the node's credential points here,
// every request is forwarded unchanged, and the test reads how many database round trips a run made
// (and bench/pipeline.ts how long each took, until its answer ended). It can also stand in for a
// gateway that fails: the next calls of one path answered 503 without reaching the database, or
// forwarded and then answered 504 (the database did the work, the answer was lost on the way).
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RpcCounter {
	url: string;
	/** Paths requested so far, e.g. /rest/v1/rpc/automation_begin_send. */
	paths: string[];
	/** The requests received so far, in order, with their bodies (those answered 503 too). */
	requests: Array<{ path: string; body: string }>;
	/** The round trips that have ended: path and milliseconds from request to the answer's end. */
	trips: Array<{ path: string; ms: number }>;
	/** The most requests whose path ends with `pathEnd` that were in flight at one moment (received, their answer not yet ended). */
	peakInFlight(pathEnd: string): number;
	/**
	 * The next `times` requests whose path ends with `pathEnd` are answered 503 (not forwarded: the
	 * database never sees them); with `after`, the first `after` such requests are forwarded first.
	 */
	failNext(pathEnd: string, times: number, options?: { after?: number }): void;
	/** The next `times` requests whose path ends with `pathEnd` reach the database (which commits them), then the caller gets a 504 instead of the answer. */
	loseNextAnswers(pathEnd: string, times: number): void;
	reset(): void;
	stop(): Promise<void>;
}

/** `headers`: added to every forwarded request (e.g. a test stack's X-Leadflow-Now, which a node never sends). */
export async function startRpcCounter(target: string, options: { headers?: Record<string, string> } = {}): Promise<RpcCounter> {
	const upstream = new URL(target);
	const paths: string[] = [];
	const requests: RpcCounter['requests'] = [];
	const trips: RpcCounter['trips'] = [];
	const failures = new Map<string, { times: number; after: number }>();
	const losses = new Map<string, number>();
	// Each request's path while it is in flight; the peaks by path.
	const inFlight = new Map<number, string>();
	const peaks = new Map<string, number>();
	let nextRequest = 0;
	const server: Server = createServer((incoming: IncomingMessage, outgoing) => {
		const started = performance.now();
		const path = (incoming.url ?? '').split('?')[0];
		paths.push(path);
		const requestNumber = nextRequest++;
		inFlight.set(requestNumber, path);
		peaks.set(path, Math.max(peaks.get(path) ?? 0, [...inFlight.values()].filter((other) => other === path).length));
		outgoing.on('close', () => inFlight.delete(requestNumber));
		const received = { path, body: '' };
		requests.push(received);
		const chunks: Buffer[] = [];
		incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
		incoming.on('end', () => (received.body = Buffer.concat(chunks).toString('utf8')));
		const failing = [...failures.keys()].find((end) => path.endsWith(end) && failures.get(end)!.times > 0);
		const failure = failing === undefined ? undefined : failures.get(failing)!;
		if (failure && failure.after > 0) failure.after -= 1;
		else if (failure) {
			failure.times -= 1;
			incoming.resume();
			outgoing.writeHead(503, { 'content-type': 'application/json' });
			outgoing.end(JSON.stringify({ message: 'upstream connect error: the pooler is restarting' }));
			return;
		}
		const losing = [...losses.keys()].find((end) => path.endsWith(end) && losses.get(end)! > 0);
		if (losing !== undefined) losses.set(losing, losses.get(losing)! - 1);
		const forwarded = request(
			{
				host: upstream.hostname,
				port: upstream.port,
				method: incoming.method,
				path: incoming.url,
				headers: { ...incoming.headers, ...options.headers, host: upstream.host },
			},
			(answer) => {
				if (losing !== undefined) {
					// Read to its end (the function has committed by then), then lost.
					answer.resume();
					answer.on('end', () => {
						outgoing.writeHead(504, { 'content-type': 'application/json' });
						outgoing.end(JSON.stringify({ message: 'The upstream server is timing out' }));
					});
					return;
				}
				outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(outgoing);
				answer.on('end', () => trips.push({ path, ms: performance.now() - started }));
			},
		);
		forwarded.on('error', (error) => {
			outgoing.writeHead(502);
			outgoing.end(String(error));
		});
		incoming.pipe(forwarded);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		paths,
		requests,
		trips,
		peakInFlight: (pathEnd) => Math.max(0, ...[...peaks].filter(([path]) => path.endsWith(pathEnd)).map(([, peak]) => peak)),
		failNext: (pathEnd, times, options = {}) => {
			failures.set(pathEnd, { times, after: options.after ?? 0 });
		},
		loseNextAnswers: (pathEnd, times) => {
			losses.set(pathEnd, times);
		},
		reset: () => {
			paths.splice(0);
			requests.splice(0);
			trips.splice(0);
			peaks.clear();
			failures.clear();
			losses.clear();
		},
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
