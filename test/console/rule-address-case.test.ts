// The page opened (or followed) with #rule=<ID> written otherwise than the server answers it: in capitals,
// or with spaces around it (console/src/main.ts, the whole page run in jsdom from console.html). The
// monitor's endpoint trims the ruleId and takes a UUID in any letter case, and answers the rules' ids as
// PostgreSQL prints a uuid (lower case); the page sets its Rule picker to the ID it asked for, as text.
// With the ID kept as typed the picker was left blank though that rule was shown (review RMM2 F2, the
// class caed3c3 mended for #owner=).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pageDom, type PageDom } from './page-dom';

const R1 = 'aaaaaaaa-1111-4111-8111-111111111111';
const R2 = 'bbbbbbbb-2222-4222-8222-222222222222';
const rule = (id: string, name: string) => ({ id, name, enabled: true, page_id: null, max_follow_ups: 3 });

let asked: Array<string | null>;
/** As the real monitor answers: ruleId trimmed, any letter case taken, the rule's id in lower case; a non-UUID a 400. */
function monitor(url: string) {
	const ruleId = new URL(url, 'https://n8n.example').searchParams.get('ruleId');
	asked.push(ruleId);
	const rules = [rule(R1, 'Welcome'), rule(R2, 'Second chance')];
	if (ruleId !== null && !/^[0-9a-f-]{36}$/i.test(ruleId.trim())) {
		return { status: 400, json: { status: 400, error: `The rule ID "${ruleId.trim()}" is not a UUID.`, field: 'ruleId', hint: 'Use the id of a rule from the answer\'s rules list.' } };
	}
	// No stats or contacts: the picker is drawn, the rest of the monitor is not (renderMonitor returns early).
	return { status: 200, json: { rules, rule: ruleId ? rules.find((one) => one.id === ruleId.trim().toLowerCase()) ?? null : null } };
}

const realFetch = globalThis.fetch;
const realNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
beforeEach(() => {
	asked = [];
	(globalThis as unknown as { fetch: unknown }).fetch = async (url: string) => {
		// Only the Follow-ups tab is shown: its monitor is all the page asks for.
		const { status, json } = url.includes('/console/api/monitor') ? monitor(url) : { status: 404, json: {} };
		return new Response(JSON.stringify(json), { status, headers: { 'Content-Type': 'application/json' } });
	};
});
afterEach(() => {
	globalThis.fetch = realFetch;
	if (realNavigator) Object.defineProperty(globalThis, 'navigator', realNavigator);
});

/** The whole page as it loads with `hash` in its address: console.html's body, then main.ts run. */
function open(hash: string): PageDom {
	const page = pageDom(async () => ({ status: 500, json: {} }), hash);
	const html = readFileSync(path.resolve(__dirname, '../../console/src/console.html'), 'utf8');
	page.document.body.innerHTML = html.slice(html.indexOf('<body>') + 6, html.indexOf('<script>'));
	const globals: Record<string, unknown> = { history: page.window.history, navigator: page.window.navigator, HTMLDialogElement: page.window.HTMLDialogElement };
	for (const [name, value] of Object.entries(globals)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
	jest.isolateModules(() => {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		require('../../console/src/main');
	});
	return page;
}
const picker = (page: PageDom) => page.document.getElementById('rule-picker');
/** Several turns: fetch's Response is read in Node's own promises, not page-dom's. */
const settle = async (page: PageDom) => { for (let i = 0; i < 5; i++) await page.flush(); };

test.each([
	['in capitals', `#key=k&rule=${R2.toUpperCase()}`],
	['with spaces around it', `#key=k&rule=%20${R2}%20`],
	['in mixed case with spaces', `#key=k&rule=%20${R2.slice(0, 18).toUpperCase()}${R2.slice(18)}%20`],
])('#rule= %s when the page opens: the Rule picker shows that rule, asked in lower case', async (_name, hash) => {
	const page = open(hash);
	await settle(page);
	expect(picker(page).value).toBe(R2);
	expect(picker(page).selectedIndex).toBe(1);
	expect(asked[0]).toBe(R2);
});

test('#rule= typed into the open page in capitals with spaces: that rule in the Rule picker', async () => {
	const page = open(`#key=k&rule=${R1}`);
	await settle(page);
	expect(picker(page).value).toBe(R1);
	page.window.location.hash = `#rule=%20${R2.toUpperCase()}%20`;
	await settle(page);
	expect(picker(page).value).toBe(R2);
	expect(asked.at(-1)).toBe(R2);
});

test('#rule= that is no UUID is asked trimmed, as typed (not lower-cased), so the refusal quotes it', async () => {
	const page = open('#key=k&rule=%20Not-A-Rule%20');
	await settle(page);
	expect(asked[0]).toBe('Not-A-Rule');
	expect(page.document.getElementById('monitor-error').textContent).toContain('The rule ID "Not-A-Rule" is not a UUID.');
});
