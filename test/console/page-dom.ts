// The console's page code run in jsdom (a transitive dependency of n8n-nodes-base), for the unit
// tests of a tab's DOM behaviour: a panel, the globals the page reads (document, window, location,
// CSS.escape, the element classes), and the page's timers held: a timer of 0 ms (the tab's "ask again
// at once") runs at the next turn, a longer one (the 2 s poll, the offline check) only when the test
// calls runTimers(). The tab's calls go to the test's own answers (`request`, `api`), never a network.
// The page's modules are loaded with require() after the globals are set (they read location at load),
// which also keeps their DOM types out of the tests' type check (its lib has no DOM).
/* eslint-disable @typescript-eslint/no-explicit-any -- jsdom's window and elements, untyped here (the tests' lib has no DOM) */
import { readFileSync } from 'node:fs';
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JSDOM } = require('jsdom') as { JSDOM: new (html: string, options: Record<string, unknown>) => { window: any } };

export interface PageDom {
	window: any;
	document: any;
	panel: any;
	/** The TabContext the tab is given: its calls answered by `answer`. */
	context: Record<string, unknown>;
	/** Lets the page's pending promises and 0 ms timers run. */
	flush(): Promise<void>;
	/** Runs the timers held (once each), then flush(). */
	runTimers(): Promise<void>;
	/** A stylesheet of console/src added to the page (jsdom applies its rules to getComputedStyle). */
	addStyles(...files: string[]): void;
}

/** `answer(url, init)`: the test's answer to a call, as the context's `request` returns it. */
export function pageDom(answer: (url: string, init?: { method?: string; body?: string }) => Promise<{ status: number; json: unknown }>, hash = ''): PageDom {
	const dom = new JSDOM('<!doctype html><html><head></head><body><main id="panel"></main></body></html>', { url: `https://n8n.example/webhook/leadflow/console${hash}` });
	const window = dom.window;
	const held = new Map<number, () => void>();
	let next = 0;
	window.setTimeout = (fn: () => void, ms = 0) => {
		const id = ++next;
		if (ms > 0) held.set(id, fn);
		else setImmediate(() => { if (!cleared.has(id)) fn(); });
		return id;
	};
	const cleared = new Set<number>();
	window.clearTimeout = (id: number) => { held.delete(id); cleared.add(id); };
	window.setInterval = () => 0;
	window.CSS = { escape: (text: string) => String(text).replace(/["\\]/g, '\\$&') };
	const globals: Record<string, unknown> = {
		window, document: window.document, location: window.location, CSS: window.CSS,
		HTMLElement: window.HTMLElement, HTMLSelectElement: window.HTMLSelectElement, HTMLInputElement: window.HTMLInputElement,
		HTMLButtonElement: window.HTMLButtonElement, HTMLDetailsElement: window.HTMLDetailsElement, Element: window.Element, Node: window.Node,
	};
	for (const [name, value] of Object.entries(globals)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
	const escape = (text: unknown) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
	const context = {
		apiBase: '/webhook/leadflow/console/api',
		pagePath: '/webhook/leadflow/console',
		request: answer,
		api: async (url: string, init?: { method?: string; body?: string }) => {
			const { status, json } = await answer(url, init);
			if (status !== 200) throw Object.assign(new Error((json as { error?: string })?.error ?? `HTTP ${status}`), { status });
			return json;
		},
		authHeaders: () => ({}),
		escape,
		render: (element: { innerHTML: string }, html: string) => { if (element.innerHTML !== html) element.innerHTML = html; },
		keyRefused: () => { throw new Error('key refused'); },
	};
	const flush = async () => {
		for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
	};
	return {
		window,
		document: window.document,
		panel: window.document.getElementById('panel'),
		context,
		flush,
		async runTimers() {
			const due = [...held.values()];
			held.clear();
			for (const fn of due) fn();
			await flush();
		},
		addStyles(...files: string[]) {
			for (const file of files) {
				const style = window.document.createElement('style');
				style.textContent = readFileSync(path.resolve(__dirname, '../../console/src', file), 'utf8');
				window.document.head.appendChild(style);
			}
		},
	};
}

/** A deferred answer: the call waits until the test settles it. */
export function deferred<T>() {
	let resolve!: (value: T) => void;
	const promise = new Promise<T>((done) => { resolve = done; });
	return { promise, resolve };
}
