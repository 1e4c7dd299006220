// The Pipeline card's words for its last analysis (console/src/format.ts), without a browser: the AI's
// confidence, and a fallback score said as what it is, never "0 % confident" (the fallback's
// confidence is 0 because no AI judged it). The page in Chromium: test/e2e/console-pipeline.e2e.test.ts.
import { analysisInWords } from '../../console/src/format';

describe('a card\'s analysis in words', () => {
	it('is the AI\'s confidence for the model\'s analysis', () => {
		expect(analysisInWords({ confidence: 80, is_fallback: false })).toBe('AI, 80 % confident');
		expect(analysisInWords({ confidence: '72.5', is_fallback: false })).toBe('AI, 72.5 % confident');
		expect(analysisInWords({ confidence: null, is_fallback: false })).toBe('AI');
	});

	it('is a fallback score, not a confidence it never had, when the model failed', () => {
		const words = analysisInWords({ confidence: 0, is_fallback: true });
		expect(words).toBe('Fallback score: the AI could not score this contact');
		expect(words).not.toMatch(/confident/);
	});
});
