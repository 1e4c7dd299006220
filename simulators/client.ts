// A typed client for a simulator's control routes (`/__sim/…`), for tests, the demo and the
// benchmark. Plain `fetch`, so it works from any process that can reach the simulator.
import type {
	ConversationInput,
	ConversationStats,
	DeliveredMessage,
	GenerateConversationsInput,
	FaultRule,
	FaultRuleInput,
	GeminiRuntimeConfig,
	GraphRuntimeConfig,
	LatencyConfig,
	LoggedRequest,
	SimulatedService,
	WhatsAppMessage,
	WhatsAppRuntimeConfig,
} from './protocol';

export class SimulatorControlError extends Error {
	constructor(
		readonly status: number,
		message: string,
	) {
		super(message);
		this.name = 'SimulatorControlError';
	}
}

export interface WaitOptions {
	timeoutMs?: number;
	intervalMs?: number;
}

export class SimulatorControl {
	private readonly root: string;

	/** `baseUrl` is the simulator's base URL (the one a credential would hold). */
	constructor(baseUrl: string) {
		this.root = `${baseUrl.replace(/\/+$/, '')}/__sim`;
	}

	health(): Promise<{ ok: boolean; service: SimulatedService; held: number }> {
		return this.call('GET', '/health');
	}

	/** Without `path`: the default latency of every request; with: requests whose path contains it (0 removes). */
	setLatency(ms: number, path?: string): Promise<LatencyConfig> {
		return this.call('POST', '/latency', path === undefined ? { ms } : { ms, path });
	}

	latency(): Promise<LatencyConfig> {
		return this.call('GET', '/latency');
	}

	addFault(rule: FaultRuleInput): Promise<FaultRule> {
		return this.call('POST', '/faults', rule);
	}

	async faults(): Promise<FaultRule[]> {
		return (await this.call<{ faults: FaultRule[] }>('GET', '/faults')).faults;
	}

	async removeFault(id: string): Promise<void> {
		await this.call('DELETE', `/faults/${encodeURIComponent(id)}`);
	}

	async clearFaults(): Promise<void> {
		await this.call('DELETE', '/faults');
	}

	/** Answers held requests normally, oldest first; all unless `count` is given. Returns how many. */
	async release(count?: number): Promise<number> {
		return (await this.call<{ released: number }>('POST', '/release', count === undefined ? {} : { count })).released;
	}

	async requests(sinceSeq = 0): Promise<LoggedRequest[]> {
		return (await this.call<{ requests: LoggedRequest[] }>('GET', `/requests?since=${sinceSeq}`)).requests;
	}

	async clearRequests(): Promise<void> {
		await this.call('DELETE', '/requests');
	}

	async reset(): Promise<void> {
		await this.call('POST', '/reset');
	}

	/** Polls the log until `predicate` holds (default: at least `count` requests); returns the log. */
	async waitForRequests(
		condition: number | ((requests: LoggedRequest[]) => boolean),
		{ timeoutMs = 5_000, intervalMs = 10 }: WaitOptions = {},
	): Promise<LoggedRequest[]> {
		const predicate = typeof condition === 'number' ? (requests: LoggedRequest[]) => requests.length >= condition : condition;
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const requests = await this.requests();
			if (predicate(requests)) return requests;
			if (Date.now() >= deadline) throw new Error(`simulator log did not reach the expected state within ${timeoutMs} ms (${requests.length} requests)`);
			await new Promise((resolve) => setTimeout(resolve, intervalMs));
		}
	}

	/** Gemini: {apiKeys?, models?, suspendedKeys?}; Graph: {pageTokens?, appSecret?}. null = accept any. */
	configure(config: Partial<GeminiRuntimeConfig & { suspendedKeys: string[] }> | Partial<GraphRuntimeConfig>): Promise<unknown> {
		return this.call('POST', '/config', config);
	}

	/** Graph: when the person last wrote to the Page (null forgets them: no window check). */
	async setLastCustomerMessageAt(recipient: string, at: Date | number | null): Promise<void> {
		await this.call('POST', '/window', { recipient, lastCustomerMessageAt: at instanceof Date ? at.toISOString() : at });
	}

	/** Graph: the messages the simulated Page delivered. */
	async messages(): Promise<DeliveredMessage[]> {
		return (await this.call<{ messages: DeliveredMessage[] }>('GET', '/messages')).messages;
	}

	async clearMessages(): Promise<void> {
		await this.call('DELETE', '/messages');
	}

	/** Graph: adds (or replaces, by PSID) conversations of a Page for the Conversations endpoint. */
	async addConversations(pageId: string, conversations: ConversationInput[]): Promise<void> {
		await this.call('POST', '/conversations', { pageId, conversations });
	}

	/** Graph: `count` generated conversations of a Page, `messagesPerConversation` messages each. */
	async generateConversations(input: GenerateConversationsInput): Promise<void> {
		await this.call('POST', '/conversations/generate', input);
	}

	conversationStats(): Promise<ConversationStats> {
		return this.call('GET', '/conversations/stats');
	}

	async clearConversations(): Promise<void> {
		await this.call('DELETE', '/conversations');
	}

	/** Graph: the Conversations endpoint's calls per second per Page (0: no limit). */
	async setConversationRate(perSecond: number): Promise<void> {
		await this.call('POST', '/conversations/rate', { perSecond });
	}

	/** Graph: the webhook subscriptions apps and Pages made. */
	subscriptions(): Promise<{ apps: Record<string, Array<{ object: string; callback_url: string; fields: Array<{ name: string }>; active: boolean; verify_token: string }>>; pages: Record<string, Array<{ id: string; subscribed_fields: string[] }>> }> {
		return this.call('GET', '/subscriptions');
	}

	/** Graph: the WhatsApp Cloud API's phone numbers (id → token), approved templates and numbers not on WhatsApp; null = accept any. */
	configureWhatsApp(config: Partial<WhatsAppRuntimeConfig>): Promise<WhatsAppRuntimeConfig> {
		return this.call('POST', '/whatsapp/config', config);
	}

	/** Graph: the WhatsApp messages the simulated business phone numbers accepted. */
	async whatsappMessages(): Promise<WhatsAppMessage[]> {
		return (await this.call<{ messages: WhatsAppMessage[] }>('GET', '/whatsapp/messages')).messages;
	}

	async clearWhatsAppMessages(): Promise<void> {
		await this.call('DELETE', '/whatsapp/messages');
	}

	private async call<T>(method: string, route: string, body?: unknown): Promise<T> {
		const response = await fetch(`${this.root}${route}`, {
			method,
			...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
		});
		const text = await response.text();
		const parsed: unknown = text === '' ? null : JSON.parse(text);
		if (!response.ok) {
			const error = typeof parsed === 'object' && parsed !== null && 'error' in parsed ? String(parsed.error) : text;
			throw new SimulatorControlError(response.status, `${method} ${route}: ${error}`);
		}
		return parsed as T;
	}
}
