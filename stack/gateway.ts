// The thin API gateway that makes the local stack addressable exactly like a Supabase project:
// `{url}/rest/v1/...` goes to PostgREST with the prefix stripped, and only requests carrying one of
// the project's API keys (`apikey` header or query parameter) get through, as with Supabase's Kong.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface GatewayOptions {
	/** 0: any free port, chosen by the system as it binds (no window for another process to take it). */
	port: number;
	postgrestUrl: string;
	apiKeys: string[];
}

export interface RunningGateway {
	url: string;
	/** The Node server, for a test to observe its connections (test/stack/gateway.test.ts). */
	server: Server;
	stop(): Promise<void>;
}

const REST_PREFIX = '/rest/v1';

function sendJson(res: ServerResponse, status: number, body: unknown) {
	res.writeHead(status, { 'content-type': 'application/json' });
	res.end(JSON.stringify(body));
}

function apiKeyOf(req: IncomingMessage, url: URL): string | undefined {
	const header = req.headers.apikey;
	if (typeof header === 'string' && header) return header;
	return url.searchParams.get('apikey') ?? undefined;
}

export function startGateway(options: GatewayOptions): Promise<RunningGateway> {
	const upstream = new URL(options.postgrestUrl);
	const keys = new Set(options.apiKeys);

	const server: Server = createServer((req, res) => {
		const url = new URL(req.url ?? '/', 'http://gateway');
		if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
		if (url.pathname !== REST_PREFIX && !url.pathname.startsWith(`${REST_PREFIX}/`)) {
			return sendJson(res, 404, { message: 'no Route matched with those values' });
		}
		const apiKey = apiKeyOf(req, url);
		if (!apiKey) {
			return sendJson(res, 401, {
				message: 'No API key found in request',
				hint: 'No `apikey` request header or url param was found.',
			});
		}
		if (!keys.has(apiKey)) {
			return sendJson(res, 401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
		}

		url.searchParams.delete('apikey');
		const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: upstream.host };
		delete headers.apikey;
		if (!headers.authorization) headers.authorization = `Bearer ${apiKey}`;
		// The body is read first, so that a request PostgREST never answered can be sent again: a
		// kept-alive connection PostgREST closes just as the next request goes out on it fails with
		// "socket hang up" before any answer (Node's advice: retry when `reusedSocket` is set).
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			const body = Buffer.concat(chunks);
			const send = (retried: boolean) => {
				const forward = httpRequest(
					{
						hostname: upstream.hostname,
						port: upstream.port,
						method: req.method,
						path: (url.pathname.slice(REST_PREFIX.length) || '/') + url.search,
						headers,
						// The second try on a connection of its own.
						...(retried ? { agent: false } : {}),
					},
					(upstreamRes) => {
						res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
						upstreamRes.pipe(res);
					},
				);
				forward.on('error', (error: NodeJS.ErrnoException) => {
					if (!retried && forward.reusedSocket && !res.headersSent && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) return send(true);
					if (!res.headersSent) sendJson(res, 502, { message: `The Data API is not answering: ${error.message}` });
					else res.destroy(error);
				});
				forward.end(body);
			};
			send(false);
		});
	});
	// An idle kept-alive connection stays open for a minute (nginx-based gateways keep one 60-75 s), not
	// Node's 5 s. fetch (undici) reuses a connection until 2 s before the time the server announces:
	// a client whose event loop was held up longer than that after a call (a loaded test worker
	// compiling modules) sent its next call on a connection this side had closed meanwhile, and the
	// call failed ("fetch failed: other side closed") before anything reached PostgREST.
	server.keepAliveTimeout = 60_000;

	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port, '127.0.0.1', () => {
			const address = server.address();
			const port = typeof address === 'object' && address ? address.port : options.port;
			resolve({
				url: `http://127.0.0.1:${port}`,
				server,
				stop: () =>
					new Promise<void>((done) => {
						server.close(() => done());
						server.closeAllConnections();
					}),
			});
		});
	});
}
