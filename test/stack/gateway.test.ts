// The stack's gateway in front of an upstream that closes a kept-alive connection as the next
// request arrives on it, as PostgREST may when a connection has been idle: the request is sent
// again on a connection of its own, body and all, and the client never sees the hang-up. And its own
// side: an idle client connection is kept open long enough that a client held up for seconds after
// a call (a loaded machine) does not send its next one on a connection the gateway closed.
import { Agent, createServer, request, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
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

it('keeps an idle kept-alive connection open for a minute, not Node\'s 5 s: a call after 7 s goes out on it and is answered', async () => {
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
		let closed = false;
		first.request.socket?.once('close', () => (closed = true));
		// Longer than Node's default keep-alive (5 s, and the second it adds before closing): with it, the
		// gateway closed this connection meanwhile, and a client that had not yet seen the close (its event
		// loop held up) sent its next call on it and got "other side closed".
		await new Promise((resolve) => setTimeout(resolve, 7_000));
		expect(closed).toBe(false);
		expect(await get()).toMatchObject({ status: 200, reused: true });
	} finally {
		agent.destroy();
	}
}, 20_000);
