// What the Queue Ledger Send tests share around the node: the Graph simulator's WhatsApp Cloud API
// (started once a file, a fresh phone number registered for each test), a proxy playing the gateway
// in front of the local stack (each file decides which calls it holds, fails or loses), the next
// schedule's Claim made at a set time, and two workers' Claims merged into one Send. Each test file
// keeps its own scenario and assertions.
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../../simulators';
import type { runWorkflow, TestCredentials, WorkflowJson } from '../../../harness';
import { serviceClient, testStack } from '../../../helpers/stack';
import { chainWorkflow, supabaseCredentials, whatsappCredentials } from './queue';

export const PHONE_NUMBER_ID = '106540352242922';
export const TOKEN = 'EAAG-queue-token';

export interface WhatsAppSimulator {
	/** The running Graph simulator (from the file's beforeAll on). */
	readonly graph: RunningSimulators['graph'];
	/** Supabase (the local stack, or `supabaseUrl`: a proxy in front of it) and WhatsApp (the simulator) credentials. */
	credentials(supabaseUrl?: string): TestCredentials;
}

/**
 * Starts the simulators for the file (beforeAll, stopped in afterAll); before each test the WhatsApp
 * Cloud API is reset and knows PHONE_NUMBER_ID with TOKEN. Call at the top level of a test file.
 */
export function whatsappSimulator(): WhatsAppSimulator {
	let sims: RunningSimulators | undefined;
	const running = (): RunningSimulators => {
		if (!sims) throw new Error('The simulators are started in beforeAll: use them inside a test or a hook');
		return sims;
	};
	beforeAll(async () => {
		sims = await startSimulators();
	});
	afterAll(async () => {
		await sims?.stop();
	});
	beforeEach(async () => {
		await running().graph.control.reset();
		await running().graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
	});
	return {
		get graph() {
			return running().graph;
		},
		credentials: (supabaseUrl?: string) => ({
			...(supabaseUrl ? { leadflowSupabaseApi: { url: supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } } : supabaseCredentials()),
			...whatsappCredentials(running().graph.baseUrl, PHONE_NUMBER_ID, TOKEN),
		}),
	};
}

/** The local stack's answer to a call the proxy passed on, read in full. */
export interface UpstreamAnswer {
	status: number;
	headers: IncomingHttpHeaders;
	body: Buffer;
}

export interface ProxiedCall {
	req: IncomingMessage;
	/** The request's body, read in full. */
	body: Buffer;
	res: ServerResponse;
	/** Whether it is a queue_begin_send call. */
	begin: boolean;
	/** Sends the call on to the local stack (the database runs it) and gives its answer, not yet passed back. */
	forward(): Promise<UpstreamAnswer>;
	/** Passes an answer back to the node. */
	answer(answer: UpstreamAnswer): void;
	/** Answers as a gateway does when the database is out of reach (nothing saved); `then` runs once written. */
	gatewayError(status: 502 | 504, then?: () => void): void;
}

export interface GatewayProxy {
	/** The proxy's address (from the file's beforeAll on): the Supabase URL the node is given. */
	readonly url: string;
}

/**
 * A proxy playing the gateway in front of the local stack, for the file (beforeAll, closed in
 * afterAll). `intercept` sees every call: it returns true when it answers (or holds, or drops) the call
 * itself; otherwise the call goes through and its answer comes back as the stack gave it.
 */
