// The Queue tab: an owner's lead queue of the day (today in the owner's time zone, or tomorrow's as
// prepared), counted by status, with its metrics and one page of its messages (by status and a
// search), polled every 2 s from GET …/console/api/queue. Take Lead, Export CSV and the metrics call
// the shipped queue webhooks (workflows/queue-actions.json) beside the console, with the same key
// and the owner in X-Leadflow-Owner, as the owner's app would.
import { followUpsStoppedInWords, formatDuration, formatNumber, formatRelative, notTakenOverInWords } from './format';
import { focusFirst } from './focus';
import { addressId, parseFragment } from './fragment';
import { inZone, messagesCancelled, noQueueSettingsInWords, openEarlierInWords, ownerNotFoundInWords, statusMeaningInWords, takeMayHaveBeenDone, takeNotDone } from './queue-words';
import { isOffline, onSearchInput, type Tab, type TabContext } from './tab';

interface QueueRow {
	item_id: string; lead_id: string; name: string | null; phone: string; lead_status: string; lead_score: number | null; status: string;
	attempts: number; scheduled_for: string; completed_at: string | null; message_id: string | null; last_error: string | null;
	taken_over_at: string | null; taken_over_by: string | null;
	/** The lead's Messenger conversation, and whether it is stopped for every follow-up rule. */
	conversation_id?: string | null; follow_ups_stopped?: boolean;
	/** The settles the database accepts for this row now (console_queue_page, migration 20261201002942); [] or absent: none. */
	settle_outcomes?: string[];
	last_event: { queue: string; from_status: string | null; to_status: string; reason: string; actor: string; worker: string | null; at: string } | null;
}
interface QueuePage {
	/** Only when asked (owners=1, the default): the poll asks every 30 s. */
	owners?: string[];
	/** With the owners: a label per owner (their Pages' or campaigns' names), null when there is none. */
	ownerLabels?: Record<string, string | null>;
	owner: string | null;
	generatedAt: string;
	settings?: { time_zone: string; daily_capacity: number; send_from: string; send_until: string; max_attempts: number } | null;
	timeZone?: string;
	today?: string;
	day?: string;
	counts?: Record<string, number>;
	/** The open messages (queued, sending, failed to retry) of the days before today: the claim still sends them. */
	earlierOpen?: { total: number; days: Array<{ day: string; open: number }> };
	rows?: { total: number; offset: number; limit: number; rows: QueueRow[] };
}
interface DayMetrics {
	day: string; queued: number; sent: number; failed: number; cancelled: number; taken_over: number;
	mean_wait_seconds: number | string | null; mean_processing_seconds: number | string | null;
}
/** `sending`: the lead's messages whose send had begun, left to their run (they may have reached the lead). */
/** `status_kept`: a lead nobody may message keeps its status; its follow-ups were stopped all the same. */
interface TakeAnswer { lead_id: string; status: string; already_taken: boolean; cancelled: unknown[]; stopped_rules: number; sending?: unknown[]; status_kept?: boolean; explanation?: string | null }

const PAGE_SIZE = 25;
const POLL_MS = 2000;
/** The metrics are counted from the ledger: asked again when the day's counts change, else every 30 s. */
const METRICS_MS = 30_000;
/** The owners (for the picker) change rarely: asked for on the first poll, then every 30 s. */
const OWNERS_MS = 30_000;
/** An export is a download of the whole day: waited for longer than a poll, but not for ever. */
const EXPORT_MS = 2 * 60_000;

const STATUSES: Array<[string, string]> = [
	['queued', 'Queued'], ['claimed', 'Sending'], ['sent', 'Sent'], ['failed', 'Failed, will retry'], ['cancelled', 'Cancelled'], ['dead', 'Given up'],
];
const statusName = (status: string) => STATUSES.find(([value]) => value === status)?.[1] ?? status;

const LEAD_STATUSES: Record<string, string> = {
	new: 'New', queued: 'Queued', contacted: 'Contacted', engaged: 'Engaged', booked: 'Booked', not_interested: 'Not interested',
	human_controlled: 'Taken over', do_not_contact: 'Do not contact', invalid: 'Invalid',
};

const REASONS: Record<string, string> = {
	added: 'Added', prepared: 'Queued for the day', claimed: 'Picked up to send', lease_expired: 'Picked up again (a worker timed out)',
	sent: 'Sent', send_failed: 'Sending failed', max_attempts: 'Given up after the last attempt', permanent_error: 'Given up (permanent error)',
	released: 'Put back untried', human_takeover: 'Taken over', reopened: 'Back in the backlog', message_sent: 'First message sent',
	message_dead: 'First message given up', updated: 'Changed',
};
function reasonInWords(reason: string): string {
	if (REASONS[reason]) return REASONS[reason];
	const lead = /^lead_(.+)$/.exec(reason);
	if (lead) return `Lead marked ${(LEAD_STATUSES[lead[1]] ?? lead[1].replace(/_/g, ' ')).toLowerCase()}`;
	return reason.replace(/_/g, ' ');
}
const ACTORS: Record<string, string> = { automation: 'by n8n', user: 'by a person', system: 'by the system' };

