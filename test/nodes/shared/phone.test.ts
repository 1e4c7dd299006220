// nodes/shared/phone.ts: a number written with its country's calling code but no + (as WhatsApp
// writes its ids) is that international number when only that reading is a mobile, not a national
// number that happens to be valid too; otherwise the national reading, as before 5d8ef7c (a
// landline or mobile that lost its trunk 0, an Italian mobile written as it is). Every country's
// example mobile number, and a fixed line of each, is read the same in each way people write it.
import { getCountries, getCountryCallingCode, getExampleNumber, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import { loadPhoneLibrary, normalisePhone, readingByType, trunkPrefix } from '../../../nodes/shared/phone';

beforeAll(loadPhoneLibrary);

test.each([
	['DE', '491711234567', '+491711234567', '+49491711234567'],
	['DE', '49 1512 3456789', '+4915123456789', '+494915123456789'],
	['ID', '62812345678', '+62812345678', '+6262812345678'],
	['XK', '38343201234', '+38343201234', '+38338343201234'],
])('in %s, %s (the country code without +) is %s, not the national reading %s', (country, written, number, national) => {
	expect(normalisePhone(written, country as 'DE')).toEqual({ e164: number });
	// Written as that other number, with its trunk 0 or its +, it is still that one.
	expect(normalisePhone(`0${national.slice(1 + getCountryCallingCode(country as 'DE').length)}`, country as 'DE')).toEqual({ e164: national });
	expect(normalisePhone(national, country as 'DE')).toEqual({ e164: national });
});

test.each([
	// [country, as written, the national reading (what 769b84c read too), the other reading and why it is not that]
	['VN', '846921530', '+84846921530', '+846921530 is a service number (UAN), the mobile 084 692 1530 lost its 0'],
	['SE', '468291160', '+46468291160', '+468291160 is a landline too: Lund 046-829 11 60 lost its 0'],
	['DE', '4947963824', '+494947963824', '+4947963824 is a landline too: 04947 963824 lost its 0'],
	['IT', '390 376 4953', '+393903764953', '+39 0376 4953 is a landline; 390 376 4953 is a mobile as written'],
	['IT', '3906578433', '+393906578433', '+39 0657 8433 is a landline'],
	['IT', '390 797 0574', '+393907970574', '+39 0797 0574 is a landline'],
	['PL', '48 300 06 89', '+48483000689', '+483000689 is a landline too; 48 300 06 89 is a Radom number as written'],
])('in %s, %j is the national number %s (%s)', (country, written, number) => {
	expect(normalisePhone(written, country as 'DE')).toEqual({ e164: number });
});

test('when both readings are valid and differ, only a mobile international reading wins; two mobiles are refused', () => {
	expect(readingByType(false, true)).toBe('international');
	expect(readingByType(true, false)).toBe('national');
	expect(readingByType(false, false)).toBe('national');
	expect(readingByType(true, true)).toBe('ambiguous');
	expect(trunkPrefix('IT')).toBeUndefined();
	expect(trunkPrefix('DE')).toBe('0');
	// Read in IT's own way when only one reading is valid, and as written with +.
	expect(normalisePhone('312 345 6789', 'IT')).toEqual({ e164: '+393123456789' });
	expect(normalisePhone('39 312 345 6789', 'IT')).toEqual({ e164: '+393123456789' });
	expect(normalisePhone('+39 390 797 0574', 'IT')).toEqual({ e164: '+393907970574' });
	expect(normalisePhone('+39 0797 0574', 'IT')).toEqual({ e164: '+3907970574' });
});

/** A fixed line of the country, the first a seeded walk finds (the package ships example mobiles only). */
function fixedLineOf(country: CountryCode): PhoneNumber | undefined {
	let seed = 20261205;
	const digit = () => {
		seed = (seed * 1103515245 + 12345) % 2147483648;
		return Math.floor((seed / 2147483648) * 10);
	};
	const code = getCountryCallingCode(country);
	for (let attempt = 0; attempt < 2000; attempt++) {
		const length = 4 + (attempt % 9);
		const number = parsePhoneNumberFromString(`+${code}${Array.from({ length }, digit).join('')}`);
		if (number?.isValid() && number.country === country && number.getType() === 'FIXED_LINE') return number;
	}
	return undefined;
}

test('a fixed line of every country is itself written nationally (or refused naming it where its digits are a foreign mobile too) and with +; with its country code but no + it is read as 769b84c read it', () => {
	const wrong: string[] = [];
	let countries = 0;
	for (const country of getCountries()) {
		const fixed = fixedLineOf(country);
		if (!fixed) continue;
		countries++;
		for (const text of [fixed.formatNational(), fixed.formatInternational()]) {
			const result = normalisePhone(text, country);
			// Written nationally without a trunk prefix, its digits may also be another country's mobile
			// with its country code (BF 24 77 45 96, +247 74596 in AC): refused naming both, never another number.
			if ('problem' in result && !text.startsWith('+') && /^is ambiguous in .* it is \+\d+ as a number in /.test(result.problem) && result.problem.includes(fixed.number)) continue;
			if (!('e164' in result) || result.e164 !== fixed.number) wrong.push(`${country} ${JSON.stringify(text)}: ${JSON.stringify(result)}, not ${fixed.number}`);
		}
		// A landline is no WhatsApp id: written so, it is the national reading where that is valid (as before 5d8ef7c), never refused.
		const withoutPlus = `${fixed.countryCallingCode}${fixed.nationalNumber}`;
		const national = parsePhoneNumberFromString(withoutPlus, country);
		const expected = national?.isValid() ? national.number : fixed.number;
		const result = normalisePhone(withoutPlus, country);
		if (!('e164' in result) || result.e164 !== expected) wrong.push(`${country} ${JSON.stringify(withoutPlus)}: ${JSON.stringify(result)}, not ${expected}`);
	}
	expect(countries).toBeGreaterThan(180);
	expect(wrong).toEqual([]);
});

test('every country\'s example mobile number is itself written nationally, with +, and with its country code but no +', () => {
	const wrong: string[] = [];
	let countries = 0;
	for (const country of getCountries()) {
		const example = getExampleNumber(country, examples);
		if (!example) continue;
		countries++;
		const writings = {
			national: example.formatNational(),
			international: example.formatInternational(),
			withoutPlus: `${example.countryCallingCode}${example.nationalNumber}`,
		};
		for (const [writing, text] of Object.entries(writings)) {
			const result = normalisePhone(text, country);
			if (!('e164' in result) || result.e164 !== example.number) wrong.push(`${country} ${writing} ${JSON.stringify(text)}: ${JSON.stringify(result)}, not ${example.number}`);
		}
	}
	expect(countries).toBeGreaterThan(200);
	expect(wrong).toEqual([]);
});

test.each([
	// [default country, a WhatsApp id of another country, its national reading (valid, no mobile), the mobile it is with +]
	['DE', '33612345678', '+4933612345678', '+33612345678'],
	['DE', '447911123456', '+49447911123456', '+447911123456'],
	['DE', '436641234567', '+49436641234567', '+436641234567'],
	['DE', '34612345678', '+4934612345678', '+34612345678'],
])('in %s, %s (another country\'s code without +) is refused naming %s and %s, not read as the first', (country, written, national, mobile) => {
	const result = normalisePhone(written, country as 'DE');
	expect(result).toEqual({ problem: expect.stringMatching(/^is ambiguous in DE without a \+ /) });
	const problem = (result as { problem: string }).problem;
	expect(problem).toContain(`${national} as a number in DE`);
	expect(problem).toContain(`the mobile ${mobile}`);
	expect(problem).toMatch(/write it with \+ and the country code, or as a number in DE with its leading 0$/);
	// Written with + or with the trunk 0 it is the number it says.
	expect(normalisePhone(`+${written}`, country as 'DE')).toEqual({ e164: mobile });
	expect(normalisePhone(`0${written}`, country as 'DE')).toEqual({ e164: national });
	// A mobile of DE written without its 0 stays that mobile.
	expect(normalisePhone('1711234567', 'DE')).toEqual({ e164: '+491711234567' });
});

test('another country\'s example mobile written as a WhatsApp id is never silently another number, unless that number is a mobile read nationally', () => {
	const wrong: string[] = [];
	let refused = 0;
	const ids = getCountries().flatMap((country) => {
		const example = getExampleNumber(country, examples);
		return example ? [example] : [];
	});
	for (const defaultCountry of getCountries()) {
		const code = getCountryCallingCode(defaultCountry);
		for (const example of ids) {
			if (example.countryCallingCode === code) continue;
			const result = normalisePhone(`${example.countryCallingCode}${example.nationalNumber}`, defaultCountry);
			if (!('e164' in result)) {
				refused++;
				continue;
			}
			if (result.e164 === example.number) continue;
			// The national reading wins when it is a mobile (a mobile that lost its trunk 0, a US number),
			// and when the digits start with the country's trunk or international prefix (RU 8…, TD 16…).
			const type = parsePhoneNumberFromString(result.e164)?.getType();
			const prefixed = ['KZ', 'RU', 'TD'].includes(defaultCountry);
			if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE' && !prefixed) wrong.push(`${defaultCountry} ${example.countryCallingCode}${example.nationalNumber} -> ${result.e164} (${type})`);
		}
	}
	expect(refused).toBeGreaterThan(50_000);
	expect({ count: wrong.length, first: wrong.slice(0, 10) }).toEqual({ count: 0, first: [] });
});

test('a mobile written as a WhatsApp id is read in every country sharing its calling code (KZ reads a Russian +7 id)', () => {
	expect(normalisePhone('79123456789', 'KZ')).toEqual({ e164: '+79123456789' });
	expect(normalisePhone('77011234567', 'RU')).toEqual({ e164: '+77011234567' });
	const wrong: string[] = [];
	const countries = getCountries();
	for (const country of countries) {
		const example = getExampleNumber(country, examples);
		if (!example) continue;
		for (const defaultCountry of countries) {
			if (getCountryCallingCode(defaultCountry) !== example.countryCallingCode) continue;
			const result = normalisePhone(`${example.countryCallingCode}${example.nationalNumber}`, defaultCountry);
			if (!('e164' in result) || result.e164 !== example.number) wrong.push(`${defaultCountry} ${example.number}: ${JSON.stringify(result)}`);
		}
	}
	expect(wrong).toEqual([]);
});

test('a number with a decimal part (a numeric column\'s "….0") is refused saying to format the column as text, not read with a last 0', () => {
	for (const [country, written] of [
		['DE', '491711234567.0'],
		['DE', '1711234567.0'],
		['IT', '393331234567.0'],
		['ID', '6281234567890.00'],
	] as const) {
		expect(normalisePhone(written, country)).toEqual({
			problem: `ends in a decimal part (${JSON.stringify(written)}): the phone column was read as a number, which adds ".0" and drops a leading 0 or +; format the column as text and export it again`,
		});
	}
	const accepted: string[] = [];
	for (const country of getCountries()) {
		const example = getExampleNumber(country, examples);
		if (!example) continue;
		const result = normalisePhone(`${example.countryCallingCode}${example.nationalNumber}.0`, country);
		if ('e164' in result) accepted.push(`${country}: ${result.e164}`);
	}
	expect(accepted).toEqual([]);
	// Dots between groups are still separators.
	expect(normalisePhone('0171.1234567', 'DE')).toEqual({ e164: '+491711234567' });
	expect(normalisePhone('01.23.45.67.00', 'FR')).toEqual({ e164: '+33123456700' });
});
