// The Queue tab's settle buttons (console/src/queue.ts, run in jsdom): a dead message that may have
// arrived (`uncertain`) of a lead still new or queued shows "It arrived — mark contacted" and "Send
// again"; pressing one POSTs {outcome} to …/leads/:leadId/settle (queue-actions.json, queue_settle_lead)
// with the owner's header, and the answer is said in words on the lead's line: settled, already
// settled, or the database's refusal (409). Other rows (a message not dead, dead with Meta's error
// code, a lead taken over) show no such button. The buttons shown are those console_queue_page's
// settle_outcomes lists (migration 20261201002942, review RF1 F3): a lead set to new after the death
// gets It arrived only, one already settled or with a newer message none, and the words under the
// status point to the buttons shown (to the app when there are none). After a press, the row whose
// button is gone keeps a focus target where it was (review RF1 F4).
import { pageDom, type PageDom } from './page-dom';

type Answer = { status: number; json: unknown };
const DAY = '2026-12-06';
const row = (over: Record<string, unknown>) => ({
	item_id: `i-${String(over.lead_id)}`, name: 'Ana', phone: '+447700900123', lead_status: 'queued', lead_score: 50,
	status: 'dead', attempts: 1, scheduled_for: `${DAY}T15:00:00.000Z`, completed_at: `${DAY}T15:01:00.000Z`, message_id: null,
	last_error: 'uncertain: No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', taken_over_at: null,
	taken_over_by: null, conversation_id: null, follow_ups_stopped: false, last_event: null, settle_outcomes: [], ...over,
});
// What the page answers for lead-u once a settle was pressed (the next poll): settled, no outcome left.
let settledU: { lead_status: string } | null = null;
// Rows added by one test (another message of lead-u).
let extra: Array<ReturnType<typeof row>> = [];
const rows = () => [...extra,
	row({ lead_id: 'lead-u', name: 'Ana', settle_outcomes: settledU ? [] : ['delivered', 'send_again'], ...settledU }),
	// Set to new after its message died (given back, or by the app): its backlog item queued again.
	row({ lead_id: 'lead-n', name: 'Ed', lead_status: 'new', settle_outcomes: ['delivered'] }),
	// Settled Send again already (or a newer message since): the database refuses both.
	row({ lead_id: 'lead-s', name: 'Flo', lead_status: 'new', settle_outcomes: [] }),
	row({ lead_id: 'lead-meta', name: 'Bo', last_error: '131050: User has stopped marketing messages' }),
	row({ lead_id: 'lead-taken', name: 'Cy', lead_status: 'human_controlled' }),
	row({ lead_id: 'lead-sent', name: 'Di', status: 'sent', last_error: null, lead_status: 'contacted' }),
];
const queuePage = () => ({
	owners: ['owner-1'], ownerLabels: { 'owner-1': 'Shop One' }, owner: 'owner-1', generatedAt: `${DAY}T16:00:00.000Z`,
	settings: { time_zone: 'UTC', daily_capacity: 10, send_from: '09:00:00', send_until: '17:00:00', max_attempts: 3 },
	timeZone: 'UTC', today: DAY, day: DAY, counts: { total: rows().length, dead: 5, sent: 1 }, earlierOpen: { total: 0, days: [] },
	rows: { total: rows().length, offset: 0, limit: 25, rows: rows() },
});

let page: PageDom;
let answer: Answer;
let calls: Array<{ url: string; body: unknown }>;
let tab: { show(): void; hide(): void };

beforeEach(async () => {
	calls = [];
	settledU = null;
	extra = [];
	page = pageDom(async (url, init) => {
		if (url.includes('/settle')) {
			calls.push({ url, body: JSON.parse(init?.body ?? 'null') });
			if (answer.status === 200) settledU = { lead_status: (answer.json as { status: string }).status };
			return answer;
		}
		if (url.includes('/queue/metrics')) return { status: 200, json: { days: [] } };
		return { status: 200, json: queuePage() };
	}, '#owner=owner-1');
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { initQueue } = require('../../console/src/queue') as { initQueue: (context: unknown, panel: unknown) => typeof tab };
	// The console's own render (console/src/main.ts): an element's content replaced only when it changed,
	// the focused control kept by its data-key (page-dom's plain render keeps no focus).
	type Focusable = { focus(): void; closest(selector: string): { dataset: Record<string, string | undefined> } | null };
	type Element = { dataset: Record<string, string | undefined>; innerHTML: string; contains(node: unknown): boolean; querySelector(selector: string): Focusable | null };
	const context = page.context as unknown as { render: (element: Element, html: string) => void };
	context.render = (element, html) => {
		if (element.dataset.rendered === html) return;
		const active = page.document.activeElement as unknown as Focusable | null;
		const focusedKey = active?.closest('[data-key]')?.dataset.key;
		const hadFocus = element.contains(active);
		element.innerHTML = html;
		element.dataset.rendered = html;
		if (hadFocus && focusedKey) element.querySelector(`[data-key="${focusedKey}"]`)?.focus();
	};
	tab = initQueue(page.context, page.panel);
	tab.show();
	await page.flush();
});

afterEach(() => tab.hide());

