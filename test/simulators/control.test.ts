// The control routes shared by both simulators: latency, fault rule bookkeeping and validation, the
// request log, timeouts that drop the connection, reset, loopback-only binding, and the overhead
// budget the benchmark relies on.
import { Agent, request } from 'node:http';
import { SimulatorControlError, startSimulators, type RunningSimulators } from '../../simulators';

let sims: RunningSimulators;

const graphSend = (recipient = 'psid-1') =>
	fetch(`${sims.graph.baseUrl}/v25.0/me/messages?access_token=t`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ recipient: { id: recipient }, messaging_type: 'RESPONSE', message: { text: 'hi' } }),
	});

const geminiCall = (path = '/v1beta/models/m:generateContent') =>
	fetch(`${sims.gemini.baseUrl}${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' },
		body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
	});

async function timed(call: () => Promise<Response>): Promise<number> {
	const started = performance.now();
	await (await call()).arrayBuffer();
	return performance.now() - started;
}

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await Promise.all([sims.gemini.control.reset(), sims.graph.control.reset()]);
});

describe('startSimulators', () => {
	it('binds both servers to 127.0.0.1 on separate ports', async () => {
		const gemini = new URL(sims.gemini.baseUrl);
		const graph = new URL(sims.graph.baseUrl);
		expect(gemini.hostname).toBe('127.0.0.1');
		expect(graph.hostname).toBe('127.0.0.1');
		expect(gemini.port).not.toBe(graph.port);
		expect(await sims.gemini.control.health()).toEqual({ ok: true, service: 'gemini', held: 0 });
		expect(await sims.graph.control.health()).toEqual({ ok: true, service: 'graph', held: 0 });
	});

	it('keeps an idle kept-alive connection a minute, as the local gateway does: Keep-Alive: timeout=60, and the next call goes out on it', async () => {
		// Node closes an idle kept-alive connection when the timer it announces in this header (plus a
		// second) runs out; with 10 s a client held up longer than that after a call sent its next one
		// on a connection the simulator had closed.
		const agent = new Agent({ keepAlive: true, maxSockets: 1 });
		const call = (baseUrl: string, path: string, body: string) =>
			new Promise<{ status: number; keepAlive: string | string[] | undefined; reused: boolean }>((resolve, reject) => {
				const sent = request(`${baseUrl}${path}`, { agent, method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' } }, (res) => {
					res.resume();
					res.on('end', () => resolve({ status: res.statusCode ?? 0, keepAlive: res.headers['keep-alive'], reused: sent.reusedSocket }));
				});
				sent.on('error', reject);
				sent.end(body);
			});
		try {
			const gemini = () => call(sims.gemini.baseUrl, '/v1beta/models/m:generateContent', JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }));
			const graph = () =>
				call(sims.graph.baseUrl, '/v25.0/me/messages?access_token=t', JSON.stringify({ recipient: { id: 'psid-1' }, messaging_type: 'RESPONSE', message: { text: 'hi' } }));
			expect(await gemini()).toEqual({ status: 200, keepAlive: 'timeout=60', reused: false });
			expect(await gemini()).toMatchObject({ status: 200, reused: true });
			expect(await graph()).toEqual({ status: 200, keepAlive: 'timeout=60', reused: false });
			expect(await graph()).toMatchObject({ status: 200, reused: true });
		} finally {
			agent.destroy();
		}
	});

	it('refuses to bind anywhere but loopback', async () => {
		await expect(startSimulators({ host: '0.0.0.0' })).rejects.toThrow(/loopback/);
	});

	it('applies configuration given at start and a default latency', async () => {
		const configured = await startSimulators({
			gemini: { apiKeys: ['only-key'], models: ['only-model'] },
			graph: { pageTokens: { '42': 'page-42-token' }, appSecret: 's' },
			latencyMs: 60,
		});
		try {
			const control = configured.gemini.control;
			expect(await control.latency()).toEqual({ defaultMs: 60, rules: [] });
			const wrongKey = await fetch(`${configured.gemini.baseUrl}/v1beta/models/only-model:generateContent`, {
				method: 'POST',
				headers: { 'x-goog-api-key': 'other' },
				body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
			});
			expect(wrongKey.status).toBe(400);
			const me = await fetch(`${configured.graph.baseUrl}/v25.0/me?access_token=page-42-token`);
			expect(((await me.json()) as { error: { message: string } }).error.message).toContain('appsecret_proof');
			// Reset returns to the configuration given at start, not to accept-any.
			await configured.graph.control.configure({ pageTokens: null, appSecret: null });
			await configured.graph.control.reset();
			expect(await configured.graph.control.configure({})).toEqual({ pageTokens: { '42': 'page-42-token' }, appSecret: 's' });
		} finally {
			await configured.stop();
		}
	});
});

describe('latency', () => {
	it('delays every request by the default latency, and only matching paths by a path rule', async () => {
		expect(await timed(() => graphSend())).toBeLessThan(100);
		await sims.graph.control.setLatency(150);
		expect(await timed(() => graphSend())).toBeGreaterThanOrEqual(145);

		await sims.graph.control.setLatency(0);
		await sims.gemini.control.setLatency(150, ':generateContent');
		expect(await timed(() => geminiCall())).toBeGreaterThanOrEqual(145);
		expect(await timed(() => geminiCall('/v1beta/models'))).toBeLessThan(100);
		expect(await sims.gemini.control.latency()).toEqual({ defaultMs: 0, rules: [{ ms: 150, path: ':generateContent' }] });
		await sims.gemini.control.setLatency(0, ':generateContent');
		expect((await sims.gemini.control.latency()).rules).toEqual([]);
	});

	it('refuses a negative latency', async () => {
		await expect(sims.graph.control.setLatency(-1)).rejects.toBeInstanceOf(SimulatorControlError);
	});
});

describe('fault rules', () => {
	it('lists, removes and clears rules, counting hits', async () => {
		const first = await sims.graph.control.addFault({ match: { recipient: 'a' }, effect: { kind: 'graphError', code: 2 } });
		const second = await sims.graph.control.addFault({ match: { path: '/me/messages', method: 'post' }, effect: { kind: 'graphError', code: 4 } });
		expect(first.id).not.toBe(second.id);
		expect(first).toMatchObject({ trigger: { mode: 'always' }, hits: 0 });

		expect((await graphSend('a')).status).toBe(500);
		expect((await graphSend('b')).status).toBe(400);
		expect((await sims.graph.control.faults()).map((rule) => rule.hits)).toEqual([1, 1]);

		await sims.graph.control.removeFault(first.id);
		expect((await graphSend('a')).status).toBe(400);
		await expect(sims.graph.control.removeFault(first.id)).rejects.toMatchObject({ status: 404 });
		await sims.graph.control.clearFaults();
		expect(await sims.graph.control.faults()).toEqual([]);
		expect((await graphSend('a')).status).toBe(200);
	});

	it('refuses malformed rules and effects that belong to the other service', async () => {
		const graph = sims.graph.control;
		await expect(graph.addFault({ effect: { kind: 'blocked' } })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('does not exist on the graph simulator') });
		await expect(sims.gemini.control.addFault({ effect: { kind: 'graphError', code: 190 } })).rejects.toMatchObject({ status: 400 });
		await expect(graph.addFault({ effect: { kind: 'http', status: 200 } })).rejects.toMatchObject({ status: 400 });
		await expect(graph.addFault({ trigger: { mode: 'count', count: 0 }, effect: { kind: 'hold' } })).rejects.toMatchObject({ status: 400 });
		await expect(graph.addFault({ trigger: { mode: 'rate', probability: 2 }, effect: { kind: 'hold' } })).rejects.toMatchObject({ status: 400 });
		const raw = await fetch(`${sims.graph.baseUrl}/__sim/faults`, { method: 'POST', body: '{not json' });
		expect(raw.status).toBe(400);
		expect(await graph.faults()).toEqual([]);
	});

	it('a timeout rule with holdMs drops the connection without an answer', async () => {
		await sims.graph.control.addFault({ effect: { kind: 'timeout', holdMs: 100 } });
		const started = performance.now();
		await expect(graphSend()).rejects.toThrow();
		expect(performance.now() - started).toBeGreaterThanOrEqual(95);
		const [logged] = await sims.graph.control.requests();
		expect(logged).toMatchObject({ outcome: 'dropped' });
		expect(logged.status).toBeUndefined();
	});
});

describe('the request log', () => {
	it('logs vendor requests in order with seq numbers, not control requests', async () => {
		await graphSend('one');
		await sims.graph.control.health();
		await graphSend('two');
		const requests = await sims.graph.control.requests();
		expect(requests.map((request) => request.recipient)).toEqual(['one', 'two']);
		expect(requests[1].seq).toBe(requests[0].seq + 1);
		expect(requests[0]).toMatchObject({ service: 'graph', method: 'POST', query: { access_token: 't' }, key: 't', status: 200 });
		expect(Date.parse(requests[0].receivedAt)).toBeGreaterThan(Date.now() - 60_000);
		expect(await sims.graph.control.requests(requests[0].seq)).toEqual([requests[1]]);
	});

	it('clears the log without touching fault rules', async () => {
		await sims.graph.control.addFault({ match: { recipient: 'nobody' }, effect: { kind: 'hold' } });
		await graphSend();
		await sims.graph.control.clearRequests();
		expect(await sims.graph.control.requests()).toEqual([]);
		expect(await sims.graph.control.faults()).toHaveLength(1);
	});

	it('keeps the logs of the two simulators apart', async () => {
		await graphSend();
		expect(await sims.gemini.control.requests()).toEqual([]);
	});
});

describe('reset', () => {
	it('answers held requests, then clears faults, latency, log, windows and messages', async () => {
		const graph = sims.graph.control;
		await graph.setLatency(5);
		await graph.setLastCustomerMessageAt('psid-late', Date.now() - 48 * 3_600_000);
		await graph.addFault({ match: { recipient: 'psid-held' }, effect: { kind: 'hold' } });
		const held = graphSend('psid-held');
		await graph.waitForRequests(1);

		await graph.reset();
		expect((await held).status).toBe(200);
		expect(await graph.faults()).toEqual([]);
		expect(await graph.latency()).toEqual({ defaultMs: 0, rules: [] });
		expect(await graph.requests()).toEqual([]);
		expect(await graph.messages()).toEqual([]);
		expect((await graphSend('psid-late')).status).toBe(200);
	});
});

describe('overhead', () => {
	it('spends well under a millisecond per request with no latency set', async () => {
		for (let index = 0; index < 50; index += 1) await graphSend(`warm-${index}`);
		await sims.graph.control.clearRequests();
		for (let index = 0; index < 300; index += 1) await graphSend(`psid-${index}`);
		const durations = (await sims.graph.control.requests()).map((request) => request.durationMs ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
		expect(durations).toHaveLength(300);
		expect(durations[Math.floor(durations.length / 2)]).toBeLessThan(1);
	});
});
