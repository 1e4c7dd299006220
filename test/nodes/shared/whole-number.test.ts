// The one reading of a whole-number parameter (nodes/shared/valid-input.ts): a number, or its digits
// as text (query parameters, expressions, an agent's $fromAI), within the bounds the editor shows but
// an expression escapes; empty is the fallback where the reader has one, refused otherwise.
import { boundedNumber, shown, wholeNumber } from '../../../nodes/shared/valid-input';

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
	[Number.NaN, 'must be a whole number from 1 to 1000 (got NaN)'],
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

// boundedNumber: the same reading for a number option that takes decimals (Temperature, Messages per
// Second); with `whole` left out it is wholeNumber.
test.each([
	[0.7, 0.7],
	['0.7', 0.7],
	[' 2 ', 2],
	[0, 0],
	['', 0.2],
])('a decimal rule reads %j as %d', (raw, value) => {
	expect(boundedNumber(raw, { min: 0, max: 2, whole: false, fallback: 0.2 })).toEqual({ value });
});

test.each([
	[2.5, 'must be a number from 0 to 2 (got 2.5)'],
	['-0.1', 'must be a number from 0 to 2 (got "-0.1")'],
	['hot', 'must be a number from 0 to 2 (got "hot")'],
	['1e0', 'must be a number from 0 to 2 (got "1e0")'],
	[Number.POSITIVE_INFINITY, 'must be a number from 0 to 2 (got Infinity)'],
	[true, 'must be a number from 0 to 2 (got true)'],
])('a decimal rule refuses %j: %s', (raw, problem) => {
	expect(boundedNumber(raw, { min: 0, max: 2, whole: false })).toEqual({ problem });
});

test('a whole rule (the default) is wholeNumber', () => {
	expect(boundedNumber('1.5', { min: 1, max: 100 })).toEqual(wholeNumber('1.5', { min: 1, max: 100 }));
	expect(boundedNumber(7, { min: 1, max: 100 })).toEqual({ value: 7 });
});

// A number JSON cannot write (an expression's 0 / 0, Number("ten"), 1 / 0) is shown as JavaScript
// writes it, in every refusal that shows a value. (Before, shown() gave JSON.stringify's "null", so
// "Limit must be a whole number from 1 to 1000 (got null)" sent the user looking for a null.)
test('NaN and the infinities are shown as what the expression gave, not as null', () => {
	expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, 2.5, 'NaN'].map(shown)).toEqual(['NaN', 'Infinity', '-Infinity', 'null', '2.5', '"NaN"']);
	expect(wholeNumber(Number.NaN, { ...rule, fallback: 50 })).toEqual({ problem: 'must be a whole number from 1 to 1000 (got NaN)' });
	expect(boundedNumber(Number.NEGATIVE_INFINITY, { min: 0, max: 2, whole: false })).toEqual({ problem: 'must be a number from 0 to 2 (got -Infinity)' });
});
