// The shapes spoken on the simulators' control endpoints (`/__sim/…`), shared by the servers and by
// the typed test client. Plain data only: this file must stay importable without `node:http`.

export type SimulatedService = 'gemini' | 'graph';

/** Which requests a fault rule applies to. Every field given must match; an empty match is "all". */
export interface FaultMatch {
	/** Gemini: the API key. Graph: the access token. */
	key?: string;
	/** Graph: the recipient PSID of a Messenger send, or the `to` number of a WhatsApp send as sent. */
	recipient?: string;
	/** Gemini: the model, without the `models/` prefix. */
	model?: string;
	/**
	 * Gemini: matches when the prompt contains this text (the system instruction and every turn's
	 * text, as promptTranscript joins them), so a scripted reply answers one kind of conversation.
	 */
	prompt?: string;
	/** Matches when the request path contains this text (versions differ, so a substring). */
	path?: string;
	/** Matches when the request's query string carries this parameter (e.g. `after`: a page read with a cursor). */
	param?: string;
	method?: string;
}

/** When a matching rule fires. */
export type FaultTrigger =
	| { mode: 'always' }
	/** The next `count` matching requests, then the rule is spent. */
	| { mode: 'count'; count: number }
	/** Each matching request with this probability, drawn from a PRNG seeded per rule (default 1). */
	| { mode: 'rate'; probability: number; seed?: number };

/** What a fired rule does to the request. */
export type FaultEffect =
	/** The vendor's error body for this HTTP status (Gemini: its `status` name; Graph: a fitting code). */
	| { kind: 'http'; status: number; message?: string; /** Gemini 429: the RetryInfo delay. */ retryDelaySeconds?: number }
	/**
	 * Graph only: a Graph error with this code and subcode; HTTP status and message as Graph uses.
	 * `details`: the WhatsApp Cloud API's `error_data.details` (WhatsApp sends only).
	 */
	| { kind: 'graphError'; code: number; subcode?: number; message?: string; status?: number; type?: string; details?: string }
	/**
	 * Graph only: a successful answer (status 200 to 299, default 200) with this body instead of the
	 * endpoint's, as a proxy or a changed API might give: JSON that is not what was asked for, or a
	 * string (sent as a JSON string, which a client reads back as text).
	 */
	| { kind: 'answer'; status?: number; body: unknown }
	/** Gemini only: a 200 with `promptFeedback.blockReason` and no candidates. */
	| { kind: 'blocked'; blockReason?: string }
	/** Gemini only: a 200 whose candidate stopped for this reason (e.g. SAFETY, MAX_TOKENS) with no text. */
	| { kind: 'finishReason'; finishReason: string }
	/** Gemini only: a 200 whose candidate's text is exactly `text` (e.g. JSON that is invalid or breaks the schema). */
	| { kind: 'text'; text: string }
	/** Never answer; the socket is closed after `holdMs` (default 300,000) or when the client gives up. */
	| { kind: 'timeout'; holdMs?: number }
	/** Hold the request until `POST /__sim/release`, then answer it as if there were no fault. */
	| { kind: 'hold' };

export interface FaultRuleInput {
	match?: FaultMatch;
	trigger?: FaultTrigger;
	effect: FaultEffect;
}

export interface FaultRule extends Required<Pick<FaultRuleInput, 'match' | 'trigger' | 'effect'>> {
	id: string;
	/** How many requests this rule has fired on. */
	hits: number;
	/** For `count` rules: how many firings are left. */
	remaining?: number;
}

export interface LatencyRule {
	ms: number;
	/** Only requests whose path contains this text; absent for the default latency. */
	path?: string;
}

export interface LatencyConfig {
	defaultMs: number;
	rules: LatencyRule[];
}

/** What became of a logged request. */
export type RequestOutcome =
	/** Answered without a fault (any status, including the vendor's own validation errors). */
	| 'answered'
	/** Answered by a fault rule. */
	| 'fault'
	/** Held by a `hold` or `timeout` rule, not answered yet. */
	| 'held'
	/** A held request answered after `POST /__sim/release`. */
	| 'released'
	/** The client closed the connection before an answer. */
	| 'client-gave-up'
	/** A `timeout` rule's `holdMs` passed and the socket was closed without an answer. */
	| 'dropped';

