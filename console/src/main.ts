// The Leadflow console in the browser: the follow-up monitor of one rule, polled every 2 s from the
// console's JSON endpoints with the key the person gave in the address's fragment (#key=…, taken out
// of the address as soon as it is read) or typed into the key form, kept in memory only and sent as
// a header, never in a query string. n8n serves webhook pages sandboxed (an opaque origin): nothing
// here uses cookies or storage, and every request is a CORS request n8n answers.
import { lostAnswer, noTaggedContactInWords, notDone, requeueMayHaveBeenDone, triggerMayHaveRun } from './answers';
import { claimReasonInWords, contactName, contactReasonInWords, failedToRequeue, formatDuration, formatNumber, formatRelative, reasonInWords, requeuedInWords, statusInWords, timeInZone } from './format';
import { FocusAfter, focusFirst } from './focus';
import { addressId, fragmentWithout, parseFragment, tabOf } from './fragment';
import { initPipeline } from './pipeline';
import { initQueue } from './queue';
import { initRules } from './rules';
import { isOffline, onSearchInput, type TabContext } from './tab';

interface Rule { id: string; name: string; enabled: boolean; page_id?: string | null }
interface Contact {
	conversation_id: string; sender_id: string; sender_name: string | null; contact_status: string; status_reason: string | null;
	stop_reason: string | null; due_at: string | null; follow_up_count: number; current_stage: string | null; matching_tags: string[];
	last_customer_message_at: string | null; window_closes_at: string | null; error_code: string | null;
	retry_at: string | null;
}
interface Active {
	state_id: string; conversation_id: string; sender_name: string | null; sender_id: string; current_stage: string; stage_entered_at: string;
	follow_up_count: number; max_follow_ups: number; claimed_follow_up_number: number | null; generated_message: string | null;
	generation_ms: number | null; error_code: string | null; error_message: string | null; skip_reason: string | null;
}
interface Stage { stage: string; contact_count: number; avg_seconds: number | string | null }
interface Monitor {
	rules: Rule[];
	rule: (Rule & { daily_limit: number; max_follow_ups: number }) | null;
	generatedAt: string;
	stats?: Record<string, number | boolean | string | null | Record<string, number>>;
	stages?: Stage[];
	contacts?: { total: number; offset: number; limit: number; rows: Contact[] };
	activeContacts?: Active[];
	/** A rule of one Page: the owner's contacts carrying its tags on their other Pages (null: a rule of every Page). */
	taggedOnOtherPages?: number | null;
}

