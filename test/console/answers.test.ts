// The console's words for what it cannot know (console/src/answers.ts), without a browser: an action
// whose answer is not the workflow's own refusal may have been done (the page says so and where to
// look), and a rule of one Page says that Page where it lists nobody. The page in Chromium:
// test/e2e/console-truth.e2e.test.ts.
import { isRefusal, lostAnswer, moveMayHaveBeenDone, noTaggedContactInWords, notDone, requeueMayHaveBeenDone, rulePageInWords, saveMayHaveBeenDone, switchMayHaveBeenDone, triggerMayHaveRun } from '../../console/src/answers';

describe('an action\'s answer', () => {
	it('is "not done" only for the workflow\'s own refusal or n8n\'s answer before the workflow ran', () => {
		expect(notDone(400, isRefusal({ status: 400, error: 'Stage "x" does not exist', hint: 'Pick a stage of the board.' }))).toBe(true);
		expect(notDone(500, isRefusal({ status: 500, error: 'The Page token is invalid or expired' }))).toBe(true);
		// n8n's own: a refused key, a webhook not registered (the workflow inactive): nothing ran.
		expect(notDone(403, isRefusal({ message: 'Authorization data is wrong!' }))).toBe(true);
		expect(notDone(404, isRefusal({ code: 404, message: 'The requested webhook "POST leadflow/trigger" is not registered.' }))).toBe(true);
	});

	it('may have been done when no answer came, or one that is not the workflow\'s (a proxy\'s 502/504, a 500 without its body)', () => {
		expect(notDone(undefined, false)).toBe(false);
		expect(notDone(504, isRefusal(undefined))).toBe(false);
		expect(notDone(502, isRefusal({ message: 'Bad gateway' }))).toBe(false);
		expect(notDone(500, isRefusal({ status: '500', error: 'not the workflow\'s shape' }))).toBe(false);
		expect(lostAnswer(undefined, 'Failed to fetch')).toBe('Failed to fetch');
		expect(lostAnswer(504, '')).toBe('the server answered 504');
	});

	it('says it may have been done and where to look, never that it was not done', () => {
		const words = [
			moveMayHaveBeenDone('Browser 9', 'Won', 'Failed to fetch'),
			triggerMayHaveRun('the server answered 504'),
			requeueMayHaveBeenDone('signal timed out'),
		];
		expect(words[0]).toBe('No answer to the move of Browser 9 to Won (Failed to fetch): it may have been moved, and its automations fired. The board, read again now, shows where it is: move it again only if it is not there.');
		expect(words[1]).toBe('No answer from the run (the server answered 504): it may have run and sent follow-ups. The stages and totals below, read again now, show what it did: check them before you trigger again.');
		expect(words[2]).toBe('No answer to the requeue (signal timed out): it may have been done. The list below, read again now, shows whether the contacts are due: requeue again only if they are still failed.');
		for (const said of words) expect(said).not.toMatch(/was not|failed:|Could not/);
	});

	it('on the Rules tab too: the Enabled switch and Save with no answer may have changed the rule (review K)', () => {
		const words = [
			switchMayHaveBeenDone('Webinar guests', false, 'Failed to fetch'),
			saveMayHaveBeenDone('Webinar guests', 'the server answered 504'),
			saveMayHaveBeenDone(null, 'signal timed out'),
		];
		expect(words[0]).toBe('No answer to switching Webinar guests off (Failed to fetch): it may have been changed. Its switch, read again now, shows whether it is on: switch it again only if it is not as you want.');
		expect(switchMayHaveBeenDone('Webinar guests', true, 'x')).toMatch(/^No answer to switching Webinar guests on \(x\)/);
		expect(words[1]).toBe('No answer to the save of Webinar guests (the server answered 504): it may have been changed. Its card, read again now, shows its settings: save again only if they are not what you saved.');
		expect(words[2]).toBe('No answer to the save (signal timed out): the rule may have been created. The list, read again now, shows it if it was: Save again is safe, this form creates one rule.');
		for (const said of words) expect(said).not.toMatch(/Not changed|Not saved|was not|Could not/);
	});
});

describe('a rule of one Page', () => {
	it('says the Page where it lists nobody, and how to change it', () => {
		expect(noTaggedContactInWords(false, '104857600067890')).toBe(
			'No contact on Page 104857600067890 carries this rule\'s tags: this rule follows up only that Page (Rules → Edit → Facebook Page). A conversation of that Page tagged shows here within 2 seconds.',
		);
		expect(noTaggedContactInWords(false, '104857600067890', 'Course sales page')).toContain('on Page Course sales page (104857600067890) carries');
		// Where they wait: the monitor's count of them on the owner's other Pages.
		expect(noTaggedContactInWords(false, '104857600067890', null, 1200)).toBe(
			'No contact on Page 104857600067890 carries this rule\'s tags: this rule follows up only that Page (Rules → Edit → Facebook Page). 1,200 contacts carry them on the owner\'s other Pages. A conversation of that Page tagged shows here within 2 seconds.',
		);
		expect(noTaggedContactInWords(false, '104857600067890', null, 1)).toContain(' 1 contact carries them on the owner\'s other Pages.');
		expect(noTaggedContactInWords(false, '104857600067890', null, 0)).not.toContain('other Pages');
		// Every Page of the owner: nobody carries the tags at all.
		expect(noTaggedContactInWords(false, null)).toBe('No contact carries this rule\'s tags yet. Tag a conversation and it shows here within 2 seconds.');
		expect(noTaggedContactInWords(true, '104857600067890')).toBe('No tagged contact matches these filters.');
	});

	it('names its Page on its card: the name when known, else the ID', () => {
		expect(rulePageInWords('104857600067890', 'Course sales page')).toBe('Page: Course sales page (104857600067890) only');
		expect(rulePageInWords('104857600067890', null)).toBe('Page: 104857600067890 only');
		expect(rulePageInWords(null)).toBe('Page: every Page of the owner');
	});
});
