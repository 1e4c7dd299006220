// Removing a credential's secrets from text that leaves a node. Google quotes the API key in some
// error messages ("Consumer 'api_key:AIza…' has been suspended"); Meta quotes the access token in
// some of its ("Malformed access token EAAG…"). Error texts reach items, node errors, the database,
// webhook answers and the console, which people who may only use a credential (or hold a webhook
// key) read: no secret may be among them. Three rules, in this order (docs/gemini.md,
// docs/graph-errors.md):
// - every occurrence of a secret is replaced by its label, longest secret first (so a secret that
//   contains another is replaced whole);
// - a quote that is cut or altered: any run of key-like characters (letters, digits, _ - | %) that
//   shares WINDOW consecutive characters with a secret is replaced whole by that secret's label;
// - the caller's shapes (patterns of secrets it knows only by form, e.g. Meta's tokens), each
//   replaced by its label.

export interface Secret {
	value: string;
	/** What the text says instead, e.g. `[key 2]`, `[access token]`. */
	label: string;
	/**
	 * How many characters at the start of the value are not secret (the App ID and `|` of an app
	 * access token `{app-id}|{app-secret}`): a cut quote counts only when it holds at least one
	 * character after them, so Meta quoting the App ID alone is left as it is.
	 */
	publicPrefix?: number;
}

export interface SecretShape {
	/** A global pattern of what a secret looks like; it must not match ordinary words. */
	pattern: RegExp;
	label: string;
}

export type Redact = (text: string) => string;

/** How many consecutive characters of a secret make a run of text a quote of it. */
const WINDOW = 12;
const RUN = new RegExp(`[A-Za-z0-9_|%-]{${WINDOW},}`, 'g');

/**
 * `keep`: values that are not secret (an App ID, a Page ID): a run of text that is one of them is
 * never taken for a cut quote of a secret.
 */
export function redactorFor(secrets: readonly Secret[], shapes: readonly SecretShape[] = [], keep: readonly string[] = []): Redact {
	const ordered = secrets.filter(({ value }) => value.trim() !== '').sort((a, b) => b.value.length - a.value.length);
	// A run is named after the shortest secret it quotes (a cut app secret is the app secret, though the app access token holds it too).
	const windows = new Map<string, string>();
	for (const { value, label, publicPrefix = 0 } of [...ordered].reverse()) {
		// Only the windows that hold a character of the secret part.
		for (let start = Math.max(0, publicPrefix + 1 - WINDOW); start + WINDOW <= value.length; start++) {
			const window = value.slice(start, start + WINDOW);
			if (!windows.has(window)) windows.set(window, label);
		}
	}
	const kept = new Set(keep.filter((value) => value !== ''));
	const quoteOf = (run: string): string => {
		if (kept.has(run)) return run;
		for (let start = 0; start + WINDOW <= run.length; start++) {
			const label = windows.get(run.slice(start, start + WINDOW));
			if (label !== undefined) return label;
		}
		return run;
	};
	// One pass over the text, the longest secret first at each place: a label put in is never read
	// again (a Verify Token "token" must not turn `[access token]` into `[access [verify token]]`).
	const labelOf = new Map<string, string>();
	for (const { value, label } of ordered) if (!labelOf.has(value)) labelOf.set(value, label);
	const every = ordered.length === 0 ? undefined : new RegExp(ordered.map(({ value }) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
	return (text) => {
		const exact = every === undefined ? text : text.replace(every, (found) => labelOf.get(found) ?? found);
		const quoted = windows.size === 0 ? exact : exact.replace(RUN, quoteOf);
		return shapes.reduce((redacted, { pattern, label }) => redacted.replace(pattern, label), quoted);
	};
}

/** A list of API keys as secrets labelled by their place in the list: `[key 1]`, `[key 2]`, … */
export const numberedKeys = (keys: readonly string[]): Secret[] => keys.map((value, index) => ({ value, label: `[key ${index + 1}]` }));
