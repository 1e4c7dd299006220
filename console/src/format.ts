// Numbers, durations and times in the browser's locale (Intl), and the database's codes in words.
// No DOM beyond navigator's language (English without one, as under jest): unit tested in test/console.
const locale = (typeof navigator === 'undefined' ? undefined : navigator.languages?.[0] ?? navigator.language) ?? 'en';
const numbers = new Intl.NumberFormat(locale);
const relative = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });

export const formatNumber = (value: number) => numbers.format(value);

/** "2 h 10 min", "45 s". */
export function formatDuration(seconds: number): string {
	const s = Math.max(0, Math.round(seconds));
	if (s < 60) return `${numbers.format(s)} s`;
	const minutes = Math.round(s / 60);
	if (minutes < 60) return `${numbers.format(minutes)} min`;
	const hours = Math.floor(minutes / 60);
	if (hours < 48) return `${numbers.format(hours)} h${minutes % 60 ? ` ${numbers.format(minutes % 60)} min` : ''}`;
	return `${numbers.format(Math.round(hours / 24))} d`;
}

/** "3 minutes ago", "in 2 hours", against the browser's clock. */
export function formatRelative(iso: string, now = Date.now()): string {
	const seconds = (Date.parse(iso) - now) / 1000;
	const abs = Math.abs(seconds);
	if (abs < 45) return relative.format(Math.round(seconds), 'second');
	if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), 'minute');
	if (abs < 36 * 3600) {
		// "in 2 h 10 min" reads better than "in 2 hours" for a send that is due later.
		return seconds > 0 && abs >= 3600 ? `in ${formatDuration(abs)}` : relative.format(Math.round(seconds / 3600), 'hour');
	}
	return relative.format(Math.round(seconds / 86400), 'day');
}

const STATUSES: Record<string, string> = {
	eligible: 'Eligible', processing: 'Processing', recently_sent: 'Recently sent', stopped: 'Stopped', skipped: 'Skipped',
};
export const statusInWords = (status: string) => STATUSES[status] ?? status;

const REASONS: Record<string, string> = {
	in_progress: 'Being processed now',
	rule_disabled: 'The rule is switched off',
	excluded_tag: 'Carries an excluded tag',
	// A claimed contact whose tags were changed before its send began (automation_begin_send skips it).
	not_tagged: 'No longer carries the rule\'s tags',
	// A claimed contact whose conversation is not on the rule's Page any more (the rule moved to another Page).
	not_on_rule_page: 'No longer on the rule\'s Page',
	// Never sent from there: another owner's Page would carry this rule (docs/follow-up.md, Another owner's Page).
	page_of_another_owner: 'On another owner\'s Page: move it to a Page of this owner, or delete it',
	inactive: 'Conversation inactive',
	stopped: 'Stopped',
	// A count of failed contacts (the totals, Trigger now) holds both kinds: see contactReasonInWords.
	failed: 'Last attempt failed',
	max_follow_ups: 'All follow-ups sent',
	interval_not_elapsed: 'Too soon after the last follow-up',
	outside_window: 'Outside the 24-hour messaging window',
	outside_active_hours: 'Outside the rule\'s active hours',
	daily_limit_reached: 'Today\'s limit is used',
	replied: 'The person replied',
	human_takeover: 'A person took over',
	unavailable: 'Cannot be messaged',
	manual: 'Stopped by hand',
};

/** The trigger's claimReason: why the run claimed fewer contacts than it asked for. */
const CLAIM_REASONS: Record<string, string> = {
	filled: 'Claimed as many as asked',
	no_tagged_contacts: 'Nobody carries the rule\'s tags',
	outside_active_hours: 'Outside the rule\'s active hours',
	daily_limit_reached: 'Today\'s limit is used',
	no_more_due: 'Nothing more was due',
	rule_disabled: 'The rule is switched off',
	no_enabled_rules: 'No rule is switched on',
	mixed: 'The rules differ (see each rule)',
};
export const claimReasonInWords = (reason: string) => CLAIM_REASONS[reason] ?? reason.replace(/_/g, ' ');

/** A reason code in words; a stop says why it stopped. Unknown codes show as they are. */
export function reasonInWords(reason: string, stopReason?: string | null): string {
	if (reason === 'stopped' && stopReason) return `Stopped: ${(REASONS[stopReason] ?? stopReason).toLowerCase()}`;
	return REASONS[reason] ?? reason.replace(/_/g, ' ');
}

/**
 * Reasons that end at a time of their own (the interval's end, the next active hours, the next local
 * day): the contact's due_at says when, or is null when the person's 24 h window closes at or before
 * that time, so nothing is sent by waiting (docs/follow-up.md, When a contact is due).
 */
