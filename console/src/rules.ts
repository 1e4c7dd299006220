// The Rules tab: the follow-up rules as cards (toggle, Monitor, Edit, Delete) and a form to create
// or edit one with its tags by name. The database judges the settings: a refusal comes back with
// the column it concerns, the database's message and advice in plain words (added by the Leadflow
// Console node), shown beside that field with the database's own words as a detail. Preview asks
// the database what the unsaved settings would judge due now; "Show the prompt" shows what
// GenerateFollowUp would send Gemini for one real contact with them. Neither saves. A new rule's
// form draws one key when it opens and sends it with every save of it (the Idempotency-Key header):
// a save delivered twice (a double click, a retry after a lost answer) creates one rule. A delete
// delivered twice finds the rule gone (404 { deleted: false }): the page says it was already deleted.
// A switch or Save with no answer of its own (the network, a time-out, a proxy's 502/504) may have
// been made: the page says so and reads the list again, never "not changed". Edit reads the rule
// again and its Save carries the rule's updated_at as read: console_rule_write refuses it when the
// rule has changed since (another tab, another person), so an edit never undoes a change it did not
// make; the form then shows the rule as it is. The edit form never sends `enabled` (the card's
// switch does).
import { isRefusal, lostAnswer, notDone, rulePageInWords, saveMayHaveBeenDone, switchMayHaveBeenDone } from './answers';
import { focusFirst } from './focus';
import { formatNumber, isBlankName, reasonInWords } from './format';
import { missingInFormWords, missingTags, missingTagsInWords } from './rule-tags';
import { differingSettings, lostSaveInWords, SETTING_LABELS, staleSaveInWords } from './rule-settings';

interface Tag { id: string; name: string; user_id?: string }
interface RuleRow {
	id: string; user_id: string; name: string; enabled: boolean; include_tag_ids: string[]; exclude_tag_ids: string[]; tag_match: 'any' | 'all';
	active_hours_start: string; active_hours_end: string; time_zone: string; active_days: number[]; daily_limit: number; max_follow_ups: number;
	min_hours_between_follow_ups: number | string; stop_on_reply: boolean; instructions: string; include_tags: Tag[]; exclude_tags: Tag[];
	page_id: string | null; model: string | null; language: string | null; context_message_count: number; resume_after_takeover_hours: number | string | null;
	/** The rule's version: a save of the Edit form sends it back, refused when the rule changed since. */
	updated_at: string;
}
interface Page { page_id: string; name: string | null; user_id: string }
interface RulesList { rules: RuleRow[]; tags: Tag[]; owners: string[]; pages?: Page[] }
interface Refusal { field: string | null; message: string; hint: string | null; advice?: string }
interface PromptContact { conversation_id: string; sender_name: string | null; due: boolean; reason: string | null }
interface PromptAnswer {
	tagged: number; contacts: PromptContact[]; contact: (PromptContact & { follow_up_number: number; messages: unknown[] }) | null;
	rule: { model: string | null; language: string | null; context_message_count: number };
	prompt: { systemInstruction: string; userText: string; model: string | null; followUpNumber: number } | null;
	error?: Refusal;
}
interface Explain { tagged: number; due: number; by_reason: Record<string, number> }
/** repeat: a create whose key was used already; rule is the rule that key created. stale: the rule changed since the form read it. */
interface WriteAnswer { saved: boolean; rule?: RuleRow; explain?: Explain; error?: Refusal; repeat?: boolean; stale?: boolean }

/** A write without an answer of its own (status undefined: none came), or not the database's refusal. */
class WriteError extends Error {
	constructor(message: string, readonly status: number | undefined, readonly refusal: boolean) { super(message); }
	/** The workflow refused it, or n8n answered before it ran (a refused key, a webhook not registered): not made. */
	get notMade() { return notDone(this.status, this.refusal); }
	get why() { return lostAnswer(this.status, this.message); }
}

export interface RulesContext {
	apiBase: string;
	request: (url: string, init?: RequestInit) => Promise<{ status: number; json: unknown }>;
	escape: (text: unknown) => string;
	openMonitor: (ruleId: string) => void;
	/** A rule was deleted: the Follow-ups tab stops asking for it. */
	ruleDeleted: (ruleId: string) => void;
	/** The key was refused (401/403): the page's key form, as on the other tabs (the key typed there reads the list again). */
	keyRefused: () => void;
}

