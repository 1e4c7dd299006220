// The WhatsApp Cloud API, served by the Graph simulator (it is part of Graph on graph.facebook.com):
//   POST /{version}/{phone-number-id}/messages   a text or template message
//        {messaging_product: "whatsapp", recipient_type?: "individual", to, type: "text"|"template",
//         text: {body, preview_url?} | template: {name, language: {code}, components?}}
//        → {messaging_product: "whatsapp", contacts: [{input, wa_id}], messages: [{id: "wamid.…"}]}
//   GET  /{version}/{phone-number-id}            the phone number (the credential's test)
//        → {id, display_phone_number, verified_name, quality_rating}
// The token is `Authorization: Bearer <token>` (or `access_token`). Errors are the Cloud API's
// (whatsapp-errors.ts): 190 for a wrong token, 131026 for a number that is not on WhatsApp, 132001
// for a template the account does not have, 131047 for a text outside the 24 h customer service
// window (the Graph simulator's /__sim/window, keyed by the number), and any code from a fault rule
// (`graphError` effects; 130429 and 131056 are the rate limits). On the real API a number that is
// not on WhatsApp is often reported later, by the status webhook, after a 200; the simulator answers
// it at once so a sender's handling of it can be tested.
//
// Control routes (on the Graph simulator):
//   GET    /__sim/whatsapp/config     {phoneNumbers, templates, notOnWhatsApp}
//   POST   /__sim/whatsapp/config     any of them (null: accept any token / any template)
//   GET    /__sim/whatsapp/messages   {messages: WhatsAppMessage[]}
//   DELETE /__sim/whatsapp/messages
import { randomBytes } from 'node:crypto';
import type { Answer } from './engine';
import { isRecord } from './http';
import type { WhatsAppMessage, WhatsAppRuntimeConfig, WhatsAppTemplate } from './protocol';
import { expiredToken, whatsappError, whatsappInvalidParameter } from './whatsapp-errors';

export interface WhatsAppSimulatorOptions {
	/** Business phone number id → access token; default: any token for any id. */
	phoneNumbers?: Record<string, string>;
	/** Approved templates; default: any. */
	templates?: WhatsAppTemplate[];
	notOnWhatsApp?: string[];
}

/** Meta's limit for a text message body, in characters. */
export const MAX_WHATSAPP_TEXT_CHARACTERS = 4096;
const WINDOW_MS = 24 * 3_600_000;
const MAX_DELIVERED = 100_000;

const digitsOf = (number: string) => number.replace(/\D/g, '');

/** wamid.<base64>, like Meta's message ids. */
const messageIdFor = () => `wamid.${randomBytes(24).toString('base64url')}`;

export class WhatsAppCloud {
	private config: WhatsAppRuntimeConfig;
	private delivered: WhatsAppMessage[] = [];

	constructor(private readonly options: WhatsAppSimulatorOptions = {}) {
		this.config = this.initialConfig();
	}

	/**
	 * Whether a Graph request is for the Cloud API: a configured business phone number, a send that
	 * says `messaging_product`, or a read of a phone number's fields.
	 */
	handles(method: string, node: string, isMessagesEdge: boolean, params: Record<string, unknown>): boolean {
		if (this.config.phoneNumbers && Object.prototype.hasOwnProperty.call(this.config.phoneNumbers, node)) return true;
		if (method === 'POST' && isMessagesEdge) return params.messaging_product !== undefined;
		return method === 'GET' && !isMessagesEdge && typeof params.fields === 'string' && params.fields.includes('display_phone_number');
	}

