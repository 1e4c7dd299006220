// A rule refused by the database, said in plain words. The database stays the judge: it names the
// column and gives its own message (and, for a check constraint, the constraint's definition as the
// hint); this adds `advice`, what is wrong and what to do, per column. The bounds in the advice are
// read from the database's hint (the constraint's own definition), not written here a second time.
// It lives in the operations, not the page: every caller of the endpoints (the console, another
// workflow, the node in the editor) gets the same words, and the in-process tests check them.

export interface Refusal {
	field: string | null;
	message: string;
	hint: string | null;
	advice?: string;
}

const numberWords = (value: string) => {
	const number = Number(value);
	return Number.isFinite(number) ? number.toLocaleString('en-US', { maximumFractionDigits: 2 }) : value;
};

/** "from 1 to 1,000,000", "at least 0", from a check constraint's definition in the hint; '' when it has none. */
export function boundsInWords(hint: string | null): string {
	if (!hint?.startsWith('Allowed:')) return '';
	// Postgres writes a BETWEEN as >= and <=; a numeric bound may come as (8760)::numeric.
	const lowValue = /(?:>=|>)\s*\(?(-?\d+(?:\.\d+)?)/.exec(hint)?.[1];
	const highValue = /(?:<=|<)\s*\(?(-?\d+(?:\.\d+)?)/.exec(hint)?.[1];
	if (lowValue && highValue) return `from ${numberWords(lowValue)} to ${numberWords(highValue)}`;
	if (lowValue) return `at least ${numberWords(lowValue)}`;
	if (highValue) return `at most ${numberWords(highValue)}`;
	return '';
}

/** The text with its {bounds}; without bounds, the placeholder and what leads to it (", " or " (") go. */
const withBounds = (text: string, bounds: string) =>
	bounds ? text.replace('{bounds}', bounds) : text.replace(/,? \{bounds\}/, '').replace(/ \(\{bounds\} characters(, not only spaces)?\)/, '').replace(/ \{bounds\}/, '');

/** Plain words for a refusal of the field. */
export function adviceFor(refusal: Refusal): string {
	const { field, message, hint } = refusal;
	// console_rule_write: a create repeated with its key (the answer's rule is the one it made).
	if (/^the rule this key created \(/.test(message)) {
		return 'An earlier save of this new rule already created it, with another value here; nothing was changed. Save again as a change of that rule (its ID is in the answer; the console now edits it) to apply this value.';
	}
	const bounds = boundsInWords(hint);
	switch (field) {
		case 'name':
			return withBounds('Give the rule a name ({bounds} characters, not only spaces).', bounds);
		case 'include_tag_ids':
			if (/at least one tag/.test(message)) return 'Pick at least one tag: the rule follows up the contacts that carry it.';
			if (/listed twice/.test(message)) return 'A tag is picked twice: pick each tag once.';
			if (/does not exist/.test(message)) return 'A picked tag no longer exists or belongs to another owner: reload the page and pick the tags again.';
			return 'Pick the tags from the list.';
		case 'exclude_tag_ids':
			if (/both included and excluded/.test(message)) return 'A tag is both followed up and excluded: untick it on one side.';
			if (/listed twice/.test(message)) return 'A tag is excluded twice: pick each tag once.';
			if (/does not exist/.test(message)) return 'An excluded tag no longer exists or belongs to another owner: reload the page and pick again.';
			return 'Pick the tags to exclude from the list.';
		case 'tag_match':
			return 'Choose whether a contact needs any of the tags or all of them.';
		case 'active_hours_start':
		case 'active_hours_end':
			return 'Give a time of day such as 09:00 (the same time twice means all day).';
		case 'time_zone':
			return 'Pick a time zone from the list (a name such as Europe/London).';
		case 'active_days':
			return 'Tick at least one day of the week.';
		case 'daily_limit':
			return withBounds('The daily limit is a whole number of follow-ups a day, {bounds}.', bounds);
		case 'max_follow_ups':
			return withBounds('Follow-ups per contact is a whole number, {bounds}.', bounds);
		case 'min_hours_between_follow_ups':
			return withBounds('Hours between follow-ups is a number of hours, {bounds} (quarters such as 1.5 are fine).', bounds);
		case 'stop_on_reply':
		case 'enabled':
			return 'Tick or untick the box.';
		case 'instructions':
			return withBounds('Write what the AI should say in the follow-up ({bounds} characters, not only spaces).', bounds);
		case 'model':
			return withBounds('Leave the model empty to use the Gemini credential\'s default, or give a model name such as gemini-2.5-flash ({bounds} characters).', bounds);
		case 'language':
			return withBounds('Leave the language empty to reply in the contact\'s own language, or name one such as Spanish ({bounds} characters).', bounds);
		case 'context_message_count':
			return withBounds('Messages of history is how many past messages the AI reads: a whole number, {bounds}.', bounds);
		case 'resume_after_takeover_hours':
			return withBounds('Leave it empty to never resume by itself after a person took over, or give a number of hours {bounds}.', bounds);
		case 'page_id':
			// console_rule_write: a Page messenger_pages connects to another owner (its contacts are
			// never claimed for this rule; that owner's send would carry it).
			if (/connected to another owner/.test(message)) {
				return 'This Page is connected to another owner, so the rule cannot send as it: pick one of this owner\'s own Facebook Pages, or "Every Page" (leave it empty) to follow up on every Page of the owner.';
			}
			return 'Pick one of your Facebook Pages, or "Every Page" (a Page ID is digits only).';
		case 'conversation_id':
			return 'Pick one of the rule\'s tagged contacts from the list.';
		case 'user_id':
			return 'Choose the owner of the new rule.';
		case 'updated_at':
			// console_rule_write: the rule changed since the caller read it (another tab, another person).
			if (/changed since you opened it/.test(message)) {
				return 'This rule was changed since you opened it (in another tab, or by someone else), so nothing was saved: your save would have undone that change. The form now shows the rule as it is: make your change again and save.';
			}
			return 'Send the rule\'s updated_at as it was read (the rules list gives it), or leave it out.';
		case 'create_key':
			return 'The rule an earlier save of this form created was deleted meanwhile: save again to create it anew.';
		default:
			return /there is no automation rule/.test(message) ? 'This rule no longer exists (deleted elsewhere?): reload the page.' : message;
	}
}

/** The refusal with its advice, for an answer carrying `error` from console_rule_write or console_rule_prompt. */
export function withAdvice<T extends { error?: Refusal | null }>(answer: T): T {
	if (!answer?.error || typeof answer.error !== 'object') return answer;
	return { ...answer, error: { ...answer.error, advice: adviceFor(answer.error) } };
}
