// The Queue tab's Take Lead line (console/src/queue.ts, run in jsdom) when the operator picks another
// owner while a take is under way: the answer is not erased at once (by the other owner drawn, or by
// the poll the take ends with); it stays beside the owner shown when it was written, named by its
// owner ("In the queue of …, not the one shown: …"), as the export's words are; another owner drawn
// after that takes it away, its own owner's queue keeps it (reviews RF5 2, RMF5 2; docs/console.md, the Queue tab).
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
		owners: ['owner-1', 'owner-2'], ownerLabels: { 'owner-1': 'Shop One', 'owner-2': 'Shop Two' }, owner, generatedAt: `${DAY}T10:00:00.000Z`,
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
		return { status: 200, json: queuePage(owner) };
	}, '#owner=owner-1');
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { initQueue } = require('../../console/src/queue') as { initQueue: (context: unknown, panel: unknown) => typeof tab };
	tab = initQueue(page.context, page.panel);
	tab.show();
	await page.flush();
});

afterEach(() => tab.hide());

const line = () => page.document.getElementById('queue-take-message')?.textContent as string;
const named = 'In the queue of Shop One (owner-1…), not the one shown: ';

test.each([
	['refused', { status: 409, json: { status: 409, error: 'the lead is being sent a message right now; try again in a minute' } },
		'Could not take over Ana: the lead is being sent a message right now; try again in a minute'],
	['taken, a message may have reached them', { status: 200, json: { lead_id: 'lead-owner-1', status: 'human_controlled', already_taken: false, cancelled: [], sending: ['m1'], stopped_rules: 0 } },
		'Ana is yours now: 0 waiting queue items cancelled. 1 message was already being sent and may have reached them: check the queue before you call.'],
	['no answer', { status: 502, json: undefined },
		'No answer to Take Lead for Ana (the server answered 502): it may have been done. The row, read again now, shows it: press it again only if Ana is not taken over.'],
])('Take Lead answered (%s) after another owner was picked: said beside that owner\'s queue, named by its owner, until another owner is drawn', async (_name, answer, words) => {
	page.document.querySelector('button[data-take="lead-owner-1"]').dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
	await page.flush();
	expect(line()).toBe('Taking over Ana…');
	// The operator picks the other owner while the take is under way.
	tab.follow!(new Map([['owner', 'owner-2']]));
	await page.flush();
	expect(page.document.querySelector('button[data-take="lead-owner-2"]')).not.toBeNull();
	expect(line()).toBe(`${named}Taking over Ana…`);
	takes.shift()!.resolve(answer as Answer);
	await page.flush();
	await page.runTimers();
	// Before: erased at once by the poll the take ends with (the owner drawn was not the take's).
	expect(line()).toBe(`${named}${words}`);
	// Its own owner's queue drawn again: the words stay there, plain (the row they speak of is there).
	tab.follow!(new Map([['owner', 'owner-1']]));
	await page.flush();
	expect(line()).toBe(words);
	// Another owner drawn after that takes them away.
	tab.follow!(new Map([['owner', 'owner-2']]));
	await page.flush();
	expect(line()).toBe('');
});
