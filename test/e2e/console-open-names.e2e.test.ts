// The console as an owner opens and reads it (review K), in a real browser (Debian's Chromium driven
// by playwright-core) against real n8n with this package installed from its tarball, the console and
// queue-actions workflows, and the local stack:
// - a link with #owner= opens on the Queue tab, one with #pipeline= on the Pipeline tab (the rule a
//   fragment typed into the open page follows too);
// - an owner with no queue settings is told so (nothing is ever queued) with the owners that have a
//   queue offered, never a day that will fill; one whose settings were removed after queuing is told
//   the messages queued stay; said once per owner, so a later message (Take Lead's) stays;
// - another owner shown: the Metrics block is cleared at once, never the previous owner's numbers;
// - a metrics webhook that does not answer leaves the Queue tab polling and Live;
// - Take Lead counts the messages it cancelled, not the lead's backlog item;
// - a contact whose name is blank (a zero-width space) is shown by its Messenger id on the Follow-ups tab.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { createWorld } from '../db/follow-up/fixtures';
import { addLeads, createOwner, prepare } from '../db/queue/fixtures';
import { testStack, withDb } from '../helpers/stack';
import { until } from '../helpers/until';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement { textContent: string | null; hidden?: boolean }
declare const document: { getElementById(id: string): BrowserElement | null; querySelector(selector: string): BrowserElement | null };

let n8n: RunningN8n;
let browser: Browser;
let context: BrowserContext;
/** An owner whose today was prepared (three leads queued). */
let owner: string;
const pageErrors: string[] = [];

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	owner = await createOwner({ time_zone: 'UTC', daily_capacity: 3, send_from: '00:00', send_until: '23:59' });
	const stamp = String(Date.now() % 1000).padStart(3, '0');
	await addLeads(['Kay One', 'Kay Two', 'Kay Three'].map((name, i) => ({ user_id: owner, name, phone: `+1415557${stamp}${i}`, source: 'test', lead_score: 90 - i })));
	// Today's queue, prepared yesterday.
	await prepare(owner, new Date(dbNow.getTime() - 86_400_000).toISOString());
	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json', 'workflows/queue-actions.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

async function open(fragment: string, before?: (page: Page) => Promise<void>): Promise<Page> {
	const page = await context.newPage();
	page.on('pageerror', (error) => pageErrors.push(error.message));
	if (before) await before(page);
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}${fragment}`);
	return page;
}

const shownTab = (page: Page) => page.locator('[role=tab][aria-selected=true]').getAttribute('id');

test('a link with #owner= opens on the Queue tab, one with #pipeline= on the Pipeline tab, as when typed into the open page', async () => {
	const queue = await open(`&owner=${owner}`);
	await queue.waitForSelector('#panel-queue:not([hidden])');
	expect(await shownTab(queue)).toBe('tab-queue');
	await queue.waitForSelector('#queue-rows tr[data-item]');
	await queue.close();

	const pipeline = await open('&pipeline=00000000-0000-4000-8000-00000000f7f7');
	await pipeline.waitForSelector('#panel-pipeline:not([hidden])');
	expect(await shownTab(pipeline)).toBe('tab-pipeline');
	// Typed into the open page: the same tab.
	await pipeline.evaluate((id) => { (globalThis as unknown as { location: { hash: string } }).location.hash = `owner=${id}`; }, owner);
	await pipeline.waitForSelector('#panel-queue:not([hidden])');
	expect(await shownTab(pipeline)).toBe('tab-queue');
	await pipeline.close();
});

test('an owner with no queue settings is told nothing is ever queued, and what to do, with the owners that have a queue offered', async () => {
	const bare = await createOwner(null);
	const page = await open(`&tab=queue&owner=${bare}`);
	await page.waitForFunction(() => /has no queue settings/.test(document.getElementById('queue-message')?.textContent ?? ''), null, { timeout: 20_000 });
	const said = await page.textContent('#queue-message');
	expect(said).toMatch(new RegExp(`^Owner ${bare} has no queue settings, so nothing is ever queued for them: Queue: prepare fills a day only for an owner with a row in user_queue_settings \\(daily capacity, sending hours, the message\\)\\. Give them one to start their queue\\. The (\\d+ owners with a queue are|owner with a queue is) in the Owner list\\.$`));
	expect(await page.textContent('#queue-day-info')).toMatch(/no queue settings: nothing is queued$/);
	const panel = await page.textContent('#panel-queue');
	expect(panel).not.toMatch(/The evening before, Queue: prepare fills each day/);
	// The owners with a queue offered, none picked; picking one shows theirs and the words go.
	expect(await page.inputValue('#queue-owner')).toBe('');
	await page.selectOption('#queue-owner', owner);
	await page.waitForSelector('#queue-rows tr[data-item]');
	await page.waitForFunction(() => !/has no queue settings/.test(document.getElementById('queue-message')?.textContent ?? ''));
	await page.close();
});

test('an owner whose queue settings were removed after queuing: messages said to stay queued, said once, so Take Lead\'s words stay', async () => {
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	const gone = await createOwner({ time_zone: 'UTC', daily_capacity: 2, send_from: '00:00', send_until: '23:59' });
	const stamp = String(Date.now() % 1000).padStart(3, '0');
	await addLeads(['Lee One', 'Lee Two'].map((name, i) => ({ user_id: gone, name, phone: `+1415558${stamp}${i}`, source: 'test', lead_score: 80 - i })));
	await prepare(gone, new Date(dbNow.getTime() - 86_400_000).toISOString());
	await withDb((db) => db.query('delete from public.user_queue_settings where user_id = $1', [gone]));
	let queuePolls = 0;
	const page = await open(`&tab=queue&owner=${gone}`, async (tab) => {
		tab.on('request', (request) => { if (/\/console\/api\/queue\?/.test(request.url())) queuePolls += 1; });
	});
	await page.waitForFunction(() => /has no queue settings/.test(document.getElementById('queue-message')?.textContent ?? ''), null, { timeout: 20_000 });
	const said = await page.textContent('#queue-message');
	expect(said).toMatch(new RegExp(`^Owner ${gone} has no queue settings any more: the 2 messages in this day's queue stay there, but Queue: prepare queues nothing new for them: `));
	expect(said).not.toMatch(/nothing is ever queued/);
	expect(await page.textContent('#queue-day-info')).toMatch(/no queue settings: nothing new is queued$/);
	await page.locator('#queue-rows tr[data-item]', { hasText: 'Lee Two' }).locator('button.take').click();
	await page.waitForFunction(() => /is yours now/.test(document.getElementById('queue-take-message')?.textContent ?? ''), null, { timeout: 30_000 });
	// Polls go on: the owner's words are not said again over Take Lead's.
	const before = queuePolls;
	expect(await until(() => queuePolls >= before + 3, 30_000)).toBe(true);
	expect(await page.textContent('#queue-take-message')).toMatch(/^Lee Two is yours now/);
	// Take Lead speaks on its own line: the owner's words stay on theirs.
	expect(await page.textContent('#queue-message')).toBe(said);
	await page.close();
});