const ENDS_AT_A_TIME = new Set(['interval_not_elapsed', 'outside_active_hours', 'daily_limit_reached']);

/**
 * One contact's reason in words (its row's "Why / when"). `failed` is three cases: a retry of its own
 * before the 24 h window closes (due_at set), a retry at or after the window closes (due_at null,
 * retry_at set: nothing goes out unless the person writes again before it, then it is due at its
 * retry), or no retry at all (a send refused for good, retries used up: due_at and retry_at null),
 * which never comes back by itself (docs/follow-up.md, Requeue): the owner is told to Requeue it
 * rather than wait. A reason that ends at a time of its own with no due_at: the window closes first
 * (or has closed: window_closes_at at or before `now`, or none), so it says that no follow-up goes out
 * unless the person writes again, rather than a time that cannot come. `retryAt` is the row's
 * retry_at (automation_monitor_page's rows carry it since migration …1860).
 */
export function contactReasonInWords(
	reason: string,
	stopReason: string | null,
	dueAt: string | null,
	windowClosesAt: string | null = null,
	now = Date.now(),
	retryAt: string | null = null,
): string {
	const windowOpen = windowClosesAt !== null && Date.parse(windowClosesAt) > now;
	if (reason === 'failed') {
		if (dueAt) return 'Last attempt failed, retry pending';
		if (!retryAt) return 'Failed, no retry: Requeue it once the cause is fixed';
		return windowOpen
			? 'Failed: its retry would come after the 24-hour window closes: no follow-up unless they write again'
			: 'Failed: the 24-hour window closed before its retry: no follow-up unless they write again';
	}
	if (ENDS_AT_A_TIME.has(reason) && !dueAt) {
		const window = windowOpen ? 'the 24-hour window closes first' : 'the 24-hour window is closed';
		return `${reasonInWords(reason)} — ${window}: no follow-up unless they write again`;
	}
	return reasonInWords(reason, stopReason);
}

/**
 * How many contacts the rule's Requeue failed takes: every state in the Failed stage
 * (stage_failed_count, what automation_requeue takes and the Failed stage card shows), not
 * failed_count (contacts whose first reason is failed: not one of a rule switched off, nor one
 * that carries an excluded tag too).
 */
export const failedToRequeue = (stats: Record<string, unknown> | undefined) => Number(stats?.stage_failed_count ?? 0);

/**
 * The Requeue answer's counts in words: "3 requeued, 1 left uncertain (may have been delivered…)".
 * Requeued is not "due now": the answer does not say so, and a requeued contact the rule does not
 * allow now (an excluded tag, the rule off, outside the window) is not; the list shows each one.
 */
export function requeuedInWords(counts: Record<string, number>): string {
	const n = (outcome: string) => counts[outcome] ?? 0;
	if (n('requeued') + n('uncertain_left') + n('not_failed') + n('not_found') === 0) return 'Nothing to requeue: no contact of this rule has failed.';
	const parts = [
		`${formatNumber(n('requeued'))} requeued`,
		n('uncertain_left') ? `${formatNumber(n('uncertain_left'))} left uncertain (may have been delivered: check the Page inbox, then requeue with "I checked…")` : '',
		n('not_failed') ? `${formatNumber(n('not_failed'))} no longer failed` : '',
		n('not_found') ? `${formatNumber(n('not_found'))} not found under this rule` : '',
	];
	return parts.filter(Boolean).join(', ');
}

/** Why a webhook / notify action was cancelled (pipeline_outbox, the reason on its run's entry). */
const CANCELLED_BECAUSE: Record<string, string> = {
	automation_inactive: 'the automation was switched off',
	action_changed: 'the automation\'s action was changed',
	automation_deleted: 'the automation was deleted',
	cancelled_by_owner: 'cancelled by the owner',
};

/**
 * What became of a fired automation's webhook / notify actions, one line each, from its run's
 * results as they are now (console_pipeline_board's `run_results`): "Webhook delivered",
 * "Notification failed: HTTP 410 Gone", "Webhook cancelled: the automation was switched off",
 * "Webhook waiting to be sent". The automation's other actions (tags, moves…) are left out.
 */
export function outsideActionsInWords(results: ReadonlyArray<Record<string, unknown>> | null | undefined): string[] {
	return (results ?? [])
		.filter((entry) => entry.type === 'webhook' || entry.type === 'notify')
		.map((entry) => {
			const what = entry.type === 'webhook' ? 'Webhook' : 'Notification';
			const error = typeof entry.error === 'string' ? entry.error : '';
			switch (entry.status) {
				case 'delivered': return `${what} delivered`;
				case 'failed': return `${what} failed${error ? `: ${error}` : ''}`;
				case 'cancelled': {
					const reason = typeof entry.reason === 'string' ? entry.reason : '';
					return `${what} cancelled: ${CANCELLED_BECAUSE[reason] ?? (error || 'not sent')}`;
				}
				default: return `${what} waiting to be sent`;
			}
		});
}

