// A rule's tags that no longer exist, and what to say about them. A rule names its tags by id
// (include_tag_ids, exclude_tag_ids); console_rules gives those ids with the rule and, by name, the
// tags among them that exist (include_tags, exclude_tags). Since migration …1670 a tag a rule uses
// cannot be deleted, but a rule saved before it, or written directly, may still name a deleted one:
// an "all tags" rule then follows up nobody, an "any tag" rule only the contacts of its other tags,
// and a deleted excluded tag excludes nobody. The card and the form say so, and what to do. Saving the
// rule from the form removes such a tag (the form lists only tags that exist); a tag created again is a
// new tag (another id), picked in the form like any other. Pure: no DOM, unit tested in test/console.

export interface RuleTags {
	tag_match: 'any' | 'all';
	include_tag_ids: string[];
	exclude_tag_ids: string[];
	include_tags: Array<{ id: string }>;
	exclude_tags: Array<{ id: string }>;
}

/** The ids the rule names that are not among its tags that exist, each list in the rule's order. */
export function missingTags(rule: RuleTags): { include: string[]; exclude: string[] } {
	const missing = (ids: string[], tags: Array<{ id: string }>) => ids.filter((id) => !tags.some((tag) => tag.id === id));
	return { include: missing(rule.include_tag_ids ?? [], rule.include_tags ?? []), exclude: missing(rule.exclude_tag_ids ?? [], rule.exclude_tags ?? []) };
}

const aTag = (n: number) => (n === 1 ? 'a tag that no longer exists' : `${n} tags that no longer exist`);

/**
 * The card's words for its missing tags ('' when there is none): what it does to the rule, and what
 * to do ("…Remove it from the rule (Edit, then Save: …), or create the tag again and pick it in the rule.").
 */
export function missingTagsInWords(rule: RuleTags): string {
	const { include, exclude } = missingTags(rule);
	const parts: string[] = [];
	if (include.length > 0) {
		const left = rule.include_tag_ids.length - include.length;
		const effect = left === 0
			? 'so it follows up nobody'
			: rule.tag_match === 'all'
				? 'and a contact needs all of them, so it follows up nobody'
				: `so it follows up only contacts with its other tag${left === 1 ? '' : 's'}`;
		parts.push(`This rule names ${aTag(include.length)} among the tags it follows up, ${effect}.`);
	}
	if (exclude.length > 0) {
		parts.push(`${include.length > 0 ? 'It also names' : 'This rule names'} ${aTag(exclude.length)} among the tags it excludes, so ${exclude.length === 1 ? 'that tag excludes' : 'those tags exclude'} nobody.`);
	}
	if (parts.length === 0) return '';
	const one = include.length + exclude.length === 1;
	parts.push(`Remove ${one ? 'it' : 'them'} from the rule (Edit, then Save: the form keeps only tags that exist), or create the tag${one ? '' : 's'} again and pick ${one ? 'it' : 'them'} in the rule.`);
	return parts.join(' ');
}

/**
 * The form's words beside the tags of one side ('' when none is missing): saving removes the missing
 * tags; to keep following up (or excluding) by such a tag, create it again and tick it here.
 */
export function missingInFormWords(count: number, side: 'include' | 'exclude'): string {
	if (count === 0) return '';
	const one = count === 1;
	return `This rule names ${aTag(count)} among the tags it ${side === 'include' ? 'follows up' : 'excludes'}. Saving removes ${one ? 'it' : 'them'} from the rule; `
		+ `to ${side === 'include' ? 'follow up' : 'exclude'} by ${one ? 'that tag' : 'those tags'} again, create ${one ? 'it' : 'them'} again and tick ${one ? 'it' : 'them'} here.`;
}
