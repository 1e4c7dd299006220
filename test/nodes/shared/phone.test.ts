// nodes/shared/phone.ts: a number written with its country's calling code but no + (as WhatsApp
// writes its ids) is that international number, not a national number that happens to be valid
// too; where nothing settles which it is, it is refused saying both readings. Every country's
// example mobile number is read the same in each way people write it.
import { getCountries, getCountryCallingCode, getExampleNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import { loadPhoneLibrary, normalisePhone, trunkPrefix } from '../../../nodes/shared/phone';

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

test('where the country writes no trunk prefix (IT), a number both readings make valid is refused, saying both and what to write', () => {
	expect(trunkPrefix('IT')).toBeUndefined();
	expect(trunkPrefix('DE')).toBe('0');
	expect(normalisePhone('390 797 0574', 'IT')).toEqual({
		problem:
			'is ambiguous in IT without a + ("390 797 0574"): it is +393907970574 as a number in IT, or +3907970574 if its first digits are IT\'s country code 39; write it with + and the country code',
	});
	expect(normalisePhone('+39 390 797 0574', 'IT')).toEqual({ e164: '+393907970574' });
	expect(normalisePhone('+39 0797 0574', 'IT')).toEqual({ e164: '+3907970574' });
	// Read in IT's own way when only one reading is valid.
	expect(normalisePhone('312 345 6789', 'IT')).toEqual({ e164: '+393123456789' });
	expect(normalisePhone('39 312 345 6789', 'IT')).toEqual({ e164: '+393123456789' });
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