export interface LoggedRequest {
	/** 1, 2, 3… in arrival order on this server. */
	seq: number;
	service: SimulatedService;
	method: string;
	path: string;
	query: Record<string, string>;
	headers: Record<string, string>;
	/** Parsed JSON or form body; the raw text when it did not parse; null when empty. */
	body: unknown;
	/** Gemini: the API key; Graph: the access token (kept so tests can assert key rotation). */
	key?: string;
	model?: string;
	recipient?: string;
	receivedAt: string;
	status?: number;
	outcome: RequestOutcome;
	/** The fault rule that fired, if any. */
	faultId?: string;
	/** The client closed the connection before it got an answer (a released request may still be acted on). */
	clientGaveUp?: boolean;
	durationMs?: number;
}

/** Graph only: a message the simulated Page delivered (successful sends, including released ones). */
export interface DeliveredMessage {
	messageId: string;
	pageId: string;
	recipientId: string;
	messagingType: string;
	tag?: string;
	text: string;
	deliveredAt: string;
}

/** Graph only: the simulated 24 h window state for one recipient. */
export interface WindowInput {
	recipient: string;
	/** ISO time or epoch milliseconds of the person's last message; null forgets the recipient. */
	lastCustomerMessageAt: string | number | null;
}

export interface GeminiRuntimeConfig {
	/** Keys accepted; null accepts any non-empty key. */
	apiKeys: string[] | null;
	/** Models served; null serves any model name. */
	models: string[] | null;
}

export interface GraphRuntimeConfig {
	/** Page id → its Page access token; null accepts any token (the page id then comes from the path). */
	pageTokens: Record<string, string> | null;
	/** When set, every call must carry a matching `appsecret_proof`. */
	appSecret: string | null;
}

/** Graph only: a template the simulated WhatsApp Business Account has approved. */
export interface WhatsAppTemplate {
	name: string;
	/** The language code, e.g. en_US. */
	language: string;
}

export interface WhatsAppRuntimeConfig {
	/** Business phone number id → its access token; null accepts any token for any phone number id. */
	phoneNumbers: Record<string, string> | null;
	/** Approved templates; null accepts any template name and language. */
	templates: WhatsAppTemplate[] | null;
	/** Numbers (digits, with or without +) that are not WhatsApp accounts: sends to them fail with 131026. */
	notOnWhatsApp: string[];
}

/** Graph only: a WhatsApp message the simulated business phone number accepted. */
export interface WhatsAppMessage {
	/** wamid.… */
	messageId: string;
	phoneNumberId: string;
	/** The `to` number as sent. */
	to: string;
	/** The recipient's WhatsApp id (the number's digits). */
	waId: string;
	type: 'text' | 'template';
	/** text messages */
	text?: string;
	/** template messages */
	template?: { name: string; language: string };
	deliveredAt: string;
}

/** Graph only: a Messenger conversation the simulated Page has (POST /__sim/conversations). */
export interface ConversationInput {
	psid: string;
	name?: string;
	/** ISO time or epoch ms; default: the newest message's time. */
	updatedTime?: string | number;
	messages: Array<{ id?: string; text: string; from: 'person' | 'page'; createdTime: string | number }>;
}

/** Graph only: generated conversations (POST /__sim/conversations/generate). */
export interface GenerateConversationsInput {
	pageId: string;
	count: number;
	messagesPerConversation: number;
	/** The newest conversation's update time (ISO or epoch ms; default now); each next one `stepMs` older. */
	newest?: string | number;
	stepMs?: number;
	psidStart?: number;
}

/** Graph only: what the Conversations endpoint holds and how it was called. */
export interface ConversationStats {
	pages: Record<string, { conversations: number; messages: number }>;
	/** Calls answered, per Page. */
	calls: Record<string, number>;
	/** Calls refused for the Page's rate (code 32), per Page. */
	throttled: Record<string, number>;
	perSecond: number;
}
