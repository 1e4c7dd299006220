// The one reading of a whole-number parameter (nodes/shared/valid-input.ts): a number, or its digits
// as text (query parameters, expressions, an agent's $fromAI), within the bounds the editor shows but
// an expression escapes; empty is the fallback where the reader has one, refused otherwise.
import { wholeNumber } from '../../../nodes/shared/valid-input';

const rule = { min: 1, max: 1000 };

test.each([
	[50, 50],
	['50', 50],
	[' 7 ', 7],
	[1, 1],
	[1000, 1000],
])('%j is %d', (raw, value) => {
	expect(wholeNumber(raw, rule)).toEqual({ value });
});

test.each([
	[0, 'must be a whole number from 1 to 1000 (got 0)'],
	[1001, 'must be a whole number from 1 to 1000 (got 1001)'],
	[2.5, 'must be a whole number from 1 to 1000 (got 2.5)'],
	['2.5', 'must be a whole number from 1 to 1000 (got "2.5")'],
	['-3', 'must be a whole number from 1 to 1000 (got "-3")'],
	['1e3', 'must be a whole number from 1 to 1000 (got "1e3")'],
	['ten', 'must be a whole number from 1 to 1000 (got "ten")'],
	[true, 'must be a whole number from 1 to 1000 (got true)'],
	[[5], 'must be a whole number from 1 to 1000 (got an array of 1)'],
	[Number.NaN, 'must be a whole number from 1 to 1000 (got null)'],
	['', 'must be a whole number from 1 to 1000 (got "")'],
	[null, 'must be a whole number from 1 to 1000 (got null)'],
	[undefined, 'must be a whole number from 1 to 1000 (got nothing)'],
])('%j is refused: %s', (raw, problem) => {
	expect(wholeNumber(raw, rule)).toEqual({ problem });
});

test('empty is the fallback where the reader has one; a bad value is still refused', () => {
	for (const raw of ['', '  ', null, undefined]) expect(wholeNumber(raw, { ...rule, fallback: 50 })).toEqual({ value: 50 });
	expect(wholeNumber('ten', { ...rule, fallback: 50 })).toEqual({ problem: 'must be a whole number from 1 to 1000 (got "ten")' });
	expect(wholeNumber(0, { ...rule, fallback: 50 })).toEqual({ problem: 'must be a whole number from 1 to 1000 (got 0)' });
});