	answer(method: string, phoneNumberId: string, isMessagesEdge: boolean, token: string | undefined, params: Record<string, unknown>, lastCustomerMessageAt: (number: string) => number | undefined): Answer {
		if (!token) return expiredToken(401, 'An access token is required to request this resource.');
		const numbers = this.config.phoneNumbers;
		if (numbers) {
			if (!Object.values(numbers).includes(token)) return expiredToken();
			if (numbers[phoneNumberId] !== token) {
				return whatsappError({
					code: 100,
					message: `Unsupported ${method.toLowerCase()} request. Object with ID '${phoneNumberId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
				});
			}
		}
		if (method === 'GET' && !isMessagesEdge) {
			return { status: 200, body: { id: phoneNumberId, display_phone_number: `+1 555 ${phoneNumberId.slice(-7)}`, verified_name: 'Simulated Business', quality_rating: 'GREEN' } };
		}
		if (method !== 'POST' || !isMessagesEdge) return whatsappInvalidParameter(`Unsupported ${method.toLowerCase()} request.`);
		return this.send(phoneNumberId, params, lastCustomerMessageAt);
	}

	control(method: string, route: string, body: unknown): Answer | undefined {
		switch (`${method} ${route}`) {
			case 'GET /whatsapp/config':
				return { status: 200, body: this.config };
			case 'POST /whatsapp/config':
				return this.configure(body);
			case 'GET /whatsapp/messages':
				return { status: 200, body: { messages: this.delivered.map((message) => ({ ...message })) } };
			case 'DELETE /whatsapp/messages':
				this.delivered = [];
				return { status: 200, body: { cleared: true } };
			default:
				return undefined;
		}
	}

	reset(): void {
		this.config = this.initialConfig();
		this.delivered = [];
	}

	private initialConfig(): WhatsAppRuntimeConfig {
		return {
			phoneNumbers: this.options.phoneNumbers ? { ...this.options.phoneNumbers } : null,
			templates: this.options.templates ? this.options.templates.map((template) => ({ ...template })) : null,
			notOnWhatsApp: [...(this.options.notOnWhatsApp ?? [])],
		};
	}

	/** The Cloud API's checks, in the order it applies them, then delivery. */
	private send(phoneNumberId: string, params: Record<string, unknown>, lastCustomerMessageAt: (number: string) => number | undefined): Answer {
		if (params.messaging_product === undefined) return whatsappInvalidParameter('(#100) The parameter messaging_product is required.');
		if (params.messaging_product !== 'whatsapp') return whatsappInvalidParameter('(#100) Param messaging_product must be one of {WHATSAPP}');
		if (params.recipient_type !== undefined && params.recipient_type !== 'individual' && params.recipient_type !== 'group') {
			return whatsappInvalidParameter('(#100) Param recipient_type must be one of {INDIVIDUAL, GROUP}');
		}
		const to = params.to;
		if (to === undefined || to === '') return whatsappError({ code: 131008, details: 'The parameter to is required.' });
		if (typeof to !== 'string' || !/^\+?[0-9][0-9 ()-]{5,20}$/.test(to)) {
			return whatsappError({ code: 131009, details: `Recipient phone number ${JSON.stringify(to)} is not a valid phone number.` });
		}
		const type = params.type ?? 'text';
		let content: Pick<WhatsAppMessage, 'type' | 'text' | 'template'>;
		if (type === 'text') {
			const text = isRecord(params.text) ? params.text.body : undefined;
			if (typeof text !== 'string' || text === '') return whatsappError({ code: 131008, details: "The parameter text['body'] is required." });
			if ([...text].length > MAX_WHATSAPP_TEXT_CHARACTERS) {
				return whatsappInvalidParameter(`(#100) Param text['body'] must be at most ${MAX_WHATSAPP_TEXT_CHARACTERS} characters long.`);
			}
			content = { type: 'text', text };
		} else if (type === 'template') {
			const template = isRecord(params.template) ? params.template : undefined;
			const name = template?.name;
			const language = isRecord(template?.language) ? template.language.code : undefined;
			if (typeof name !== 'string' || name === '') return whatsappError({ code: 131008, details: "The parameter template['name'] is required." });
			if (typeof language !== 'string' || language === '') return whatsappError({ code: 131008, details: "The parameter template['language']['code'] is required." });
			const known = this.config.templates;
			if (known && !known.some((one) => one.name === name && one.language === language)) {
				return whatsappError({ code: 132001, details: `template name (${name}) does not exist in ${language}` });
			}
			content = { type: 'template', template: { name, language } };
		} else {
			return whatsappInvalidParameter(`(#100) Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO} - got "${String(type)}".`);
		}

		const waId = digitsOf(to);
		if (this.config.notOnWhatsApp.some((number) => digitsOf(number) === waId)) return whatsappError({ code: 131026 });
		// Only templates may start a conversation: a text needs the person's last message to be under 24 h old.
		const last = lastCustomerMessageAt(to) ?? lastCustomerMessageAt(waId) ?? lastCustomerMessageAt(`+${waId}`);
		if (content.type === 'text' && last !== undefined && Date.now() - last > WINDOW_MS) return whatsappError({ code: 131047 });

		const messageId = messageIdFor();
		this.delivered.push({ messageId, phoneNumberId, to, waId, ...content, deliveredAt: new Date().toISOString() });
		if (this.delivered.length > MAX_DELIVERED) this.delivered.splice(0, this.delivered.length - MAX_DELIVERED);
		return {
			status: 200,
			body: {
				messaging_product: 'whatsapp',
				contacts: [{ input: to, wa_id: waId }],
				messages: [content.type === 'template' ? { id: messageId, message_status: 'accepted' } : { id: messageId }],
			},
		};
	}

	private configure(body: unknown): Answer {
		const usage = { status: 400, body: { error: 'whatsapp config is {phoneNumbers?: {id: token} | null, templates?: [{name, language}] | null, notOnWhatsApp?: string[]}' } };
		if (!isRecord(body)) return usage;
		const { phoneNumbers, templates, notOnWhatsApp } = body;
		const numbersValid = phoneNumbers === undefined || phoneNumbers === null || (isRecord(phoneNumbers) && Object.values(phoneNumbers).every((token) => typeof token === 'string'));
		const templatesValid =
			templates === undefined ||
			templates === null ||
			(Array.isArray(templates) && templates.every((one) => isRecord(one) && typeof one.name === 'string' && typeof one.language === 'string'));
		const numbersListValid = notOnWhatsApp === undefined || (Array.isArray(notOnWhatsApp) && notOnWhatsApp.every((one) => typeof one === 'string'));
		if (!numbersValid || !templatesValid || !numbersListValid) return usage;
		this.config = {
			phoneNumbers: phoneNumbers === undefined ? this.config.phoneNumbers : (phoneNumbers as Record<string, string> | null),
			templates:
				templates === undefined
					? this.config.templates
					: templates === null
						? null
						: (templates as Array<Record<string, string>>).map((one) => ({ name: one.name, language: one.language })),
			notOnWhatsApp: notOnWhatsApp === undefined ? this.config.notOnWhatsApp : [...(notOnWhatsApp as string[])],
		};
		return { status: 200, body: this.config };
	}
}
