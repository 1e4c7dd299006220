// The request pipeline both simulators share: read and log the request, apply latency, let a fault
// rule answer (or hold) it, else let the vendor handler answer; control requests under `/__sim` go
// to the control routes. A vendor handler only knows its API's shapes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControl } from './control';
import { FaultRules, type RequestFacts } from './faults';
import { BodyTooLargeError, headerRecord, queryRecord, readBody, sendJson } from './http';
import type { FaultEffect, LatencyConfig, LoggedRequest, SimulatedService } from './protocol';
import { RequestLog } from './request-log';

export const CONTROL_PREFIX = '/__sim';

/** A timeout fault closes the socket after this long unless the rule says otherwise. */
const DEFAULT_TIMEOUT_HOLD_MS = 300_000;

export interface Answer {
	status: number;
	body: unknown;
	headers?: Record<string, string>;
}

/** A vendor request, read and parsed, as the handler sees it. */
export interface VendorRequest {
	method: string;
	url: URL;
	headers: IncomingMessage['headers'];
	rawBody: string;
}

/** What the handler found in a request: logged, and used to match fault rules. */
export interface RequestDescription {
	body: unknown;
	key?: string;
	model?: string;
	recipient?: string;
	/** Gemini: the prompt's text, for fault rules that match on it (computed only then; not logged: the body holds it). */
	prompt?: () => string;
}

export interface VendorHandler {
	readonly service: SimulatedService;
	describe(request: VendorRequest): RequestDescription;
	/** The vendor's own answer (success, or its validation and auth errors). */
	answer(request: VendorRequest, description: RequestDescription): Answer;
	/** The vendor's answer for a fault effect that produces a response. */
	answerFault(effect: Exclude<FaultEffect, { kind: 'timeout' | 'hold' }>, request: VendorRequest, description: RequestDescription): Answer;
	/** The vendor's answer for a body too large to read. */
	answerBodyTooLarge(): Answer;
	/** Service-specific control routes (`config`, `window`, …); returns undefined when not one of them. */
	control(method: string, route: string, body: unknown): Answer | undefined;
	resetState(): void;
}

interface HeldRequest {
	entry: LoggedRequest;
	request: VendorRequest;
	description: RequestDescription;
	response: ServerResponse;
	startedAt: number;
}

/** A request in its latency wait: logged already, not yet matched against the fault rules. */
interface DelayedRequest extends HeldRequest {
	timer: NodeJS.Timeout;
	/** Ends the wait: true to go on to the fault rules, false when reset() answered it meanwhile. */
	resume: (goOn: boolean) => void;
}

export class SimulatorEngine {
	readonly faults: FaultRules;
	readonly log = new RequestLog();
	latency: LatencyConfig;
	private readonly held = new Set<HeldRequest>();
	private readonly delayed = new Set<DelayedRequest>();
	private readonly timeouts = new Set<{ timer: NodeJS.Timeout; response: ServerResponse }>();
	private readonly server: Server;

	constructor(
		readonly handler: VendorHandler,
		private readonly defaultLatencyMs = 0,
	) {
		this.faults = new FaultRules(handler.service);
		this.latency = { defaultMs: defaultLatencyMs, rules: [] };
		this.server = createServer((request, response) => {
			this.handle(request, response).catch((error: unknown) => {
				if (!response.headersSent) sendJson(response, 500, { error: `simulator failure: ${(error as Error).message}` });
				else response.destroy();
			});
		});
		// Idle keep-alive sockets are kept long enough for clients to reuse them, as the vendors do.
		// fetch (undici, under @google/genai) closes a socket after one response when the server's
		// keep-alive hint is under 2 s (its safety margin), so with 1 s every Gemini call opened a new
		// connection: about 0.8 ms of CPU per call, most of a 1,000-contact batch's generation time.
		// A minute, as the local stack's gateway (stack/gateway.ts): a client gives up an idle socket
		// by a timer of its own (undici: the hint less 2 s; n8n's HTTP requests: a new agent per
		// request), and a client whose event loop is held up after a call (a loaded test worker)
		// cannot run that timer; its next call then goes out on the socket as it is, which with 10 s
		// the simulator had closed after 11 s (Node adds a second): "other side closed". A minute
		// needs a client held up that long. stop() closes idle sockets too.
		this.server.keepAliveTimeout = 60_000;
	}

	async listen(port: number, host: string): Promise<string> {
		await new Promise<void>((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(port, host, () => {
				this.server.off('error', reject);
				resolve();
			});
		});
		const address = this.server.address() as AddressInfo;
		const hostInUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
		return `http://${hostInUrl}:${address.port}`;
	}

	/** Closes the server; requests still held are cut off, as a vendor outage would. */
	async stop(): Promise<void> {
		for (const timeout of this.timeouts) clearTimeout(timeout.timer);
		this.timeouts.clear();
		for (const held of this.held) held.response.destroy();
		this.held.clear();
		for (const delayed of this.delayed) {
			clearTimeout(delayed.timer);
			delayed.response.destroy();
			delayed.resume(false);
		}
		this.delayed.clear();
		await new Promise<void>((resolve) => {
			this.server.close(() => resolve());
			this.server.closeAllConnections();
		});
	}