const PAGE_SIZE = 50;
const POLL_MS = 2000;
/** A call not answered by then is given up (an error), so a hung poll ends and the next one is asked. */
const REQUEST_MS = 15_000;
/** A failed contact's send that may have reached the person: requeued only once the owner checked. */
const UNCERTAIN = 'send_uncertain';
/** Trigger now's run, waited for longer (it generates and sends). */
const TRIGGER_MS = 10 * 60_000;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// Read by hand (fragment.ts): '+' stays '+' in a key, only %xx is decoded.
const fragment = parseFragment(location.hash);
/** The key, in memory only: from #key=… (then taken out of the address) or the key form. */
let key = fragment.get('key') ?? '';
const keyHeader = fragment.get('header') ?? 'X-Leadflow-Key';
if (fragment.has('key')) {
	// Out of the address bar, the history and a bookmark (the rest of the fragment stays, as it was
	// typed); a replaceState fires no hashchange, so the page does not start again.
	const hash = fragmentWithout(location.hash, 'key');
	try {
		history.replaceState(history.state, '', `${location.pathname}${location.search}${hash ? `#${hash}` : ''}`);
	} catch {
		// A browser that refuses: the key stays in the address, as it was typed.
	}
}
const authHeaders = (): Record<string, string> => ({ [keyHeader]: key });
// /webhook/leadflow/console → /webhook/leadflow/console/api/… and the trigger at /webhook/leadflow/trigger.
const pagePath = location.pathname.replace(/\/+$/, '');
const apiBase = `${pagePath}/api`;
const triggerUrl = pagePath.replace(/\/console$/, '/trigger');

const state = {
	ruleId: addressId(fragment.get('rule')),
	/** The rule from the address (#rule=…) until an answer takes it: a 400 for it lets it go. */
	addressRule: addressId(fragment.get('rule')),
	/** Why the address's rule was let go (the server's message and hint), shown until another rule is picked. */
	addressError: '',
	status: '',
	search: '',
	offset: 0,
	lastOk: 0,
	/** When the tab was last shown: its first answer is waited for from then, not from the last one. */
	shownAt: 0,
	failed: false,
	timer: 0 as number | undefined,
	inFlight: false,
	/** When the call in flight was asked (the offline rule counts its wait). */
	askedAt: 0,
	/** A filter, search, page or rule changed while a poll was under way: poll again when it ends. */
	again: false,
	/** Trigger now's run is under way (its button stays disabled until it ends). */
	triggering: false,
	/** A Requeue is under way (the Requeue buttons stay disabled until it ends). */
	requeuing: false,
	/** What the open Requeue dialog asks for: the rule's failed contacts (null), or one contact. */
	requeueAsk: undefined as { ruleId: string; conversationId: string | null } | undefined,
	data: undefined as Monitor | undefined,
	/** The Timeline asked for last: an earlier one's answer, come later, is not shown. */
	timelineSeq: 0,
	/** Polls started so far: an action's focus is settled by a poll started after it. */
	polls: 0,
	/** What opened the Requeue confirmation and the Timeline: the focus goes back there when they close. */
	requeueOpener: [] as string[],
	timelineOpener: [] as string[],
};
/** Where the focus goes after Trigger now and Requeue, once the list has been drawn again. */
const focusAfter = new FocusAfter();

class HttpError extends Error {
	/**
	 * `refusal`: the answer is the workflow's own `{ status, error }` (e.g. the monitor's 404 for a
	 * rule that is gone), not n8n's (a 404 for a webhook not registered while the workflow is
	 * inactive or being activated, which says nothing of the rule). `hint`: the refusal's advice.
	 */
	constructor(readonly status: number, message: string, readonly refusal = false, readonly hint: string | null = null) { super(message); }
}

/** The refusal's message and what to do ("…is not a UUID. Use the id of a rule from …"). */
const withHint = (error: HttpError) => (error.hint ? `${error.message.replace(/\.$/, '')}. ${error.hint}` : error.message);

/** Every call with the key, and given up after REQUEST_MS unless the caller gives its own signal. */
const send = (url: string, init: RequestInit) =>
	fetch(url, { ...init, headers: { ...(init.headers ?? {}), ...authHeaders(), Accept: 'application/json' }, cache: 'no-store', signal: init.signal ?? AbortSignal.timeout(REQUEST_MS) });

async function api<T>(url: string, init: RequestInit = {}): Promise<T> {
	const response = await send(url, init);
	const body = await response.text();
	let json: unknown;
	try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
	if (!response.ok) {
		const message = (json as { error?: string; message?: string } | undefined)?.error ?? (json as { message?: string } | undefined)?.message;
		const refusal = typeof (json as { status?: unknown } | undefined)?.status === 'number' && typeof (json as { error?: unknown }).error === 'string';
		const hint = refusal ? (json as { hint?: unknown }).hint : null;
		throw new HttpError(response.status, message ?? `The console's server answered ${response.status}`, refusal, typeof hint === 'string' ? hint : null);
	}
	return json as T;
}

/** A call whose refusals are data (the Rules tab's 400s name a field): the status and the JSON. */
async function request(url: string, init: RequestInit = {}): Promise<{ status: number; json: unknown }> {
	const response = await send(url, init);
	const body = await response.text();
	let json: unknown;
	try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
	return { status: response.status, json };
}

const escape = (text: unknown) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Replaces an element's content only when it changed, keeping the focused control (by its data-key). */
function render(element: HTMLElement, html: string) {
	if (element.dataset.rendered === html) return;
	const focusedKey = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('[data-key]')?.dataset.key;
	const hadFocus = element.contains(document.activeElement);
	element.innerHTML = html;
	element.dataset.rendered = html;
	if (hadFocus && focusedKey) element.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusedKey)}"]`)?.focus();
}

/**
 * Live while the polls answer; offline when the last one failed, or when the call in flight has
 * waited STALE_MS while the tab is shown (a poll that hangs, until its time-out ends it).
 */
function setLive() {
	const live = $('live');
	const text = live.querySelector('.live-text') as HTMLElement;
	// The Follow-ups tab's own polls: the other tabs say their own state (the Pipeline's last update,
	// the Queue's indicator), so the header's is shown on this tab only.
	// While the key form asks for a key (none given, or refused), nothing is connected.
	const asking = !key || !$('key-form-section').hidden;
	live.hidden = !asking && $('panel-followups').hidden;
	if (asking) { live.className = 'live off'; text.textContent = 'Not connected'; return; }
	if (!state.lastOk) { live.className = 'live'; text.textContent = 'Connecting…'; return; }
	// The rule of every tab: a failed call, or a call in flight that has waited STALE_MS while the tab is shown.
	const offline = isOffline(state.failed, !$('panel-followups').hidden && state.inFlight ? state.askedAt : null, state.shownAt, Date.now());
	live.className = offline ? 'live off' : 'live on';
	text.textContent = offline ? `Offline, retrying · last update ${formatRelative(new Date(state.lastOk).toISOString())}` : 'Live';
}

