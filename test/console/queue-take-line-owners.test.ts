// The Queue tab's Take Lead line (console/src/queue.ts, run in jsdom) across owners: its words stay
// beside the take's own owner (plain) and beside the owner shown when they were written (named) while
// that take is under way; they go when an owner other than its own is drawn after that, and an owner
// typed into the address and drawn as missing is the same owner as the one typed (review RMF5 1-3;
// docs/console.md, the Queue tab).
import { deferred, pageDom, type PageDom } from './page-dom';

type Answer = { status: number; json: unknown };
const DAY = '2026-12-06';

function queuePage(owner: string) {
	const row = {
		item_id: `i-${owner}`, lead_id: `lead-${owner}`, name: owner === 'owner-1' ? 'Ana' : 'Bo', phone: '+447700900123', lead_status: 'queued', lead_score: 50,
		status: 'queued', attempts: 0, scheduled_for: `${DAY}T15:00:00.000Z`, completed_at: null, message_id: null, last_error: null, taken_over_at: null,
		taken_over_by: null, conversation_id: null, follow_ups_stopped: false, last_event: null,
	};
	return {
		owners: ['owner-1', 'owner-2', 'owner-3'], ownerLabels: { 'owner-1': 'Shop One', 'owner-2': 'Shop Two', 'owner-3': 'Shop Three' }, owner, generatedAt: `${DAY}T10:00:00.000Z`,
		settings: { time_zone: 'UTC', daily_capacity: 10, send_from: '09:00:00', send_until: '17:00:00', max_attempts: 3 },
		timeZone: 'UTC', today: DAY, day: DAY, counts: { total: 1, queued: 1 }, earlierOpen: { total: 0, days: [] },
		rows: { total: 1, offset: 0, limit: 25, rows: [row] },
	};
}

let page: PageDom;
let takes: Array<ReturnType<typeof deferred<Answer>>>;
let tab: { show(): void; hide(): void; follow?(fragment: Map<string, string>): void };

beforeEach(async () => {
	takes = [];
	page = pageDom(async (url) => {
		if (url.includes('/take')) {
			const take = deferred<Answer>();
			takes.push(take);
			return take.promise;
		}
		if (url.includes('/queue/metrics')) return { status: 200, json: { days: [] } };
		const owner = new URL(url, 'https://n8n.example').searchParams.get('userId') ?? 'owner-1';
		if (owner === 'owner-9') return { status: 404, json: { status: 404, error: 'There is no owner owner-9' } };
		return { status: 200, json: queuePage(owner) };
	}, '#owner=owner-1');
	// The page's api marks a workflow's { status, error } as a refusal (console/src/main.ts:131); page-dom's does not.
	const ctx = page.context as unknown as { api: (u: string, i?: unknown) => Promise<unknown> }; const api0 = ctx.api;
	ctx.api = async (u, i) => { try { return await api0(u, i); } catch (e) { throw Object.assign(e as Error, { refusal: true }); } };
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { initQueue } = require('../../console/src/queue') as { initQueue: (context: unknown, panel: unknown) => typeof tab };
	tab = initQueue(page.context, page.panel);
	tab.show();
	await page.flush();
});

afterEach(() => tab.hide());

const line = () => page.document.getElementById('queue-take-message')?.textContent as string;
const named = 'In the queue of Shop One (owner-1…), not the one shown: ';

const click = (lead: string) => page.document.querySelector(`button[data-take="${lead}"]`).dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
const ok = { status: 200, json: { lead_id: 'x', status: 'human_controlled', already_taken: false, cancelled: [], sending: [], stopped_rules: 0 } } as Answer;

test('A->B, answer at B, back to A (the take\'s own queue): the answer is kept there', async () => {
	click('lead-owner-1'); await page.flush();
	tab.follow!(new Map([['owner', 'owner-2']])); await page.flush();
	takes.shift()!.resolve({ status: 502, json: undefined }); await page.flush(); await page.runTimers();
	expect(line()).toContain('No answer to Take Lead for Ana');
	tab.follow!(new Map([['owner', 'owner-1']])); await page.flush(); await page.runTimers();
	// The words tell the operator to read Ana's row again: that row is in this queue.
	expect(line()).toContain('No answer to Take Lead for Ana');
});

test('an answered take\'s line goes when another owner is drawn, even while an earlier take of another owner is under way', async () => {
	click('lead-owner-1'); await page.flush();                                   // take Ana (owner-1), under way
	tab.follow!(new Map([['owner', 'owner-2']])); await page.flush();
	click('lead-owner-2'); await page.flush();                                   // take Bo (owner-2)
	takes[1].resolve(ok); await page.flush(); await page.runTimers();           // Bo answered, Ana still under way
	expect(line()).toBe('Bo is yours now: 0 waiting queue items cancelled.');
	tab.follow!(new Map([['owner', 'owner-3']])); await page.flush(); await page.runTimers();
	// docs/console.md: "goes when another owner is drawn after that"
	expect(line()).toBe('');
});

test('an answer said beside an unknown owner typed into the address is erased when that owner is drawn as missing', async () => {
	click('lead-owner-1'); await page.flush();
	// The operator types #owner=<an ID that is no owner> while the take is under way; the queue's poll is held
	tab.follow!(new Map([['owner', 'owner-9']]));
	takes.shift()!.resolve({ status: 502, json: undefined });
	await Promise.resolve(); await Promise.resolve(); await Promise.resolve();
	console.log('right after the answer:', JSON.stringify(line()));
	await page.flush(); await page.runTimers(); await page.flush(); await page.runTimers();
	expect(page.document.getElementById('queue-message').textContent).toContain('There is no owner');
	expect(line()).toContain('No answer to Take Lead for Ana');
});

test('A->B->A while the take is under way, then the answer: plain beside A, kept after the poll; named B->A->B', async () => {
	click('lead-owner-1'); await page.flush();
	tab.follow!(new Map([['owner', 'owner-2']])); await page.flush();
	expect(line()).toBe(`${named}Taking over Ana…`);
	tab.follow!(new Map([['owner', 'owner-1']])); await page.flush();
	expect(line()).toBe('Taking over Ana…');
	tab.follow!(new Map([['owner', 'owner-2']])); await page.flush();
	expect(line()).toBe(`${named}Taking over Ana…`);
	takes.shift()!.resolve({ status: 502, json: undefined }); await page.flush(); await page.runTimers(); await page.flush();
	expect(line()).toMatch(/^In the queue of Shop One \(owner-1…\), not the one shown: No answer to Take Lead for Ana/);
});
