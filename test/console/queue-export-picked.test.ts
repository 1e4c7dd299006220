// The Queue tab's export across an owner picked and not drawn yet (console/src/queue.ts, run in jsdom):
// Export waits for the picked owner's queue (pressed before, it exported the queue still shown, the
// owner picked before, and its failure was worded as that other owner's), and an export under way stays
// plain "Exporting…" while its own queue is still the one shown (docs/console.md, the Queue tab).
import { deferred, pageDom, type PageDom } from './page-dom';

const DAY = '2026-12-06';
function queuePage(owner: string) {
	const row = {
		item_id: `i-${owner}`, lead_id: `lead-${owner}`, name: 'Ana', phone: '+447700900123', lead_status: 'queued', lead_score: 50,
		status: 'queued', attempts: 0, scheduled_for: `${DAY}T15:00:00.000Z`, completed_at: null, message_id: null, last_error: null, taken_over_at: null,
		taken_over_by: null, conversation_id: null, follow_ups_stopped: false, last_event: null,
	};
	return {
		owners: ['owner-1', 'owner-2'], ownerLabels: { 'owner-1': 'Shop One', 'owner-2': 'Shop Two' }, owner, generatedAt: `${DAY}T10:00:00.000Z`,
		settings: { time_zone: 'UTC', daily_capacity: 10, send_from: '09:00:00', send_until: '17:00:00', max_attempts: 3 },
		timeZone: 'UTC', today: DAY, day: DAY, counts: { total: 1, queued: 1 }, earlierOpen: { total: 0, days: [] },
		rows: { total: 1, offset: 0, limit: 25, rows: [row] },
	};
}
let page: PageDom;
let tab: { show(): void; hide(): void };
let hold: ReturnType<typeof deferred<void>> | undefined;
const realFetch = globalThis.fetch;
let calls: Array<{ owner: string; answer: ReturnType<typeof deferred<Response>> }>;
beforeEach(async () => {
	calls = [];
	page = pageDom(async (url) => {
		if (url.includes('/queue/metrics')) return { status: 200, json: { days: [] } };
		const owner = new URL(url, 'https://n8n.example').searchParams.get('userId') ?? 'owner-1';
		if (hold) await hold.promise;
		return { status: 200, json: queuePage(owner) };
	});
	(globalThis as unknown as { fetch: unknown }).fetch = (_url: string, init: { headers: Record<string, string> }) => {
		const answer = deferred<Response>();
		calls.push({ owner: init.headers['X-Leadflow-Owner'], answer });
		return answer.promise;
	};
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { initQueue } = require('../../console/src/queue') as { initQueue: (context: unknown, panel: unknown) => typeof tab };
	tab = initQueue(page.context, page.panel);
	tab.show();
	await page.flush();
});
afterEach(() => { tab.hide(); globalThis.fetch = realFetch; });
const line = () => page.document.getElementById('queue-export-message').textContent;
const pick = (owner: string) => { const s = page.document.getElementById('queue-owner'); s.value = owner; s.dispatchEvent(new page.window.Event('change')); };
const fail = () => ({ ok: false, status: 500, json: async () => ({ status: 500, error: 'The database could not be reached' }) }) as unknown as Response;

const exportButton = () => page.document.getElementById('queue-export');
const shownRow = () => page.document.querySelector('#queue-rows tr[data-item]').dataset.item as string;

test('another owner picked, their queue not drawn yet: Export waits for it, then exports theirs and says its failure plainly', async () => {
	expect(shownRow()).toBe('i-owner-1');
	hold = deferred<void>();
	pick('owner-2'); await page.flush();
	// Shop One's queue still shown, Shop Two picked: Export is disabled and a press starts nothing.
	expect(shownRow()).toBe('i-owner-1');
	expect(exportButton().disabled).toBe(true);
	exportButton().click(); await page.flush();
	// Before: the press exported Shop One's queue ("Exporting…", X-Leadflow-Owner owner-1), and its failure
	// said "The export of Shop One (owner-1…)'s queue failed" beside Shop Two's queue picked for it.
	expect(calls).toEqual([]);
	expect(line()).toBe('');
	hold.resolve(); hold = undefined; await page.flush();
	expect(shownRow()).toBe('i-owner-2');
	expect(exportButton().disabled).toBe(false);
	exportButton().click(); await page.flush();
	expect(calls.map(({ owner }) => owner)).toEqual(['owner-2']);
	calls[0].answer.resolve(fail()); await page.flush();
	expect(line()).toBe('Export failed: The database could not be reached');
	expect(page.document.getElementById('queue-export-dismiss').hidden).toBe(false);
});

test('an export under way, another owner picked: plain "Exporting…" while its own queue is still shown, named once the other is drawn', async () => {
	exportButton().click(); await page.flush();
	expect(line()).toBe('Exporting…');
	hold = deferred<void>();
	pick('owner-2'); await page.flush();
	// Before: "Exporting the queue of Shop One (owner-1…), not the one shown…" beside Shop One's own queue.
	expect(shownRow()).toBe('i-owner-1');
	expect(line()).toBe('Exporting…');
	hold.resolve(); hold = undefined; await page.flush();
	expect(shownRow()).toBe('i-owner-2');
	expect(line()).toBe('Exporting the queue of Shop One (owner-1…), not the one shown…');
	calls[0].answer.resolve(fail()); await page.flush();
	expect(line()).toBe('The export of Shop One (owner-1…)\'s queue failed: The database could not be reached');
	expect(exportButton().disabled).toBe(false);
});

test('an export that ends while the owner picked is not drawn yet leaves Export disabled until their queue is', async () => {
	exportButton().click(); await page.flush();
	hold = deferred<void>();
	pick('owner-2'); await page.flush();
	calls[0].answer.resolve(fail()); await page.flush();
	// Its ending names its owner (the queue it exported is no longer the one asked for).
	expect(line()).toBe('The export of Shop One (owner-1…)\'s queue failed: The database could not be reached');
	expect(exportButton().disabled).toBe(true);
	hold.resolve(); hold = undefined; await page.flush();
	expect(exportButton().disabled).toBe(false);
	expect(line()).toBe('The export of Shop One (owner-1…)\'s queue failed: The database could not be reached');
});

test('an export whose own owner is picked again and fails before their queue is drawn is said as theirs: plainly, with its Dismiss', async () => {
	exportButton().click(); await page.flush();
	pick('owner-2'); await page.flush();
	expect(shownRow()).toBe('i-owner-2');
	expect(line()).toBe('Exporting the queue of Shop One (owner-1…), not the one shown…');
	hold = deferred<void>();
	pick('owner-1'); await page.flush();
	expect(line()).toBe('Exporting…');
	calls[0].answer.resolve(fail()); await page.flush();
	// Before: "The export of Shop One (owner-1…)'s queue failed: …", no Dismiss, kept so beside Shop One's own queue.
	expect(line()).toBe('Export failed: The database could not be reached');
	expect(page.document.getElementById('queue-export-dismiss').hidden).toBe(false);
	hold.resolve(); hold = undefined; await page.flush();
	expect(shownRow()).toBe('i-owner-1');
	expect(line()).toBe('Export failed: The database could not be reached');
	expect(page.document.getElementById('queue-export-dismiss').hidden).toBe(false);
	expect(exportButton().disabled).toBe(false);
});
