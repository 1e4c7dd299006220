// A counting pass-through in front of the stack's Supabase URL: the node's credential points here,
// every request is forwarded unchanged, and the test reads how many database round trips a run made.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RpcCounter {
	url: string;
	/** Paths requested so far, e.g. /rest/v1/rpc/automation_begin_send. */
	paths: string[];
	reset(): void;
	stop(): Promise<void>;
}

export async function startRpcCounter(target: string): Promise<RpcCounter> {
	const upstream = new URL(target);
	const paths: string[] = [];
	const server: Server = createServer((incoming: IncomingMessage, outgoing) => {
		paths.push((incoming.url ?? '').split('?')[0]);
		const forwarded = request(
			{
				host: upstream.hostname,
				port: upstream.port,
				method: incoming.method,
				path: incoming.url,
				headers: { ...incoming.headers, host: upstream.host },
			},
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
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		paths,
		reset: () => void paths.splice(0),
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