// #owner=… as the page was opened.
const fragment = parseFragment(location.hash);
const addDays = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
const dayInWords = (day: string) => new Date(`${day}T12:00:00Z`).toLocaleDateString(undefined, { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

const minutes = new Intl.RelativeTimeFormat(navigator.languages?.[0] ?? navigator.language ?? 'en', { numeric: 'auto' });
/** "3 minutes ago", "in 2 h 10 min"; within a minute "now" or "in 1 minute" (so a row's text holds still between polls). */
function when(iso: string): string {
	const seconds = (Date.parse(iso) - Date.now()) / 1000;
	if (Math.abs(seconds) < 60) return seconds > 0 ? minutes.format(1, 'minute') : minutes.format(0, 'second');
	return formatRelative(iso);
}

export function initQueue(context: TabContext, panel: HTMLElement): Tab {
	const { api, request, escape, render } = context;
	// /webhook/leadflow/console → /webhook/leadflow: the queue webhooks' base.
	const webhooks = context.pagePath.replace(/\/console$/, '');
	const state = {
		shown: false,
		built: false,
		// #owner=… opens an owner's queue (a link from the owner's app); else the first owner.
		owner: addressId(fragment.get('owner')),
		/** The owner from the address until an answer takes it: a 400 for it (no owner ID) lets it go. */
		addressOwner: addressId(fragment.get('owner')),
		/**
		 * An owner asked for that the database does not know (404): said so in place of the queue, with
		 * the owners to pick from, until one is picked (or another #owner= typed). The polls meanwhile
		 * ask without an owner, for the list, and draw no owner's queue.
		 */
		missingOwner: '',
		/** The owner shown was picked in the Owner list (not the address's, nor the page's own choice). */
		ownerPicked: false,
		/** The owner whose queue was drawn last: one asked for and gone since was there, deleted meanwhile. */
		ownerShown: '',
		/**
		 * How the missing owner was asked for: picked in the Owner list, or its queue shown (so it was
		 * there: deleted meanwhile), or only from the address (a link to check).
		 */
		missingOwnerHow: 'address' as 'address' | 'picked' | 'shown',
		/** The last message said on the message line (an owner's words: none, no settings, refused); Take Lead and the export have their own lines. */
		message: '',
		messageKind: 'ok' as 'ok' | 'error',
		/**
		 * The owner the export's own line speaks of ("Exporting…", its failure, "Downloaded …"): another
		 * owner drawn (by any path) takes a failure away; an export still under way is then named by its
		 * owner. '' when the line is empty.
		 */
		exportFor: '',
		/** The owner whose lead Take Lead's own line speaks of ('' when it is empty): another owner drawn takes it away. */
		takeFor: '',
		/** The owner drawn when Take Lead's line was last written: another owner drawn after that takes the line away. */
		takeBeside: '',
		/** The owner drawn last (picked, followed or drawn), for Take Lead's line. */
		ownerDrawn: '',
		/** Take Lead's words as said (without the owner's name added beside another owner's queue). */
		takeText: '',
		takeKind: 'ok' as 'ok' | 'error',
		/** The lead Take Lead's line speaks of: its take under way keeps the line beside any owner. */
		takeLead: '',
		/** The export's failure is shown (with its Dismiss) beside its own owner's queue: kept until Export is pressed again, its Dismiss, or another owner is drawn. */
		exportFailed: false,
		/** An export is under way: Export stays disabled, whatever a poll draws meanwhile. */
		exporting: false,
		/** The owner whose queue the export under way exports ('' when none runs). */
		exportOwner: '',
		/**
		 * The owner shown was chosen by the page (the first owner the server answered, no owner asked
		 * for): when it is deleted the next owner's queue is shown, as nobody asked for this one.
		 */
		ownerAdopted: false,
		/**
		 * An owner was picked: once their queue is drawn the focus goes to the search (then Export) if
		 * it was lost, as when the picker hides itself with one owner left.
		 */
		focusAfterPick: false,
		day: '' as string,
		status: '',
		search: '',
		offset: 0,
		timer: undefined as number | undefined,
		inFlight: false,
		/** When the call in flight was asked (the offline rule counts its wait). */
		askedAt: 0,
		again: false,
		lastOk: 0,
		/** When the tab was last shown: its first answer is waited for from then. */
		shownAt: 0,
		failed: false,
		data: undefined as QueuePage | undefined,
		metrics: undefined as DayMetrics | undefined,
		metricsKey: '',
		metricsAt: 0,
		/** The owner|day whose metrics call is under way: its own guard, so a slow metrics webhook never holds the queue's polls. */
		metricsAsked: '',
		/** The owner|day the Metrics block is for: another drawn, its numbers are cleared at once. */
		metricsFor: '',
		/** The words said for an owner without queue settings: taken away when another owner is shown. */
		noSettingsSaid: '',
		/** The owner those words were said for: said once per owner shown, never again at each poll. */
		noSettingsFor: '',
		owners: [] as string[],
		ownerLabels: {} as Record<string, string | null>,
		ownersAt: 0,
		taking: new Set<string>(),
		/**
		 * The settle last pressed here and what came of it: the message's row (its item, not the lead's other
		 * rows) keeps a focus target where the button was, drawn once and then only while the focus is on it.
		 */
		settlePressed: null as { itemId: string; outcome: string; words: string; drawn: number } | null,
	};
	const el = <T extends HTMLElement>(id: string) => panel.querySelector<T>(`#${id}`)!;

	function build() {
		if (state.built) return;
		state.built = true;
		panel.innerHTML = `
			<div class="toolbar queue-toolbar">
				<span id="queue-owner-box" hidden><label for="queue-owner">Owner</label> <select id="queue-owner"></select></span>
				<label for="queue-day">Day</label>
				<select id="queue-day"><option value="">Today</option></select>
				<button id="queue-export" type="button">Export CSV</button>
				<span id="queue-live" class="live"><span class="dot" aria-hidden="true"></span><span class="live-text">Connecting…</span></span>
			</div>
			<div class="queue-notice">
				<p id="queue-message" class="queue-message" role="status" aria-live="polite"></p>
			</div>
			<div class="queue-notice">
				<p id="queue-take-message" class="queue-message" role="status" aria-live="polite"></p>
			</div>
			<div class="queue-notice">
				<p id="queue-export-message" class="queue-message" role="status" aria-live="polite"></p>
				<button id="queue-export-dismiss" type="button" aria-label="Dismiss the export's failure" hidden>Dismiss</button>
			</div>
			<div id="queue-empty" class="empty" hidden></div>
			<div id="queue-body" hidden>
				<p id="queue-day-info" class="sub"></p>
				<p id="queue-earlier" class="queue-earlier" hidden></p>
				<div id="queue-counts" class="stages queue-counts"></div>
				<h2 class="section-title">Metrics of the day</h2>
				<dl id="queue-metrics" class="totals"></dl>
				<h2 class="section-title">Messages</h2>
				<div class="filters">
					<label for="queue-status">Status</label>
					<select id="queue-status"><option value="">All</option>${STATUSES.map(([value, name]) => `<option value="${value}">${name}</option>`).join('')}</select>
					<label for="queue-search">Search</label>
					<input id="queue-search" type="search" placeholder="Name or phone" maxlength="200">
				</div>
				<div id="queue-rows" class="queue-rows"></div>
				<div class="pager">
					<button id="queue-prev" type="button">Previous</button>
					<span id="queue-page-info"></span>
					<button id="queue-next" type="button">Next</button>
				</div>
			</div>`;
		el<HTMLSelectElement>('queue-owner').addEventListener('change', (event) => {
			const picked = (event.target as HTMLSelectElement).value;
			if (!picked) return;
			state.owner = picked;
			state.ownerAdopted = false;
			state.ownerPicked = true;
			state.focusAfterPick = true;
			state.addressOwner = '';
			// Export waits for the picked owner's queue: pressed before it is drawn, it would export the
			// queue still shown, another owner's than the one picked.
			exportEnabled();
			// Another owner's queue: the export's failure was the owner shown before's.
			exportOwnerShown(picked);
			if (state.missingOwner) {
				state.missingOwner = '';
				say('');
			}
			state.offset = 0;
			state.day = '';
			void poll();
		});
		el<HTMLSelectElement>('queue-day').addEventListener('change', (event) => {
			state.day = (event.target as HTMLSelectElement).value;
			state.offset = 0;
			void poll();
		});
		el<HTMLSelectElement>('queue-status').addEventListener('change', (event) => {
			state.status = (event.target as HTMLSelectElement).value;
			state.offset = 0;
			void poll();
		});
		onSearchInput(el<HTMLInputElement>('queue-search'), (text) => {
			state.search = text;
			state.offset = 0;
			void poll();
		});
		el('queue-prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); void poll(); });
		el('queue-next').addEventListener('click', () => { state.offset += PAGE_SIZE; void poll(); });
		el('queue-export').addEventListener('click', () => void exportCsv());
		el('queue-export-dismiss').addEventListener('click', () => sayExport('', ''));
		el('queue-earlier').addEventListener('click', (event) => {
			const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-day]');
			if (!button?.dataset.day) return;
			state.day = button.dataset.day;
			state.offset = 0;
			void poll();
		});
		el('queue-rows').addEventListener('click', (event) => {
			const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-take]');
			if (button?.dataset.take) void takeLead(button.dataset.take, button.dataset.name ?? 'the lead', button.classList.contains('stop-follow-ups'), button.dataset.conversation !== 'no');
			const settle = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-settle]');
			if (settle?.dataset.settle && (settle.dataset.outcome === 'delivered' || settle.dataset.outcome === 'send_again')) void settleLead(settle.dataset.settle, settle.dataset.item ?? '', settle.dataset.outcome, settle.dataset.name ?? 'the lead');
		});
	}

	/** The message line: `text` (the newest message, which replaces the one before). Take Lead and the export speak on their own lines. */
	function say(text: string, kind: 'ok' | 'error' = 'ok') {
		state.message = text;
		state.messageKind = kind;
		const message = el('queue-message');
		message.textContent = text;
		message.className = `queue-message ${kind === 'error' ? 'error' : ''}`;
	}

	/**
	 * Take Lead's own line (its own live region, so neither the message line's words nor the export's
	 * are erased or repeated by it): `text` about a lead of `owner`'s queue. It has no control, so
	 * emptying it moves no focus; the row's button keeps the focus.
	 */
	function sayTake(text: string, owner: string, kind: 'ok' | 'error' = 'ok', lead = '') {
		state.takeFor = text ? owner : '';
		state.takeLead = text ? lead : '';
		state.takeBeside = state.ownerDrawn;
		state.takeText = text;
		state.takeKind = kind;
		const line = el('queue-take-message');
		// Said beside another owner's queue (picked while the take was under way): named by its owner.
		line.textContent = text && owner !== state.ownerDrawn ? `In the queue of ${ownerInWords(owner)}, not the one shown: ${text}` : text;
		line.className = `queue-message ${kind === 'error' ? 'error' : ''}`;
	}

	/** An owner's label as the picker shows it (label and the id's start), else the id. */
	const ownerInWords = (owner: string) => { const label = state.ownerLabels[owner]; return label ? `${label} (${owner.slice(0, 8)}…)` : owner; };

	/**
	 * The export's own line (its own live region, so the message line never repeats it): `text` about
	 * `owner`'s export; `failed` keeps it with its Dismiss until Export is pressed again, the Dismiss, or
	 * another owner drawn. Emptied ('') with the focus on its Dismiss: the focus goes to Export (what
	 * failed), else the search, never the page's body.
	 */
	function sayExport(text: string, owner: string, kind: 'ok' | 'error' = 'ok', failed = false) {
		state.exportFor = text ? owner : '';
		state.exportFailed = failed;
		const line = el('queue-export-message');
		line.textContent = text;
		line.className = `queue-message ${kind === 'error' ? 'error' : ''}`;
		const dismiss = el<HTMLButtonElement>('queue-export-dismiss');
		const hadFocus = document.activeElement === dismiss;
		dismiss.hidden = !failed;
		if (!failed && hadFocus) focusFirst(['#queue-export', '#queue-search', '#queue-day']);
	}

	/**
	 * `owner` drawn or picked (`missing:<id>` for "There is no owner …"): the export's line spoke of another owner: a failure or an
	 * ending goes; an export still under way is named by its owner (it is not this queue's).
	 */
	function exportOwnerShown(owner: string) {
		// Take Lead's words stay beside the owner drawn when they were written (an answer that came after
		// another owner was picked is said there, named by its owner); another owner drawn after that
		// takes them away. Under way, they are named by their owner beside another's queue.
		state.ownerDrawn = owner;
		// `missing:<id>` is the same owner as <id> typed or picked a moment before (drawn as not found).
		const same = (a: string, b: string) => a.replace(/^missing:/, '') === b.replace(/^missing:/, '');
		if (state.takeFor && !same(owner, state.takeBeside)) {
			// Its own owner's queue drawn again (plain there), or its take still under way (named): kept.
			if (owner === state.takeFor || state.taking.has(state.takeLead)) sayTake(state.takeText, state.takeFor, state.takeKind, state.takeLead);
			else sayTake('', '');
		}
		if (state.exporting) {
			// Under way: named by its owner beside another's queue, plain again beside its own, and plain
			// while its own queue is still the one shown (another owner picked, not drawn yet).
			const stillShown = state.data?.owner === state.exportOwner && !el('queue-body').hidden;
			const name = owner === state.exportOwner || stillShown ? 'Exporting…' : `Exporting the queue of ${ownerInWords(state.exportOwner)}, not the one shown…`;
			if (el('queue-export-message').textContent !== name) sayExport(name, owner);
			return;
		}
		if (!state.exportFor || state.exportFor === owner) return;
		sayExport('', '');
	}

	/**
	 * Export is enabled only beside the queue of the owner asked for: not while an export runs, no queue
	 * is shown, or another owner was picked (or typed into the address) and their queue is not drawn yet.
	 */
	function exportEnabled() {
		el<HTMLButtonElement>('queue-export').disabled = state.exporting || el('queue-body').hidden || !state.data?.owner
			|| (state.owner !== '' && state.owner !== state.data.owner);
	}

	/** Live while the polls answer; offline when the last failed or the call in flight has waited STALE_MS while shown. */
	function setLive() {
		const live = el('queue-live');
		const text = live.querySelector('.live-text') as HTMLElement;
		if (!state.lastOk) { live.className = 'live'; text.textContent = 'Connecting…'; return; }
		const offline = isOffline(state.failed, state.shown && state.inFlight ? state.askedAt : null, state.shownAt, Date.now());
		live.className = offline ? 'live off' : 'live on';
		text.textContent = offline ? `Offline, retrying · last update ${formatRelative(new Date(state.lastOk).toISOString())}` : 'Live';
	}

	const ownerHeaders = () => ({ 'X-Leadflow-Owner': state.data?.owner ?? '' });

	/** The page's query: the owner, day, filters and page asked for. */
	function pageQuery(): URLSearchParams {
		const query = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE_SIZE) });
		if (state.owner) query.set('userId', state.owner);
		if (state.day) query.set('day', state.day);
		if (state.status) query.set('status', state.status);
		if (state.search) query.set('search', state.search);
		return query;
	}

	async function poll() {
		window.clearTimeout(state.timer);
		if (state.inFlight) { state.again = true; return; }
		state.inFlight = true;
		state.askedAt = Date.now();
		state.again = false;
		// What the page asks for; still the same when the answer comes (nothing changed meanwhile)?
		const asked = pageQuery().toString();
		const current = () => pageQuery().toString() === asked;
		try {
			const query = pageQuery();
			if (state.ownersAt && Date.now() - state.ownersAt < OWNERS_MS) query.set('owners', '0');
			const data = await api<QueuePage>(`${context.apiBase}/queue?${query}`);
			if (data.owners) {
				state.owners = data.owners;
				state.ownerLabels = data.ownerLabels ?? {};
				state.ownersAt = Date.now();
			}
			state.lastOk = Date.now();
			state.failed = false;
			if (data.owner && data.owner === state.addressOwner) state.addressOwner = '';
			if (!current()) {
				// Changed meanwhile (a filter, the page, the owner): not what is asked for now.
				state.again = true;
			} else if (state.missingOwner) {
				// The owner asked for is unknown: the answer (the first owner's) gives the list to pick
				// from, and its queue is not drawn, so it is never taken for the one asked for.
				state.data = undefined;
				renderMissingOwner(state.missingOwner);
			} else if (data.rows && data.rows.rows.length === 0 && data.rows.offset > 0) {
				// A page past the end (messages sent or taken meanwhile, out of the filter): the last
				// page with messages, the first when none is left.
				state.offset = Math.max(0, Math.floor((data.rows.total - 1) / PAGE_SIZE) * PAGE_SIZE);
				state.again = true;
			} else {
				state.data = data;
				if (data.owner && !state.owner) {
					state.owner = data.owner;
					state.ownerAdopted = true;
					state.ownerPicked = false;
				}
				state.ownerShown = data.owner ?? '';
				exportOwnerShown(state.ownerShown);
				renderPage(data);
				if (state.focusAfterPick) {
					// With one owner left the picker hides itself once their queue is drawn: the focus
					// it had goes to the queue's search (then Export), not the page's body.
					state.focusAfterPick = false;
					focusFirst(['#queue-search', '#queue-export']);
				}
				// Not awaited: the metrics answer on their own, the queue's polls go on meanwhile.
				void refreshMetrics(data);
			}
		} catch (error) {
			// No queue drawn for the pick: a later draw does not move the focus for it.
			state.focusAfterPick = false;
			const { status, hint, refusal } = error as { status?: number; hint?: string | null; refusal?: boolean };
			if (status === 400 && current() && state.owner && state.owner === state.addressOwner) {
				// The address's owner is no owner ID (mistyped, cut off): let go, the server's message
				// and hint shown, and the first owner asked for (as for an owner that is gone).
				const message = (error as Error).message;
				say(hint ? `${message.replace(/\.$/, '')}. ${hint}` : message, 'error');
				state.owner = '';
				state.addressOwner = '';
				state.offset = 0;
				state.day = '';
				// An answer, not an outage: the list's answer, asked for now, says Live.
				state.again = true;
			} else if (status === 404 && refusal && current() && state.owner && state.ownerAdopted) {
				// The owner the page chose by itself (none asked for) is gone (deleted): nobody asked for
				// it, so the next owner's queue is shown, with the owners read again now.
				state.owner = '';
				state.ownerAdopted = false;
				state.ownersAt = 0;
				state.offset = 0;
				state.day = '';
				state.again = true;
			} else if (status === 404 && refusal && current() && state.owner) {
				// The owner asked for (the address's, or one picked and deleted since) is no owner the
				// database knows: said so in place of the queue, which ID and what to do, with the owners
				// to pick from, read again now (the cached list still has the owner if it was deleted);
				// no other owner's queue is shown as if it were that one's.
				state.missingOwner = state.owner;
				state.missingOwnerHow = state.ownerPicked ? 'picked' : state.owner === state.ownerShown ? 'shown' : 'address';
				state.ownerPicked = false;
				state.ownersAt = 0;
				state.owner = '';
				state.addressOwner = '';
				state.offset = 0;
				state.day = '';
				state.again = true;
			} else {
				state.failed = true;
				if (status === 401 || status === 403) {
					// The page's key form, as on the other tabs; no more calls with this key (the key
					// typed there shows this tab again).
					context.keyRefused();
					return;
				}
				// A 404 that is not the workflow's (n8n's, for the console workflow not active) says nothing
				// of the owner: the owner stays, asked again at the next poll.
			}
		} finally {
			state.inFlight = false;
			setLive();
		}
		if (!state.shown) return;
		if (state.again) void poll();
		else state.timer = window.setTimeout(() => void poll(), POLL_MS);
	}

	/**
	 * The day's metrics, asked again when the counts changed (or every METRICS_MS). One call at a time,
	 * apart from the queue's polls: a poll never waits for it (a slow metrics webhook left the tab
	 * frozen and "Offline"), and a poll while it is under way asks for none (the next one after it
	 * does, the counts key not being updated meanwhile). Another owner or day drawn: the Metrics block
	 * is cleared at once and theirs asked without waiting for the earlier call, whose answer (for an
	 * owner or day no longer shown) is not drawn.
	 */
	async function refreshMetrics(data: QueuePage, force = false) {
		if (!data.owner || !data.day) return;
		const shownKey = `${data.owner}|${data.day}`;
		if (state.metricsFor !== shownKey) {
			// Another owner or day drawn: the numbers drawn before (another owner's, another day's) go at once.
			state.metrics = undefined;
			state.metricsKey = '';
			state.metricsFor = shownKey;
			render(el('queue-metrics'), '<div class="loading">Loading the metrics…</div>');
		}
		// One call at a time for the owner and day shown; a call still under way for another is not waited for.
		if (state.metricsAsked === shownKey) return;
		const countsKey = `${shownKey}|${JSON.stringify(data.counts)}`;
		if (!force && countsKey === state.metricsKey && Date.now() - state.metricsAt < METRICS_MS) return;
		const query = new URLSearchParams({ from: data.day, to: data.day });
		const stillShown = () => state.metricsFor === shownKey && state.data?.owner === data.owner && state.data?.day === data.day;
		state.metricsAsked = shownKey;
		try {
			const answer = await api<{ days: DayMetrics[] }>(`${webhooks}/queue/metrics?${query}`, { headers: ownerHeaders() });
			if (!stillShown()) return;
			state.metrics = answer.days.find((day) => day.day === data.day);
			state.metricsKey = countsKey;
			state.metricsAt = Date.now();
			if (!state.metrics) render(el('queue-metrics'), '<div class="empty">No metrics for this day.</div>');
		} catch (error) {
			if (!stillShown()) return;
			state.metrics = undefined;
			state.metricsKey = '';
			render(el('queue-metrics'), `<div class="error">The metrics could not be read: ${escape((error as Error).message)} (is the workflow “Leadflow: take a lead, export the queue, queue metrics” active?)</div>`);
			return;
		} finally {
			if (state.metricsAsked === shownKey) state.metricsAsked = '';
		}
		renderMetrics();
	}

	function renderMetrics() {
		const m = state.metrics;
		if (!m) return;
		const seconds = (value: number | string | null) => (value === null ? '—' : formatDuration(Number(value)));
		const items: Array<[string, string, string]> = [
			['queued', 'Queued', formatNumber(m.queued)], ['sent', 'Sent', formatNumber(m.sent)], ['failed', 'Failed attempts', formatNumber(m.failed)],
			['cancelled', 'Cancelled', formatNumber(m.cancelled)], ['taken_over', 'Taken over', formatNumber(m.taken_over)],
			['mean_wait_seconds', 'Mean wait (due → picked up)', seconds(m.mean_wait_seconds)],
			['mean_processing_seconds', 'Mean processing (picked up → done)', seconds(m.mean_processing_seconds)],
		];
		render(el('queue-metrics'), items.map(([field, label, value]) =>
			`<div data-metric="${field}"><dt>${label}</dt><dd data-value="${escape((m as unknown as Record<string, unknown>)[field] ?? '')}">${escape(value)}</dd></div>`).join(''));
	}

	/** An unknown owner asked for: the message, the owners to pick from (none chosen), no queue. */
	function renderMissingOwner(id: string) {
		el('queue-owner-box').hidden = state.owners.length === 0;
		const ownerPicker = el<HTMLSelectElement>('queue-owner');
		render(ownerPicker, `<option value="">Pick an owner</option>${state.owners.map((owner) => {
			const label = state.ownerLabels[owner];
			return `<option value="${escape(owner)}" title="${escape(owner)}">${escape(label ? `${label} · ${owner.slice(0, 8)}…` : owner)}</option>`;
		}).join('')}`);
		ownerPicker.value = '';
		el('queue-body').hidden = true;
		el<HTMLButtonElement>('queue-export').disabled = true;
		el('queue-empty').hidden = true;
		// Said once (not rewritten by each poll: a screen reader would read it again every 2 s).
		const words = ownerNotFoundInWords(id, state.owners.length, state.missingOwnerHow);
		// No queue shown: the export's failure was another owner's.
		exportOwnerShown(`missing:${id}`);
		if (state.message !== words) {
			const first = !state.message.startsWith('There is no owner');
			say(words, 'error');
			// The first draw hides the queue (its search, its buttons) and disables Export: a keyboard
			// user there is given the Owner picker, where the next step is, not the page's body.
			if (first) focusFirst(['#queue-owner']);
		}
	}

	function renderPage(data: QueuePage) {
		const ownerBox = el('queue-owner-box');
		ownerBox.hidden = state.owners.length < 2;
		const ownerPicker = el<HTMLSelectElement>('queue-owner');
		// Each owner by their label (their Pages' or campaigns' names), the id beside it and in full on hover.
		// An owner shown without queue settings is not among the owners with a queue: none picked then.
		const unlisted = Boolean(data.owner) && data.settings === null && !state.owners.includes(data.owner as string);
		render(ownerPicker, (unlisted ? '<option value="">Pick an owner</option>' : '') + state.owners.map((id) => {
			const label = state.ownerLabels[id];
			return `<option value="${escape(id)}" title="${escape(id)}">${escape(label ? `${label} · ${id.slice(0, 8)}…` : id)}</option>`;
		}).join(''));
		if (unlisted) ownerPicker.value = '';
		else if (data.owner && ownerPicker.value !== data.owner) ownerPicker.value = data.owner;
		const exportButton = el<HTMLButtonElement>('queue-export');
		if (!data.owner || !data.counts || !data.rows || !data.today || !data.day) {
			el('queue-body').hidden = true;
			exportButton.disabled = true;
			const empty = el('queue-empty');
			empty.hidden = false;
			empty.textContent = 'No lead queue yet: no owner has queue settings. Give an owner a row in user_queue_settings (daily capacity, sending hours, the message) and add leads; the Queue: prepare workflow then fills each day from them.';
			return;
		}
		// Not while an export runs (a second press would start a second one), nor before the owner asked for is drawn.
		exportButton.disabled = state.exporting || (state.owner !== '' && state.owner !== data.owner);
		const daySelect = el<HTMLSelectElement>('queue-day');
		const tomorrow = addDays(data.today, 1);
		const dayOptions: Array<[string, string]> = [['', `Today (${data.today})`], [tomorrow, `Tomorrow (${tomorrow})`]];
		// The earlier days with open messages, to show them; and the day shown, whatever it is.
		const earlier = data.earlierOpen ?? { total: 0, days: [] };
		for (const { day, open } of earlier.days) dayOptions.push([day, `${day} · ${formatNumber(open)} still open`]);
		if (data.day !== data.today && data.day !== tomorrow && !earlier.days.some(({ day }) => day === data.day)) dayOptions.push([data.day, data.day]);
		render(daySelect, dayOptions.map(([value, name]) => `<option value="${value}">${escape(name)}</option>`).join(''));
		daySelect.value = data.day === data.today ? '' : data.day;

		const counts = data.counts;
		const earlierBox = el('queue-earlier');
		earlierBox.hidden = earlier.total === 0;
		render(earlierBox, earlier.total === 0 ? '' : `${escape(openEarlierInWords(earlier.total))} `
			+ earlier.days.map(({ day, open }) => (day === data.day
				? `<span class="shown">${escape(day)} (${formatNumber(open)}, shown)</span>`
				: `<button type="button" data-day="${escape(day)}" data-key="earlier-${escape(day)}">Show ${escape(day)} (${formatNumber(open)})</button>`)).join(' '));
		el('queue-empty').hidden = true;
		el('queue-body').hidden = false;
		const settings = data.settings;
		const noSettings = settings === null;
		const queuedShown = counts.total ?? 0;
		el('queue-day-info').textContent = `${dayInWords(data.day)} in ${data.timeZone}${settings ? ` · sends ${settings.send_from.slice(0, 5)}–${settings.send_until.slice(0, 5)}, up to ${formatNumber(settings.daily_capacity)} a day` : queuedShown > 0 ? ' · no queue settings: nothing new is queued' : ' · no queue settings: nothing is queued'}`;
		// An owner without queue settings (an #owner= of one): said so, with the owners that have a queue
		// offered in the Owner list (none picked: this owner is not among them). Said once per owner shown
		// (the owner's key), not at every poll: a later message (Take Lead, Export) stays.
		if (noSettings) {
			ownerBox.hidden = state.owners.length === 0;
			if (state.noSettingsFor !== data.owner) {
				const words = noQueueSettingsInWords(data.owner, state.owners.length, queuedShown);
				say(words, 'error');
				state.noSettingsSaid = words;
				state.noSettingsFor = data.owner;
			}
		} else if (state.noSettingsSaid || state.noSettingsFor) {
			// Another owner shown: their words go (unless another message was said since).
			if (state.noSettingsSaid && state.message === state.noSettingsSaid) say('');
			state.noSettingsSaid = '';
			state.noSettingsFor = '';
		}
		render(el('queue-counts'), [['total', 'In the queue'], ...STATUSES].map(([field, label]) => `
			<div class="stage" data-count="${field}">
				<div class="name">${escape(label)}</div>
				<div class="count" data-value="${counts[field] ?? 0}">${formatNumber(counts[field] ?? 0)}</div>
			</div>`).join(''));

		const { rows, total, offset } = data.rows;
		const filtered = state.status || state.search;
		const dayName = data.day === data.today ? 'today' : escape(data.day);
		const otherOpen = earlier.days.filter(({ day }) => day !== data.day).reduce((sum, { open }) => sum + open, 0);
		renderRows(el('queue-rows'), rows, settings?.max_attempts, data.timeZone, `<p class="empty">${filtered ? 'No message of this day matches these filters.'
			: counts.total === 0 && otherOpen > 0
				? `No message was queued for ${dayName}, but ${formatNumber(otherOpen)} from earlier days ${otherOpen === 1 ? 'is' : 'are'} still open: show ${otherOpen === 1 ? 'its day' : 'their days'} above (the claim sends them on top of the day's capacity).`
			: counts.total === 0 && noSettings ? `Nothing is queued for ${dayName}, and nothing will be: this owner has no queue settings (see above).`
			: counts.total === 0 ? `Nothing is queued for ${dayName}. The evening before, Queue: prepare fills each day from the backlog (new leads with a phone), up to the daily capacity.`
			: 'No more messages on this page.'}</p>`);
		el('queue-page-info').textContent = total === 0 ? '' : `${formatNumber(offset + 1)}–${formatNumber(offset + rows.length)} of ${formatNumber(total)}`;
		el<HTMLButtonElement>('queue-prev').disabled = offset === 0;
		el<HTMLButtonElement>('queue-next').disabled = offset + rows.length >= total;
	}

	/** A row's cells; its times to the minute, so a row changes only when something in it does. */
	function rowCells(row: QueueRow, maxAttempts: number | undefined, timeZone: string | undefined): string {
		const name = row.name ?? row.phone;
		const event = row.last_event;
		const taken = row.lead_status === 'human_controlled';
		const notToTake = notTakenOverInWords(row.lead_status);
		const taking = state.taking.has(row.lead_id);
		// A given-up message says what it means and what to do, in words under its status (not its colour alone).
		const meaning = statusMeaningInWords(row.status, row.last_error, row.lead_status, settleOutcomes(row));
		return `
			<td data-label="Lead"><strong class="lead-name">${escape(name)}</strong>
				<div class="sub"><a href="tel:${escape(row.phone)}">${escape(row.phone)}</a>${row.lead_score === null ? '' : ` · score ${formatNumber(row.lead_score)}`} · ${escape(LEAD_STATUSES[row.lead_status] ?? row.lead_status)}</div></td>
			<td data-label="Status"><span class="badge q-${escape(row.status)}">${escape(statusName(row.status))}</span>
				${row.attempts > 0 ? `<div class="sub">attempt ${formatNumber(row.attempts)}${maxAttempts ? ` of ${formatNumber(maxAttempts)}` : ''}</div>` : ''}
				${row.last_error ? `<div class="error">${escape(row.last_error)}</div>` : ''}
				${meaning ? `<div class="sub status-meaning">${escape(meaning)}</div>` : ''}${settleButtons(row, name, taking)}</td>
			<td data-label="Due">${row.completed_at
				? `<time datetime="${escape(row.completed_at)}" title="${escape(`done ${inZone(row.completed_at, timeZone)}`)}">${escape(`done ${when(row.completed_at)}`)}</time>`
				: `<time datetime="${escape(row.scheduled_for)}" title="${escape(`due ${inZone(row.scheduled_for, timeZone)}`)}">${escape(when(row.scheduled_for))}</time>`}</td>
			<td data-label="Last event">${event ? `${escape(reasonInWords(event.reason))} <span class="sub">${escape(ACTORS[event.actor] ?? event.actor)} · <time datetime="${escape(event.at)}" title="${escape(inZone(event.at, timeZone))}">${escape(when(event.at))}</time></span>` : '—'}</td>
			<td data-label="Take over">${taken
				? `<span class="taken" tabindex="-1" data-key="take-${escape(row.lead_id)}">Taken over${row.taken_over_at ? ` ${escape(when(row.taken_over_at))}` : ''}</span>`
				: notToTake && row.conversation_id && !row.follow_ups_stopped
				? `<span class="not-to-take">${escape(notToTake)}</span> <button type="button" class="take stop-follow-ups" data-key="take-${escape(row.lead_id)}" data-take="${escape(row.lead_id)}" data-name="${escape(name)}" data-conversation="${row.conversation_id ? 'yes' : 'no'}"${taking ? ' aria-disabled="true"' : ''} aria-label="Stop follow-ups: ${escape(name)} (${escape(notToTake)}: not taken over)">${taking ? 'Stopping…' : 'Stop follow-ups'}</button>`
				: notToTake
				? `<span class="taken not-to-take" tabindex="-1" data-key="take-${escape(row.lead_id)}">${escape(notToTake)}${row.follow_ups_stopped ? ' · follow-ups stopped' : ''}</span>`
				: `<button type="button" class="take" data-key="take-${escape(row.lead_id)}" data-take="${escape(row.lead_id)}" data-name="${escape(name)}" data-conversation="${row.conversation_id ? 'yes' : 'no'}"${taking ? ' aria-disabled="true"' : ''} aria-label="Take Lead: ${escape(name)}">${taking ? 'Taking…' : 'Take Lead'}</button>`}</td>`;
	}

	/**
	 * The rows by message: a row is rewritten only when its cells changed, added or removed when the
	 * page's rows change, and moved only when out of place, so a poll neither flickers nor takes the
	 * focus, the hover or a click in progress from a row that did not change.
	 */
	function renderRows(container: HTMLElement, rows: QueueRow[], maxAttempts: number | undefined, timeZone: string | undefined, empty: string) {
		if (rows.length === 0) {
			render(container, empty);
			return;
		}
		render(container, '<table class="queue-table"><thead><tr><th>Lead</th><th>Status</th><th>Due</th><th>Last event</th><th>Take over</th></tr></thead><tbody></tbody></table>');
		const tbody = container.querySelector('tbody')!;
		const existing = new Map(Array.from(tbody.children as HTMLCollectionOf<HTMLTableRowElement>).map((tr) => [tr.dataset.item ?? '', tr]));
		const wanted = new Set(rows.map((row) => row.item_id));
		for (const [id, tr] of existing) if (!wanted.has(id)) tr.remove();
		let previous: HTMLTableRowElement | null = null;
		for (const row of rows) {
			let tr = existing.get(row.item_id);
			if (!tr) {
				tr = document.createElement('tr');
				tr.dataset.item = row.item_id;
			}
			tr.dataset.lead = row.lead_id;
			tr.dataset.status = row.status;
			tr.dataset.leadStatus = row.lead_status;
			render(tr, rowCells(row, maxAttempts, timeZone));
			const expected: Element | null = previous ? previous.nextElementSibling : tbody.firstElementChild;
			if (expected !== tr) tbody.insertBefore(tr, expected);
			previous = tr;
		}
	}

	/**
	 * Take Lead; `stopping`: the row's *Stop follow-ups* (a lead nobody may message: the same call keeps
	 * its status); `hasConversation`: the row has a Messenger conversation (its follow-ups to stop).
	 */
	async function takeLead(leadId: string, name: string, stopping = false, hasConversation = true) {
		if (state.taking.has(leadId)) return;
		state.taking.add(leadId);
		if (state.data) renderPage(state.data);
		// The owner whose queue shows the lead: the words are theirs.
		const owner = state.data?.owner ?? state.owner;
		const speak = (text: string, kind: 'ok' | 'error' = 'ok') => sayTake(text, owner, kind, leadId);
		speak(stopping ? `Stopping follow-ups for ${name}…` : `Taking over ${name}…`);
		try {
			const { status, json } = await request(`${webhooks}/leads/${encodeURIComponent(leadId)}/take`, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', ...ownerHeaders() },
				// The note kept on the stop and in the ledger: the button pressed, true whatever the lead
				// turned out to be (a lead nobody may message is not taken over, its follow-ups stopped).
				body: JSON.stringify({ reason: stopping ? 'Stop follow-ups pressed in the Leadflow console' : 'Take Lead pressed in the Leadflow console' }),
			});
			const answer = json as (TakeAnswer & { error?: string }) | undefined;
			if (status === 200 && answer) {
				if (answer.status_kept) {
					speak(followUpsStoppedInWords(name, answer, hasConversation));
				} else if (answer.already_taken) {
					speak(`${name} was already taken over: nothing changed (someone took it before you).`, 'error');
				} else {
					// The messages cancelled (the answer also lists the lead's backlog item, no message).
					const cancelled = messagesCancelled(answer.cancelled);
					const sending = answer.sending?.length ?? 0;
					speak(
						`${name} is yours now: ${formatNumber(cancelled)} waiting queue item${cancelled === 1 ? '' : 's'} cancelled${answer.stopped_rules ? `, follow-ups stopped for ${formatNumber(answer.stopped_rules)} rule${answer.stopped_rules === 1 ? '' : 's'}` : ''}.` +
							(sending
								? ` ${formatNumber(sending)} message${sending === 1 ? ' was' : 's were'} already being sent and may have reached them: check the queue before you call.`
								: ''),
					);
				}
			} else if (takeNotDone(status, json)) {
				speak(`Could not ${stopping ? 'stop follow-ups for' : 'take over'} ${name}: ${answer?.error ?? `the server answered ${status}`}`, 'error');
			} else {
				speak(takeMayHaveBeenDone(name, stopping, `the server answered ${status}`), 'error');
			}
		} catch (error) {
			// No answer (the network, a time-out): the take may have been done before it was lost.
			speak(takeMayHaveBeenDone(name, stopping, (error as Error).message), 'error');
		} finally {
			state.taking.delete(leadId);
			state.metricsKey = '';
			void poll();
		}
	}

	/** The settles the database accepts for a dead row now (console_queue_page's settle_outcomes). */
	function settleOutcomes(row: QueueRow): Array<'delivered' | 'send_again'> {
		if (row.status !== 'dead' || !Array.isArray(row.settle_outcomes)) return [];
		return (['delivered', 'send_again'] as const).filter((outcome) => row.settle_outcomes!.includes(outcome));
	}

	/**
	 * A dead message that may have arrived (`uncertain`): the owner settles it (POST …/leads/:leadId/settle,
	 * queue_settle_lead): *It arrived* makes the lead contacted, *Send again* new (the next Prepare queues a
	 * new message). A button is shown only for an outcome the database accepts for the row now
	 * (settle_outcomes); the database still decides when it is pressed, its refusal (409) is said. Once
	 * pressed, a row whose button is gone keeps a focus target where it was (as Take Lead's "Taken over").
	 */
	function settleButtons(row: QueueRow, name: string, busy: boolean): string {
		const outcomes = settleOutcomes(row);
		// The message pressed (not any row of its lead), and only until the focus has left it: drawn once
		// where the button was, then only while the focus is still on it.
		const pressed = state.settlePressed?.itemId === row.item_id && row.status === 'dead'
			&& (state.settlePressed.drawn++ === 0 || (document.activeElement as HTMLElement | null)?.dataset?.key === `settle-${state.settlePressed.outcome}-${row.lead_id}`)
			? state.settlePressed : null;
		const button = (outcome: string, label: string, aria: string) =>
			`<button type="button" class="settle" data-key="settle-${escape(outcome)}-${escape(row.lead_id)}" data-settle="${escape(row.lead_id)}" data-item="${escape(row.item_id)}" data-outcome="${outcome}" data-name="${escape(name)}"${busy ? ' aria-disabled="true"' : ''} aria-label="${escape(`${aria}: ${name}`)}">${escape(label)}</button>`;
		const parts = outcomes.map((outcome) => outcome === 'delivered' ? button('delivered', 'It arrived — mark contacted', 'It arrived, mark contacted') : button('send_again', 'Send again', 'Send again'));
		if (pressed && !outcomes.includes(pressed.outcome as 'delivered' | 'send_again')) {
			parts.push(`<span class="settled" tabindex="-1" data-key="settle-${escape(pressed.outcome)}-${escape(row.lead_id)}">${escape(pressed.words)}</span>`);
		}
		return parts.length ? `<div class="settle-actions">${parts.join(' ')}</div>` : '';
	}

	/** Settles `leadId`'s dead message as `outcome`, the answer said in words on Take Lead's line. */
	async function settleLead(leadId: string, itemId: string, outcome: 'delivered' | 'send_again', name: string) {
		if (state.taking.has(leadId)) return;
		state.taking.add(leadId);
		if (state.data) renderPage(state.data);
		const owner = state.data?.owner ?? state.owner;
		const speak = (text: string, kind: 'ok' | 'error' = 'ok') => sayTake(text, owner, kind, leadId);
		speak(outcome === 'delivered' ? `Marking ${name} contacted…` : `Queuing ${name} again…`);
		try {
			const { status, json } = await request(`${webhooks}/leads/${encodeURIComponent(leadId)}/settle`, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', ...ownerHeaders() },
				body: JSON.stringify({ outcome, reason: outcome === 'delivered' ? 'It arrived pressed in the Leadflow console' : 'Send again pressed in the Leadflow console' }),
			});
			const answer = json as { already_settled?: boolean; error?: string } | undefined;
			if (status === 200 && answer) {
				const done = outcome === 'delivered' ? `${name} is marked contacted: its message is taken as delivered.` : `${name} is new again: the next Prepare queues a new message for it.`;
				state.settlePressed = { itemId, outcome, words: outcome === 'delivered' ? 'Marked contacted' : 'Queued again', drawn: 0 };
				speak(answer.already_settled ? `${done} (It was settled so already: nothing changed.)` : done);
			} else if (takeNotDone(status, json)) {
				state.settlePressed = { itemId, outcome, words: 'Not settled', drawn: 0 };
				speak(`Could not settle ${name}: ${answer?.error ?? `the server answered ${status}`}`, 'error');
			} else {
				speak(`No answer to settling ${name} (the server answered ${status}): it may have been done. The row, read again now, shows it; pressing the same button again is safe.`, 'error');
			}
		} catch (error) {
			speak(`No answer to settling ${name} (${(error as Error).message}): it may have been done. The row, read again now, shows it; pressing the same button again is safe.`, 'error');
		} finally {
			state.taking.delete(leadId);
			state.metricsKey = '';
			void poll();
		}
	}

	async function exportCsv() {
		const data = state.data;
		// Only the queue shown of the owner asked for (another picked and not drawn yet: not theirs).
		if (!data?.owner || !data.day || state.exporting || (state.owner !== '' && state.owner !== data.owner)) return;
		const owner = data.owner;
		const button = el<HTMLButtonElement>('queue-export');
		// Pressed from the keyboard: disabling it drops the focus to the page's body; given back at the end.
		const hadFocus = document.activeElement === button;
		state.exporting = true;
		state.exportOwner = owner;
		button.disabled = true;
		// Pressed again: the failure of the export before goes. The export speaks on its own line, so the
		// message line (a Take Lead's words, "There is no owner …") is never covered nor repeated by it.
		sayExport('Exporting…', owner);
		// Another owner asked for when it ends (picked, the address's, the page's own choice deleted,
		// none found): the ending names the owner whose queue it is, and a failure is not kept beside
		// another queue. Its own owner picked again and not drawn yet is its own queue: said plainly
		// (the failure with its Dismiss), as it is kept once that queue is drawn.
		const elsewhere = () => (state.owner || state.data?.owner || '') !== owner;
		// Said beside the owner shown (or being drawn): kept until yet another owner is drawn.
		const beside = () => (state.missingOwner ? `missing:${state.missingOwner}` : state.owner || state.ownerShown);
		const sayEnd = (text: string) => {
			if (elsewhere()) sayExport(`${text.replace(/\.$/, '')}: the queue of ${ownerInWords(owner)}, not the one shown.`, beside());
			else sayExport(text, owner);
		};
		// The failure stays beside its owner's queue, after every later message, until Export is
		// pressed again, its Dismiss, or another owner drawn.
		const sayFailed = (why: string) => {
			if (elsewhere()) sayExport(`The export of ${ownerInWords(owner)}'s queue failed: ${why}`, beside(), 'error');
			else sayExport(`Export failed: ${why}`, owner, 'error', true);
		};
		try {
			const query = new URLSearchParams({ day: data.day });
			// Given up after EXPORT_MS like every other call after its own time-out: a hung export must
			// not leave the button disabled for good.
			const response = await fetch(`${webhooks}/queue/export?${query}`, {
				headers: { ...context.authHeaders(), ...ownerHeaders() },
				cache: 'no-store',
				signal: AbortSignal.timeout(EXPORT_MS),
			});
			if (!response.ok) {
				let message = `the server answered ${response.status}`;
				try {
					const refusal = (await response.json()) as { error?: string; hint?: string };
					message = refusal.error ? `${refusal.error.replace(/\.$/, '')}${refusal.hint ? `. ${refusal.hint}` : ''}` : message;
				} catch { /* not JSON */ }
				sayFailed(message);
				return;
			}
			const blob = await response.blob();
			const file = `leadflow-queue-${data.day}.csv`;
			const link = document.createElement('a');
			link.href = URL.createObjectURL(blob);
			link.download = file;
			link.hidden = true;
			panel.append(link);
			link.click();
			link.remove();
			window.setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
			sayEnd(`Downloaded ${file}.`);
		} catch (error) {
			const timedOut = (error as Error).name === 'TimeoutError';
			sayFailed(timedOut ? `no answer within ${EXPORT_MS / 60_000} minutes; try a shorter range or again later` : (error as Error).message);
		} finally {
			state.exporting = false;
			state.exportOwner = '';
			// Enabled again only beside a queue: not while "There is no owner …" shows none, nor before
			// another owner picked meanwhile is drawn.
			exportEnabled();
			// Pressed from the keyboard and the focus lost meanwhile (to the page's body): to the failure's
			// Dismiss, else Export (else the Owner picker, no queue shown).
			if (hadFocus) {
				if (state.exportFailed && document.activeElement === button) button.blur();
				focusFirst(state.exportFailed ? ['#queue-export-dismiss'] : ['#queue-export', '#queue-owner']);
			}
		}
	}

	window.setInterval(() => { if (state.shown && state.built) setLive(); }, 1000);

	return {
		show() {
			state.shown = true;
			state.shownAt = Date.now();
			build();
			void poll();
		},
		hide() {
			state.shown = false;
			window.clearTimeout(state.timer);
		},
		follow(next) {
			// #owner=… typed into the address: that owner's queue (today, first page), let go with its
			// message if it is no owner ID, as when the page opens with it.
			const owner = addressId(next.get('owner'));
			if (!owner || owner === state.owner) return;
			state.missingOwner = '';
			state.owner = owner;
			state.ownerAdopted = false;
			state.ownerPicked = false;
			state.addressOwner = owner;
			state.offset = 0;
			state.day = '';
			if (state.built) { exportEnabled(); exportOwnerShown(owner); say(''); }
			if (state.shown) void poll();
		},
	};
}