const DAYS: Array<[number, string]> = [[1, 'Mon'], [2, 'Tue'], [3, 'Wed'], [4, 'Thu'], [5, 'Fri'], [6, 'Sat'], [7, 'Sun']];
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** "With these settings 42 of 60 tagged contacts are due now; 13 outside the 24-hour messaging window; …" */
export function explainInWords(explain: Explain): string {
	const reasons = Object.entries(explain.by_reason).sort((a, b) => b[1] - a[1])
		.map(([reason, n]) => `${formatNumber(n)} ${reasonInWords(reason).toLowerCase()}`);
	return [`With these settings ${formatNumber(explain.due)} of ${formatNumber(explain.tagged)} tagged contacts are due now`, ...reasons].join('; ') + '.';
}

const hhmm = (time: string) => time.slice(0, 5);
/** A rule's row as settings, to compare with what a form sends. */
const asSettings = (row: RuleRow) => row as unknown as Record<string, unknown>;

/** A random UUID (v4): crypto.randomUUID where the browser offers it (secure contexts only), else from getRandomValues. */
export function newCreateKey(): string {
	if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	bytes[6] = (bytes[6] & 0x0f) | 0x40;
	bytes[8] = (bytes[8] & 0x3f) | 0x80;
	const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function initRules(context: RulesContext) {
	const { apiBase, request, escape } = context;
	let list: RulesList = { rules: [], tags: [], owners: [] };
	let editing: RuleRow | undefined;
	/** The open new-rule form's key: the same for every save of it, so a repeated save creates one rule. */
	let createKey: string | undefined;
	/** The form was typed into since it opened (a re-read of the rule then leaves it as it is). */
	let formTouched = false;
	/** A Save of the form is under way: another (a double click) waits for none and sends none. */
	let saving = false;
	const form = $<HTMLFormElement>('rule-form');

	const zones = (() => {
		const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
		return Array.from(new Set(['UTC', ...supported]));
	})();
	const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

	$('f-days').innerHTML = DAYS.map(([day, name]) => `<label><input type="checkbox" name="active_days" value="${day}" checked> ${name}</label>`).join('');

	const owner = () => editing?.user_id ?? ($<HTMLSelectElement>('owner-picker').value || list.owners[0] || '');

	/** The tags to tick; `rule`: the rule edited, whose tags that no longer exist are said beside them. */
	function renderTags(selectedInclude: string[], selectedExclude: string[], rule?: RuleRow) {
		const tags = list.tags.filter((tag) => !tag.user_id || tag.user_id === owner());
		const missing = rule ? missingTags(rule) : { include: [], exclude: [] };
		for (const [box, selected, side] of [['f-include', selectedInclude, 'include'], ['f-exclude', selectedExclude, 'exclude']] as const) {
			const column = $(box).dataset.tags ?? '';
			$(box).innerHTML = tags.length === 0
				? '<span class="sub">This owner has no tags yet.</span>'
				: tags.map((tag) => `<label><input type="checkbox" name="${column}" value="${escape(tag.id)}"${selected.includes(tag.id) ? ' checked' : ''}> ${escape(tag.name)}</label>`).join('');
			const note = form.querySelector<HTMLElement>(`[data-missing="${column}"]`)!;
			note.textContent = missingInFormWords(missing[side].length, side);
			note.hidden = note.textContent === '';
		}
	}

	function renderPages(selected: string | null) {
		const pages = (list.pages ?? []).filter((one) => one.user_id === owner());
		const options = selected && !pages.some((one) => one.page_id === selected) ? [{ page_id: selected, name: null, user_id: owner() }, ...pages] : pages;
		$<HTMLSelectElement>('f-page').innerHTML = ['<option value="">Every Page</option>',
			...options.map((one) => `<option value="${escape(one.page_id)}"${one.page_id === selected ? ' selected' : ''}>${escape(one.name ? `${one.name} (${one.page_id})` : one.page_id)}</option>`)].join('');
	}

	function renderZones(selected: string) {
		const options = zones.includes(selected) ? zones : [selected, ...zones];
		$<HTMLSelectElement>('f-zone').innerHTML = options.map((zone) => `<option${zone === selected ? ' selected' : ''}>${escape(zone)}</option>`).join('');
	}

	function renderCards() {
		const cards = $('rule-cards');
		const ownerBox = $('owner-box');
		ownerBox.hidden = list.owners.length < 2;
		const picker = $<HTMLSelectElement>('owner-picker');
		const current = picker.value;
		picker.innerHTML = list.owners.map((id) => `<option value="${escape(id)}">${escape(id)}</option>`).join('');
		if (current) picker.value = current;
		if (list.rules.length === 0) {
			cards.innerHTML = '<div class="empty">No follow-up rules yet: New rule makes one.</div>';
			return;
		}
		/** A Page's name as console_rules lists it (null when the Page is not among them: its ID alone). */
		const pageName = (pageId: string | null) => (list.pages ?? []).find((one) => one.page_id === pageId)?.name ?? null;
		cards.innerHTML = list.rules.map((rule) => {
			const days = rule.active_days.length === 7 ? 'every day' : DAYS.filter(([day]) => rule.active_days.includes(day)).map(([, name]) => name).join(', ');
			const hours = rule.active_hours_start === rule.active_hours_end ? 'all day' : `${hhmm(rule.active_hours_start)}–${hhmm(rule.active_hours_end)}`;
			const tags = rule.include_tags.map((tag) => escape(tag.name)).join(rule.tag_match === 'all' ? ' and ' : ' or ');
			const without = rule.exclude_tags.length ? ` · not ${rule.exclude_tags.map((tag) => escape(tag.name)).join(', ')}` : '';
			const missing = missingTagsInWords(rule);
			return `<article class="card rule-card" data-rule="${escape(rule.id)}" aria-label="${escape(rule.name)}">
				<h3>${escape(rule.name)}</h3>
				<label><input type="checkbox" data-toggle="${escape(rule.id)}"${rule.enabled ? ' checked' : ''} aria-label="Enabled: ${escape(rule.name)}"> Enabled</label>
				<div class="sub" data-field="tags">Tags: ${tags}${without}</div>
				${missing ? `<p class="missing-tags" data-field="missing-tags" role="note">${escape(missing)}</p>` : ''}
				<div class="sub" data-field="page">${escape(rulePageInWords(rule.page_id, pageName(rule.page_id)))}</div>
				<div class="sub" data-field="hours">${escape(hours)} ${escape(rule.time_zone)}, ${escape(days)}</div>
				<div class="sub" data-field="limits">${formatNumber(rule.daily_limit)} a day · up to ${formatNumber(rule.max_follow_ups)} per contact, ${escape(formatNumber(Number(rule.min_hours_between_follow_ups)))} h apart${rule.stop_on_reply ? ' · stops on reply' : ''}</div>
				<div class="actions">
					<button type="button" data-monitor="${escape(rule.id)}" aria-label="Monitor: ${escape(rule.name)}">Monitor</button>
					<button type="button" data-edit="${escape(rule.id)}" aria-label="Edit: ${escape(rule.name)}">Edit</button>
					<button type="button" data-delete="${escape(rule.id)}" aria-label="Delete: ${escape(rule.name)}">Delete</button>
				</div>
			</article>`;
		}).join('');
	}

	/** The last "Could not read the rules" shown: the next list read takes it away (not a later action's words). */
	let readError = '';

	/** Reads the list and draws the cards; false when it could not be read (the message is in rules-status). */
	async function load(): Promise<boolean> {
		try {
			const { status, json } = await request(`${apiBase}/rules`);
			if (status === 401 || status === 403) {
				context.keyRefused();
				return false;
			}
			if (status !== 200) throw new Error((json as { error?: string })?.error ?? `The console's server answered ${status}`);
			list = json as RulesList;
			renderCards();
			if (readError && $('rules-status').textContent === readError) $('rules-status').textContent = '';
			readError = '';
			return true;
		} catch (error) {
			readError = `Could not read the rules: ${(error as Error).message}`;
			$('rules-status').textContent = readError;
			return false;
		}
	}

	/** An action's words, then the list read again; when that read fails too, its message after them. */
	async function sayAndLoad(words: string) {
		$('rules-status').textContent = words;
		if (!(await load())) $('rules-status').textContent = `${words} ${readError}`;
	}

	function clearErrors() {
		for (const element of form.querySelectorAll<HTMLElement>('[data-error]')) element.textContent = '';
		for (const element of form.querySelectorAll<HTMLElement>('[aria-invalid]')) element.removeAttribute('aria-invalid');
	}

	/** Beside the field: the advice in plain words; the database's own message (and hint) as a detail. */
	function showError(field: string | null, message: string, hint: string | null, advice?: string) {
		const target = form.querySelector<HTMLElement>(`[data-error="${CSS.escape(field ?? '')}"]`) ?? form.querySelector<HTMLElement>('[data-error=""]');
		if (target) {
			const said = hint ? `${message}. ${hint}` : message;
			target.innerHTML = advice && advice !== message
				? `<span class="advice">${escape(advice)}</span> <details><summary>The database said</summary><span class="database-message">${escape(said)}</span></details>`
				: `<span class="advice">${escape(said)}</span>`;
		}
		const input = field ? form.querySelector<HTMLElement>(`[name="${CSS.escape(field)}"]`) : null;
		if (input) {
			input.setAttribute('aria-invalid', 'true');
			input.focus();
		}
	}

	function openForm(rule?: RuleRow) {
		editing = rule;
		formTouched = false;
		// The version the form shows (what its save sends as updated_at).
		form.dataset.version = rule?.updated_at ?? '';
		createKey = rule ? undefined : newCreateKey();
		clearErrors();
		$('rule-preview').textContent = '';
		$('rule-form-title').textContent = rule ? `Edit ${rule.name}` : 'New rule';
		$<HTMLInputElement>('f-name').value = rule?.name ?? '';
		renderTags(rule?.include_tag_ids ?? [], rule?.exclude_tag_ids ?? [], rule);
		for (const radio of form.querySelectorAll<HTMLInputElement>('[name="tag_match"]')) radio.checked = radio.value === (rule?.tag_match ?? 'any');
		$<HTMLInputElement>('f-start').value = hhmm(rule?.active_hours_start ?? '00:00');
		$<HTMLInputElement>('f-end').value = hhmm(rule?.active_hours_end ?? '00:00');
		renderZones(rule?.time_zone ?? browserZone);
		for (const box of form.querySelectorAll<HTMLInputElement>('[name="active_days"]')) box.checked = (rule?.active_days ?? [1, 2, 3, 4, 5, 6, 7]).includes(Number(box.value));
		$<HTMLInputElement>('f-daily').value = String(rule?.daily_limit ?? 100);
		$<HTMLInputElement>('f-max').value = String(rule?.max_follow_ups ?? 3);
		$<HTMLInputElement>('f-interval').value = String(Number(rule?.min_hours_between_follow_ups ?? 4));
		$<HTMLInputElement>('f-stop').checked = rule?.stop_on_reply ?? true;
		$<HTMLInputElement>('f-enabled').checked = rule?.enabled ?? true;
		// A rule edited is switched on and off by its card's switch: the form never sends enabled.
		$('f-enabled-label').hidden = Boolean(rule);
		$<HTMLTextAreaElement>('f-instructions').value = rule?.instructions ?? '';
		renderPages(rule?.page_id ?? null);
		$<HTMLInputElement>('f-model').value = rule?.model ?? '';
		$<HTMLInputElement>('f-language').value = rule?.language ?? '';
		$<HTMLInputElement>('f-context').value = String(rule?.context_message_count ?? 10);
		$<HTMLInputElement>('f-resume').value = rule?.resume_after_takeover_hours === null || rule?.resume_after_takeover_hours === undefined ? '' : String(Number(rule.resume_after_takeover_hours));
		$<HTMLSelectElement>('f-contact').innerHTML = '<option value="">the first contact due</option>';
		$('rule-prompt').hidden = true;
		$('rule-prompt-status').textContent = '';
		form.hidden = false;
		$('f-name').focus();
	}

	/** The form as the rule's columns; numbers the browser cannot read go as typed, for the database to refuse. */
	function settings(): Record<string, unknown> {
		const checked = (name: string) => Array.from(form.querySelectorAll<HTMLInputElement>(`[name="${name}"]:checked`)).map((box) => box.value);
		// Text as typed (spaces included, for the database to judge); only an empty box means none.
		const optional = (id: string) => ($<HTMLInputElement>(id).value === '' ? null : $<HTMLInputElement>(id).value);
		const number = (id: string) => {
			const raw = $<HTMLInputElement>(id).value.trim();
			return raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
		};
		return {
			name: $<HTMLInputElement>('f-name').value,
			include_tag_ids: checked('include_tag_ids'),
			tag_match: checked('tag_match')[0] ?? 'any',
			exclude_tag_ids: checked('exclude_tag_ids'),
			active_hours_start: $<HTMLInputElement>('f-start').value || '00:00',
			active_hours_end: $<HTMLInputElement>('f-end').value || '00:00',
			time_zone: $<HTMLSelectElement>('f-zone').value,
			active_days: checked('active_days').map(Number),
			daily_limit: number('f-daily'),
			max_follow_ups: number('f-max'),
			min_hours_between_follow_ups: number('f-interval'),
			stop_on_reply: $<HTMLInputElement>('f-stop').checked,
			// A new rule's only: an edit never switches the rule back on (or off) from what the form read.
			...(editing ? {} : { enabled: $<HTMLInputElement>('f-enabled').checked }),
			instructions: $<HTMLTextAreaElement>('f-instructions').value,
			// Empty: the column's "none" (every Page, the credential's model, the contact's language, never).
			page_id: $<HTMLSelectElement>('f-page').value || null,
			model: optional('f-model'),
			language: optional('f-language'),
			context_message_count: number('f-context'),
			resume_after_takeover_hours: $<HTMLInputElement>('f-resume').value.trim() === '' ? null : number('f-resume'),
		};
	}

	/** The answer, or a WriteError: with no status when none came (the network, the time-out). */
	async function write(kind: 'save' | 'explain', body: Record<string, unknown>, key?: string): Promise<WriteAnswer> {
		let answered: { status: number; json: unknown };
		try {
			answered = await request(`${apiBase}/rules/${kind}`, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json', ...(key ? { 'Idempotency-Key': key } : {}) },
				body: JSON.stringify(body),
			});
		} catch (error) {
			throw new WriteError((error as Error).message, undefined, false);
		}
		const { status, json } = answered;
		const answer = json as WriteAnswer & { error?: unknown };
		if (status === 200 || (answer && typeof answer.error === 'object' && answer.error)) return answer;
		throw new WriteError(typeof answer?.error === 'string' ? answer.error : `The console's server answered ${status}`, status, isRefusal(json));
	}

	form.addEventListener('input', () => { formTouched = true; });
	form.addEventListener('change', () => { formTouched = true; });

	/**
	 * Edit: the form at once with the list's copy, and the rule read again (another tab may have
	 * changed it since the list was drawn): changed, the form shows it as it is now, unless typed
	 * into already (its save's version check then refuses it and shows the rule as it is).
	 */
	function openEdit(rule: RuleRow) {
		openForm(rule);
		void load().then((read) => {
			if (!read || form.hidden || editing?.id !== rule.id || formTouched) return;
			const now = list.rules.find((row) => row.id === rule.id);
			if (now && now.updated_at !== editing.updated_at) openForm(now);
		});
	}

	/**
	 * One Save of an edit at a time: a second click while the first is under way sends nothing (it
	 * carries the version the first replaces: refused as stale, "Not saved" shown before "Saved"). A new
	 * rule's saves carry one Idempotency-Key: sent twice, they make one rule.
	 */
	async function submit(kind: 'save' | 'explain') {
		const guarded = kind === 'save' && Boolean(editing);
		if (guarded && saving) return;
		if (guarded) saving = true;
		try {
			await submitOnce(kind);
		} finally {
			if (guarded) saving = false;
		}
	}

	async function submitOnce(kind: 'save' | 'explain') {
		clearErrors();
		const preview = $('rule-preview');
		preview.textContent = kind === 'save' ? 'Saving…' : 'Asking the database…';
		// The form as it was when Save was pressed (the rule opened, what was sent).
		const opened = editing;
		let sent: Record<string, unknown> = {};
		try {
			// A save of an edit carries the rule's version as the form read it.
			sent = { ...settings(), ...(kind === 'save' && editing ? { updated_at: editing.updated_at } : {}) };
			const answer = await write(kind, { ruleId: editing?.id ?? '', userId: editing ? '' : owner(), settings: sent },
				kind === 'save' && !editing ? createKey : undefined);
			if (answer.stale && answer.rule && editing) {
				// Changed since the form read it: nothing saved. The form keeps what the user typed, takes the
				// other change in every field the user left alone (so the next Save never undoes it), and
				// carries the rule's version now; the fields both changed are said with the rule's values now.
				const { field, message, hint, advice } = answer.error ?? { field: null, message: 'This rule was changed since you opened it: nothing was saved.', hint: null };
				const base = editing;
				const id = base.id;
				await load();
				const now = list.rules.find((row) => row.id === id) ?? (answer.rule.id === id ? answer.rule : undefined);
				preview.textContent = 'Not saved: the rule was changed since you opened it.';
				if (!now || form.hidden || editing?.id !== id) {
					showError(field, message, hint, advice);
					return;
				}
				const keys = Object.keys(sent).filter((key) => key !== 'updated_at');
				const mine = differingSettings(sent, asSettings(base), keys);
				const theirs = differingSettings(asSettings(now), asSettings(base), keys);
				const conflicts = mine.filter((key) => theirs.includes(key) && differingSettings(sent, asSettings(now), [key]).length > 0)
					.map((key) => ({ key, now: asSettings(now)[key] }));
				const merged: Record<string, unknown> = { ...asSettings(now) };
				for (const key of mine) merged[key] = sent[key];
				openForm(merged as unknown as RuleRow);
				editing = now;
				form.dataset.version = now.updated_at;
				formTouched = mine.length > 0;
				$('rule-form-title').textContent = `Edit ${now.name}`;
				preview.textContent = 'Not saved: the rule was changed since you opened it.';
				showError(field, message, hint, staleSaveInWords(conflicts, theirs.filter((key) => !mine.includes(key))));
				return;
			}
			if (answer.error) {
				preview.textContent = kind === 'save' ? 'Not saved.' : '';
				showError(answer.error.field, answer.error.message, answer.error.hint, answer.error.advice);
				if (answer.repeat && answer.rule) {
					// An earlier save of this form created the rule (its answer was lost) with another
					// value: the form, as typed, now edits that rule, so saving again applies it. The
					// list never heard of that rule (its answer was lost): read it again.
					editing = answer.rule;
					createKey = undefined;
					$('rule-form-title').textContent = `Edit ${answer.rule.name}`;
					preview.textContent = 'Not saved: this rule was already created.';
					await load();
				}
				return;
			}
			if (kind === 'explain') {
				preview.textContent = explainInWords(answer.explain as Explain);
				preview.dataset.explain = JSON.stringify(answer.explain);
				return;
			}
			form.hidden = true;
			editing = undefined;
			createKey = undefined;
			$('rules-status').textContent = `Saved ${answer.rule?.name ?? ''}.`;
			await load();
			// The form closed with the focus in it: on the saved rule's Edit (what opens it again), else New rule.
			focusFirst([...(answer.rule ? [`.rule-card[data-rule="${CSS.escape(answer.rule.id)}"] [data-edit]`] : []), '#rule-new']);
		} catch (error) {
			preview.textContent = '';
			const lost = error instanceof WriteError && !error.notMade;
			if (kind === 'save' && lost) {
				// No answer: it may have been saved. The list read again shows whether. An edit whose rule,
				// read again, holds every setting sent was saved: the form closes as Saved (its version was
				// the old one: kept open, it could never save again). Else the form stays, with what differs.
				const read = await load();
				const row = read && opened ? list.rules.find((rule) => rule.id === opened.id) : undefined;
				if (!opened || !row || form.hidden || editing !== opened) {
					showError(null, saveMayHaveBeenDone(opened ? opened.name : null, error.why), null);
					return;
				}
				const differ = differingSettings(sent, asSettings(row), Object.keys(sent).filter((key) => key !== 'updated_at'));
				if (differ.length === 0) {
					form.hidden = true;
					editing = undefined;
					createKey = undefined;
					$('rules-status').textContent = lostSaveInWords(row.name, error.why, 'saved');
					focusFirst([`.rule-card[data-rule="${CSS.escape(row.id)}"] [data-edit]`, '#rule-new']);
					return;
				}
				showError(null, lostSaveInWords(opened.name, error.why, row.updated_at === opened.updated_at ? 'not saved' : { differ }), null);
				return;
			}
			showError(null, (error as Error).message, null);
		}
	}

	const reasonText = (contact: PromptContact) => (contact.due ? 'due now' : reasonInWords(contact.reason ?? '').toLowerCase());

	/** The prompt GenerateFollowUp would send for the picked contact (or the first due) with the form's unsaved settings. */
	async function showPrompt() {
		clearErrors();
		const status = $('rule-prompt-status');
		const picker = $<HTMLSelectElement>('f-contact');
		status.textContent = 'Building the prompt…';
		try {
			const { status: code, json } = await request(`${apiBase}/rules/prompt`, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ ruleId: editing?.id ?? '', userId: editing ? '' : owner(), settings: settings(), conversationId: picker.value }),
			});
			const answer = json as PromptAnswer & { error?: Refusal | string };
			if (answer?.error && typeof answer.error === 'object') {
				status.textContent = 'No prompt: a setting needs changing.';
				$('rule-prompt').hidden = true;
				showError(answer.error.field, answer.error.message, answer.error.hint, answer.error.advice);
				return;
			}
			if (code !== 200) throw new Error(typeof answer?.error === 'string' ? answer.error : `The console's server answered ${code}`);
			const chosen = answer.contact?.conversation_id ?? '';
			picker.innerHTML = ['<option value="">the first contact due</option>',
				...answer.contacts.map((contact) => `<option value="${escape(contact.conversation_id)}"${contact.conversation_id === chosen ? ' selected' : ''}>${escape(isBlankName(contact.sender_name) ? 'No name' : contact.sender_name?.trim())} · ${escape(reasonText(contact))}</option>`)].join('');
			if (!answer.contact || !answer.prompt) {
				status.textContent = 'No contact carries these tags yet: tag one to see its prompt.';
				$('rule-prompt').hidden = true;
				return;
			}
			status.textContent = '';
			$('rule-prompt-meta').textContent = `For ${isBlankName(answer.contact.sender_name) ? 'a contact without a name' : answer.contact.sender_name?.trim()} (${reasonText(answer.contact)}): follow-up ${formatNumber(answer.prompt.followUpNumber)}, `
				+ `${formatNumber(answer.contact.messages.length)} of up to ${formatNumber(answer.rule.context_message_count)} messages, model ${answer.prompt.model ?? "from the Gemini credential"}. `
				+ `${formatNumber(answer.tagged)} tagged contacts.`;
			$('rule-prompt-system').textContent = answer.prompt.systemInstruction;
			$('rule-prompt-user').textContent = answer.prompt.userText;
			$('rule-prompt').dataset.conversation = answer.contact.conversation_id;
			$('rule-prompt').hidden = false;
		} catch (error) {
			status.textContent = `Could not build the prompt: ${(error as Error).message}`;
		}
	}

	$('rule-prompt-button').addEventListener('click', () => void showPrompt());
	$('f-contact').addEventListener('change', () => void showPrompt());
	$('rule-new').addEventListener('click', () => openForm());
	$('owner-picker').addEventListener('change', () => {
		if (!form.hidden && !editing) {
			renderTags([], []);
			renderPages(null);
		}
	});
	$('rule-cancel').addEventListener('click', () => { form.hidden = true; editing = undefined; createKey = undefined; $('rule-new').focus(); });
	$('rule-preview-button').addEventListener('click', () => void submit('explain'));
	form.addEventListener('submit', (event) => { event.preventDefault(); void submit('save'); });
	$('rule-cards').addEventListener('change', async (event) => {
		const box = (event.target as HTMLElement).closest<HTMLInputElement>('[data-toggle]');
		if (!box?.dataset.toggle) return;
		box.disabled = true;
		const on = box.checked;
		const name = list.rules.find((row) => row.id === box.dataset.toggle)?.name ?? 'the rule';
		let words: string;
		try {
			const answer = await write('save', { ruleId: box.dataset.toggle, settings: { enabled: on } });
			const rule = answer.rule;
			if (!answer.error && rule && editing?.id === rule.id && !form.hidden) {
				// The rule's Edit form is open: the switch made a new version. When the switch changed nothing
				// else (no other tab's change came with it), the form takes that version, so its Save is not
				// refused as "changed since you opened it" and the typed text is kept.
				const others = Object.keys(asSettings(editing)).filter((key) => key !== 'enabled' && key !== 'updated_at' && key in SETTING_LABELS);
				if (differingSettings(asSettings(editing), asSettings(rule), others).length === 0) {
					editing = { ...editing, enabled: rule.enabled, updated_at: rule.updated_at };
					form.dataset.version = rule.updated_at;
				}
			}
			words = answer.error ? `Not changed: ${answer.error.advice ?? answer.error.message}` : `${answer.rule?.name} ${on ? 'enabled' : 'switched off'}.`;
		} catch (error) {
			// The workflow's refusal (or n8n's before it ran): not changed. No answer: it may have been.
			words = error instanceof WriteError && !error.notMade ? switchMayHaveBeenDone(name, on, error.why) : `Not changed: ${(error as Error).message}`;
		}
		// Whatever happened: the switch usable again, then the list's state drawn (when it can be read).
		box.disabled = false;
		await sayAndLoad(words);
		// The cards drawn again: the focus on the same switch.
		focusFirst([`[data-toggle="${CSS.escape(box.dataset.toggle)}"]`, '#rule-new']);
	});
	$('rule-cards').addEventListener('click', async (event) => {
		const target = (event.target as HTMLElement).closest<HTMLElement>('button');
		if (!target) return;
		const rule = list.rules.find((row) => row.id === (target.dataset.edit ?? target.dataset.delete ?? target.dataset.monitor));
		if (!rule) return;
		if (target.dataset.monitor) context.openMonitor(rule.id);
		if (target.dataset.edit) openEdit(rule);
		if (target.dataset.delete) {
			if (!window.confirm(`Delete the rule "${rule.name}" with its contacts' follow-up history?`)) return;
			// Where the focus goes once the list is drawn again (the cards are replaced, the focus would be
			// left on the page's body): this rule's Delete while it is still there (not deleted, or no
			// answer), else the next card's Delete, else the one before's, else New rule.
			const ids = list.rules.map((row) => row.id);
			const at = ids.indexOf(rule.id);
			const focusTo = [rule.id, ids[at + 1], ids[at - 1]].filter((id): id is string => Boolean(id))
				.map((id) => `.rule-card[data-rule="${CSS.escape(id)}"] [data-delete]`);
			try {
				const { status, json } = await request(`${apiBase}/rules/delete`, {
					method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ruleId: rule.id }),
				});
				// The delete's own 404, { deleted: false }: no such rule any more. A delete sent twice (a double
				// click, a retry after a lost answer) finds it gone: what the user asked for is done.
				const gone = status === 404 && (json as { deleted?: unknown } | undefined)?.deleted === false;
				$('rules-status').textContent = status === 200 ? `Deleted ${rule.name}.` : gone ? `${rule.name} was already deleted.` : `Not deleted: ${(json as { error?: string })?.error ?? status}`;
				if (status === 200 || gone) context.ruleDeleted(rule.id);
			} catch (error) {
				// No answer (the network, n8n restarting): the delete may or may not have been made. The list,
				// loaded again below, shows which; Delete again is harmless either way.
				$('rules-status').textContent = `No answer to the delete of ${rule.name} (${(error as Error).message}): the list shows whether it is gone; Delete again if it is still there.`;
			}
			await load();
			focusFirst([...focusTo, '#rule-new']);
		}
	});

	return { load };
}
