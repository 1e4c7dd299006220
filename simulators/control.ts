// The control routes under `/__sim` on each simulator: latency, fault rules, releasing held
// requests, the request log and reset. Service-specific routes (config, window, messages) are the
// vendor handler's. Control requests are not logged: the log is what the nodes sent.
//
//   GET    /__sim/health                 {ok, service, held}
//   GET    /__sim/latency                {defaultMs, rules:[{ms, path}]}
//   POST   /__sim/latency  {ms, path?}   without path: the default latency; with: for paths containing it (ms 0 removes)
//   GET    /__sim/faults                 {faults: FaultRule[]}
//   POST   /__sim/faults   FaultRuleInput → 201 FaultRule
//   DELETE /__sim/faults                 removes every rule
//   DELETE /__sim/faults/{id}            removes one rule
//   POST   /__sim/release  {count?}      answers held requests normally → {released}
//   GET    /__sim/requests?since={seq}   {requests: LoggedRequest[]}
//   DELETE /__sim/requests               clears the log
//   POST   /__sim/reset                  faults, latency, log, held requests and service state back to the start
import type { Answer, SimulatorEngine } from './engine';
import { FaultInputError } from './faults';
import { isRecord, parseJsonBody } from './http';
import type { LatencyRule } from './protocol';

class ControlInputError extends Error {}

const ok = (body: unknown, status = 200): Answer => ({ status, body });
const notFound = (what: string): Answer => ({ status: 404, body: { error: `no such control route or item: ${what}` } });

export function handleControl(engine: SimulatorEngine, method: string, route: string, url: URL, rawBody: string): Answer {
	const parsed = parseJsonBody(rawBody);
	if (!parsed.ok) return { status: 400, body: { error: `control bodies are JSON: ${parsed.error}` } };
	try {
		return routeControl(engine, method, route, url, parsed.value) ?? notFound(`${method} ${route}`);
	} catch (error) {
		if (error instanceof ControlInputError || error instanceof FaultInputError) return { status: 400, body: { error: error.message } };
		throw error;
	}
}

function routeControl(engine: SimulatorEngine, method: string, route: string, url: URL, body: unknown): Answer | undefined {
	const faultMatch = /^\/faults\/([^/]+)$/.exec(route);
	if (faultMatch && method === 'DELETE') {
		return engine.faults.remove(decodeURIComponent(faultMatch[1])) ? ok({ removed: 1 }) : notFound(`fault ${faultMatch[1]}`);
	}
	switch (`${method} ${route}`) {
		case 'GET /health':
			return ok({ ok: true, service: engine.handler.service, held: engine.heldCount() });
		case 'GET /latency':
			return ok(engine.latency);
		case 'POST /latency':
			setLatency(engine, body);
			return ok(engine.latency);
		case 'GET /faults':
			return ok({ faults: engine.faults.list() });
		case 'POST /faults':
			return ok(engine.faults.add(body), 201);
		case 'DELETE /faults': {
			const removed = engine.faults.list().length;
			engine.faults.clear();
			return ok({ removed });
		}
		case 'POST /release':
			return ok({ released: engine.release(releaseCount(body)) });
		case 'GET /requests':
			return ok({ requests: engine.log.list(Number(url.searchParams.get('since') ?? 0) || 0) });
		case 'DELETE /requests':
			engine.log.clear();
			return ok({ cleared: true });
		case 'POST /reset':
			engine.reset();
			return ok({ reset: true });
		default:
			return engine.handler.control(method, route, body);
	}
}

function setLatency(engine: SimulatorEngine, body: unknown): void {
	if (!isRecord(body) || typeof body.ms !== 'number' || !Number.isFinite(body.ms) || body.ms < 0) {
		throw new ControlInputError('latency is {ms: number ≥ 0, path?: string}');
	}
	const ms = body.ms;
	if (body.path === undefined) {
		engine.latency = { ...engine.latency, defaultMs: ms };
		return;
	}
	if (typeof body.path !== 'string' || body.path === '') throw new ControlInputError('latency path must be a non-empty string');
	const path = body.path;
	const rules: LatencyRule[] = engine.latency.rules.filter((rule) => rule.path !== path);
	if (ms > 0) rules.push({ ms, path });
	engine.latency = { ...engine.latency, rules };
}

function releaseCount(body: unknown): number | undefined {
	if (body === null || body === undefined) return undefined;
	if (!isRecord(body)) throw new ControlInputError('release is {count?: number}');
	if (body.count === undefined) return undefined;
	if (typeof body.count !== 'number' || !Number.isInteger(body.count) || body.count < 0) {
		throw new ControlInputError('release count must be a whole number ≥ 0');
	}
	return body.count;
}
