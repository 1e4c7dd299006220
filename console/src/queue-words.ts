// The Queue tab's words where the page cannot simply show a row: the open messages of earlier days,
// a Take Lead whose answer was lost (it may have been done: never reported as not done), an owner
// asked for that the database does not know, and an instant in the owner's time zone with the zone
// named. No DOM: unit tested in
// test/console/queue-words.test.ts.
import { isRefusal, notDone } from './answers';
import { formatNumber } from './format';

/**
 * Whether a Take Lead's answer says it was not done: the workflow's own refusal (`{ status, error }`),
 * or n8n's before the workflow runs (401/403 a refused key, 404 a webhook not registered). No answer
 * (`status` undefined), a proxy's 502/504 or a 500 that is not the workflow's may come after the take.
 */
export function takeNotDone(status: number | undefined, json: unknown): boolean {
	return notDone(status, isRefusal(json));
}

/** An instant as the owner reads it: in the queue's time zone, the zone named ("5 Dec 2026, 14:05 Europe/London"). */
export function inZone(iso: string, timeZone: string | undefined): string {
	const zone = timeZone || 'UTC';
	try {
		return `${new Date(iso).toLocaleString(undefined, { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' })} ${zone}`;
	} catch {
		// A zone the browser does not know: UTC, said so.
		return `${new Date(iso).toLocaleString(undefined, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' })} UTC`;
	}
}

/** "17 messages from earlier days are still open (…)": the open messages of days before today. */
export const openEarlierInWords = (total: number) =>
	`${formatNumber(total)} message${total === 1 ? '' : 's'} from earlier days ${total === 1 ? 'is' : 'are'} still open (queued, sending or failed to retry: the claim still sends ${total === 1 ? 'it' : 'them'}):`;

/** Take Lead with no answer of its own: the lead may have been taken (its messages cancelled). */
export const takeMayHaveBeenDone = (name: string, stopping: boolean, why: string) =>
	`No answer to ${stopping ? 'Stop follow-ups' : 'Take Lead'} for ${name} (${why}): it may have been done. `
	+ `The row, read again now, shows it: press it again only if ${name} is not ${stopping ? 'shown with follow-ups stopped' : 'taken over'}.`;

/**
 * An owner asked for that the database does not know (the queue endpoint's 404): which ID, and what to
 * do. No other owner's queue is shown in its place; `owners`: how many owners have a queue, to pick
 * from. `how`: `address` for the address's `#owner=` never shown (a link that may be wrong: check
 * it); `picked` for one picked in the Owner list, `shown` for one whose queue was shown (from a link):
 * so it was there, deleted meanwhile.
 */
export function ownerNotFoundInWords(id: string, owners: number, how: 'address' | 'picked' | 'shown' = 'address'): string {
	const shown = id.length > 60 ? `${id.slice(0, 60)}…` : id;
	const next = owners === 0
		? 'No owner has a lead queue in this database yet.'
		: owners === 1
			? 'Pick the owner with a queue in the Owner list to see theirs.'
			: `Pick one of the ${formatNumber(owners)} owners with a queue in the Owner list to see theirs.`;
	if (how !== 'address') {
		return `There is no owner with ID ${shown} in this database any more: the owner ${how === 'picked' ? 'picked in the Owner list' : 'whose queue was shown'} `
			+ `was deleted meanwhile, so no queue is shown for it. ${next}`;
	}
	return `There is no owner with ID ${shown} in this database, so no queue is shown for it. `
		+ `Check the ID in the link you opened (it may be of another project's database, or the owner was deleted). ${next}`;
}

/**
 * An owner shown who has no queue settings (no row in user_queue_settings): Queue: prepare never
 * queues anything for them, so the page says so and what to do, instead of a day that "fills".
 */
export function noQueueSettingsInWords(id: string, owners: number, queued = 0): string {
	const shown = id.length > 60 ? `${id.slice(0, 60)}…` : id;
	const next = owners === 0
		? 'No owner has a lead queue in this database yet.'
		: owners === 1
			? 'The owner with a queue is in the Owner list.'
			: `The ${formatNumber(owners)} owners with a queue are in the Owner list.`;
	// Settings removed after messages were queued: those stay in the queue; only new ones are never queued.
	if (queued > 0) {
		return `Owner ${shown} has no queue settings any more: the ${formatNumber(queued)} ${queued === 1 ? "message in this day's queue stays" : "messages in this day's queue stay"} there, `
			+ 'but Queue: prepare queues nothing new for them: it fills a day only for an owner '
			+ `with a row in user_queue_settings (daily capacity, sending hours, the message). Give them one again to go on queuing. ${next}`;
	}
	return `Owner ${shown} has no queue settings, so nothing is ever queued for them: Queue: prepare fills a day only for an owner `
		+ `with a row in user_queue_settings (daily capacity, sending hours, the message). Give them one to start their queue. ${next}`;
}

/**
 * The lead statuses a dead message never changes, as the row names them: queue_complete and Claim's
 * end of a send whose lease ran out change only a lead that is new or queued (invalid for 131026,
 * new again for most errors, queued after uncertain or 131050); a lead taken over, contacted… while
 * its message was being sent keeps its status.
 */