/**
 * Why a lead of the queue is not taken over, in words, or undefined when it may be: nobody may message
 * a lead that opted out, declined or cannot be reached, and taken over then given back it would be
 * queued again, so the database keeps its status (queue_take_lead). The page offers no Take Lead for
 * it, only *Stop follow-ups* when it has a Messenger conversation not yet stopped (the same call:
 * its follow-ups are stopped, its status kept). A lead already taken over shows that instead.
 */
export function notTakenOverInWords(leadStatus: string): string | undefined {
	switch (leadStatus) {
		case 'do_not_contact':
			return 'Opted out: not to be contacted';
		case 'not_interested':
			return 'Declined: not to be contacted';
		case 'invalid':
			return 'Cannot be reached (correct its phone, then its status, in your app)';
		default:
			return undefined;
	}
}

/**
 * What the page says after Take Lead answered for a lead whose status the database kept
 * (`status_kept`): its follow-ups stopped (or already stopped), or nothing to stop when the lead has
 * no Messenger conversation (`hasConversation`: the row's `conversation_id`, which the page also
 * reads to offer *Stop follow-ups*; a row can still show Take Lead for a lead that became one of
 * these meanwhile, with or without a conversation), and why it is not taken over. An unreachable
 * lead (`invalid`) is queued again once the app corrects its phone and then its status, so the
 * words never say "never".
 */
export function followUpsStoppedInWords(name: string, answer: { status: string; stopped_rules: number }, hasConversation = true): string {
	const why = notTakenOverInWords(answer.status) ?? answer.status;
	const stopped = !hasConversation
		? `${name} has no Messenger conversation: there are no follow-ups to stop`
		: answer.stopped_rules
			? `Follow-ups stopped for ${name} (${formatNumber(answer.stopped_rules)} rule${answer.stopped_rules === 1 ? '' : 's'})`
			: `Follow-ups stopped for ${name}`;
	const queued = answer.status === 'invalid' ? 'it is queued again only once its status is corrected' : 'it is never queued again';
	return `${stopped}. ${why}: the lead is not taken over, so ${queued}.`;
}

/**
 * The Pipeline card's line for its last analysis: the AI's confidence ("AI, 80 % confident"), or, for
 * a score the fallback counted because the model failed, what it is: no AI judged it, so no
 * confidence (the card's reasoning, opened, says why the model failed).
 */
export function analysisInWords(analysis: { confidence: number | string | null; is_fallback: boolean }): string {
	if (analysis.is_fallback) return 'Fallback score: the AI could not score this contact';
	return analysis.confidence === null ? 'AI' : `AI, ${formatNumber(Number(analysis.confidence))} % confident`;
}

/**
 * Blank: empty, or only white space and Unicode format characters (U+200B zero width space, U+200E,
 * U+2060, U+00AD…) other than those that draw a glyph (Prepended_Concatenation_Mark: U+0600–U+0605,
 * U+06DD ۝, U+070F, U+0890–U+0891, U+08E2, U+110BD, U+110CD): the package's blank rule, a mirror of
 * nodes/shared/blank.ts (the page is built on its own and imports no node code;
 * test/console/contact-name-and-tab.test.ts checks the two agree, code point by code point).
 */
const BLANK = /^(?:(?![\u0600-\u0605\u06DD\u070F\u0890\u0891\u08E2\u{110BD}\u{110CD}])[\s\p{Cf}])*$/u;
export const isBlankName = (value: string | null | undefined) => value === null || value === undefined || BLANK.test(value);

/** A contact as the page names it: its name, or its Messenger id when the name is missing or blank. */
export const contactName = (contact: { sender_name: string | null; sender_id: string }) =>
	isBlankName(contact.sender_name) ? contact.sender_id : (contact.sender_name as string).trim();

/** The browser's own time zone (UTC when it has none). */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** "Dec 6, 2026, 1:05 PM Asia/Tokyo": a time in a zone, the zone named (the browser's unless given). */
export function timeInZone(iso: string, timeZone?: string | null): string {
	const zone = timeZone || browserZone();
	try {
		return `${new Date(iso).toLocaleString(locale, { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' })} ${zone}`;
	} catch {
		return `${new Date(iso).toLocaleString(locale, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' })} UTC`;
	}
}
