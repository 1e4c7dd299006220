// The stack's gateway in front of an upstream that closes a kept-alive connection as the next
// request arrives on it, as PostgREST may when a connection has been idle: the request is sent
// again on a connection of its own, body and all, and the client never sees the hang-up. And its own
// side: an idle client connection is kept open long enough that a client held up for seconds after
// a call (a loaded machine) does not send its next one on a connection the gateway closed.
import { Agent, createServer, request, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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

it('keeps an idle kept-alive connection open for a minute, not Node\'s 5 s: its idle close is armed for 60 s, and the next call goes out on it', async () => {
	// Node closes an idle kept-alive connection only when the socket's idle timer fires: the timer the
	// server arms, as the response finishes, at its keepAliveTimeout (and the second Node adds to it).
	// So the timer read on the gateway's own socket, once the response has finished, tells when the
	// connection would close, without waiting for it. With Node's default (5 s, closed at 6 s), a client
	// held up for seconds after a call (its event loop busy) sent its next call on a connection the
	// gateway had closed meanwhile and got "other side closed".
	const sockets: Socket[] = [];
	const finished: Array<Promise<void>> = [];
	const onConnection = (socket: Socket) => sockets.push(socket);
	// The server's own 'finish' listener (which arms the timer) is added before 'request' is emitted,
	// so this one runs after it.
	const onRequest = (_req: IncomingMessage, res: ServerResponse) => finished.push(new Promise((resolve) => res.once('finish', () => resolve())));
	gateway.server.on('connection', onConnection);
	gateway.server.on('request', onRequest);
	const agent = new Agent({ keepAlive: true, maxSockets: 1 });
	const get = () =>
		new Promise<{ status: number; keepAlive: string | string[] | undefined; reused: boolean; request: ClientRequest }>((resolve, reject) => {
			const call = request(`${gateway.url}/health`, { agent }, (res) => {
				res.resume();
				res.on('end', () => resolve({ status: res.statusCode ?? 0, keepAlive: res.headers['keep-alive'], reused: call.reusedSocket, request: call }));
			});
			call.on('error', reject);
			call.end();
		});
	try {
		const first = await get();
		expect(first).toMatchObject({ status: 200, keepAlive: 'timeout=60', reused: false });
		await Promise.all(finished);
		expect(sockets).toHaveLength(1);
		const [socket] = sockets;
		expect(socket.destroyed).toBe(false);
		// At least the minute announced; Node 20 and later add a second (61 s; 6 s with the default).
		expect(socket.timeout).toBeGreaterThanOrEqual(60_000);
		expect(first.request.socket?.destroyed).toBe(false);
		expect(await get()).toMatchObject({ status: 200, reused: true });
		expect(sockets).toHaveLength(1);
	} finally {
		gateway.server.off('connection', onConnection);
		gateway.server.off('request', onRequest);
		agent.destroy();
	}
});
