// Phone numbers to E.164 with libphonenumber-js's full metadata, so "valid" means the number fits
// a real numbering plan (not just a plausible length). Numbers without a leading + are read in the
// node's default country (the user's own, e.g. 0491 570 156 in AU), except a number written with
// a calling code but no + (a WhatsApp id, 491711234567 in DE): see readingWithoutPlus. Used by
// every node that takes phone numbers (CampaignSessionCreate, QueueLedger).
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import type { IExecuteFunctions } from 'n8n-workflow';
import { E164 } from './valid-input';
import { SettingRefusedError } from './per-item';

type PhoneLibrary = typeof import('libphonenumber-js/max');
let library: PhoneLibrary | undefined;
/** A country's trunk prefix (DE's 0), undefined where its national numbers are written without one. */
let trunkPrefixOf: ((country: CountryCode) => string | undefined) | undefined;
/** Whether digits start with the country's international prefix (00 in DE, 810 in RU, 119 in CU). */
let startsWithIddOf: ((country: CountryCode, digits: string) => boolean) | undefined;

/**
 * Loads libphonenumber-js and its full metadata (about 90 modules) when the node first runs: n8n
 * requires every node file at start-up, and that should stay cheap.
 */
export async function loadPhoneLibrary(): Promise<void> {
	if (library && trunkPrefixOf && startsWithIddOf) return;
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
	const idd = new Map<CountryCode, RegExp | undefined>();
	startsWithIddOf = (country, digits) => {
		if (!idd.has(country)) {
			plans.selectNumberingPlan(country);
			const pattern = (plans.numberingPlan as { IDDPrefix?: () => unknown } | undefined)?.IDDPrefix?.();
			idd.set(country, typeof pattern === 'string' && pattern !== '' ? new RegExp(`^(?:${pattern})`) : undefined);
		}
		return idd.get(country)?.test(digits) ?? false;
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
/** Digits and the usual separators; a leading + may sit inside an opening bracket: "(+61) 491 570 156". */
const PHONE_CHARACTERS = /^(?:\+|\(\+)?[0-9 ().\-/]+$/;
/**
 * A number as a spreadsheet's numeric column writes it, with a decimal part (491711234567.0, as
 * pandas and other CSV writers give a float): the digits before the dot are all it had, and any
 * leading 0 is lost. Read with the dot as a separator, the 0 would be a last digit (another number).
 */
const DECIMAL_PART = /^\+?\d+\.0+$/;
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
	// The parser would find a number inside any text ("call ☎ 0491 570 156 x"); a field holding more
	// than a number is a sign of a mapping error upstream, so it is refused rather than guessed at.
	if (!PHONE_CHARACTERS.test(input)) {
		return { problem: `may contain only digits, spaces, + ( ) - . and / (got ${JSON.stringify(input)})` };
	}
	if (DECIMAL_PART.test(input)) {
		return {
			problem:
				`ends in a decimal part (${JSON.stringify(input)}): the phone column was read as a number, which adds ".0" and drops a leading 0 or +; ` +
				'format the column as text and export it again',
		};
	}
	const parsed = phoneLibrary().parsePhoneNumberFromString(input, defaultCountry);
	const withPlus = /^\(?\+/.test(input);
	if (withPlus) {
		if (!parsed) return { problem: `is not a phone number (${JSON.stringify(input)})` };
		if (!parsed.isValid()) return { problem: `is not a valid phone number (${JSON.stringify(input)})` };
	}
	const reading = withPlus ? parsed! : readingWithoutPlus(input, parsed, defaultCountry);
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
 * mobile (a WhatsApp id is one) and whether the international reading has the default country's
 * calling code:
 * - the default country's code: the international reading only when it alone is a mobile (a
 *   WhatsApp id of that country), none when both are. No such pair of mobiles turned up in samples
 *   of today's metadata; the rule still says what to do.
 * - another country's code: none when only the international reading is a mobile (a WhatsApp id of
 *   that country, or a landline that lost its trunk 0 whose digits happen to be a foreign mobile:
 *   nothing tells them apart), else the national reading.
 */
export function readingByType(
	nationalIsMobile: boolean,
	internationalIsMobile: boolean,
	otherCallingCode = false,
): 'national' | 'international' | 'ambiguous' {
	if (!internationalIsMobile) return 'national';
	if (otherCallingCode) return nationalIsMobile ? 'national' : 'ambiguous';
	return nationalIsMobile ? 'ambiguous' : 'international';
}

/**
 * Whether digits written without + may be a calling code and a number (a WhatsApp id of another
 * country): not when they start with 0 (no calling code does), the country's trunk prefix or its
 * international prefix, nor when the parser has read them as another country's number already
 * (after an international prefix).
 */
function mayHaveOtherCallingCode(digits: string, parsed: PhoneNumber | undefined, country: CountryCode, code: string): boolean {
	if (digits === '' || digits.startsWith('0')) return false;
	if (parsed && parsed.countryCallingCode !== code) return false;
	const trunk = trunkPrefix(country);
	if (trunk !== undefined && digits.startsWith(trunk)) return false;
	return !startsWithIddOf!(country, digits);
}

/** How a reading is named in a message: "+33612345678 (FR)". */
function named(number: PhoneNumber): string {
	return number.country ? `${number.number} (${number.country})` : number.number;
}

/**
 * A number written without + (nor an international prefix such as 00) may carry a calling code, as
 * WhatsApp writes its ids (491711234567 for +49 171 1234567, 33612345678 for +33 6 12 34 56 78): it
 * is read two ways, as a national number of the default country (what the parser does) and as
 * + followed by its digits.
 *
 * Digits starting with the default country's calling code:
 * - only one reading is valid, or both are the same number: that number (KZ 79123456789 is the
 *   Russian mobile +7 912 345-67-89, +7 being KZ's code too);
 * - both valid and different, their types decide (readingByType), since a WhatsApp id is a mobile:
 *   only the international reading a mobile, that one (DE 491711234567 is +49 171 1234567, not the
 *   landline +49 491711234567); the international reading no mobile, the national reading, as
 *   before 5d8ef7c (a landline or a mobile that lost its trunk 0 in a spreadsheet: VN 846921530 is
 *   the mobile +84 84 692 1530, SE 468291160 Lund's +46 46 829 11 60; IT 390 376 4953 is a mobile
 *   as written); both mobiles (none turned up in samples of every country's plan): refused, saying
 *   both readings and what to write.
 *
 * Digits starting with another calling code (and not with the trunk or international prefix):
 * - the national reading a mobile, or the international one invalid or no mobile: the national
 *   reading, as before;
 * - the national reading valid but no mobile and the international one a mobile (DE 33612345678:
 *   the landline +49 33612345678, or the French mobile +33 6 12 34 56 78): refused, naming both. The
 *   foreign mobile is not taken: 1.6 to 3.8 % of the landlines of DE, AT, ID, RS, LU, IN and BR
 *   written without their trunk 0 read with + as a foreign mobile;
 * - the national reading invalid: refused as before, the message naming the international reading
 *   when that is valid, to be written with +.
 */
function readingWithoutPlus(input: string, parsed: PhoneNumber | undefined, country: CountryCode): PhoneNumber | { problem: string } {
	const library = phoneLibrary();
	const national = parsed?.isValid() ? parsed : undefined;
	const digits = input.replace(/\D/g, '');
	const code = library.getCountryCallingCode(country);
	const ownCode = digits.startsWith(code);
	// A mobile read nationally stays that whatever its digits read with + (readingByType), so that
	// parse is saved for the common case of a national mobile written without its trunk 0.
	const readWithPlus = ownCode || (mayHaveOtherCallingCode(digits, parsed, country, code) && !(national && isMobile(national)));
	const international = readWithPlus ? library.parsePhoneNumberFromString(`+${digits}`) : undefined;
	const other = international?.isValid() ? international : undefined;
	if (!national) {
		if (other && ownCode) return other;
		const hint = other ? `; read with a + it is ${named(other)}: if that is the number, write it with + and the country code` : '';
		if (!parsed) return { problem: `is not a phone number (${JSON.stringify(input)})${hint}` };
		return { problem: `is not a valid phone number in ${country} (no +country code was given) (${JSON.stringify(input)})${hint}` };
	}
	if (!other || other.number === national.number) return national;
	const nationalIsMobile = isMobile(national);
	const chosen = readingByType(nationalIsMobile, isMobile(other), !ownCode);
	if (chosen !== 'ambiguous') return chosen === 'national' ? national : other;
	const trunk = trunkPrefix(country);
	const withTrunk = trunk === undefined ? '' : `, or as a number in ${country} with its leading ${trunk}`;
	const firstDigits = ownCode ? `${country}'s country code ${code}` : `the country code ${other.countryCallingCode}`;
	return {
		problem:
			`is ambiguous in ${country} without a + (${JSON.stringify(input)}): it is ${nationalIsMobile ? 'the mobile ' : ''}${national.number} as a number in ${country}, ` +
			`or the mobile ${named(other)} if its first digits are ${firstDigits}; write it with + and the country code${withTrunk}`,
	};
}
