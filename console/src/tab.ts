// What main.ts hands to a tab that renders its own panel (Pipeline, Queue): where the console's
// endpoints are, the two ways to call them with the key, and the page's escaping and rendering.
export interface TabContext {
	/** /webhook/leadflow/console/api */
	apiBase: string;
	/** /webhook/leadflow/console: other shipped webhooks sit beside it (…/leadflow/contacts/move). */
	pagePath: string;
	/** A call whose refusal is an error (HttpError with the status and the server's message). */
	api: <T>(url: string, init?: RequestInit) => Promise<T>;
	/** A call whose refusals are data: the status and the JSON. */
	request: (url: string, init?: RequestInit) => Promise<{ status: number; json: unknown }>;
	/** The key's header, for a call that needs the raw answer (the Queue tab's CSV download). */
	authHeaders: () => Record<string, string>;
	escape: (text: unknown) => string;
	/** Replaces an element's content only when it changed, keeping the focused control (by data-key). */
	render: (element: HTMLElement, html: string) => void;
	/**
	 * The key was refused (401/403): the page's key form, as on the Follow-ups tab. The tab stops
	 * asking; the key typed there shows the tab again (its show() is called).
	 */
	keyRefused: () => void;
}

// The offline rule of every tab, in a module of its own (no DOM) so a unit test reads it.
export { isOffline, STALE_MS } from './offline';

/** A tab that renders its own panel: shown starts its work (and its polling), hidden stops it. */
export interface Tab {
	show(): void;
	hide(): void;
	/** The address's fragment edited while the page is open (#pipeline=…): followed in place. */
	follow?(fragment: Map<string, string>): void;
}

/** Calls onSearch with the input's trimmed text once typing pauses for `ms` (each tab's search box). */
export function onSearchInput(input: HTMLInputElement, onSearch: (text: string) => void, ms = 250): void {
	let timer: number | undefined;
	input.addEventListener('input', () => {
		window.clearTimeout(timer);
		timer = window.setTimeout(() => onSearch(input.value.trim()), ms);
	});
}
