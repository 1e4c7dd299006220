// Google quotes the API key in some error messages ("Consumer 'api_key:AIza…' has been suspended").
// No key may leave the node: every key is replaced by its place in the credential's list.
export function redactorFor(keys: readonly string[]): (text: string) => string {
	const ordered = keys.map((key, index) => ({ key, label: `[key ${index + 1}]` })).sort((a, b) => b.key.length - a.key.length);
	return (text) => ordered.reduce((redacted, { key, label }) => redacted.split(key).join(label), text);
}
