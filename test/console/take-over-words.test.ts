// The console Queue tab's Take Lead cell for a lead nobody may message (console/src/format.ts): no
// Take Lead, the reason in words, for the statuses whose status queue_take_lead keeps
// (do_not_contact, not_interested, invalid); every other status keeps its button. Such a lead with a
// conversation not yet stopped gets Stop follow-ups, and the page's words after it (nothing to stop
// without a conversation; an unreachable lead is queued again once corrected). The database's
// side: test/db/queue/take-lead-not-to-message.test.ts and test/workflows/queue-actions.test.ts.
import { followUpsStoppedInWords, notTakenOverInWords } from '../../console/src/format';

test('a lead that opted out, declined or cannot be reached has no Take Lead button, and says why it is not taken over', () => {
	expect(notTakenOverInWords('do_not_contact')).toBe('Opted out: not to be contacted');
	expect(notTakenOverInWords('not_interested')).toBe('Declined: not to be contacted');
	expect(notTakenOverInWords('invalid')).toBe('Cannot be reached (correct its phone, then its status, in your app)');
});

test('every other lead status keeps its button (human_controlled shows "Taken over" on its own)', () => {
	for (const status of ['new', 'queued', 'contacted', 'engaged', 'booked', 'human_controlled']) expect(notTakenOverInWords(status)).toBeUndefined();
});

test('after Stop follow-ups (Take Lead of such a lead, its status kept): the follow-ups stopped, and why the lead is not taken over', () => {
	expect(followUpsStoppedInWords('Ana', { status: 'do_not_contact', stopped_rules: 2 })).toBe('Follow-ups stopped for Ana (2 rules). Opted out: not to be contacted: the lead is not taken over, so it is never queued again.');
	expect(followUpsStoppedInWords('Ana', { status: 'not_interested', stopped_rules: 1 })).toBe('Follow-ups stopped for Ana (1 rule). Declined: not to be contacted: the lead is not taken over, so it is never queued again.');
	// Stopped already (a second click): no count.
	expect(followUpsStoppedInWords('Ana', { status: 'not_interested', stopped_rules: 0 })).toBe('Follow-ups stopped for Ana. Declined: not to be contacted: the lead is not taken over, so it is never queued again.');
});

test('an unreachable lead is queued again once its status is corrected: the words never say "never" (review Z)', () => {
	// Before: "… Cannot be reached (correct its phone, then its status, in your app): the lead is not taken over, so it is never queued again."
	expect(followUpsStoppedInWords('Ivan', { status: 'invalid', stopped_rules: 1 })).toBe(
		'Follow-ups stopped for Ivan (1 rule). Cannot be reached (correct its phone, then its status, in your app): the lead is not taken over, so it is queued again only once its status is corrected.',
	);
});

test('a lead without a Messenger conversation (a row still showing Take Lead when it became one of these): nothing to stop, as its row says (review Z)', () => {
	// The row's conversation_id is null (console_queue_page); the database answered stopped_rules 0.
	// Before: "Follow-ups stopped for Ann. Opted out: not to be contacted: the lead is not taken over, so it is never queued again."
	expect(followUpsStoppedInWords('Ann', { status: 'do_not_contact', stopped_rules: 0 }, false)).toBe(
		'Ann has no Messenger conversation: there are no follow-ups to stop. Opted out: not to be contacted: the lead is not taken over, so it is never queued again.',
	);
	expect(followUpsStoppedInWords('Ivan', { status: 'invalid', stopped_rules: 0 }, false)).toBe(
		'Ivan has no Messenger conversation: there are no follow-ups to stop. Cannot be reached (correct its phone, then its status, in your app): the lead is not taken over, so it is queued again only once its status is corrected.',
	);
});
