// The console page's pure parts (console/src), run by jest without a browser: the address's fragment
// read by hand (a key's '+' kept), a failed contact's reason in words (a retry pending only when it
// has one; a retry after the 24-hour window closes said so), a contact whose 24-hour window closes
// before its wait ends in words (no time promised), a
// contact on another owner's Page in words, and Requeue failed's count and answer in
// words, and what became of a fired automation's webhooks and notifications in words. The page in
// Chromium: test/e2e/console.e2e.test.ts.
import { contactReasonInWords, failedToRequeue, outsideActionsInWords, reasonInWords, requeuedInWords } from '../../console/src/format';
import { fragmentWithout, parseFragment } from '../../console/src/fragment';

describe('the address fragment', () => {
	it('keeps a base64-style key as it was typed: "+" is not a space, "/" and "=" stay', () => {
		const fragment = parseFragment('#key=Zm9v+YmFy/9k=&tab=queue');
		expect(fragment.get('key')).toBe('Zm9v+YmFy/9k=');
		expect(fragment.get('tab')).toBe('queue');
	});

	it('decodes %xx escapes only, so an encoded key holding "&", "%", "#" or "+" arrives whole', () => {
		const key = 'a&b%c#d+e f=g';
		expect(parseFragment(`#key=${encodeURIComponent(key)}&rule=r-1`).get('key')).toBe(key);
		expect(parseFragment('#key=a%2Bb').get('key')).toBe('a+b');
	});

	it('keeps a malformed escape as it was typed, and splits each part at its first "=" only', () => {
		expect(parseFragment('#key=50%zz%&header=X-Other').get('key')).toBe('50%zz%');
		expect(parseFragment('#key=50%zz%&header=X-Other').get('header')).toBe('X-Other');
		expect(parseFragment('#key==abc==').get('key')).toBe('=abc==');
	});

	it('takes a name without "=" as empty, skips empty parts, keeps the first of a name given twice', () => {
		const fragment = parseFragment('#&key&&rule=one&rule=two&');
		expect([...fragment]).toEqual([['key', ''], ['rule', 'one']]);
		expect(parseFragment('').size).toBe(0);
		expect(parseFragment('#').size).toBe(0);
	});

	it('leaves the rest of the fragment as it was typed once the key is taken out', () => {
		expect(fragmentWithout('#key=Zm9v+YmFy/9k=&rule=r-1&tab=queue', 'key')).toBe('rule=r-1&tab=queue');
		expect(fragmentWithout('#rule=a%20b&key=x', 'key')).toBe('rule=a%20b');
		expect(fragmentWithout('#key=x', 'key')).toBe('');
	});
});

describe('a failed contact in words', () => {
	it('says a retry is pending only when the contact has one (due_at set)', () => {
		expect(contactReasonInWords('failed', null, '2026-12-05T10:00:00Z')).toBe('Last attempt failed, retry pending');
	});

	it('tells the owner to Requeue a contact that failed for good (no retry: due_at null)', () => {
		const words = contactReasonInWords('failed', null, null);
		expect(words).not.toMatch(/retry pending/);
		expect(words).toBe('Failed, no retry: Requeue it once the cause is fixed');
	});

	it('says a retry that would come after the 24-hour window closes is one, with no follow-up unless they write again (due_at null, retry_at set)', () => {
		// Fixed instants: the window closes at 15:00, the retry is at 16:00, the page is read at 13:00.
		const now = Date.parse('2026-11-25T13:00:00Z');
		const closes = '2026-11-25T15:00:00+00:00';
		const retry = '2026-11-25T16:00:00+00:00';
		expect(contactReasonInWords('failed', null, null, closes, now, retry)).toBe(
			'Failed: its retry would come after the 24-hour window closes: no follow-up unless they write again',
		);
		// Once the window has closed (or the person never wrote), still before the retry.
		expect(contactReasonInWords('failed', null, null, closes, Date.parse('2026-11-25T15:30:00Z'), retry)).toBe(
			'Failed: the 24-hour window closed before its retry: no follow-up unless they write again',
		);
		expect(contactReasonInWords('failed', null, null, null, now, retry)).toBe(
			'Failed: the 24-hour window closed before its retry: no follow-up unless they write again',
		);
		// No retry at all (retry_at null): failed for good, whatever the window.
		expect(contactReasonInWords('failed', null, null, closes, now, null)).toBe('Failed, no retry: Requeue it once the cause is fixed');
	});

	it('promises no retry in a count of failed contacts (the totals, Trigger now), which holds both kinds', () => {
		expect(reasonInWords('failed')).toBe('Last attempt failed');
	});

	it('words other reasons as before', () => {
		expect(contactReasonInWords('outside_window', null, '2026-12-05T10:00:00Z')).toBe('Outside the 24-hour messaging window');
		expect(contactReasonInWords('stopped', 'replied', null)).toBe('Stopped: the person replied');
	});
});

