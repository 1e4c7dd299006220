// The console Queue tab's words (console/src/queue-words.ts): a Take Lead whose answer was lost is
// never reported as not done (only the workflow's own refusal, or n8n's before the workflow runs,
// is); an owner the database does not know is named, with what to do (one picked in the Owner list,
// or whose queue was shown, and deleted meanwhile said as deleted, not as a link to check); an instant is shown in the owner's
// time zone with the zone named, not the browser's; the open messages of earlier days are counted in
// words. The page itself: test/e2e/console-queue-open.e2e.test.ts.
import { inZone, openEarlierInWords, ownerNotFoundInWords, takeMayHaveBeenDone, takeNotDone } from '../../console/src/queue-words';

test('Take Lead: only the workflow\'s refusal or n8n\'s 401/403/404 says "not done"; no answer, a proxy\'s 502/504 or a bare 500 may have been done', () => {
	expect(takeNotDone(400, { status: 400, error: 'Unknown body field "x"', field: 'x' })).toBe(true);
	expect(takeNotDone(404, { status: 404, error: 'There is no lead with ID …' })).toBe(true);
	expect(takeNotDone(500, { status: 500, error: 'The database could not be reached', hint: null })).toBe(true);
	expect(takeNotDone(403, undefined)).toBe(true);
	expect(takeNotDone(undefined, undefined)).toBe(false);
	expect(takeNotDone(504, '<html>504 Gateway Time-out</html>')).toBe(false);
	expect(takeNotDone(502, undefined)).toBe(false);
	expect(takeNotDone(500, { message: 'Error in workflow' })).toBe(false);
	const words = takeMayHaveBeenDone('Ana', false, 'Failed to fetch');
	expect(words).toBe('No answer to Take Lead for Ana (Failed to fetch): it may have been done. The row, read again now, shows it: press it again only if Ana is not taken over.');
	expect(words).not.toMatch(/Could not/);
	expect(takeMayHaveBeenDone('Ana', true, 'the server answered 504')).toMatch(/^No answer to Stop follow-ups for Ana \(the server answered 504\): it may have been done\./);
});

test('an instant is shown in the owner\'s zone with the zone named, whatever the zone of the machine', () => {
	const iso = '2026-12-05T23:30:00.000Z';
	const expected = (zone: string) => `${new Date(iso).toLocaleString(undefined, { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' })} ${zone}`;
	expect(inZone(iso, 'Asia/Tokyo')).toBe(expected('Asia/Tokyo'));
	expect(inZone(iso, 'Asia/Tokyo')).toMatch(/Dec 6, 2026.* 8:30.*AM Asia\/Tokyo$|6 Dec 2026.* 08:30 Asia\/Tokyo$/);
	expect(inZone(iso, 'America/Los_Angeles')).toMatch(/ America\/Los_Angeles$/);
	expect(inZone(iso, 'America/Los_Angeles')).toContain('3:30');
	expect(inZone(iso, undefined)).toBe(expected('UTC'));
	expect(inZone(iso, 'Not/AZone')).toBe(expected('UTC'));
});

test('the open messages of earlier days in words', () => {
	expect(openEarlierInWords(17)).toBe('17 messages from earlier days are still open (queued, sending or failed to retry: the claim still sends them):');
	expect(openEarlierInWords(1)).toBe('1 message from earlier days is still open (queued, sending or failed to retry: the claim still sends it):');
});

test('an owner ID the database does not know: which ID, that no queue is shown for it, and what to do', () => {
	const id = '00000000-0000-4000-8000-000000000000';
	expect(ownerNotFoundInWords(id, 3)).toBe(`There is no owner with ID ${id} in this database, so no queue is shown for it. `
		+ 'Check the ID in the link you opened (it may be of another project\'s database, or the owner was deleted). '
		+ 'Pick one of the 3 owners with a queue in the Owner list to see theirs.');
	expect(ownerNotFoundInWords(id, 1)).toMatch(/Pick the owner with a queue in the Owner list to see theirs\.$/);
	expect(ownerNotFoundInWords(id, 0)).toMatch(/ID 00000000-0000-4000-8000-000000000000 .*No owner has a lead queue in this database yet\.$/);
	expect(ownerNotFoundInWords('a'.repeat(100), 2)).toContain(`ID ${'a'.repeat(60)}… in this database`);
});

test('an owner picked in the Owner list and deleted meanwhile: said as deleted, not as a link to check', () => {
	const id = '00000000-0000-4000-8000-000000000000';
	const words = ownerNotFoundInWords(id, 2, 'picked');
	expect(words).toBe(`There is no owner with ID ${id} in this database any more: the owner picked in the Owner list was deleted meanwhile, `
		+ 'so no queue is shown for it. Pick one of the 2 owners with a queue in the Owner list to see theirs.');
	expect(words).not.toMatch(/link/);
	expect(ownerNotFoundInWords(id, 0, 'picked')).toMatch(/deleted meanwhile, so no queue is shown for it\. No owner has a lead queue in this database yet\.$/);
	// Taken from the address (the default): the link is what to check.
	expect(ownerNotFoundInWords(id, 2, 'address')).toBe(ownerNotFoundInWords(id, 2));
	expect(ownerNotFoundInWords(id, 2)).toMatch(/Check the ID in the link you opened/);
});

test('an owner whose queue was shown (opened from a link) and deleted meanwhile: said as deleted, not as a link to check', () => {
	const id = '00000000-0000-4000-8000-000000000000';
	const words = ownerNotFoundInWords(id, 1, 'shown');
	expect(words).toBe(`There is no owner with ID ${id} in this database any more: the owner whose queue was shown was deleted meanwhile, `
		+ 'so no queue is shown for it. Pick the owner with a queue in the Owner list to see theirs.');
	expect(words).not.toMatch(/link|picked/);
});
