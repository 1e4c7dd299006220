// The Queue tab's lines (console/src/queue.ts, run in jsdom): Take Lead speaks on a line of its own
// (#queue-take-message, its own live region, like the export's), so its words and the message line's
// ("Owner … has no queue settings …") never erase each other; its words go when another owner is
// drawn; and an empty line (the Take Lead's, the export's, the message line) takes no space
// (console/src/queue.css; review RM2 / M2; docs/console.md, the Queue tab).
import { noQueueSettingsInWords } from '../../console/src/queue-words';
import { deferred, pageDom, type PageDom } from './page-dom';

type Answer = { status: number; json: unknown };
const DAY = '2026-12-06';

function queuePage(owner: string, settings: boolean) {
	const row = {
		item_id: `i-${owner}`, lead_id: `lead-${owner}`, name: 'Ana', phone: '+447700900123', lead_status: 'queued', lead_score: 50, status: 'queued',
		attempts: 0, scheduled_for: `${DAY}T15:00:00.000Z`, completed_at: null, message_id: null, last_error: null, taken_over_at: null, taken_over_by: null,
		conversation_id: null, follow_ups_stopped: false, last_event: null,
	};
	return {
		owners: ['owner-2'], ownerLabels: { 'owner-2': 'Shop' }, owner, generatedAt: `${DAY}T10:00:00.000Z`,
		settings: settings ? { time_zone: 'UTC', daily_capacity: 10, send_from: '09:00:00', send_until: '17:00:00', max_attempts: 3 } : null,
		timeZone: 'UTC', today: DAY, day: DAY, counts: { total: 1, queued: 1 }, earlierOpen: { total: 0, days: [] },
		rows: { total: 1, offset: 0, limit: 25, rows: [row] },
	};
}

let page: PageDom;
let takes: Array<ReturnType<typeof deferred<Answer>>>;
let tab: { show(): void; hide(): void; follow?(fragment: Map<string, string>): void };

beforeEach(async () => {
	takes = [];
	// The address's owner: one whose settings were removed after a message was queued.
	page = pageDom(async (url) => {
		if (url.includes('/take')) {
			const take = deferred<Answer>();
			takes.push(take);
			return take.promise;
		}
		if (url.includes('/queue/metrics')) return { status: 200, json: { days: [] } };
		const owner = new URL(url, 'https://n8n.example').searchParams.get('userId') ?? 'owner-2';
		return { status: 200, json: queuePage(owner, owner === 'owner-2') };
	}, '#owner=owner-1');
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { initQueue } = require('../../console/src/queue') as { initQueue: (context: unknown, panel: unknown) => typeof tab };
	tab = initQueue(page.context, page.panel);
	tab.show();
	await page.flush();
});

afterEach(() => tab.hide());

const text = (id: string) => page.document.getElementById(id)?.textContent as string | undefined;

test('Take Lead speaks on its own line: the "no queue settings" words stay, and Take Lead\'s are not erased by them', async () => {
	const noSettings = noQueueSettingsInWords('owner-1', 1, 1);
	expect(text('queue-message')).toBe(noSettings);
	page.document.querySelector('button[data-take="lead-owner-1"]').dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
	await page.flush();
	// Before: one line, "Taking over Ana…" in place of the owner's words (no #queue-take-message).
	expect(text('queue-take-message')).toBe('Taking over Ana…');
	expect(text('queue-message')).toBe(noSettings);
	const line = page.document.getElementById('queue-take-message');
	expect([line.getAttribute('role'), line.getAttribute('aria-live')]).toEqual(['status', 'polite']);
	takes.shift()!.resolve({ status: 200, json: { lead_id: 'lead-owner-1', status: 'human_controlled', already_taken: false, cancelled: [{ queue: 'whatsapp_message_queue' }], stopped_rules: 0 } });
	await page.flush();
	await page.runTimers();
	expect(text('queue-take-message')).toBe('Ana is yours now: 1 waiting queue item cancelled.');
	expect(text('queue-message')).toBe(noSettings);
	// Another owner drawn: Take Lead's words (a lead of owner-1's queue) and the owner's go.
	tab.follow!(new Map([['owner', 'owner-2']]));
	await page.flush();
	expect(page.document.querySelector('button[data-take="lead-owner-2"]')).not.toBeNull();
	expect(text('queue-take-message')).toBe('');
	expect(text('queue-message')).toBe('');
});

test('an empty message line takes no space: no height and no margin (the Take Lead\'s, the export\'s, the message line)', async () => {
	page.addStyles('console.css', 'queue.css');
	tab.follow!(new Map([['owner', 'owner-2']]));
	await page.flush();
	for (const id of ['queue-message', 'queue-take-message', 'queue-export-message']) {
		const line = page.document.getElementById(id);
		// Before: the export's empty line kept its .25rem margins (and there was no Take Lead line).
		expect(line).not.toBeNull();
		expect(line.textContent).toBe('');
		const style = page.window.getComputedStyle(line);
		// jsdom gives the declared value ('0' or '0px'), not a used one.
		const zero = (value: string) => value.replace(/px$/, '');
		expect([id, zero(style.marginTop), zero(style.marginBottom), zero(style.minHeight)]).toEqual([id, '0', '0', '0']);
	}
	// A line with words keeps its spacing.
	page.document.getElementById('queue-export-message').textContent = 'Exporting…';
	expect(page.window.getComputedStyle(page.document.getElementById('queue-export-message')).marginTop).not.toMatch(/^0(px)?$/);
});