describe('a contact whose 24-hour window closes before its wait ends, in words', () => {
	// Fixed instants: the row's window closes at 15:00; the page is read at 13:00.
	const now = Date.parse('2026-11-25T13:00:00Z');
	const closes = '2026-11-25T15:00:00+00:00';

	it('says the window closes first and nothing goes out unless they write again, not a time (due_at null)', () => {
		expect(contactReasonInWords('interval_not_elapsed', null, null, closes, now)).toBe(
			'Too soon after the last follow-up — the 24-hour window closes first: no follow-up unless they write again',
		);
		expect(contactReasonInWords('outside_active_hours', null, null, closes, now)).toBe(
			'Outside the rule\'s active hours — the 24-hour window closes first: no follow-up unless they write again',
		);
		expect(contactReasonInWords('daily_limit_reached', null, null, closes, now)).toBe(
			'Today\'s limit is used — the 24-hour window closes first: no follow-up unless they write again',
		);
	});

	it('says the window is closed when it already has (or the person never wrote)', () => {
		expect(contactReasonInWords('interval_not_elapsed', null, null, closes, Date.parse('2026-11-25T15:00:00Z'))).toBe(
			'Too soon after the last follow-up — the 24-hour window is closed: no follow-up unless they write again',
		);
		expect(contactReasonInWords('interval_not_elapsed', null, null, null, now)).toMatch(/window is closed: no follow-up unless they write again$/);
	});

	it('words the reason alone while its due time comes before the window closes (the row then shows "sends in …")', () => {
		expect(contactReasonInWords('interval_not_elapsed', null, '2026-11-25T14:00:00+00:00', closes, now)).toBe('Too soon after the last follow-up');
		expect(contactReasonInWords('outside_active_hours', null, '2026-11-25T14:00:00+00:00', closes, now)).toBe('Outside the rule\'s active hours');
	});
});

describe('a contact on another owner\'s Page in words', () => {
	it('says what to do, since it is never sent and never becomes due by itself (no due time)', () => {
		expect(contactReasonInWords('page_of_another_owner', null, null)).toBe('On another owner\'s Page: move it to a Page of this owner, or delete it');
		// The same in a count (the totals, Trigger now's reasons).
		expect(reasonInWords('page_of_another_owner')).toBe(contactReasonInWords('page_of_another_owner', null, null));
	});
});

describe('a claimed contact the begin skipped because the rule no longer allows it, in words', () => {
	it("words each of automation_begin_send's reasons (Trigger now's skipped counts), never a bare code", () => {
		expect(reasonInWords('rule_disabled')).toBe('The rule is switched off');
		expect(reasonInWords('not_tagged')).toBe('No longer carries the rule\'s tags');
		expect(reasonInWords('not_on_rule_page')).toBe('No longer on the rule\'s Page');
		expect(reasonInWords('excluded_tag')).toBe('Carries an excluded tag');
		expect(reasonInWords('page_of_another_owner')).toBe('On another owner\'s Page: move it to a Page of this owner, or delete it');
		expect(reasonInWords('max_follow_ups')).toBe('All follow-ups sent');
	});
});

describe('Requeue failed', () => {
	it('counts every contact in the Failed stage, as automation_requeue takes them, not those whose first reason is failed', () => {
		// Two failed for good, one of them then given the rule's excluded tag.
		expect(failedToRequeue({ failed_count: 1, stage_failed_count: 2 })).toBe(2);
		// A rule switched off: every contact's first reason is rule_disabled.
		expect(failedToRequeue({ failed_count: 0, stage_failed_count: 3 })).toBe(3);
		expect(failedToRequeue({ failed_count: 0, stage_failed_count: 0 })).toBe(0);
		expect(failedToRequeue(undefined)).toBe(0);
	});

	it('says how many were requeued, not that they are due now (the answer does not say so)', () => {
		const counts = { requeued: 2, uncertain_left: 0, not_failed: 0, not_found: 0 };
		expect(requeuedInWords(counts)).toBe('2 requeued');
		expect(requeuedInWords({ ...counts, requeued: 1, uncertain_left: 1 })).toMatch(/^1 requeued, 1 left uncertain \(may have been delivered/);
		expect(requeuedInWords({ requeued: 0, uncertain_left: 0, not_failed: 0, not_found: 0 })).toBe('Nothing to requeue: no contact of this rule has failed.');
	});
});

describe('a fired automation\'s webhooks and notifications on the board', () => {
	it('says what became of each, from its run as it is now: delivered, failed with its error, cancelled with why, or waiting', () => {
		const results = [
			{ index: 0, type: 'add_tag', status: 'applied' },
			{ index: 1, type: 'webhook', status: 'delivered', outbox_id: 'a', attempts: 1 },
			{ index: 2, type: 'notify', status: 'failed', outbox_id: 'b', error: 'HTTP 410 Gone', attempts: 1 },
			{ index: 3, type: 'webhook', status: 'failed', outbox_id: 'c', error: 'gave up after 10 attempts: HTTP 503', attempts: 10 },
			{ index: 4, type: 'webhook', status: 'cancelled', outbox_id: 'd', reason: 'automation_inactive', error: 'automation_inactive: the automation was switched off before this action was delivered' },
			{ index: 5, type: 'notify', status: 'cancelled', outbox_id: 'e', reason: 'action_changed', error: 'action_changed: the automation\'s action 6 is gone, no longer this notify' },
			{ index: 6, type: 'webhook', status: 'cancelled', outbox_id: 'f', reason: 'cancelled_by_owner', error: 'cancelled: by the owner before it was delivered' },
			{ index: 7, type: 'webhook', status: 'queued', outbox_id: 'g' },
		];
		expect(outsideActionsInWords(results)).toEqual([
			'Webhook delivered',
			'Notification failed: HTTP 410 Gone',
			'Webhook failed: gave up after 10 attempts: HTTP 503',
			'Webhook cancelled: the automation was switched off',
			'Notification cancelled: the automation\'s action was changed',
			'Webhook cancelled: cancelled by the owner',
			'Webhook waiting to be sent',
		]);
	});

	it('says nothing for a run with no webhook or notification, or a run that is gone', () => {
		expect(outsideActionsInWords([{ index: 0, type: 'add_tag', status: 'applied' }])).toEqual([]);
		expect(outsideActionsInWords(null)).toEqual([]);
	});
});