export function gatewayProxy(intercept: (call: ProxiedCall) => boolean): GatewayProxy {
	let server: http.Server | undefined;
	let url = '';
	beforeAll(async () => {
		const upstream = new URL(testStack().supabaseUrl);
		server = http.createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (chunk: Buffer) => chunks.push(chunk));
			req.on('end', () => {
				const body = Buffer.concat(chunks);
				const call: ProxiedCall = {
					req,
					body,
					res,
					begin: req.url?.includes('/rpc/queue_begin_send') ?? false,
					forward: () =>
						new Promise((resolve, reject) => {
							const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
								const answerChunks: Buffer[] = [];
								answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
								answer.on('end', () => resolve({ status: answer.statusCode ?? 500, headers: answer.headers, body: Buffer.concat(answerChunks) }));
							});
							up.on('error', reject);
							up.end(body);
						}),
					answer: (answer) => {
						res.writeHead(answer.status, answer.headers);
						res.end(answer.body);
					},
					gatewayError: (status, then) => {
						res.writeHead(status, { 'content-type': 'text/html' });
						res.end(`<html><body>${status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out'}</body></html>`, then);
					},
				};
				if (intercept(call)) return;
				call.forward().then(call.answer, () => req.socket.destroy());
			});
		});
		// As the gateway it plays (stack/gateway.ts): idle connections kept a minute. answer() passes
		// the gateway's own Keep-Alive: timeout=60 on, so with Node's 5 s (closed at 6 s) fetch kept
		// reusing a connection this proxy had closed, and a worker held up a few seconds got
		// "fetch failed: other side closed".
		server.keepAliveTimeout = 60_000;
		const listening = server;
		await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
		url = `http://127.0.0.1:${(listening.address() as { port: number }).port}`;
	});
	afterAll(async () => {
		const closing = server;
		if (!closing) return;
		const closed = new Promise((resolve) => closing.close(resolve));
		closing.closeAllConnections();
		await closed;
	});
	return {
		get url() {
			if (!url) throw new Error('The proxy is started in beforeAll: use it inside a test or a hook');
			return url;
		},
	};
}

/** Each item a node of the run gave out. */
export const outcomes = (run: Awaited<ReturnType<typeof runWorkflow>>, node: string) => (run.nodeOutputs[node] ?? []) as IDataObject[];

export interface OtherRun {
	/** Resolved once the other run's Claim was made (never, if cancelled first). */
	made: Promise<void>;
	/** What that Claim took; undefined if it was not made. */
	claimed(): IDataObject[] | undefined;
	/** Called once the run under test ended: no Claim after that. */
	cancel(): void;
}

/** The next schedule's run (worker 'other-run') claims up to 10 of the owner's messages `afterMs` from now. */
export function otherRunClaims(owner: string, afterMs: number): OtherRun {
	let claimed: IDataObject[] | undefined;
	let timer: NodeJS.Timeout | undefined;
	const made = new Promise<void>((resolve) => {
		timer = setTimeout(() => {
			void serviceClient()
				.rpc('queue_claim', { p_worker: 'other-run', p_limit: 10, p_lease_seconds: 60, p_user_id: owner })
				.then(({ data }) => {
					claimed = (data ?? []) as IDataObject[];
					resolve();
				});
		}, afterMs);
	});
	return { made, claimed: () => claimed, cancel: () => clearTimeout(timer) };
}

/** Claim A (worker region-a, up to `limitA`) and Claim B (region-b, up to `limitB`) merged into one Send, then Complete. */
export function twoWorkers(owner: string, limitA: number, limitB: number, send: IDataObject): WorkflowJson {
	const wf = chainWorkflow(owner, { send });
	const claim = wf.nodes.find((n) => n.name === 'Claim')!;
	const claimA = { ...claim, id: 'ca', name: 'Claim A', parameters: { ...claim.parameters, limit: limitA, options: { worker: 'region-a' } } };
	const claimB = { ...claim, id: 'cb', name: 'Claim B', position: [200, 200] as [number, number], parameters: { ...claim.parameters, limit: limitB, options: { worker: 'region-b' } } };
	const merge = { id: 'cm', name: 'Merge', type: 'n8n-nodes-base.merge', typeVersion: 3, position: [300, 0] as [number, number], parameters: {} };
	wf.nodes = [...wf.nodes.filter((n) => n.name !== 'Claim'), claimA, claimB, merge];
	wf.connections = {
		Start: { main: [[{ node: 'Claim A', type: 'main', index: 0 }, { node: 'Claim B', type: 'main', index: 0 }]] },
		'Claim A': { main: [[{ node: 'Merge', type: 'main', index: 0 }]] },
		'Claim B': { main: [[{ node: 'Merge', type: 'main', index: 1 }]] },
		Merge: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
		Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
	};
	return wf;
}
