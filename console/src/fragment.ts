// The address's fragment (#key=…&rule=…&tab=…) read by hand, not by URLSearchParams: that reads it as a
// form would, so a '+' became a space and a key like "Zm9v+YmFy/9k=" reached n8n as "Zm9v YmFy/9k="
// (403). Here the parts are split at '&', each at its first '=', and only %xx escapes are decoded
// ('+' stays '+'); a malformed escape ("50%") is kept as it was typed. A key holding '&', '%' or '#'
// must be given encoded (encodeURIComponent), as docs/console.md says. Pure: no DOM, so unit tested.

/** One part of the fragment, as typed and decoded. */
interface Part { raw: string; name: string; value: string }

/** decodeURIComponent, or the text as it is when it holds a malformed escape. */
function decode(text: string): string {
	try {
		return decodeURIComponent(text);
	} catch {
		return text;
	}
}

function parts(hash: string): Part[] {
	return hash.replace(/^#/, '').split('&').filter(Boolean).map((raw) => {
		const at = raw.indexOf('=');
		return at === -1 ? { raw, name: decode(raw), value: '' } : { raw, name: decode(raw.slice(0, at)), value: decode(raw.slice(at + 1)) };
	});
}

/** The fragment's names and values ("#key=a+b&tab=queue" → key "a+b", tab "queue"); a name given twice keeps its first value. */
export function parseFragment(hash: string): Map<string, string> {
	const values = new Map<string, string>();
	for (const { name, value } of parts(hash)) if (!values.has(name)) values.set(name, value);
	return values;
}

/** The fragment without `name`, the other parts as they were typed ("#key=…&rule=r" → "rule=r"; '' when none is left). */
export function fragmentWithout(hash: string, name: string): string {
	return parts(hash).filter((part) => part.name !== name).map((part) => part.raw).join('&');
}

/**
 * An ID the address gives (#owner=, #pipeline=, #rule=) as the server answers it: trimmed, and a UUID
 * in lower case (the endpoints trim it and take any letter case; PostgreSQL prints a uuid in lower
 * case, and the page compares the ID it asked for with the one answered as text). Text that is no
 * UUID is only trimmed, so the server's refusal quotes it as it was typed.
 */
export function addressId(id: string | undefined): string {
	const trimmed = (id ?? '').trim();
	return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(trimmed) ? trimmed.toLowerCase() : trimmed;
}

/**
 * The tab a fragment asks for, the same when the page opens with it and when it is typed into the
 * open page: #tab= when given, else the tab of what it names (#rule= the Follow-ups tab, #pipeline=
 * the Pipeline tab, #owner= the Queue tab, in that order); undefined when it names none of them.
 */
export function tabOf(fragment: Map<string, string>): string | undefined {
	const tab = fragment.get('tab');
	if (tab) return tab;
	// Read as the pickers read them (addressId): an ID of blanks names nothing, so it takes no tab.
	if (addressId(fragment.get('rule'))) return 'followups';
	if (addressId(fragment.get('pipeline'))) return 'pipeline';
	if (addressId(fragment.get('owner'))) return 'queue';
	return undefined;
}