const STAGE_NAMES: Record<string, string> = {
	queued: 'Queued', checking: 'Checking', eligible: 'Eligible', generating: 'Generating', ready_to_send: 'Ready to send',
	sending: 'Sending', sent: 'Sent', failed: 'Failed', skipped: 'Skipped', completed: 'Completed',
};
const stageName = (stage: string | null) => (stage ? (STAGE_NAMES[stage] ?? stage) : '—');

const TOTALS: Array<[string, string]> = [
	['total_with_tags', 'With the tags'], ['eligible_count', 'Eligible now'], ['active_count', 'Processing'],
	['recently_sent_count', 'Recently sent'], ['sent_today_count', 'Sent today'],
	// What the daily limit counts (also sends in progress or uncertain, and contacts claimed): beside the limit.
	['used_today', 'Daily limit used'], ['daily_limit', 'Daily limit'],
	['failed_count', 'Failed'], ['skipped_count', 'Skipped'], ['stopped_count', 'Stopped'],
];

function renderMonitor(data: Monitor) {
	const picker = $<HTMLSelectElement>('rule-picker');
	const options = data.rules.map((rule) => `<option value="${escape(rule.id)}">${escape(rule.name)}${rule.enabled ? '' : ' (off)'}</option>`).join('');
	render(picker, options);
	if (picker.value !== state.ruleId) picker.value = state.ruleId;
	$('rule-empty').hidden = data.rules.length > 0;
	$('monitor').hidden = !data.rule;
	updateTrigger();
	if (!data.rule || !data.stats || !data.contacts) return;
	const stats = data.stats;

	render($('stages'), (data.stages ?? []).map((stage) => `
		<div class="stage" data-stage="${escape(stage.stage)}">
			<div class="name">${escape(stageName(stage.stage))}</div>
			<div class="count" data-value="${stage.contact_count}">${formatNumber(stage.contact_count)}</div>
			<div class="avg">${stage.avg_seconds === null ? 'no time yet' : `avg ${escape(formatDuration(Number(stage.avg_seconds)))}`}</div>
		</div>`).join(''));

	const reasons = (stats.skipped_by_reason ?? {}) as Record<string, number>;
	render($('totals'), [
		...TOTALS.map(([field, label]) => `<div data-total="${field}"><dt>${label}</dt><dd data-value="${escape(stats[field])}">${formatNumber(Number(stats[field] ?? 0))}</dd></div>`),
		...Object.keys(reasons).sort().map((reason) => `<div data-reason="${escape(reason)}"><dt>Not due: ${escape(reasonInWords(reason))}</dt><dd data-value="${reasons[reason]}">${formatNumber(reasons[reason])}</dd></div>`),
	].join(''));

	const { rows, total, offset } = data.contacts;
	const filtered = state.status || state.search;
	render($('contacts'), rows.length === 0
		? `<p class="empty">${escape(noTaggedContactInWords(Boolean(filtered), data.rule.page_id, null, data.taggedOnOtherPages))}</p>`
		: `<table><thead><tr><th>Contact</th><th>Status</th><th>Why / when</th><th>Follow-ups</th><th>Stage</th></tr></thead><tbody>${rows.map((row) => `
			<tr data-contact="${escape(row.conversation_id)}" data-status="${escape(row.contact_status)}" data-reason="${escape(row.status_reason ?? '')}">
				<td data-label="Contact"><button class="row-button" type="button" data-key="c-${escape(row.conversation_id)}" data-timeline="${escape(row.conversation_id)}">${escape(contactName(row))}</button>
					<div class="sub">${escape(row.matching_tags.join(', '))}</div></td>
				<td data-label="Status"><span class="badge s-${escape(row.contact_status)}">${escape(statusInWords(row.contact_status))}</span></td>
				<td data-label="Why">${row.status_reason && row.status_reason !== 'in_progress' ? escape(contactReasonInWords(row.status_reason, row.stop_reason, row.due_at, row.window_closes_at, Date.now(), row.retry_at)) : row.contact_status === 'eligible' ? 'Due now' : 'Being processed'}
					${row.due_at && Date.parse(row.due_at) > Date.now() ? `<div class="sub">sends ${escape(formatRelative(row.due_at))}</div>` : ''}</td>
				<td data-label="Follow-ups">${formatNumber(row.follow_up_count)} of ${formatNumber(data.rule!.max_follow_ups)}</td>
				<td data-label="Stage">${escape(stageName(row.current_stage))}${failedNow(row) ? ` <button class="row-action" type="button" data-key="r-${escape(row.conversation_id)}" data-requeue="${escape(row.conversation_id)}"${state.requeuing ? ' disabled' : ''}>Requeue</button>${row.error_code === UNCERTAIN ? '<div class="sub">Its last send may have been delivered</div>' : ''}` : ''}</td>
			</tr>`).join('')}</tbody></table>`);
	$('page-info').textContent = total === 0 ? '' : `${formatNumber(offset + 1)}–${formatNumber(offset + rows.length)} of ${formatNumber(total)}`;
	$<HTMLButtonElement>('prev-page').disabled = offset === 0;
	$<HTMLButtonElement>('next-page').disabled = offset + rows.length >= total;

	const active = data.activeContacts ?? [];
	render($('active'), active.length === 0
		? '<p class="empty">No contact is in the pipeline now, and none moved in the last 24 hours.</p>'
		: `<table><thead><tr><th>Contact</th><th>Stage</th><th>In stage</th><th>Follow-up</th><th>Message</th><th>AI time</th></tr></thead><tbody>${active.map((row) => `
			<tr data-active="${escape(row.conversation_id)}" data-stage="${escape(row.current_stage)}">
				<td data-label="Contact"><button class="row-button" type="button" data-key="a-${escape(row.conversation_id)}" data-timeline="${escape(row.conversation_id)}">${escape(contactName(row))}</button></td>
				<td data-label="Stage">${escape(stageName(row.current_stage))}</td>
				<td data-label="In stage">since ${escape(formatRelative(row.stage_entered_at))}</td>
				<td data-label="Follow-up">${formatNumber(row.claimed_follow_up_number ?? row.follow_up_count)} of ${formatNumber(row.max_follow_ups)}</td>
				<td data-label="Message"><div class="preview">${escape(row.generated_message ?? '')}</div>${row.error_code ? `<div class="error">${escape(row.error_code)}: ${escape(row.error_message ?? '')}</div>` : ''}${row.skip_reason ? `<div class="sub">${escape(reasonInWords(row.skip_reason))}</div>` : ''}</td>
				<td data-label="AI time">${row.generation_ms === null ? '—' : `${formatNumber(row.generation_ms)} ms`}</td>
			</tr>`).join('')}</tbody></table>`);
}

