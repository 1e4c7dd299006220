// The Pipeline tab's words, without a browser: a card's last analysis (console/src/format.ts), the AI's
// confidence, and a fallback score said as what it is, never "0 % confident" (the fallback's
// confidence is 0 because no AI judged it); a pipeline asked for that the database does not know
// (console/src/pipeline-words.ts), said as the address's ID to check or as deleted meanwhile, and what
// is shown instead. The page in Chromium: test/e2e/console-pipeline.e2e.test.ts.
import { analysisInWords } from '../../console/src/format';
import { pipelineNotFoundInWords } from '../../console/src/pipeline-words';

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

describe('a pipeline asked for that the database does not know', () => {
	const id = '00000000-0000-4000-8000-000000000000';

	it('from the address: which ID, the link to check, and the first pipeline listed shown instead', () => {
		expect(pipelineNotFoundInWords(id, 'address', undefined, 3)).toBe(`There is no pipeline with ID ${id} in this database. `
			+ 'Check the ID in the link you opened (it may be of another project\'s database, or the pipeline was deleted). '
			+ 'Showing the first pipeline listed instead: pick another in the Pipeline list.');
		expect(pipelineNotFoundInWords('a'.repeat(100), 'address', undefined, 1)).toContain(`ID ${'a'.repeat(60)}… in this database`);
	});

	it('shown or picked, then deleted: named, said as deleted, no link to check', () => {
		const words = pipelineNotFoundInWords(id, 'deleted', 'Course sales', 2);
		expect(words).toBe(`The pipeline "Course sales" (ID ${id}) is no longer in this database: it was deleted meanwhile. `
			+ 'Showing the first pipeline listed instead: pick another in the Pipeline list.');
		expect(words).not.toMatch(/link/);
		expect(pipelineNotFoundInWords(id, 'deleted', undefined, 2)).toMatch(new RegExp(`^The pipeline with ID ${id} is no longer in this database`));
	});

	it('with no pipeline left, says so instead of a pipeline shown', () => {
		expect(pipelineNotFoundInWords(id, 'address', undefined, 0)).toMatch(/was deleted\)\. No pipeline is left to show\.$/);
		expect(pipelineNotFoundInWords(id, 'deleted', 'Old', 0)).toMatch(/deleted meanwhile\. No pipeline is left to show\.$/);
	});
});

describe('a pipeline asked for that the database does not know, with one pipeline listed', () => {
	const id = '00000000-0000-4000-8000-000000000000';

	it('says the only pipeline is shown instead: no other to pick in the Pipeline list', () => {
		expect(pipelineNotFoundInWords(id, 'address', undefined, 1)).toBe(`There is no pipeline with ID ${id} in this database. `
			+ 'Check the ID in the link you opened (it may be of another project\'s database, or the pipeline was deleted). '
			+ 'Showing the only pipeline instead.');
		const deleted = pipelineNotFoundInWords(id, 'deleted', 'Old', 1);
		expect(deleted).toBe(`The pipeline "Old" (ID ${id}) is no longer in this database: it was deleted meanwhile. Showing the only pipeline instead.`);
		expect(deleted).not.toMatch(/pick another/);
	});
});
