// The Rules tab's words for a rule that names a tag that no longer exists (console/src/rule-tags.ts):
// the ids console_rules gives with the rule that are not among its tags by name, what that does to the
// rule, and what to do. The card and the form in Chromium: test/e2e/console-rules.e2e.test.ts.
import { missingInFormWords, missingTags, missingTagsInWords, type RuleTags } from '../../console/src/rule-tags';

const rule = (over: Partial<RuleTags>): RuleTags => ({
	tag_match: 'any',
	include_tag_ids: ['t-lead', 't-hot'],
	exclude_tag_ids: ['t-dnc'],
	include_tags: [{ id: 't-hot' }, { id: 't-lead' }],
	exclude_tags: [{ id: 't-dnc' }],
	...over,
});

describe('a rule\'s tags that no longer exist', () => {
	it('are the ids the rule names without a tag by name, each side in the rule\'s order; none when every tag exists', () => {
		expect(missingTags(rule({}))).toEqual({ include: [], exclude: [] });
		expect(missingTagsInWords(rule({}))).toBe('');
		expect(missingTags(rule({ include_tag_ids: ['t-gone', 't-lead', 't-old'], include_tags: [{ id: 't-lead' }], exclude_tags: [] })))
			.toEqual({ include: ['t-gone', 't-old'], exclude: ['t-dnc'] });
	});

	it('an "all tags" rule missing one follows up nobody, and the card says what to do', () => {
		expect(missingTagsInWords(rule({ tag_match: 'all', include_tags: [{ id: 't-hot' }] }))).toBe(
			'This rule names a tag that no longer exists among the tags it follows up, and a contact needs all of them, so it follows up nobody. '
			+ 'Remove it from the rule (Edit, then Save: the form keeps only tags that exist), or create the tag again and pick it in the rule.',
		);
	});

	it('an "any tag" rule follows up only its other tags; one with none left, nobody; an excluded one excludes nobody', () => {
		expect(missingTagsInWords(rule({ include_tags: [{ id: 't-hot' }] }))).toMatch(/^This rule names a tag that no longer exists among the tags it follows up, so it follows up only contacts with its other tag\. Remove it/);
		expect(missingTagsInWords(rule({ include_tags: [] }))).toMatch(/^This rule names 2 tags that no longer exist among the tags it follows up, so it follows up nobody\. Remove them from the rule .* create the tags again and pick them in the rule\.$/);
		expect(missingTagsInWords(rule({ exclude_tags: [] }))).toMatch(/^This rule names a tag that no longer exists among the tags it excludes, so that tag excludes nobody\. Remove it/);
		expect(missingTagsInWords(rule({ include_tags: [{ id: 't-lead' }], exclude_tags: [] })))
			.toMatch(/follows up, so it follows up only contacts with its other tag\. It also names a tag that no longer exists among the tags it excludes, so that tag excludes nobody\. Remove them/);
	});

	it('the form says beside each side that saving removes them, and how to keep such a tag', () => {
		expect(missingInFormWords(0, 'include')).toBe('');
		expect(missingInFormWords(1, 'include')).toBe('This rule names a tag that no longer exists among the tags it follows up. Saving removes it from the rule; to follow up by that tag again, create it again and tick it here.');
		expect(missingInFormWords(2, 'exclude')).toBe('This rule names 2 tags that no longer exist among the tags it excludes. Saving removes them from the rule; to exclude by those tags again, create them again and tick them here.');
	});
});