/**
 * Shows another rule (the picker, Monitor on a rule card, #rule=… typed into the address). Trigger
 * now's and Requeue's words were about the rule shown before: taken away with it.
 */
function chooseRule(ruleId: string) {
	if (ruleId !== state.ruleId) {
		for (const id of ['trigger-result', 'requeue-result']) {
			$(id).textContent = '';
			delete $(id).dataset.sent;
			delete $(id).dataset.requeued;
		}
	}
	state.ruleId = ruleId;
	state.addressRule = '';
	state.addressError = '';
	state.offset = 0;
	void poll();
}

/** A contact that failed and is not due (no retry of its own, or one later): what Requeue makes due now. */
const failedNow = (row: Contact) => row.current_stage === 'failed' && row.status_reason === 'failed';

/**
 * Trigger now only with a rule chosen and shown, and not while its run is under way; Requeue failed
 * likewise, and only while the rule has failed contacts (its Failed stage: also a rule switched off).
 */
function updateTrigger() {
	$<HTMLButtonElement>('trigger-now').disabled = state.triggering || !state.ruleId || !state.data?.rule;
	$<HTMLButtonElement>('requeue-failed').disabled = state.requeuing || !state.ruleId || !state.data?.rule || !(failedToRequeue(state.data.stats) > 0);
	for (const button of document.querySelectorAll<HTMLButtonElement>('[data-requeue]')) button.disabled = state.requeuing;
}

/** The monitor's refusal of the filters (e.g. a search too long), beside them; '' clears it. */
function showMonitorError(message: string) {
	$('monitor-error').textContent = message;
}

function monitorQuery(): URLSearchParams {
	const query = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE_SIZE) });
	if (state.ruleId) query.set('ruleId', state.ruleId);
	if (state.status) query.set('status', state.status);
	if (state.search) query.set('search', state.search);
	return query;
}

