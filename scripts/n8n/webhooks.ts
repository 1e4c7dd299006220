// Calling n8n's production webhooks, and knowing when they are registered. `/healthz/readiness`
// answers before activation has finished, so readiness is probed on the webhook itself, with an
// HTTP method it does not serve: n8n then answers "not registered for <method> requests" once the
// path is registered (and "is not registered" before), and no execution is started.
import type { N8nWorkflow } from './n8n-import';

export interface WebhookCall {
	method?: string;
	headers?: Record<string, string>;
	query?: Record<string, string>;
	body?: unknown;
}

export interface WebhookAnswer {
	statusCode: number;
	headers: Record<string, string>;
	/** Parsed JSON when the answer was JSON, else the text. */
	body: unknown;
	ms: number;
}

export async function callWebhook(baseUrl: string, webhookPath: string, call: WebhookCall = {}): Promise<WebhookAnswer> {
	const url = new URL(`${baseUrl}/webhook/${webhookPath.replace(/^\/+/, '')}`);
	for (const [name, value] of Object.entries(call.query ?? {})) url.searchParams.set(name, value);
	const hasBody = call.body !== undefined;
	const started = performance.now();
	const response = await fetch(url, {
		method: call.method ?? 'GET',
		headers: { ...(hasBody && typeof call.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...call.headers },
		body: hasBody ? (typeof call.body === 'string' ? call.body : JSON.stringify(call.body)) : undefined,
	});
	const text = await response.text();
	const ms = performance.now() - started;
	let body: unknown = text;
	if ((response.headers.get('content-type') ?? '').includes('json')) {
		try {
			body = JSON.parse(text);
		} catch {
			// keep the text
		}
	}
	return { statusCode: response.status, headers: Object.fromEntries(response.headers), body, ms };
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface WebhookEndpoint {
	path: string;
	methods: string[];
}

/** The production webhook paths a workflow registers (a path with `:params` lives under the node's webhookId, as in n8n). */
export function webhookEndpoints(workflow: N8nWorkflow): WebhookEndpoint[] {
	return workflow.nodes
		.filter((node) => node.type === 'n8n-nodes-base.webhook' && !node.disabled)
		.map((node) => {
			const parameters = node.parameters ?? {};
			const methods = parameters.multipleMethods ? ((parameters.httpMethod as string[] | undefined) ?? ['GET', 'POST']) : [String(parameters.httpMethod ?? 'GET')];
			const nodePath = String(parameters.path ?? '').replace(/^\/+|\/+$/g, '');
			const dynamic = nodePath.split('/').some((segment) => segment.startsWith(':'));
			const probePath = dynamic ? `${node.webhookId}/${nodePath.replace(/:[^/]+/g, 'probe')}` : nodePath;
			return { path: probePath, methods: methods.map((method) => method.toUpperCase()) };
		});
}

/** True once n8n routes `endpoint` (probed without starting an execution). */
export async function isRegistered(baseUrl: string, endpoint: WebhookEndpoint): Promise<boolean> {
	const probe = METHODS.find((method) => !endpoint.methods.includes(method));
	if (!probe) throw new Error(`Webhook ${endpoint.path} serves every method; it cannot be probed without running it.`);
	try {
		const answer = await callWebhook(baseUrl, endpoint.path, { method: probe });
		return answer.statusCode === 404 && JSON.stringify(answer.body).includes(`not registered for ${probe} requests`);
	} catch {
		return false; // not listening yet
	}
}

/**
 * Waits until every endpoint is registered, probing every `pollMs`. `giveUp` is asked before each
 * wait and throws to stop (the process gone, a deadline passed), naming the endpoint still waited for.
 */
export async function untilRegistered(baseUrl: string, endpoints: WebhookEndpoint[], giveUp: (endpoint: WebhookEndpoint) => void, pollMs = 100): Promise<void> {
	for (const endpoint of endpoints) {
		while (!(await isRegistered(baseUrl, endpoint))) {
			giveUp(endpoint);
			await new Promise((resolve) => setTimeout(resolve, pollMs));
		}
	}
}
