// Phone numbers to E.164 with libphonenumber-js's full metadata, so "valid" means the number fits
// a real numbering plan (not just a plausible length). Numbers without a leading + are read in the
// node's default country (the user's own, e.g. 07853 723604 in GB). Used by every node that takes
// phone numbers (CampaignSessionCreate, QueueLedger).
import type { CountryCode } from 'libphonenumber-js/max';
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { E164 } from './valid-input';

type PhoneLibrary = typeof import('libphonenumber-js/max');
let library: PhoneLibrary | undefined;

/**
 * Loads libphonenumber-js and its full metadata (about 90 modules) when the node first runs: n8n
 * requires every node file at start-up, and that should stay cheap.
 */
export async function loadPhoneLibrary(): Promise<void> {
	library ??= await import('libphonenumber-js/max');
}

function phoneLibrary(): PhoneLibrary {
	if (!library) throw new Error('The phone library is not loaded: call loadPhoneLibrary() before checking phone numbers.');
	return library;
}

export type PhoneResult = { e164: string } | { problem: string };

/** Longer input is not a phone number; it is refused before it reaches the parser. */
const MAX_INPUT_LENGTH = 40;
/** Digits and the usual separators; a leading + may sit inside an opening bracket: "(+44) 7853 723604". */
const PHONE_CHARACTERS = /^(?:\+|\(\+)?[0-9 ().\-/]+$/;
/** Unicode's space separators (Zs): no-break and narrow spaces pasted from spreadsheets and documents. */
const SPACE_SEPARATORS = /\p{Zs}/gu;
/**
 * Invisible bidirectional marks (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069): WhatsApp and other
 * apps wrap a copied number in them. They carry nothing, so they are removed, not refused.
 */
const DIRECTION_MARKS = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A number as people paste it, with the characters that only look like nothing or a space made plain. */
function plainPhoneText(raw: string): string {
	return raw.replace(DIRECTION_MARKS, '').replace(SPACE_SEPARATORS, ' ').trim();
}

export function isCountryCode(code: string): code is CountryCode {
	return phoneLibrary().isSupportedCountry(code);
}

/** The node's "Default Country" parameter of item i, checked: a two-letter code the library knows. */
export function readDefaultCountry(context: IExecuteFunctions, itemIndex: number, name = 'defaultCountry'): CountryCode {
	const country = String(context.getNodeParameter(name, itemIndex, 'GB')).trim().toUpperCase();
	if (!isCountryCode(country)) {
		throw new NodeOperationError(context.getNode(), `Default Country "${country}" is not a country code`, {
			itemIndex,
			description: 'Use a two-letter ISO 3166 code such as GB, US or DE.',
		});
	}
	return country;
}

export function normalisePhone(raw: string, defaultCountry: CountryCode): PhoneResult {
	const input = plainPhoneText(raw);
	if (input === '') return { problem: 'is empty' };
	if (input.length > MAX_INPUT_LENGTH) return { problem: `is too long for a phone number (${input.length} characters)` };
	// The parser would find a number inside any text ("call ☎ 07853 723604 x"); a field holding more
	// than a number is a sign of a mapping error upstream, so it is refused rather than guessed at.
	if (!PHONE_CHARACTERS.test(input)) {
		return { problem: `may contain only digits, spaces, + ( ) - . and / (got ${JSON.stringify(input)})` };
	}
	const parsed = phoneLibrary().parsePhoneNumberFromString(input, defaultCountry);
	if (!parsed) return { problem: `is not a phone number (${JSON.stringify(input)})` };
	if (!parsed.isValid()) {
		const where = input.startsWith('+') ? '' : ` in ${defaultCountry} (no +country code was given)`;
		return { problem: `is not a valid phone number${where} (${JSON.stringify(input)})` };
	}
	// What the database stores (numbers.phone_e164): a number the library calls valid but that E.164
	// cannot hold is refused here, not by the constraint.
	if (!E164.test(parsed.number)) return { problem: `is not a phone number E.164 can hold (+ and 7 to 15 digits; got ${JSON.stringify(input)})` };
	return { e164: parsed.number };
}