async function poll() {
	window.clearTimeout(state.timer);
	// Only while the Follow-ups tab is shown: a refresh timer set before another tab was chosen
	// asks for nothing (the tab polls again when it is shown).
	if (document.getElementById('panel-followups')!.hidden) return;
	// A change while a poll is under way is asked for as soon as that poll ends.
	if (state.inFlight) { state.again = true; return; }
	state.inFlight = true;
	state.askedAt = Date.now();
	state.again = false;
	const draw = ++state.polls;
	let stop = false;
	const query = monitorQuery();
	const ruleId = state.ruleId;
	// Still what the page asks for (nothing changed while the answer came)?
	const current = () => monitorQuery().toString() === query.toString();
	try {
		const data = await api<Monitor>(`${apiBase}/monitor?${query}`);
		state.lastOk = Date.now();
		state.failed = false;
		// The address's rule is one: kept like a picked one from now on.
		if (ruleId && ruleId === state.addressRule && data.rule) state.addressRule = '';
		if (!current()) {
			// Changed meanwhile: the answer is not what is asked for now (the change polls again).
			state.again = true;
		} else if (!state.ruleId && data.rules.length > 0) {
			state.ruleId = (data.rules.find((rule) => rule.enabled) ?? data.rules[0]).id;
			state.again = true;
		} else if (data.contacts && data.contacts.rows.length === 0 && data.contacts.offset > 0) {
			// A page past the end (contacts left the tags or the filter meanwhile): the last page with
			// contacts, the first when none is left.
			state.offset = Math.max(0, Math.floor((data.contacts.total - 1) / PAGE_SIZE) * PAGE_SIZE);
			state.again = true;
		} else {
			state.data = data;
			showMonitorError(state.addressError);
			renderMonitor(data);
			focusAfter.settle(draw);
		}
	} catch (error) {
		if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
			state.failed = true;
			showKeyForm(KEY_REFUSED);
			stop = true;
		} else if (!current()) {
			state.again = true;
		} else if (error instanceof HttpError && ruleId && error.status === 404 && error.refusal) {
			// The rule is gone: none until the next answer picks another (Trigger now waits for it).
			if (state.ruleId === ruleId) {
				state.ruleId = '';
				state.offset = 0;
				state.data = undefined;
				updateTrigger();
			}
			state.again = true;
		} else if (error instanceof HttpError && error.status === 400 && ruleId && ruleId === state.addressRule) {
			// The address's rule is no rule ID (mistyped, cut off): let go, its message shown, and the
			// list asked for, which picks a rule (as for a rule that is gone).
			state.ruleId = '';
			state.addressRule = '';
			state.addressError = withHint(error);
			state.offset = 0;
			state.data = undefined;
			showMonitorError(state.addressError);
			updateTrigger();
			state.again = true;
		} else if (error instanceof HttpError && error.status === 400) {
			// Bad input (e.g. a search over 200 characters): the server's message beside the
			// filters; the rule stays chosen.
			showMonitorError(error.message);
		} else {
			state.failed = true;
		}
	} finally {
		state.inFlight = false;
		setLive();
	}
	if (stop || document.getElementById('panel-followups')!.hidden) return;
	if (state.again) void poll();
	else state.timer = window.setTimeout(() => void poll(), POLL_MS);
}

/** What the key form says when a tab's call was refused for its key (401/403). */
const KEY_REFUSED = 'That key was refused. Enter the key of the Leadflow Webhook Key credential.';

function showKeyForm(message = '') {
	window.clearTimeout(state.timer);
	// Every tab's panel: the Pipeline and Queue tabs stop their own polling on a refused key.
	for (const panel of document.querySelectorAll<HTMLElement>('[role="tabpanel"]')) panel.hidden = true;
	$('key-form-section').hidden = false;
	$('key-error').textContent = message;
	$<HTMLInputElement>('key-input').focus();
}

