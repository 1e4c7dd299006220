// The console's Queue tab tells what is open and finds what the owner types, in a real browser
// (Debian's Chromium driven by playwright-core) against real n8n with this package installed from its
// tarball, the console and queue-actions workflows, and the local stack (review R7, migration
// 20261201002230). An owner whose yesterday still has open messages (queued, one failed to retry)
// and whose today is empty: the page says how many are open from which day, not "Nothing is
// queued", and shows that day, with its Take Lead; a phone typed as people write it ("07853 724011")
// finds the lead; the owner picker names the owner by their Page; each time on hover is in the
// owner's zone, named, and a done message's is when it was done; a Take Lead whose answer is lost
// says it may have been done, and the row shows it taken (these two on a second owner's today);
// #owner= edited in the address is followed in place. The browser runs in another zone than the
// owner's; nothing here reads the machine's date or time zone.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { addLeads, claim, complete, createOwner, failed, prepare, sent } from '../db/queue/fixtures';
import { testStack, withDb } from '../helpers/stack';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement { dataset: Record<string, string | undefined>; textContent: string | null; title?: string }
declare const document: {
	getElementById(id: string): (BrowserElement & { hidden: boolean }) | null;
	querySelectorAll(selector: string): ArrayLike<BrowserElement>;
};
declare const location: { hash: string };
declare const window: { probe?: string };

const ARTIFACTS = path.resolve(__dirname, 'artifacts');
const PHONE = '+447853724011';
let n8n: RunningN8n;
let browser: Browser;
let page: Page;
let owner: string;
/** A second owner, of the same zone, whose today has messages (one sent): times and Take Lead are checked on its rows. */
let second: string;
let zone: string;
let yesterday: string;
let today: string;
const pageName = `Acme Plumbing ${Date.now() % 100_000}`;

const consoleUrl = () => `${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`;

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	// The owner's zone: where the database's clock reads about noon (Etc/GMT-3 is UTC+3).
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	const offset = 12 - dbNow.getUTCHours();
	zone = offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
	owner = await createOwner({ time_zone: zone, daily_capacity: 4, send_from: '09:00', send_until: '17:00' });
	await addLeads(['Open Ada', 'Open Bo', 'Open Cy', 'Open Di'].map((name, i) => ({ user_id: owner, name, phone: i === 0 ? PHONE : `+1415555${String(Date.now() % 1000).padStart(3, '0')}${i}`, source: 'test', lead_score: 90 - i })));
	// Yesterday's queue, prepared the evening before it; yesterday at the same hour two were due:
	// one sent, one failed (its retry to come). Two never picked up. Today nothing was prepared.
	const dayBefore = new Date(dbNow.getTime() - 2 * 86_400_000).toISOString();
	const yesterdayNoon = new Date(dbNow.getTime() - 86_400_000).toISOString();
	await prepare(owner, dayBefore);
	const [first, secondDue] = await claim('w-open-e2e', owner, yesterdayNoon, 2);
	await complete('w-open-e2e', [sent(first), failed(secondDue)], yesterdayNoon);
	({ yesterday, today } = await withDb(async (db) => (await db.query<{ yesterday: string; today: string }>(
		`select to_char((now() at time zone $1)::date - 1, 'YYYY-MM-DD') as yesterday, to_char((now() at time zone $1)::date, 'YYYY-MM-DD') as today`, [zone])).rows[0]));
	await withDb((db) => db.query(`insert into public.messenger_pages (page_id, user_id, name) values ($1, $2, $3)`, [`77${Date.now()}`, owner, pageName]));
	// A second owner whose today was prepared yesterday; one of its two due by now sent.
	second = await createOwner({ time_zone: zone, daily_capacity: 3, send_from: '09:00', send_until: '17:00' });
	await addLeads(['Today Eve', 'Today Fay', 'Today Gus'].map((name, i) => ({ user_id: second, name, phone: `+1415556${String(Date.now() % 1000).padStart(3, '0')}${i}`, source: 'test', lead_score: 90 - i })));
	await prepare(second, yesterdayNoon);
	const [done] = await claim('w-open-e2e', second, dbNow.toISOString(), 1);
	await complete('w-open-e2e', [sent(done)], dbNow.toISOString());

	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json', 'workflows/queue-actions.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	// The browser in another zone than the owner's (and than UTC).
	const context = await browser.newContext({ locale: 'en-US', timezoneId: 'America/Los_Angeles', viewport: { width: 1280, height: 900 } });
	page = await context.newPage();
	mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

const dayRows = (day: string, of = owner) =>
	withDb(async (db) => (await db.query<{ id: string; lead_id: string; status: string; scheduled_for: Date; completed_at: Date | null }>(
		'select id, lead_id, status, scheduled_for, completed_at from public.whatsapp_message_queue where user_id = $1 and day = $2 order by scheduled_for, id', [of, day])).rows);

/** The second owner's today, picked in the Owner picker (the page as it opens on the first owner). */
async function showSecondOwner() {
	const rows = await dayRows(today, second);
	expect(rows.map((row) => row.status).sort()).toEqual(['queued', 'queued', 'sent']);
	// No search or status left from a test before (one that failed midway included).
	if (await page.inputValue('#queue-search') !== '') await page.fill('#queue-search', '');
	if (await page.inputValue('#queue-status') !== '') await page.selectOption('#queue-status', '');
	if (await page.inputValue('#queue-owner') !== second) await page.selectOption('#queue-owner', second);
	await page.waitForFunction((ids) => Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).map((row) => row.dataset.item).join() === ids, rows.map((row) => row.id).join());
	return rows;
}