test('another owner shown: the Metrics block never shows the previous owner\'s numbers, whatever their call does', async () => {
	const bare = await createOwner(null);
	let hold = false;
	let release: () => void = () => undefined;
	const held = new Promise<void>((resolve) => { release = resolve; });
	const page = await open(`&tab=queue&owner=${owner}`, async (tab) => {
		await tab.route('**/queue/metrics*', async (route) => {
			if (hold) await held;
			await route.continue().catch(() => undefined);
		});
	});
	try {
		await page.waitForSelector('#queue-metrics [data-metric="queued"]');
		expect(Number(await page.getAttribute('#queue-metrics [data-metric="queued"] dd', 'data-value'))).toBeGreaterThan(0);
		hold = true;
		await page.evaluate((id) => { (globalThis as unknown as { location: { hash: string } }).location.hash = `owner=${id}`; }, bare);
		await page.waitForFunction(() => /no queue settings/.test(document.getElementById('queue-day-info')?.textContent ?? ''), null, { timeout: 20_000 });
		// B drawn, its metrics (and any of A's) held: none of A's numbers.
		expect(await page.locator('#queue-metrics [data-metric]').count()).toBe(0);
		expect(await page.textContent('#queue-metrics')).toBe('Loading the metrics…');
	} finally {
		release();
	}
	await page.waitForFunction(() => document.querySelector('#queue-metrics [data-metric="queued"] dd')?.textContent === '0', null, { timeout: 30_000 });
	await page.close();
});

test('a metrics webhook that does not answer leaves the Queue tab polling and Live', async () => {
	let release: () => void = () => undefined;
	const held = new Promise<void>((resolve) => { release = resolve; });
	let metricsAsked = 0;
	let queuePolls = 0;
	const page = await open(`&tab=queue&owner=${owner}`, async (tab) => {
		await tab.route('**/queue/metrics*', async (route) => {
			metricsAsked += 1;
			await held;
			await route.continue().catch(() => undefined);
		});
		tab.on('request', (request) => { if (/\/console\/api\/queue\?/.test(request.url())) queuePolls += 1; });
	});
	try {
		await page.waitForSelector('#queue-rows tr[data-item]');
		expect(await until(() => metricsAsked === 1, 20_000)).toBe(true);
		const before = queuePolls;
		// The queue's polls go on (every 2 s) while the metrics call is held.
		expect(await until(() => queuePolls >= before + 3, 30_000)).toBe(true);
		expect(await page.textContent('#queue-live .live-text')).toBe('Live');
		// One metrics call at a time: the polls meanwhile asked for none.
		expect(metricsAsked).toBe(1);
	} finally {
		release();
	}
	await page.close();
});

test('Take Lead counts the waiting messages it cancelled, not the lead\'s backlog item', async () => {
	const page = await open(`&tab=queue&owner=${owner}`);
	const row = page.locator('#queue-rows tr[data-item]', { hasText: 'Kay Two' });
	await row.locator('button.take').click();
	await page.waitForFunction(() => /is yours now/.test(document.getElementById('queue-take-message')?.textContent ?? ''), null, { timeout: 30_000 });
	expect(await page.textContent('#queue-take-message')).toMatch(/^Kay Two is yours now: 1 waiting queue item cancelled/);
	const ledger = await withDb(async (db) => (await db.query<{ queue: string }>(
		`select g.queue from public.queue_ledger g join public.leads l on l.id = g.lead_id
		  where l.user_id = $1 and l.name = 'Kay Two' and g.to_status = 'cancelled' order by g.queue`, [owner])).rows);
	// The database cancelled the message and (when it had one) the backlog item: the page counts the message.
	expect(ledger.filter((entry) => entry.queue === 'whatsapp_message_queue')).toHaveLength(1);
	await page.close();
});

test('a contact whose name is blank (a zero-width space) is shown by its Messenger id', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Blank names' });
	const conversationId = await world.contact({ name: '\u200B' });
	const { sender_id: senderId } = await withDb(async (db) => (await db.query<{ sender_id: string }>('select sender_id from public.messenger_conversations where id = $1', [conversationId])).rows[0]);
	const page = await open(`&rule=${ruleId}`);
	const button = page.locator(`[data-timeline="${conversationId}"]`).first();
	await button.waitFor({ timeout: 20_000 });
	expect((await button.textContent())?.trim()).toBe(senderId);
	expect(pageErrors).toEqual([]);
	await page.close();
});
