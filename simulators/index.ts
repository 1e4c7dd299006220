// Local stand-ins for the Gemini API and the Graph API (the Messenger Send API and the WhatsApp Cloud API), on loopback only. The nodes
// reach them the way they reach the real services: through a credential's base URL. Each server
// also answers control routes under `/__sim` (see control.ts, gemini.ts, graph.ts), driven from
// tests with `SimulatorControl`.
import { SimulatorControl } from './client';
import { SimulatorEngine } from './engine';
import { GeminiHandler, type GeminiSimulatorOptions } from './gemini';
import { GraphHandler, type GraphSimulatorOptions } from './graph';

export { SimulatorControl, SimulatorControlError } from './client';
export { appSecretProof, pageIdForToken } from './graph';
export { MAX_TEXT_CHARACTERS, MESSAGE_TAGS, MESSAGING_TYPES } from './graph-send';
export { deliverWebhook, messengerDelivery, messengerEvents, signDelivery, type DeliverOptions, type DeliveryAnswer, type SubscriptionsState } from './messenger-webhooks';
export { parseFields, type ConversationsOptions } from './messenger-conversations';
export { MAX_WHATSAPP_TEXT_CHARACTERS } from './whatsapp';
export { WHATSAPP_ERRORS } from './whatsapp-errors';
export { greetedName, plainReplyText, promptDigest, promptTranscript, simulatedReply, type GeminiRequestBody } from './gemini-reply';
export type { GeminiSimulatorOptions } from './gemini';
export type { GraphSimulatorOptions } from './graph';
export type { WhatsAppSimulatorOptions } from './whatsapp';
export type * from './protocol';

export interface SimulatorsOptions {
	/** Default 0: any free port. */
	geminiPort?: number;
	graphPort?: number;
	/** A loopback address; default 127.0.0.1. The simulators accept made-up credentials: never expose them. */
	host?: string;
	gemini?: GeminiSimulatorOptions;
	graph?: GraphSimulatorOptions;
	/** Latency added to every vendor request until changed through the control routes; default 0. */
	latencyMs?: number;
}

export interface SimulatorEndpoint {
	/** What a credential's base URL would hold. */
	baseUrl: string;
	control: SimulatorControl;
}

export interface RunningSimulators {
	gemini: SimulatorEndpoint;
	graph: SimulatorEndpoint;
	stop(): Promise<void>;
}

const LOOPBACK = /^(127(?:\.\d{1,3}){3}|::1|localhost)$/;

export async function startSimulators(options: SimulatorsOptions = {}): Promise<RunningSimulators> {
	const host = options.host ?? '127.0.0.1';
	if (!LOOPBACK.test(host)) throw new Error(`the simulators bind to loopback only, not ${host}`);
	const gemini = new SimulatorEngine(new GeminiHandler(options.gemini), options.latencyMs);
	const graph = new SimulatorEngine(new GraphHandler(options.graph), options.latencyMs);
	const stop = async () => {
		await Promise.all([gemini.stop(), graph.stop()]);
	};
	try {
		const [geminiBaseUrl, graphBaseUrl] = await Promise.all([
			gemini.listen(options.geminiPort ?? 0, host),
			graph.listen(options.graphPort ?? 0, host),
		]);
		return {
			gemini: { baseUrl: geminiBaseUrl, control: new SimulatorControl(geminiBaseUrl) },
			graph: { baseUrl: graphBaseUrl, control: new SimulatorControl(graphBaseUrl) },
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
