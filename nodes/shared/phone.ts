// Phone numbers to E.164 with libphonenumber-js's full metadata, so "valid" means the number fits
// a real numbering plan (not just a plausible length). Numbers without a leading + are read in the
// node's default country (the user's own, e.g. 07853 723604 in GB), except a number written with
// that country's calling code but no + that only reads as a mobile that way (a WhatsApp id,
// 491711234567 in DE): see readingWithoutPlus. Used by every node that takes phone numbers
// (CampaignSessionCreate, QueueLedger).
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import type { IExecuteFunctions } from 'n8n-workflow';
import { E164 } from './valid-input';
import { SettingRefusedError } from './per-item';

type PhoneLibrary = typeof import('libphonenumber-js/max');
let library: PhoneLibrary | undefined;
/** A country's trunk prefix (DE's 0), undefined where its national numbers are written without one. */
let trunkPrefixOf: ((country: CountryCode) => string | undefined) | undefined;

/**
 * Loads libphonenumber-js and its full metadata (about 90 modules) when the node first runs: n8n
 * requires every node file at start-up, and that should stay cheap.
 */
export async function loadPhoneLibrary(): Promise<void> {
	if (library && trunkPrefixOf) return;
	const [max, core, metadata] = await Promise.all([
		import('libphonenumber-js/max'),
		import('libphonenumber-js/core'),
		import('libphonenumber-js/metadata.max.json'),
	]);
	// The package's typings leave out nationalPrefix(), which its numbering plans have (the same full
	// metadata the parser reads); anything but a non-empty text is read as "no trunk prefix".
	const plans = new core.Metadata(metadata.default);
	const known = new Map<CountryCode, string | undefined>();
	trunkPrefixOf = (country) => {
		if (!known.has(country)) {
			plans.selectNumberingPlan(country);
			const prefix = (plans.numberingPlan as { nationalPrefix?: () => unknown } | undefined)?.nationalPrefix?.();
			known.set(country, typeof prefix === 'string' && /^\d+$/.test(prefix) ? prefix : undefined);
		}
		return known.get(country);
	};
	library = max;
}

function phoneLibrary(): PhoneLibrary {
	if (!library) throw new Error('The phone library is not loaded: call loadPhoneLibrary() before checking phone numbers.');
	return library;
}

/** The country's trunk prefix (the 0 of DE's 0171 1234567), undefined when it has none (IT). */
export function trunkPrefix(country: CountryCode): string | undefined {
	phoneLibrary();
	return trunkPrefixOf!(country);
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
		// A setting typed in the node (Campaign Session Create, Add Leads), not the request's: its failed item names it.
		throw new SettingRefusedError(
			context.getNode(),
			`Default Country "${country}" is not a country code`,
			{ itemIndex, description: 'Use a two-letter ISO 3166 code such as GB, US or DE.' },
			{ displayName: 'Default Country', parameter: name },
		);
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
	const reading = /^\(?\+/.test(input) ? parsed : readingWithoutPlus(input, parsed, defaultCountry);
	if ('problem' in reading) return reading;
	// What the database stores (numbers.phone_e164): a number the library calls valid but that E.164
	// cannot hold is refused here, not by the constraint.
	if (!E164.test(reading.number)) return { problem: `is not a phone number E.164 can hold (+ and 7 to 15 digits; got ${JSON.stringify(input)})` };
	return { e164: reading.number };
}

/** A mobile number's types: WhatsApp ids are mobile numbers (FIXED_LINE_OR_MOBILE where a plan cannot tell, as in the US). */
const MOBILE_TYPES: ReadonlySet<string | undefined> = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

function isMobile(number: PhoneNumber): boolean {
	return MOBILE_TYPES.has(number.getType());
}

/**
 * Which reading of a number without + to take when both are valid and differ, by whether each is a
 * mobile: the international one only when it alone is a mobile (a WhatsApp id), none when both are.
 * No such pair of mobiles turned up in samples of today's metadata; the rule still says what to do.
 */
export function readingByType(nationalIsMobile: boolean, internationalIsMobile: boolean): 'national' | 'international' | 'ambiguous' {
	if (!internationalIsMobile) return 'national';
	return nationalIsMobile ? 'ambiguous' : 'international';
}

/**
 * A number written without + (nor an international prefix such as 00) whose digits start with the
 * default country's calling code can be read two ways: as a national number (what the parser does
 * when that reading is valid) or as that calling code followed by the national number, as WhatsApp
 * writes its ids (491711234567 for +49 171 1234567). When only one reading is valid, or both are
 * the same number, that is the number. When both are valid and differ, their types decide, since a
 * WhatsApp id is a mobile number:
 * - only the international reading is a mobile: that one (DE 491711234567 is +49 171 1234567, not
 *   the landline +49 491711234567);
 * - otherwise, when the international reading is no mobile: the national reading, as before
 *   5d8ef7c (a landline or a mobile that lost its trunk 0 in a spreadsheet: VN 846921530 is the
 *   mobile +84 84 692 1530, SE 468291160 Lund's +46 46 829 11 60; IT 390 376 4953 is a mobile as
 *   written);
 * - both are mobiles (none turned up in samples of every country's plan, but a plan may change):
 *   nothing settles it, and the number is refused, saying both readings and what to write.
 */
function readingWithoutPlus(input: string, national: PhoneNumber, country: CountryCode): PhoneNumber | { problem: string } {
	const library = phoneLibrary();
	const digits = input.replace(/\D/g, '');
	const code = library.getCountryCallingCode(country);
	if (!digits.startsWith(code)) return national;
	const international = library.parsePhoneNumberFromString(`+${digits}`);
	if (!international?.isValid() || international.number === national.number) return national;
	const chosen = readingByType(isMobile(national), isMobile(international));
	if (chosen !== 'ambiguous') return chosen === 'national' ? national : international;
	const trunk = trunkPrefix(country);
	const withTrunk = trunk === undefined ? '' : `, or as a number in ${country} with its leading ${trunk}`;
	return {
		problem:
			`is ambiguous in ${country} without a + (${JSON.stringify(input)}): it is the mobile ${national.number} as a number in ${country}, ` +
			`or the mobile ${international.number} if its first digits are ${country}'s country code ${code}; write it with + and the country code${withTrunk}`,
	};
}