async function showTimeline(conversationId: string) {
	const dialog = $<HTMLDialogElement>('timeline-dialog');
	const contact = state.data?.contacts?.rows.find((row) => row.conversation_id === conversationId)
		?? state.data?.activeContacts?.find((row) => row.conversation_id === conversationId);
	$('timeline-title').textContent = `Timeline: ${contact ? contactName(contact) : 'contact'}`;
	$('timeline-body').textContent = 'Loading…';
	dialog.showModal();
	// Only the contact asked for last: an answer for another one, come late, is dropped.
	const seq = ++state.timelineSeq;
	try {
		const query = new URLSearchParams({ ruleId: state.ruleId, conversationId });
		const { events } = await api<{ events: Array<{ from_stage: string | null; to_stage: string; occurred_at: string; seconds_in_previous_stage: number | null }> }>(`${apiBase}/timeline?${query}`);
		if (seq !== state.timelineSeq) return;
		$('timeline-body').innerHTML = events.length === 0
			? '<p class="empty">No stage yet: this contact has not been picked up by a run.</p>'
			: `<ol>${events.map((event) => `<li data-event="${escape(event.to_stage)}"><strong>${escape(stageName(event.to_stage))}</strong> · <time datetime="${escape(event.occurred_at)}" title="${escape(timeInZone(event.occurred_at))}">${escape(formatRelative(event.occurred_at))}</time>${event.seconds_in_previous_stage === null ? '' : ` <span class="sub">(${escape(formatDuration(Number(event.seconds_in_previous_stage)))} in ${escape(stageName(event.from_stage))})</span>`}</li>`).join('')}</ol>`;
	} catch (error) {
		if (seq !== state.timelineSeq) return;
		$('timeline-body').innerHTML = `<p class="error">${escape((error as Error).message)}</p>`;
	}
}

async function triggerNow() {
	const result = $('trigger-result');
	// Never without a rule: an empty ruleId would make tag-monitor-send run every enabled rule.
	const ruleId = state.ruleId;
	if (state.triggering) return;
	if (!ruleId || !state.data?.rule) {
		result.textContent = 'Pick a rule first.';
		updateTrigger();
		return;
	}
	state.triggering = true;
	updateTrigger();
	delete result.dataset.sent;
	result.textContent = 'Running…';
	// Another rule shown meanwhile: its answer is not written beside that rule's button.
	const shown = () => state.ruleId === ruleId;
	try {
		const summary = await api<{
			claimed: number; sent: number; skipped: number; failed: number; claimReason?: string | null;
			skippedByReason?: Record<string, number>; notClaimedByReason?: Record<string, number>;
		}>(triggerUrl, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ ruleId }),
			// A run generates and sends: it may take longer than a poll is waited for.
			signal: AbortSignal.timeout(TRIGGER_MS),
		});
		// Why fewer were claimed than asked (the claim's one word and its counts by reason), then why
		// claimed contacts were skipped.
		const counts = (byReason: Record<string, number> | undefined) =>
			Object.entries(byReason ?? {}).filter(([, n]) => n > 0).map(([reason, n]) => `${formatNumber(n)} ${reasonInWords(reason).toLowerCase()}`);
		const notClaimed = counts(summary.notClaimedByReason);
		const skipped = counts(summary.skippedByReason);
		if (!shown()) return;
		result.textContent = [
			`Claimed ${formatNumber(summary.claimed)}, sent ${formatNumber(summary.sent)}, skipped ${formatNumber(summary.skipped)}, failed ${formatNumber(summary.failed)}`,
			summary.claimReason ? `${claimReasonInWords(summary.claimReason)}${notClaimed.length ? `: ${notClaimed.join('; ')}` : ''}` : '',
			skipped.length ? `skipped: ${skipped.join('; ')}` : '',
		].filter(Boolean).join(' · ');
		result.dataset.sent = String(summary.sent);
	} catch (error) {
		if (!shown()) return;
		const status = error instanceof HttpError ? error.status : undefined;
		result.textContent = notDone(status, error instanceof HttpError && error.refusal)
			// The run's own message and what to do (an expired Page token, a Gemini credential without a key…).
			? `Trigger failed: ${withHint(error as HttpError)}`
			// No answer, or not the workflow's (a proxy's 504): the run may have happened.
			: triggerMayHaveRun(lostAnswer(status, (error as Error).message));
	} finally {
		state.triggering = false;
		updateTrigger();
		// Disabled while it ran, the button lost the focus: back on it.
		focusAfter.set(['#trigger-now'], state.polls);
		void poll();
	}
}

/**
 * Requeue's confirmation: what will happen, and the second choice for contacts whose send may have
 * reached them (left unticked: they stay failed). conversationId null: every failed contact of the rule.
 */