const LEAD_KEPT: Record<string, string> = {
	human_controlled: 'taken over', contacted: 'contacted', engaged: 'engaged', booked: 'booked',
	not_interested: 'not interested', do_not_contact: 'do not contact', invalid: 'invalid',
};

/** What becomes of a lead whose status a dead message leaves as it is (`LEAD_KEPT`), by the message's error. */
function keptLeadInWords(leadStatus: string, code: string): string {
	if (leadStatus !== 'human_controlled') {
		return `Its lead is ${LEAD_KEPT[leadStatus]}, a status this leaves as it is: nothing is queued for it unless it is set to new.`;
	}
	if (code === 'uncertain') {
		return 'Its lead is taken over, a status this leaves as it is: given back (set to new), it is queued and sent again, '
			+ 'so check the lead\'s WhatsApp chat before giving it back.';
	}
	if (code === '131050') {
		return 'Its lead is taken over, a status this leaves as it is: given back, it is made queued and stays out of the queue '
			+ 'until it is set to new (the person opted back in).';
	}
	return 'Its lead is taken over, a status this leaves as it is: given back (set to new), it is queued again for a later day: '
		+ 'fix the owner\'s message setting first if the error is about the message.';
}

/**
 * What a message's status means where its name alone does not say it, and what to do
 * (docs/troubleshooting.md, *WhatsApp lead queue*); '' for the other statuses. `lastError` is the row's
 * `code: message`: `uncertain` is a send that may have reached the lead, never sent again by itself;
 * any other dead message was not sent (refused by Meta for good, or failed on its last attempt).
 * `leadStatus`, the row's lead's status: what the words say becomes of the lead holds for a lead that
 * is new or queued (or invalid after 131026); a lead of another status (taken over, contacted, do not
 * contact…) keeps it, and the words say so instead. `settleOutcomes`, the row's settle_outcomes: the
 * settles the database accepts now; the words point to the console's buttons for those, to the app
 * otherwise.
 */
export function statusMeaningInWords(status: string, lastError: string | null, leadStatus?: string | null, settleOutcomes: readonly string[] = []): string {
	if (status !== 'dead') return '';
	const code = /^([^:]*)(:|$)/.exec(lastError ?? '')?.[1] ?? '';
	const kept = !!leadStatus && Object.prototype.hasOwnProperty.call(LEAD_KEPT, leadStatus) && !(leadStatus === 'invalid' && code === '131026');
	if (code === 'uncertain') {
		const sure = 'May have been delivered: Meta gave no answer, or the run ended before recording one. It is never sent again by itself, '
			+ 'as a retry could send it twice';
		if (kept) return `${sure}. ${keptLeadInWords(leadStatus, code)}`;
		if (settleOutcomes.includes('send_again') && settleOutcomes.includes('delivered')) {
			return `${sure}, and its lead stays queued. Check the lead's WhatsApp chat, then press It arrived if it did (the lead becomes contacted), `
				+ 'or Send again to have a new message sent.';
		}
		if (settleOutcomes.includes('delivered') && leadStatus === 'queued') {
			// Set new, then queued by hand: its backlog item is queued, but Prepare takes only new leads.
			return `${sure}, and its lead was set to queued in your app after it was queued again: Prepare takes only new leads, so nothing is sent `
				+ 'while it stays queued. Check the lead\'s WhatsApp chat: if it arrived, press It arrived (the lead becomes contacted); '
				+ 'if not, set the lead to new in your app to have a new message sent.';
		}
		if (settleOutcomes.includes('delivered')) {
			return `${sure}, but its lead was set to new again, so the next Prepare sends a new message. Check the lead's WhatsApp chat: `
				+ 'if it arrived, press It arrived (the lead becomes contacted and nothing is sent again).';
		}
		// No settle accepted now: settled already (Send again: the lead is new), or a newer message was
		// written since (the lead queued again). Setting it contacted is what is left to do if it arrived.
		if (leadStatus === 'new') {
			return `${sure}; its lead is new again, so the next Prepare queues a new message for it. Check the lead's WhatsApp chat: `
				+ 'if it arrived after all, set the lead to contacted in your app.';
		}
		return `${sure}, and its lead stays queued. Check the lead's WhatsApp chat, then set the lead in your app: `
			+ 'contacted if it arrived (a newer message waiting for it is then cancelled), new to have it queued and sent again.';
	}
	const notSent = 'Not sent, and not tried again: Meta refused it for good, or it failed on its last attempt (the error above).';
	if (kept) return `${notSent} ${keptLeadInWords(leadStatus, code)}`;
	return `${notSent} `
		+ '131026 makes the lead invalid and 131050 keeps it out of the queue; any other error sets the lead back to new, queued again for a later day: '
		+ 'fix the owner\'s message setting first if the error is about the message.';
}

/** Take Lead's cancelled items that were messages of the queue (its answer also lists the lead's backlog item). */
export const messagesCancelled = (cancelled: ReadonlyArray<unknown>) =>
	cancelled.filter((item) => (item as { queue?: unknown } | null)?.queue === 'whatsapp_message_queue').length;