	/** Answers held requests normally, oldest first; all of them unless `count` is given. */
	release(count = Number.POSITIVE_INFINITY): number {
		let released = 0;
		for (const held of [...this.held]) {
			if (released >= count) break;
			this.held.delete(held);
			released += 1;
			const answer = this.handler.answer(held.request, held.description);
			held.entry.outcome = 'released';
			this.finish(held.entry, held.response, answer, held.startedAt);
		}
		return released;
	}

	heldCount(): number {
		return this.held.size;
	}

	/**
	 * Back to a fresh start: held requests, and requests still in their latency wait, are answered
	 * (so no client hangs, and nothing they do lands after the reset), then all state cleared.
	 */
	reset(): void {
		for (const delayed of this.delayed) {
			clearTimeout(delayed.timer);
			delayed.entry.outcome = 'answered';
			this.finish(delayed.entry, delayed.response, this.handler.answer(delayed.request, delayed.description), delayed.startedAt);
			delayed.resume(false);
		}
		this.delayed.clear();
		this.release();
		for (const timeout of this.timeouts) {
			clearTimeout(timeout.timer);
			timeout.response.destroy();
		}
		this.timeouts.clear();
		this.faults.clear();
		this.latency = { defaultMs: this.defaultLatencyMs, rules: [] };
		this.log.clear();
		this.handler.resetState();
	}

	private async handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
		const startedAt = performance.now();
		// The moment the request arrived (its headers), not when its body was read: what a rate is counted by.
		const receivedAt = new Date().toISOString();
		const url = new URL(incoming.url ?? '/', 'http://simulator');
		const method = incoming.method ?? 'GET';
		let rawBody: string;
		try {
			rawBody = await readBody(incoming);
		} catch (error) {
			if (error instanceof BodyTooLargeError) {
				const answer = this.handler.answerBodyTooLarge();
				sendJson(response, answer.status, answer.body, answer.headers);
				return;
			}
			throw error;
		}

		if (url.pathname === CONTROL_PREFIX || url.pathname.startsWith(`${CONTROL_PREFIX}/`)) {
			const answer = handleControl(this, method, url.pathname.slice(CONTROL_PREFIX.length), url, rawBody);
			sendJson(response, answer.status, answer.body);
			return;
		}

		const request: VendorRequest = { method, url, headers: incoming.headers, rawBody };
		const description = this.handler.describe(request);
		const entry = this.log.record({
			service: this.handler.service,
			method,
			path: url.pathname,
			query: queryRecord(url),
			headers: headerRecord(incoming),
			body: description.body,
			...(description.key !== undefined && { key: description.key }),
			...(description.model !== undefined && { model: description.model }),
			...(description.recipient !== undefined && { recipient: description.recipient }),
			receivedAt,
			outcome: 'held',
		});
		response.on('close', () => {
			if (response.writableFinished) return;
			entry.clientGaveUp = true;
			if (entry.outcome === 'held') entry.outcome = 'client-gave-up';
		});

		const latencyMs = this.latencyFor(url.pathname);
		if (latencyMs > 0 && !(await this.delay({ entry, request, description, response, startedAt }, latencyMs))) return;

		const facts: RequestFacts = { method, path: url.pathname, params: url.searchParams, ...description };
		const rule = this.faults.fire(facts);
		if (!rule) {
			entry.outcome = 'answered';
			this.finish(entry, response, this.handler.answer(request, description), startedAt);
			return;
		}
		entry.faultId = rule.id;
		const effect = rule.effect;
		if (effect.kind === 'hold') {
			this.held.add({ entry, request, description, response, startedAt });
			return;
		}
		if (effect.kind === 'timeout') {
			this.holdUnanswered(entry, response, effect.holdMs ?? DEFAULT_TIMEOUT_HOLD_MS);
			return;
		}
		entry.outcome = 'fault';
		this.finish(entry, response, this.handler.answerFault(effect, request, description), startedAt);
	}

	/** Waits `ms`; false when reset() or stop() ended the wait (and dealt with the request). */
	private delay(request: HeldRequest, ms: number): Promise<boolean> {
		return new Promise((resolve) => {
			const delayed: DelayedRequest = {
				...request,
				timer: setTimeout(() => {
					this.delayed.delete(delayed);
					resolve(true);
				}, ms),
				resume: resolve,
			};
			this.delayed.add(delayed);
		});
	}

	/** Never answers: closes the socket when the client gives up or after `holdMs`. */
	private holdUnanswered(entry: LoggedRequest, response: ServerResponse, holdMs: number): void {
		const timeout = {
			response,
			timer: setTimeout(() => {
				this.timeouts.delete(timeout);
				if (entry.outcome === 'held') entry.outcome = 'dropped';
				response.destroy();
			}, holdMs),
		};
		this.timeouts.add(timeout);
		response.on('close', () => {
			clearTimeout(timeout.timer);
			this.timeouts.delete(timeout);
		});
	}

	private finish(entry: LoggedRequest, response: ServerResponse, answer: Answer, startedAt: number): void {
		entry.status = answer.status;
		entry.durationMs = Math.round((performance.now() - startedAt) * 1000) / 1000;
		// A held request whose client left is still processed (a real vendor would have acted on it),
		// but there is nobody to write to.
		if (response.destroyed) return;
		sendJson(response, answer.status, answer.body, answer.headers);
	}

	private latencyFor(path: string): number {
		for (const rule of this.latency.rules) if (path.includes(rule.path ?? '')) return rule.ms;
		return this.latency.defaultMs;
	}
}
