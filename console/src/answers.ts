// What the page says when it cannot know: an action whose answer did not come back (the network, a
// proxy's 502/504, a time-out) may have been done on the server, so it is never reported as not
// done; and a rule that follows up one Page says so wherever it shows nobody. No DOM: unit tested in
// test/console/answers.test.ts.
import { formatNumber } from './format';

/** The workflow's own refusal: `{ status, error }` as the console's and the shipped webhooks answer it. */
export function isRefusal(json: unknown): boolean {
	const body = json as { status?: unknown; error?: unknown } | null | undefined;
	return typeof body?.status === 'number' && typeof body.error === 'string';
}

/**
 * Whether an answer says the action was not done: the workflow's own refusal, or n8n's answer before
 * the workflow runs (401/403 a refused key, 404 a webhook not registered). `status` undefined: no
 * answer came. Anything else (no answer, a proxy's 502 or 504, a 500 that is not the workflow's)
 * may come after the work was done.
 */
export function notDone(status: number | undefined, refusal: boolean): boolean {
	if (status === undefined) return false;
	return refusal || status === 401 || status === 403 || status === 404;
}

/** Why the answer is missing: the browser's error, or the status of an answer that is not the workflow's. */
export const lostAnswer = (status: number | undefined, message: string) =>
	status === undefined ? message : `the server answered ${status}`;

/** A move with no answer of its own: it may have been made (and its automations fired). */
export const moveMayHaveBeenDone = (contact: string, stage: string, why: string) =>
	`No answer to the move of ${contact} to ${stage} (${why}): it may have been moved, and its automations fired. `
	+ 'The board, read again now, shows where it is: move it again only if it is not there.';

/** Trigger now with no answer of its own: the run may have claimed and sent. */
export const triggerMayHaveRun = (why: string) =>
	`No answer from the run (${why}): it may have run and sent follow-ups. `
	+ 'The stages and totals below, read again now, show what it did: check them before you trigger again.';

/** Requeue with no answer of its own: the contacts may be due already. */
export const requeueMayHaveBeenDone = (why: string) =>
	`No answer to the requeue (${why}): it may have been done. `
	+ 'The list below, read again now, shows whether the contacts are due: requeue again only if they are still failed.';

/** The Rules tab's Enabled switch with no answer of its own: the rule may have been switched. */
export const switchMayHaveBeenDone = (rule: string, on: boolean, why: string) =>
	`No answer to switching ${rule} ${on ? 'on' : 'off'} (${why}): it may have been changed. `
	+ 'Its switch, read again now, shows whether it is on: switch it again only if it is not as you want.';

/** The Rules form's Save with no answer of its own: the rule may have been created or changed. */
export const saveMayHaveBeenDone = (rule: string | null, why: string) =>
	rule === null
		? `No answer to the save (${why}): the rule may have been created. The list, read again now, shows it if it was: `
			+ 'Save again is safe, this form creates one rule.'
		: `No answer to the save of ${rule} (${why}): it may have been changed. Its card, read again now, shows its settings: `
			+ 'save again only if they are not what you saved.';

/** A rule's Facebook Page as the page shows it: its name and ID when the name is known, else the ID. */
export const pageInWords = (pageId: string, name?: string | null) => (name ? `${name} (${pageId})` : pageId);

/**
 * The Follow-ups tab's empty list of tagged contacts. A rule of one Page counts only that Page's
 * contacts: the words say so, so that "nobody" is never read as "nobody carries these tags".
 */
export function noTaggedContactInWords(
	filtered: boolean, pageId: string | null | undefined, pageName?: string | null, onOtherPages?: number | null,
): string {
	if (filtered) return 'No tagged contact matches these filters.';
	if (pageId) {
		// The monitor's count of the owner's contacts carrying the tags on their other Pages (taggedOnOtherPages).
		const elsewhere = onOtherPages
			? ` ${formatNumber(onOtherPages)} ${onOtherPages === 1 ? 'contact carries them' : 'contacts carry them'} on the owner's other Pages.`
			: '';
		return `No contact on Page ${pageInWords(pageId, pageName)} carries this rule's tags: this rule follows up only that Page `
			+ `(Rules → Edit → Facebook Page).${elsewhere} A conversation of that Page tagged shows here within 2 seconds.`;
	}
	return 'No contact carries this rule\'s tags yet. Tag a conversation and it shows here within 2 seconds.';
}

/** The rule card's Page line: the one Page it follows up, or every Page of its owner. */
export const rulePageInWords = (pageId: string | null, name?: string | null) =>
	pageId ? `Page: ${pageInWords(pageId, name)} only` : 'Page: every Page of the owner';