function openRequeue(conversationId: string | null) {
	const rule = state.data?.rule;
	if (state.requeuing || !state.ruleId || !rule) return;
	const contact = conversationId ? state.data?.contacts?.rows.find((row) => row.conversation_id === conversationId) : undefined;
	if (conversationId && !contact) return;
	state.requeueAsk = { ruleId: state.ruleId, conversationId };
	// Back there when it closes: the row's Requeue, else (requeued, so gone) the row's name; the rule's
	// Requeue failed, else Trigger now.
	state.requeueOpener = conversationId
		? [`[data-key="r-${CSS.escape(conversationId)}"]`, `[data-key="c-${CSS.escape(conversationId)}"]`, '#requeue-failed', '#trigger-now']
		: ['#requeue-failed', '#trigger-now'];
	const name = contact ? contactName(contact) : '';
	const due = 'the next run (or Trigger now) sends the follow-up, within the rule\'s active hours, interval and daily limit';
	$('requeue-title').textContent = contact ? `Requeue ${name}` : 'Requeue failed contacts';
	$('requeue-text').textContent = contact
		? `${name}'s follow-up failed${contact.error_code ? ` (${contact.error_code})` : ''}. Requeued, the contact is due now: ${due}.`
		: `Every failed contact of "${rule.name}" (${formatNumber(failedToRequeue(state.data?.stats))} now) is requeued: the next run (or Trigger now) sends the follow-up to each one the rule allows then (switched on, no excluded tag, within its active hours, interval and daily limit).`;
	// One contact: the second choice only when its send may have arrived; the rule's: always.
	$('requeue-uncertain-box').hidden = contact !== undefined && contact.error_code !== UNCERTAIN;
	$<HTMLInputElement>('requeue-uncertain').checked = false;
	$('requeue-uncertain-label').textContent = contact ? 'I checked it was not delivered: requeue it too' : 'I checked they were not delivered: requeue them too';
	$<HTMLDialogElement>('requeue-dialog').showModal();
}

async function confirmRequeue() {
	const ask = state.requeueAsk;
	if (!ask || state.requeuing) return;
	const uncertain = !$('requeue-uncertain-box').hidden && $<HTMLInputElement>('requeue-uncertain').checked ? 'requeue' : 'leave';
	state.requeueAsk = undefined;
	$<HTMLDialogElement>('requeue-dialog').close();
	state.requeuing = true;
	updateTrigger();
	const result = $('requeue-result');
	delete result.dataset.requeued;
	result.textContent = 'Requeuing…';
	const shown = () => state.ruleId === ask.ruleId;
	try {
		const answer = await api<{ counts: Record<string, number> }>(`${apiBase}/requeue`, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ ruleId: ask.ruleId, ...(ask.conversationId ? { conversationIds: [ask.conversationId] } : {}), uncertain }),
		});
		if (!shown()) return;
		result.textContent = requeuedInWords(answer.counts);
		result.dataset.requeued = String(answer.counts.requeued ?? 0);
	} catch (error) {
		if (!shown()) return;
		const status = error instanceof HttpError ? error.status : undefined;
		result.textContent = notDone(status, error instanceof HttpError && error.refusal)
			? `Could not requeue: ${withHint(error as HttpError)}`
			: requeueMayHaveBeenDone(lostAnswer(status, (error as Error).message));
	} finally {
		state.requeuing = false;
		updateTrigger();
		focusAfter.set(state.requeueOpener, state.polls);
		void poll();
	}
}

/** The tabs, once a key is known (the first key, from the address or the form, builds them). */
let tabsReady: { selectTab(name: string): void; current(): string; follow(fragment: Map<string, string>): void } | undefined;

/**
 * A fragment typed into the address while the page is open: its rule shown, its pipeline shown, its
 * owner's queue shown, on the tab tabOf picks (the one the page opens on with the same fragment);
 * what it does not name stays.
 */
function followAddress(next: Map<string, string>) {
	const rule = addressId(next.get('rule'));
	if (rule) {
		chooseRule(rule);
		// As #rule=… when the page opens: let go with its message if it is no rule ID.
		state.addressRule = rule;
	}
	if (!tabsReady) return;
	tabsReady.follow(next);
	const tab = tabOf(next);
	if (tab) tabsReady.selectTab(tab);
}

