/**
 * A rule's settings as the Edit form sends them and as the database returns them, compared field by
 * field: whether a rule read again holds what a save sent (its answer lost), whether a switch changed
 * nothing but `enabled`, and which fields another tab changed (a save refused as stale).
 */

/** The settings a rule's form sends, with the words its form shows for each. */
export const SETTING_LABELS: Readonly<Record<string, string>> = {
	name: 'Name',
	include_tag_ids: 'Tags to follow up',
	tag_match: 'Any or all of the tags',
	exclude_tag_ids: 'Tags to leave out',
	active_hours_start: 'Active from',
	active_hours_end: 'Active until',
	time_zone: 'Time zone',
	active_days: 'Days',
	daily_limit: 'Daily limit',
	max_follow_ups: 'Follow-ups per contact',
	min_hours_between_follow_ups: 'Hours between follow-ups',
	stop_on_reply: 'Stop when the person replies',
	enabled: 'Enabled',
	instructions: 'Instructions for the AI',
	page_id: 'Facebook Page',
	model: 'Model',
	language: 'Language',
	context_message_count: 'Messages of history the AI reads',
	resume_after_takeover_hours: 'Resume after a person took over',
};

const NUMBERS = new Set(['daily_limit', 'max_follow_ups', 'min_hours_between_follow_ups', 'context_message_count', 'resume_after_takeover_hours']);
const LISTS = new Set(['include_tag_ids', 'exclude_tag_ids', 'active_days']);
const TIMES = new Set(['active_hours_start', 'active_hours_end']);

/**
 * One setting as comparable text: none (null, absent, an empty box) as ''; a list in any order;
 * a time to the minute (the form's 09:00 is the column's 09:00:00); a number by its value (the
 * column's "4.50" is the form's 4.5); anything else as it is (text is never trimmed: the database judges it).
 */
export function settingText(key: string, value: unknown): string {
	if (value === null || value === undefined || value === '') return '';
	if (LISTS.has(key) && Array.isArray(value)) return value.map(String).sort().join(',');
	if (TIMES.has(key)) return String(value).slice(0, 5);
	if (NUMBERS.has(key) && String(value).trim() !== '' && Number.isFinite(Number(value))) return String(Number(value));
	return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The settings (of `keys`, else every one of `a`'s but the version) whose values differ between a and b. */
export function differingSettings(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>, keys: readonly string[] = Object.keys(a)): string[] {
	return keys.filter((key) => key !== 'updated_at' && settingText(key, a[key]) !== settingText(key, b[key]));
}

/** The settings' names as the form shows them: "Daily limit, Follow-ups per contact". */
export const settingsInWords = (keys: readonly string[]) => keys.map((key) => SETTING_LABELS[key] ?? key).join(', ');

/** A setting's value as the rule holds it now, for the words beside a refused save. */
function valueInWords(key: string, value: unknown): string {
	const text = settingText(key, value);
	if (text === '') return 'none';
	if (LISTS.has(key)) return `${(value as unknown[]).length} chosen`;
	if (key === 'instructions' || key === 'name') return `“${text.length > 80 ? `${text.slice(0, 80)}…` : text}”`;
	return text;
}

/**
 * A save with no answer, the rule read again: it holds every setting sent (saved), it is as the form
 * opened it (not saved), or it differs (changed, by this save or elsewhere: the form keeps what was typed).
 */
export function lostSaveInWords(rule: string, why: string, outcome: 'saved' | 'not saved' | { differ: string[] }): string {
	if (outcome === 'saved') return `Saved ${rule}: its answer was lost (${why}), but the rule read again holds every setting you sent.`;
	if (outcome === 'not saved') {
		return `No answer to the save of ${rule} (${why}): the rule, read again now, is as you opened it, so it was not saved. Save again to save it.`;
	}
	return `No answer to the save of ${rule} (${why}): the rule, read again now, was changed (by this save or elsewhere) and differs from this form in: `
		+ `${settingsInWords(outcome.differ)}. The form keeps what you typed; its card shows the rule as it is now.`;
}

/**
 * A save refused because the rule changed since the form read it: the form keeps what the user typed
 * and takes the other change in every field the user left alone; `conflicts` are the fields both
 * changed, with the rule's values now.
 */
export function staleSaveInWords(conflicts: ReadonlyArray<{ key: string; now: unknown }>, taken: readonly string[]): string {
	const head = 'This rule was changed since you opened it (in another tab, or by someone else), so nothing was saved. The form keeps what you typed';
	const took = taken.length > 0 ? ` and now shows the other change in the fields you left alone (${settingsInWords(taken)})` : '';
	const both = conflicts.length > 0
		? ` Changed there too, now: ${conflicts.map(({ key, now }) => `${SETTING_LABELS[key] ?? key} ${valueInWords(key, now)}`).join('; ')}.`
		: '';
	return `${head}${took}.${both} Save again to apply what the form shows.`;
}