const line = () => page.document.getElementById('queue-take-message')?.textContent as string;
const settleButtons = (lead: string) => Array.from(page.document.querySelectorAll(`tr[data-lead="${lead}"] button[data-settle]`) as ArrayLike<{ textContent: string; dispatchEvent(event: unknown): boolean }>);
const buttons = (lead: string) => settleButtons(lead).map((button) => button.textContent);

test('a row shows the buttons of the outcomes the database accepts for it (settle_outcomes), and words pointing to them', () => {
	expect(buttons('lead-u')).toEqual(['It arrived — mark contacted', 'Send again']);
	expect(buttons('lead-n')).toEqual(['It arrived — mark contacted']);
	for (const lead of ['lead-s', 'lead-meta', 'lead-taken', 'lead-sent']) expect({ lead, buttons: buttons(lead) }).toEqual({ lead, buttons: [] });
	const words = (lead: string) => page.document.querySelector(`tr[data-lead="${lead}"] .status-meaning`)?.textContent as string;
	expect(words('lead-u')).toContain('then press It arrived if it did (the lead becomes contacted), or Send again to have a new message sent.');
	expect(words('lead-n')).toContain('its lead was set to new again, so the next Prepare sends a new message. Check the lead\'s WhatsApp chat: if it arrived, press It arrived');
	// Settled by Send again (the lead new, no buttons): said so, not "stays queued" (review RMF1 F2).
	expect(words('lead-s')).toContain('its lead is new again, so the next Prepare queues a new message for it. Check the lead\'s WhatsApp chat: if it arrived after all, set the lead to contacted in your app.');
	for (const lead of ['lead-u', 'lead-n']) expect({ lead, words: words(lead) }).toEqual({ lead, words: expect.not.stringContaining('in your app') });
});

test.each([
	['delivered', 0, 'contacted', 'Marked contacted'],
	['send_again', 1, 'new', 'Queued again'],
])('after %s the row redraws without the buttons and keeps the keyboard focus where the button was', async (outcome, index, status, label) => {
	answer = { status: 200, json: { lead_id: 'lead-u', outcome, status, already_settled: false } };
	const button = settleButtons('lead-u')[index] as unknown as { focus(): void; dispatchEvent(event: unknown): boolean };
	button.focus();
	button.dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
	await page.flush();
	await page.flush();
	expect(buttons('lead-u')).toEqual([]);
	const active = page.document.activeElement as { tagName: string; textContent: string; getAttribute(name: string): string | null };
	expect({ tag: active.tagName, key: active.getAttribute('data-key'), text: active.textContent }).toEqual({ tag: 'SPAN', key: `settle-${outcome}-lead-u`, text: label });
});

test('the pressed mark stays on the message pressed only while the focus is on it, never on another row of its lead (review RMF1 F3)', async () => {
	answer = { status: 200, json: { lead_id: 'lead-u', outcome: 'send_again', status: 'new', already_settled: false } };
	const button = settleButtons('lead-u')[1] as unknown as { focus(): void; dispatchEvent(event: unknown): boolean };
	button.focus();
	button.dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
	await page.flush();
	await page.flush();
	const marks = () => Array.from(page.document.querySelectorAll('tr[data-lead="lead-u"] .settled') as ArrayLike<{ textContent: string; closest(s: string): { dataset: Record<string, string> } }>)
		.map((mark) => [mark.closest('tr').dataset.item, mark.textContent]);
	expect(marks()).toEqual([['i-lead-u', 'Queued again']]);
	// Another message of the same lead, drawn by a later poll while the focus is still on the mark: not marked.
	extra = [row({ lead_id: 'lead-u', item_id: 'i-lead-u-other', name: 'Ana', lead_status: 'human_controlled', scheduled_for: `${DAY}T10:00:00.000Z` })];
	await page.runTimers();
	await page.flush();
	expect(marks()).toEqual([['i-lead-u', 'Queued again']]);
	// The focus moves on: the next poll draws no mark.
	(settleButtons('lead-n')[0] as unknown as { focus(): void }).focus();
	await page.runTimers();
	await page.flush();
	expect(marks()).toEqual([]);
});

test.each([
	['delivered', 0, { status: 200, json: { lead_id: 'lead-u', outcome: 'delivered', status: 'contacted', already_settled: false } }, 'Ana is marked contacted: its message is taken as delivered.'],
	['send_again', 1, { status: 200, json: { lead_id: 'lead-u', outcome: 'send_again', status: 'new', already_settled: true } },
		'Ana is new again: the next Prepare queues a new message for it. (It was settled so already: nothing changed.)'],
	['send_again', 1, { status: 409, json: { status: 409, error: 'Lead lead-u is human_controlled: a person has taken it over. If it arrived, set it to contacted in your app.', field: 'leadId' } },
		'Could not settle Ana: Lead lead-u is human_controlled: a person has taken it over. If it arrived, set it to contacted in your app.'],
	['delivered', 0, { status: 502, json: undefined }, 'No answer to settling Ana (the server answered 502): it may have been done. The row, read again now, shows it; pressing the same button again is safe.'],
])('pressing %s: POST {outcome} to the settle webhook, the answer in words', async (outcome, index, given, words) => {
	answer = given as Answer;
	settleButtons('lead-u')[index].dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
	await page.flush();
	expect(calls).toEqual([{ url: expect.stringMatching(/\/leads\/lead-u\/settle$/), body: { outcome, reason: expect.stringContaining('pressed in the Leadflow console') } }]);
	expect(line()).toBe(words);
});
