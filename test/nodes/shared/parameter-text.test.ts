// parameterText: what the nodes read from an ID or text parameter. A value an expression mapped
// from the wrong field (an object, a list, a boolean) must not read as "left empty", which would
// mean every owner, every rule or the default pipeline: it comes back as its JSON text, which the
// UUID check after it refuses, naming what it got.
import { parameterText } from '../../../nodes/shared/resource-locator';

it('keeps text and numbers, reads nothing as empty', () => {
	expect(parameterText('  0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f ')).toBe('0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f');
	expect(parameterText(42)).toBe('42');
	expect(parameterText('')).toBe('');
	expect(parameterText(undefined)).toBe('');
	expect(parameterText(null)).toBe('');
});

it('gives anything else as its JSON text, never as empty', () => {
	expect(parameterText(['0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f'])).toBe('["0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f"]');
	expect(parameterText({ id: 'x' })).toBe('{"id":"x"}');
	expect(parameterText(true)).toBe('true');
	expect(parameterText(false)).toBe('false');
	expect(parameterText([])).toBe('[]');
});
