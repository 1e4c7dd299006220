// The stack's gateway in front of an upstream that closes a kept-alive connection as the next
// request arrives on it, as PostgREST may when a connection has been idle: the request is sent
// again on a connection of its own, body and all, and the client never sees the hang-up.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type RunningGateway } from '../../stack/gateway';
import { freePort } from '../../stack/ports';

const KEY = 'test-key';
let upstream: Server;
let gateway: RunningGateway;
const received: Array<{ body: string; socketRequest: number }> = [];

function readBody(req: IncomingMessage): Promise<string> {
	return new Promise((resolve) => {
		let body = '';
		req.on('data', (chunk: Buffer) => (body += chunk.toString()));
		req.on('end', () => resolve(body));
	});
}

beforeAll(async () => {
	const served = new WeakMap<object, number>();
	upstream = createServer(async (req, res) => {
		const socketRequest = (served.get(req.socket) ?? 0) + 1;
		served.set(req.socket, socketRequest);
		const body = await readBody(req);
		received.push({ body, socketRequest });
		// Every connection answers once; a second request on it is dropped unanswered.
		if (socketRequest > 1) {
			req.socket.destroy();
			return;
		}
		res.writeHead(200, { 'content-type': 'application/json' });
		res.end(JSON.stringify({ echoed: body }));
	});
	upstream.keepAliveTimeout = 60_000;
	await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
	const port = (upstream.address() as AddressInfo).port;
	gateway = await startGateway({ port: await freePort(), postgrestUrl: `http://127.0.0.1:${port}`, apiKeys: [KEY] });
});

afterAll(async () => {
	await gateway.stop();
	upstream.closeAllConnections();
	await new Promise((resolve) => upstream.close(resolve));
});

it('sends a request again, body and all, when the upstream drops the kept-alive connection it went out on', async () => {
	const post = (body: string) =>
		fetch(`${gateway.url}/rest/v1/rpc/echo`, { method: 'POST', headers: { apikey: KEY, 'content-type': 'application/json' }, body });
	const first = await post('{"n":1}');
	expect(first.status).toBe(200);
	expect(await first.json()).toEqual({ echoed: '{"n":1}' });
	const second = await post('{"n":2}');
	expect(second.status).toBe(200);
	expect(await second.json()).toEqual({ echoed: '{"n":2}' });
	// The second request did reach the kept-alive connection and was dropped there, then came again.
	expect(received).toEqual([
		{ body: '{"n":1}', socketRequest: 1 },
		{ body: '{"n":2}', socketRequest: 2 },
		{ body: '{"n":2}', socketRequest: 1 },
	]);
});
