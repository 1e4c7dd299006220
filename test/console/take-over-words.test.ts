// The console Queue tab's Take Lead cell for a lead nobody may message (console/src/format.ts): no
// button, the reason in words, for the statuses queue_take_lead refuses (do_not_contact,
// not_interested, invalid); every other status keeps its button. The refusal itself:
// test/db/queue/take-lead-not-to-message.test.ts and test/workflows/queue-actions.test.ts.
import { notTakenOverInWords } from '../../console/src/format';

test('a lead that opted out, declined or cannot be reached has no Take Lead button, and says why', () => {
	expect(notTakenOverInWords('do_not_contact')).toBe('Opted out: not to be contacted');
	expect(notTakenOverInWords('not_interested')).toBe('Declined: not to be contacted');
	expect(notTakenOverInWords('invalid')).toBe('Cannot be reached: correct its phone first');
});

test('every other lead status keeps its button (human_controlled shows "Taken over" on its own)', () => {
	for (const status of ['new', 'queued', 'contacted', 'engaged', 'booked', 'human_controlled']) expect(notTakenOverInWords(status)).toBeUndefined();
});