test('an empty today says how many messages of earlier days are still open, not "Nothing is queued"; their day shows them, with Take Lead', async () => {
	const rows = await dayRows(yesterday);
	expect(rows.map((row) => row.status).sort()).toEqual(['failed', 'queued', 'queued', 'sent']);
	expect(await dayRows(today)).toEqual([]);

	await page.goto(consoleUrl());
	await page.waitForSelector('#queue-earlier:not([hidden])');
	expect(await page.textContent('#queue-earlier')).toBe(
		`3 messages from earlier days are still open (queued, sending or failed to retry: the claim still sends them): Show ${yesterday} (3)`);
	const empty = await page.textContent('#queue-rows');
	expect(empty).toContain('but 3 from earlier days are still open');
	expect(empty).not.toContain('Nothing is queued');
	expect(await page.$$eval('#queue-day option', (options) => options.map((option) => option.textContent))).toContain(`${yesterday} · 3 still open`);
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-queue-open-earlier.png'), fullPage: true });

	await page.click(`#queue-earlier button[data-day="${yesterday}"]`);
	await page.waitForFunction((n) => document.querySelectorAll('#queue-rows tr[data-item]').length === n, rows.length);
	expect(await page.inputValue('#queue-day')).toBe(yesterday);
	const failedRow = rows.find((row) => row.status === 'failed')!;
	expect(await page.locator(`tr[data-item="${failedRow.id}"] button[data-take]`).count()).toBe(1);
	expect(await page.textContent('#queue-earlier')).toContain(`${yesterday} (3, shown)`);
});

test('a phone typed as people write it finds the lead', async () => {
	for (const search of ['07853 724011', '+44 7853 724011', '07853724011']) {
		await page.fill('#queue-search', search);
		await page.waitForFunction(() => document.querySelectorAll('#queue-rows tr[data-item]').length === 1
			&& document.querySelectorAll('#queue-rows .lead-name')[0]?.textContent === 'Open Ada');
	}
	await page.fill('#queue-search', '');
	await page.waitForFunction(() => document.querySelectorAll('#queue-rows tr[data-item]').length === 4);
});

test('the owner picker names the owner by their Page, the id kept on hover', async () => {
	await page.waitForSelector('#queue-owner-box:not([hidden])');
	const option = await page.$eval(`#queue-owner option[value="${owner}"]`, (element) => ({ text: element.textContent, title: (element as unknown as { title: string }).title }));
	expect(option).toEqual({ text: `${pageName} · ${owner.slice(0, 8)}…`, title: owner });
});

test('times on hover are in the owner\'s zone, named; a done message shows when it was done', async () => {
	const rows = await showSecondOwner();
	const inZone = (at: Date) => `${at.toLocaleString('en-US', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' })} ${zone}`;
	const cell = (id: string) => page.$eval(`tr[data-item="${id}"] td[data-label="Due"] time`, (time) => ({ text: time.textContent, title: (time as unknown as { title: string }).title, at: (time as unknown as { dateTime: string }).dateTime }));
	const done = rows.find((row) => row.status === 'sent')!;
	const shown = await cell(done.id);
	expect(shown.text).toMatch(/^done /);
	expect(shown.title).toBe(`done ${inZone(done.completed_at!)}`);
	expect(Date.parse(shown.at)).toBe(done.completed_at!.getTime());
	const waiting = rows.find((row) => row.status === 'queued')!;
	expect((await cell(waiting.id)).title).toBe(`due ${inZone(waiting.scheduled_for)}`);
});

test('Take Lead whose answer is lost says it may have been done, and the row shows the lead taken', async () => {
	const queued = (await showSecondOwner()).find((row) => row.status === 'queued')!;
	let answered = 0;
	await page.route('**/webhook/leadflow/leads/*/take', async (route) => {
		const response = await route.fetch();
		answered = response.status();
		await route.abort('connectionreset');
	});
	await page.click(`tr[data-lead="${queued.lead_id}"] button[data-take]`);
	await page.waitForFunction(() => /^No answer/.test(document.getElementById('queue-take-message')?.textContent ?? ''));
	expect(answered).toBe(200);
	const message = await page.textContent('#queue-take-message');
	expect(message).toMatch(/^No answer to Take Lead for Today (Fay|Gus) \(.+\): it may have been done\. The row, read again now, shows it/);
	expect(message).not.toMatch(/Could not/);
	await page.waitForSelector(`tr[data-lead="${queued.lead_id}"][data-lead-status="human_controlled"]`);
	expect((await withDb((db) => db.query<{ status: string }>('select status from public.leads where id = $1', [queued.lead_id]))).rows[0].status).toBe('human_controlled');
	await page.unrouteAll({ behavior: 'wait' });
});

test('#owner= edited in the address while the page is open is followed in place: that owner\'s queue, without a reload', async () => {
	await page.goto(consoleUrl());
	await page.waitForSelector('#queue-earlier:not([hidden])');
	await page.evaluate(() => { window.probe = 'kept'; });
	const rows = await dayRows(today, second);
	await page.evaluate((id) => { location.hash = `tab=queue&owner=${id}`; }, second);
	await page.waitForFunction((ids) => Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).map((row) => row.dataset.item).join() === ids, rows.map((row) => row.id).join(), { timeout: 15_000 });
	expect(await page.inputValue('#queue-owner')).toBe(second);
	// The same page (no reload: the key stays in memory only).
	expect(await page.evaluate(() => window.probe)).toBe('kept');
	// From another tab, #owner= alone shows the Queue tab with that owner's queue.
	await page.click('#tab-followups');
	await page.evaluate((id) => { location.hash = `owner=${id}`; }, owner);
	await page.waitForSelector('#panel-queue:not([hidden]) #queue-earlier:not([hidden])', { timeout: 15_000 });
	expect(await page.inputValue('#queue-owner')).toBe(owner);
	expect(await page.evaluate(() => window.probe)).toBe('kept');
});
