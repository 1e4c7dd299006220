// The Rules form's settings compared with a rule read again (console/src/rule-settings.ts): a save
// whose answer was lost is judged saved only when the rule holds every setting sent (the form's
// 09:00 being the column's 09:00:00, a list in another order, "4.50" being 4.5), and the words for a
// lost save and for a save refused as stale. The page itself: test/e2e/console-rules-stale.e2e.test.ts.
import { differingSettings, lostSaveInWords, settingText, staleSaveInWords } from '../../console/src/rule-settings';

const row = {
	name: 'Hot leads', include_tag_ids: ['b', 'a'], tag_match: 'any', exclude_tag_ids: [], active_hours_start: '09:00:00', active_hours_end: '18:30:00',
	time_zone: 'UTC', active_days: [1, 2, 3], daily_limit: 150, max_follow_ups: 3, min_hours_between_follow_ups: '4.50', stop_on_reply: true,
	instructions: 'Be brief.', page_id: null, model: null, language: null, context_message_count: 10, resume_after_takeover_hours: null,
	enabled: true, updated_at: '2026-12-06T05:00:00Z',
};
const sent = {
	name: 'Hot leads', include_tag_ids: ['a', 'b'], tag_match: 'any', exclude_tag_ids: [], active_hours_start: '09:00', active_hours_end: '18:30',
	time_zone: 'UTC', active_days: [3, 2, 1], daily_limit: 150, max_follow_ups: 3, min_hours_between_follow_ups: 4.5, stop_on_reply: true,
	instructions: 'Be brief.', page_id: null, model: null, language: null, context_message_count: 10, resume_after_takeover_hours: null,
	updated_at: '2026-12-06T04:00:00Z',
};

test('a rule holding every setting sent differs in none (times, lists, numbers as the column holds them); the version is never a setting', () => {
	expect(differingSettings(sent, row)).toEqual([]);
	expect(differingSettings({ ...sent, daily_limit: 151, instructions: 'Be brief. ' }, row)).toEqual(['daily_limit', 'instructions']);
	// A number the browser could not read goes as typed: never equal to the column's number.
	expect(differingSettings({ ...sent, max_follow_ups: 'three' }, row)).toEqual(['max_follow_ups']);
	// None is none: null, an empty box, absent.
	expect(settingText('model', '')).toBe(settingText('model', null));
	expect(differingSettings({ model: 'gemini-2.5-flash' }, row)).toEqual(['model']);
	// Only the keys asked for.
	expect(differingSettings(row, { ...row, enabled: false, updated_at: 'x' }, ['name', 'daily_limit'])).toEqual([]);
});

test('a lost save says saved, not saved, or which fields differ', () => {
	expect(lostSaveInWords('Hot leads', 'Failed to fetch', 'saved')).toBe('Saved Hot leads: its answer was lost (Failed to fetch), but the rule read again holds every setting you sent.');
	expect(lostSaveInWords('Hot leads', 'Failed to fetch', 'not saved')).toBe(
		'No answer to the save of Hot leads (Failed to fetch): the rule, read again now, is as you opened it, so it was not saved. Save again to save it.');
	expect(lostSaveInWords('Hot leads', 'Failed to fetch', { differ: ['daily_limit', 'instructions'] })).toBe(
		'No answer to the save of Hot leads (Failed to fetch): the rule, read again now, was changed (by this save or elsewhere) and differs from this form in: '
		+ 'Daily limit, Instructions for the AI. The form keeps what you typed; its card shows the rule as it is now.');
});

test('a stale save keeps what was typed, names the fields taken from the other change, and gives the rule\'s values where both changed', () => {
	expect(staleSaveInWords([], ['daily_limit'])).toBe(
		'This rule was changed since you opened it (in another tab, or by someone else), so nothing was saved. The form keeps what you typed '
		+ 'and now shows the other change in the fields you left alone (Daily limit). Save again to apply what the form shows.');
	const both = staleSaveInWords([{ key: 'instructions', now: 'Offer the plan.' }, { key: 'daily_limit', now: 7 }, { key: 'model', now: null }], []);
	expect(both).toBe('This rule was changed since you opened it (in another tab, or by someone else), so nothing was saved. The form keeps what you typed. '
		+ 'Changed there too, now: Instructions for the AI “Offer the plan.”; Daily limit 7; Model none. Save again to apply what the form shows.');
});