function start() {
	$('key-form').addEventListener('submit', (event) => {
		event.preventDefault();
		const input = $<HTMLInputElement>('key-input');
		const value = input.value.trim();
		if (!value) return;
		// In memory only: not in the address (no #key=, no reload), not stored.
		key = value;
		input.value = '';
		$('key-error').textContent = '';
		$('key-form-section').hidden = true;
		if (tabsReady) tabsReady.selectTab(tabsReady.current());
		else begin();
	});
	$('rule-picker').addEventListener('change', (event) => chooseRule((event.target as HTMLSelectElement).value));
	$('status-filter').addEventListener('change', (event) => {
		state.status = (event.target as HTMLSelectElement).value;
		state.offset = 0;
		void poll();
	});
	onSearchInput($<HTMLInputElement>('search'), (text) => {
		state.search = text;
		state.offset = 0;
		void poll();
	});
	$('prev-page').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); void poll(); });
	$('next-page').addEventListener('click', () => { state.offset += PAGE_SIZE; void poll(); });
	$('trigger-now').addEventListener('click', () => void triggerNow());
	$('requeue-failed').addEventListener('click', () => openRequeue(null));
	$('requeue-confirm').addEventListener('click', () => void confirmRequeue());
	$('requeue-cancel').addEventListener('click', () => $<HTMLDialogElement>('requeue-dialog').close());
	$('requeue-dialog').addEventListener('close', () => {
		// Cancelled (Confirm clears the ask first and places the focus once the answer is drawn).
		if (state.requeueAsk) focusFirst(state.requeueOpener);
		state.requeueAsk = undefined;
	});
	document.addEventListener('click', (event) => {
		const target = (event.target as HTMLElement).closest<HTMLElement>('[data-timeline]');
		if (target?.dataset.timeline) {
			state.timelineOpener = target.dataset.key ? [`[data-key="${CSS.escape(target.dataset.key)}"]`] : [];
			void showTimeline(target.dataset.timeline);
		}
		const requeue = (event.target as HTMLElement).closest<HTMLElement>('[data-requeue]');
		if (requeue?.dataset.requeue) openRequeue(requeue.dataset.requeue);
	});
	// A dialog closed gives the focus back to what opened it (drawn anew meanwhile by a refresh).
	$('timeline-dialog').addEventListener('close', () => focusFirst(state.timelineOpener));
	// The address's fragment edited: a new key starts the page again with it (the key leaves the
	// address at once); #rule=, #tab=, #pipeline= and #owner= are followed in place, the key kept in memory.
	window.addEventListener('hashchange', () => {
		const next = parseFragment(location.hash);
		if (next.has('key')) { location.reload(); return; }
		followAddress(next);
	});
	// The live indicator's "last update" stays true while offline.
	window.setInterval(setLive, 1000);

	if (!key) return showKeyForm();
	begin();
}

/** Builds the tabs and shows the first (#tab=…, else Follow-ups); their calls carry the key. */
function begin() {
	const rules = initRules({
		apiBase,
		request,
		escape,
		openMonitor: (ruleId) => {
			chooseRule(ruleId);
			selectTab('followups');
		},
		keyRefused: () => showKeyForm(KEY_REFUSED),
		ruleDeleted: (ruleId) => {
			if (state.ruleId !== ruleId) return;
			state.ruleId = '';
			state.offset = 0;
			state.data = undefined;
			updateTrigger();
		},
	});
	// The Pipeline and Queue tabs render their own panel and poll only while shown.
	const context: TabContext = { apiBase, pagePath, api, request, authHeaders, escape, render, keyRefused: () => showKeyForm(KEY_REFUSED) };
	const panels = { pipeline: initPipeline(context, $('panel-pipeline')), queue: initQueue(context, $('panel-queue')) };
	const tabs = ['followups', 'rules', 'pipeline', 'queue'] as const;
	let shown: string = tabs[0];
	function selectTab(name: string) {
		if (!(tabs as readonly string[]).includes(name)) return;
		shown = name;
		for (const tab of tabs) {
			const button = $(`tab-${tab}`);
			button.setAttribute('aria-selected', String(tab === name));
			button.tabIndex = tab === name ? 0 : -1;
			$(`panel-${tab}`).hidden = tab !== name;
		}
		for (const [tab, panel] of Object.entries(panels)) if (tab !== name) panel.hide();
		if (name === 'rules') void rules.load();
		else if (name === 'pipeline' || name === 'queue') panels[name].show();
		else {
			state.shownAt = Date.now();
			void poll();
		}
		setLive();
	}
	for (const tab of tabs) {
		$(`tab-${tab}`).addEventListener('click', () => selectTab(tab));
		// Arrow keys move between the tabs (the tablist pattern).
		$(`tab-${tab}`).addEventListener('keydown', (event) => {
			if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
			const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
			selectTab(next);
			$(`tab-${next}`).focus();
		});
	}
	tabsReady = { selectTab, current: () => shown, follow: (next) => { for (const panel of Object.values(panels)) panel.follow?.(next); } };
	// The same rule as a fragment typed while the page is open (#owner= opens the Queue tab, #pipeline= the Pipeline tab).
	const firstTab = tabOf(fragment);
	selectTab(tabs.find((tab) => tab === firstTab) ?? 'followups');
	setLive();
}

start();
