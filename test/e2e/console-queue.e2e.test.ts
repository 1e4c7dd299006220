// The console's Queue tab in a real browser (Debian's Chromium driven by playwright-core) against
// real n8n with this package installed from its tarball, the console and queue-actions workflows,
// and the local stack. Every count and row on the page is the database's; Take Lead (by mouse and by
// keyboard) takes the lead in the database, the page shows it taken, and a take of a lead someone
// took meanwhile shows the refusal's message; a lead nobody may message has no Take Lead, its row says why (with a conversation, Stop follow-ups, its status kept); Export CSV downloads what the export webhook answers;
// the metrics are the metrics webhook's; 375 px without sideways scrolling; no console error and no
// failed request; without the key, 403 and no data; a refused call answers what to do (`hint`); an owner ID of no
// owner in the address says so, with no other owner's queue in its place. Screenshots go to test/e2e/artifacts/.
//
// n8n judges at the database's own clock (now()), so the owner's time zone is chosen for that clock:
// the one where it is about noon, inside the sending hours (09:00–17:00), so some messages are due
// and claimed. The queue day is the database's, asked from the database; nothing here reads the
// machine's date or time zone.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { addLeads, claim, complete, createOwner, failed, leadItems, prepare, sent } from '../db/queue/fixtures';
import { testStack, withDb } from '../helpers/stack';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement {
	dataset: Record<string, string | undefined>;
	textContent: string | null;
	querySelectorAll(selector: string): ArrayLike<BrowserElement>;
}
declare const document: {
	getElementById(id: string): BrowserElement | null;
	querySelectorAll(selector: string): ArrayLike<BrowserElement>;
	documentElement: { scrollWidth: number };
	activeElement: BrowserElement | null;
};

const ARTIFACTS = path.resolve(__dirname, 'artifacts');
const LEADS = 8;
let n8n: RunningN8n;
let browser: Browser;
let page: Page;
let owner: string;
let zone: string;
let day: string;
const problems: string[] = [];

const ownerHeaders = () => ({ [WEBHOOK_KEY.name]: WEBHOOK_KEY.value, 'X-Leadflow-Owner': owner });
const consoleUrl = (key = WEBHOOK_KEY.value) => `${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(key)}&tab=queue&owner=${owner}`;

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	// The zone where the database's clock reads about noon (Etc/GMT-3 is UTC+3).
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	const offset = 12 - dbNow.getUTCHours();
	zone = offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
	owner = await createOwner({ time_zone: zone, daily_capacity: LEADS, send_from: '09:00', send_until: '17:00' });
	await addLeads(leadItems(owner, LEADS, (i) => 90 - i).map((lead, i) => ({ ...lead, name: `Queue Person ${i}` })));
	// Prepared the day before (as the evening's Queue: prepare does): the queue of the database's today.
	await prepare(owner, new Date(dbNow.getTime() - 86_400_000).toISOString());
	day = await withDb(async (db) => (await db.query<{ day: string }>(`select to_char((now() at time zone $1)::date, 'YYYY-MM-DD') as day`, [zone])).rows[0].day);
	// At the database's clock three are due (09:00, 10:00, 11:00 local): one sent, one failed, one being sent.
	const [first, second] = await claim('w-console-e2e', owner, dbNow.toISOString(), 3);
	await complete('w-console-e2e', [sent(first), failed(second)], dbNow.toISOString());

	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json', 'workflows/queue-actions.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
	page = await context.newPage();
	page.on('console', (message) => {
		if (message.type() === 'error') problems.push(`console: ${message.text()}`);
	});
	page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
	page.on('requestfailed', (request) => problems.push(`failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`));
	page.on('response', (response) => {
		if (response.status() >= 400) problems.push(`answer ${response.status()}: ${response.url()}`);
	});
	mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

interface MessageRow { id: string; lead_id: string; status: string; lead_status: string }
const dayRows = () =>
	withDb(async (db) => (await db.query<MessageRow>(
		`select q.id, q.lead_id, q.status, l.status as lead_status from public.whatsapp_message_queue q join public.leads l on l.id = q.lead_id
		  where q.user_id = $1 and q.day = $2 order by q.scheduled_for, q.id`, [owner, day])).rows);

/** What the page shows: its counts, its rows, its metrics. */
const shown = () =>
	page.evaluate(() => {
		const values = (selector: string, key: string) =>
			Object.fromEntries(Array.from(document.querySelectorAll(selector)).map((element) => [element.dataset[key] ?? '', Number(element.querySelectorAll('[data-value]')[0]?.dataset.value)]));
		return {
			counts: values('#queue-counts [data-count]', 'count'),
			metrics: values('#queue-metrics [data-metric]', 'metric'),
			rows: Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).map((row) => ({
				id: row.dataset.item, lead_id: row.dataset.lead, status: row.dataset.status, lead_status: row.dataset.leadStatus,
			})),
		};
	});

/** Waits until the page shows what the database holds now (the page polls every 2 s). */
async function settled() {
	const until = Date.now() + 15_000;
	for (;;) {
		const rows = await dayRows();
		const view = await shown();
		const counts: Record<string, number> = { total: rows.length };
		for (const status of ['queued', 'claimed', 'sent', 'failed', 'cancelled', 'dead']) counts[status] = rows.filter((row) => row.status === status).length;
		if (JSON.stringify(view.rows) === JSON.stringify(rows) && JSON.stringify(view.counts) === JSON.stringify(counts)) return { rows, counts, view };
		if (Date.now() > until) {
			expect(view).toEqual({ counts, rows, metrics: expect.anything() });
		}
		await page.waitForTimeout(250);
	}
}

async function metricsOfWebhook() {
	const answer = await n8n.callWebhook('leadflow/queue/metrics', { headers: ownerHeaders(), query: { from: day, to: day } });
	expect(answer.statusCode).toBe(200);
	return (answer.body as { days: Array<Record<string, number>> }).days[0];
}

test('every count and row on the page is the database\'s; the metrics are the metrics webhook\'s', async () => {
	await page.goto(consoleUrl());
	await page.waitForSelector('#queue-counts [data-count="total"]');
	const { rows, counts, view } = await settled();
	expect(counts).toMatchObject({ total: LEADS, sent: 1, failed: 1, claimed: 1, queued: LEADS - 3 });
	expect(rows).toHaveLength(LEADS);
	expect(await page.textContent('#queue-day-info')).toContain(zone);
	const metrics = await metricsOfWebhook();
	// The block says "Loading the metrics…" until their answer: the numbers drawn.
	await page.waitForSelector('#queue-metrics [data-metric]');
	const { metrics: shownMetrics } = await shown();
	expect(shownMetrics).toMatchObject({ queued: metrics.queued, sent: metrics.sent, failed: metrics.failed, cancelled: metrics.cancelled, taken_over: metrics.taken_over });
	expect(metrics).toMatchObject({ queued: LEADS, sent: 1, failed: 1 });
	expect(view.rows.map((row) => row.status)).toEqual(rows.map((row) => row.status));
	expect(await page.locator('#queue-rows tr[data-status="failed"] .error').textContent()).toBe('131000: Something went wrong');
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-queue.png'), fullPage: true });

	// Two refreshes keep the same row elements and the focused button (nothing rewritten that did not change).
	await page.evaluate(() => { for (const row of Array.from(document.querySelectorAll('#queue-rows tr[data-item]'))) (row as unknown as { kept: boolean }).kept = true; });
	const focused = `take-${rows[rows.length - 1].lead_id}`;
	await page.locator(`[data-key="${focused}"]`).focus();
	let polls = 0;
	const pollUrls: string[] = [];
	const countPoll = (request: { url(): string }) => {
		if (!/\/console\/api\/queue\?/.test(request.url())) return;
		polls += 1;
		pollUrls.push(request.url());
	};
	page.on('requestfinished', countPoll);
	while (polls < 2) await page.waitForTimeout(250);
	page.off('requestfinished', countPoll);
	await page.waitForTimeout(300);
	expect(await page.evaluate(() => Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).every((row) => (row as unknown as { kept?: boolean }).kept === true))).toBe(true);
	expect(await page.evaluate(() => document.activeElement?.dataset.key)).toBe(focused);
	// Between two refreshes of the owner picker (every 30 s) a poll leaves the owners list out.
	expect(pollUrls.every((url) => new URL(url).searchParams.get('owners') === '0')).toBe(true);

	// The filter and the search ask the endpoint; the page shows only what matches.
	await page.selectOption('#queue-status', 'sent');
	await page.waitForFunction(() => Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).every((row) => row.dataset.status === 'sent')
		&& document.querySelectorAll('#queue-rows tr[data-item]').length === 1);
	await page.selectOption('#queue-status', '');
	await page.waitForFunction((n) => document.querySelectorAll('#queue-rows tr[data-item]').length === n, LEADS);
	await page.fill('#queue-search', 'Queue Person 3');
	await page.waitForFunction(() => document.querySelectorAll('#queue-rows tr[data-item]').length === 1
		&& document.querySelectorAll('#queue-rows .lead-name')[0]?.textContent === 'Queue Person 3');
	await page.fill('#queue-search', '');
	await page.waitForFunction((n) => document.querySelectorAll('#queue-rows tr[data-item]').length === n, LEADS);
	expect(problems).toEqual([]);
});

test('Take Lead by mouse and by keyboard takes the lead in the database; a lead taken meanwhile shows the refusal', async () => {
	const queued = (await dayRows()).filter((row) => row.status === 'queued');
	const [byMouse, byKeyboard, meanwhile] = queued;

	await page.locator(`tr[data-lead="${byMouse.lead_id}"] button[data-take]`).click();
	await page.waitForSelector(`tr[data-lead="${byMouse.lead_id}"][data-lead-status="human_controlled"]`);
	// Its one waiting message (the backlog item the database cancels too is not a queue item the page shows).
	expect(await page.textContent('#queue-take-message')).toMatch(/is yours now: 1 waiting queue item cancelled/);

	await page.locator(`tr[data-lead="${byKeyboard.lead_id}"] button[data-take]`).focus();
	await page.keyboard.press('Enter');
	await page.waitForSelector(`tr[data-lead="${byKeyboard.lead_id}"][data-lead-status="human_controlled"]`);
	// The focus stays on the row's take-over cell, where the button was.
	expect(await page.evaluate(() => document.activeElement?.dataset.key)).toBe(`take-${byKeyboard.lead_id}`);

	const taken = await withDb(async (db) => (await db.query<{ id: string; status: string; taken_over_at: Date | null }>(
		'select id, status, taken_over_at from public.leads where id = any ($1) order by id', [[byMouse.lead_id, byKeyboard.lead_id]])).rows);
	expect(taken.map((lead) => lead.status)).toEqual(['human_controlled', 'human_controlled']);
	expect(taken.every((lead) => lead.taken_over_at !== null)).toBe(true);
	const ledger = await withDb(async (db) => (await db.query<{ lead_id: string; queue: string; to_status: string; actor: string; detail: { note?: string } }>(
		`select lead_id, queue, to_status, actor, detail from public.queue_ledger where lead_id = any ($1) and reason = 'human_takeover' order by id`,
		[[byMouse.lead_id, byKeyboard.lead_id]])).rows);
	for (const lead of [byMouse, byKeyboard]) {
		expect(ledger.filter((row) => row.lead_id === lead.lead_id).map((row) => `${row.queue}:${row.to_status}`).sort())
			.toEqual(['lead_processing_queue:cancelled', 'leads:human_controlled', 'whatsapp_message_queue:cancelled']);
	}
	expect(ledger.every((row) => row.actor === 'user' && row.detail?.note === 'Take Lead pressed in the Leadflow console')).toBe(true);
	await settled();

	// Someone else takes a lead while this page still shows its button (the page's poll held back).
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => { release = resolve; });
	let held = false;
	await page.route('**/webhook/leadflow/console/api/queue?**', async (route) => {
		held = true;
		await gate;
		await route.continue();
	});
	const until = Date.now() + 10_000;
	while (!held && Date.now() < until) await page.waitForTimeout(100);
	expect(held).toBe(true);
	const elsewhere = await n8n.callWebhook(`leadflow/leads/${meanwhile.lead_id}/take`, { method: 'POST', headers: ownerHeaders(), body: { reason: 'Called from the phone' } });
	expect(elsewhere.statusCode).toBe(200);
	await page.locator(`tr[data-lead="${meanwhile.lead_id}"] button[data-take]`).click();
	await page.waitForFunction(() => /already taken over/.test(document.getElementById('queue-take-message')?.textContent ?? ''));
	expect(await page.textContent('#queue-take-message')).toBe('Queue Person ' + (await nameIndex(meanwhile.lead_id)) + ' was already taken over: nothing changed (someone took it before you).');
	release();
	await page.waitForSelector(`tr[data-lead="${meanwhile.lead_id}"][data-lead-status="human_controlled"]`);
	// The held poll went on: the route comes off once its handlers have finished.
	await page.unrouteAll({ behavior: 'wait' });
	const { counts } = await settled();
	expect(counts.cancelled).toBe(3);
	const metrics = await metricsOfWebhook();
	expect(metrics).toMatchObject({ taken_over: 3 });
	await page.waitForFunction((n) => document.querySelectorAll('#queue-metrics [data-metric="taken_over"] [data-value]')[0]?.dataset.value === String(n), metrics.taken_over);
	expect(problems).toEqual([]);
});

const nameIndex = (leadId: string) =>
	withDb(async (db) => (await db.query<{ name: string }>('select name from public.leads where id = $1', [leadId])).rows[0].name.replace('Queue Person ', ''));

test('Export CSV downloads what the export webhook answers', async () => {
	const [download] = await Promise.all([page.waitForEvent('download'), page.click('#queue-export')]);
	expect(download.suggestedFilename()).toBe(`leadflow-queue-${day}.csv`);
	const file = readFileSync((await download.path())!);
	// The webhook's bytes as they are (its UTF-8 byte order mark included, which a text decoder drops).
	const answer = await fetch(`${n8n.baseUrl}/webhook/leadflow/queue/export?day=${day}`, { headers: ownerHeaders() });
	expect(answer.status).toBe(200);
	const bytes = Buffer.from(await answer.arrayBuffer());
	expect(file.equals(bytes)).toBe(true);
	expect(file.toString('utf8').trim().split('\n')).toHaveLength(LEADS + 1);
	await page.waitForFunction(() => /^Downloaded /.test(document.getElementById('queue-export-message')?.textContent ?? ''));
	expect(problems).toEqual([]);
});

test('a refused export says what is wrong and what to do, and the button can be pressed again', async () => {
	// A page of its own: the refusal it provokes is not one of the main page's problems.
	const visitor = await browser.newPage();
	await visitor.route('**/webhook/leadflow/queue/export?**', (route) =>
		route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ status: 400, error: 'Query parameter "x": this webhook reads no query.', field: 'x', hint: 'Send day=YYYY-MM-DD.' }) }),
	);
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`);
	await visitor.locator('#queue-live.on').waitFor({ timeout: 15_000 });
	await visitor.click('#queue-export');
	await visitor.waitForFunction(() => /^Export failed: /.test(document.getElementById('queue-export-message')?.textContent ?? ''));
	expect(await visitor.locator('#queue-export-message').textContent()).toBe('Export failed: Query parameter "x": this webhook reads no query. Send day=YYYY-MM-DD.');
	expect(await visitor.locator('#queue-export').isDisabled()).toBe(false);
	await visitor.close();
});

test('a page past the end (messages picked up meanwhile, out of the filter) moves back to the last page with messages', async () => {
	// Another owner whose day has two pages of queued messages (25 a page).
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	const busy = await createOwner({ time_zone: zone, daily_capacity: 30, send_from: '09:00', send_until: '17:00' });
	await addLeads(leadItems(busy, 30).map((lead, i) => ({ ...lead, name: `Busy Person ${i}` })));
	await prepare(busy, new Date(dbNow.getTime() - 86_400_000).toISOString());
	const visitor = await browser.newPage();
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${busy}`);
	await visitor.waitForSelector('#queue-counts [data-count="total"]');
	await visitor.selectOption('#queue-status', 'queued');
	await visitor.locator('#queue-page-info:has-text("1–25 of 30")').waitFor({ timeout: 15_000 });
	await visitor.click('#queue-next');
	await visitor.locator('#queue-page-info:has-text("26–30 of 30")').waitFor({ timeout: 8000 });
	// A worker picks up the due ones (about noon local: those of 09:00–12:00): page 2 of "queued" is past the end.
	const picked = await claim('w-console-past-end', busy, dbNow.toISOString(), 10);
	expect(picked.length).toBeGreaterThanOrEqual(5);
	const queued = 30 - picked.length;
	await visitor.locator(`#queue-page-info:has-text("1–${queued} of ${queued}")`).waitFor({ timeout: 8000 });
	expect(await visitor.locator('#queue-rows tr[data-item]').count()).toBe(queued);
	expect(await visitor.locator('#queue-rows').textContent()).not.toMatch(/No more messages on this page/);
	await visitor.close();
});

test('a lead nobody may message (opted out, declined, unreachable) has no Take Lead button: the row says why; with a conversation it offers Stop follow-ups, which stops them and keeps its status', async () => {
	// Another owner, so the main page's counts stay as they are.
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	const marked = await createOwner({ time_zone: zone, daily_capacity: 4, send_from: '09:00', send_until: '17:00' });
	const leads = await addLeads(leadItems(marked, 4).map((lead, i) => ({ ...lead, name: `Marked Person ${i}` })));
	await prepare(marked, new Date(dbNow.getTime() - 86_400_000).toISOString());
	const statuses = ['do_not_contact', 'not_interested', 'invalid'];
	// The opted-out one also talks to the owner's Page on Messenger.
	const conversation = await withDb(async (db) =>
		(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1049000000099', $2, 'Marked Person 0') returning id`, [marked, `99${Date.now()}`])).rows[0].id,
	);
	await withDb((db) =>
		db.query(`update public.leads l set status = s.status, conversation_id = case when s.status = 'do_not_contact' then $3::uuid end from unnest($1::uuid[], $2::text[]) s (id, status) where l.id = s.id`, [
			leads.slice(0, 3).map((lead) => lead.lead_id),
			statuses,
			conversation,
		]),
	);
	// A person answered them from the Page inbox: a stop a rule resuming after a takeover lifts by
	// itself, so the row still offers Stop follow-ups (before …2040 it read "follow-ups stopped").
	await withDb((db) =>
		db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, last_human_message_at) values ($1, $2, null, 'human_takeover', 'a person wrote from the Page', now())`, [marked, conversation]),
	);
	const visitor = await browser.newPage();
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${marked}`);
	await visitor.locator('#queue-rows tr[data-item]').nth(3).waitFor({ timeout: 15_000 });
	const cells = () =>
		Promise.all(leads.map(async (lead) => {
			const row = visitor.locator(`tr[data-lead="${lead.lead_id}"]`);
			return [await row.getAttribute('data-lead-status'), await row.locator('button[data-take]').count(), (await row.locator('td[data-label="Take over"]').textContent())?.replace(/\s+/g, ' ').trim()];
		}));
	expect(await cells()).toEqual([
		['do_not_contact', 1, 'Opted out: not to be contacted Stop follow-ups'],
		['not_interested', 0, 'Declined: not to be contacted'],
		['invalid', 0, 'Cannot be reached (correct its phone, then its status, in your app)'],
		['queued', 1, 'Take Lead'],
	]);

	await visitor.locator(`tr[data-lead="${leads[0].lead_id}"] button.stop-follow-ups`).click();
	await visitor.waitForFunction(() => /^Follow-ups stopped for /.test(document.getElementById('queue-take-message')?.textContent ?? ''));
	expect(await visitor.textContent('#queue-take-message')).toBe('Follow-ups stopped for Marked Person 0. Opted out: not to be contacted: the lead is not taken over, so it is never queued again.');
	await visitor.locator(`tr[data-lead="${leads[0].lead_id}"] td[data-label="Take over"]`, { hasText: 'follow-ups stopped' }).waitFor({ timeout: 15_000 });
	expect((await cells())[0]).toEqual(['do_not_contact', 0, 'Opted out: not to be contacted · follow-ups stopped']);
	// The inbox's stop now holds until deleted, with the console's note (before …2030 it stayed liftable).
	expect(await withDb(async (db) => (await db.query('select l.status, l.taken_over_at, s.rule_id, s.reason, s.note, s.last_human_message_at from public.leads l join public.ai_automation_stops s on s.conversation_id = l.conversation_id where l.id = $1', [leads[0].lead_id])).rows)).toEqual([
		{ status: 'do_not_contact', taken_over_at: null, rule_id: null, reason: 'human_takeover', note: 'Stop follow-ups pressed in the Leadflow console', last_human_message_at: null },
	]);
	await visitor.close();
});

test('375 px: no sideways scrolling; no console error or failed request', async () => {
	await page.setViewportSize({ width: 375, height: 800 });
	await page.waitForTimeout(300);
	expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-queue-375.png'), fullPage: true });
	expect(problems).toEqual([]);
});

test('without the key: 403 and no data on the page', async () => {
	const direct = await n8n.callWebhook('leadflow/console/api/queue', { query: { userId: owner } });
	expect(direct.statusCode).toBe(403);
	expect(JSON.stringify(direct.body)).not.toContain(owner);

	const stranger = await browser.newPage();
	const answers: number[] = [];
	stranger.on('response', (response) => { if (/\/api\/queue/.test(response.url())) answers.push(response.status()); });
	await stranger.goto(consoleUrl('not-the-key'));
	await stranger.locator('#key-error:has-text("That key was refused")').waitFor({ timeout: 15_000 });
	expect(answers).toContain(403);
	expect(await stranger.locator('#queue-rows tr').count()).toBe(0);
	expect(await stranger.isHidden('#queue-body')).toBe(true);
	// The refused key is not tried again.
	await stranger.waitForTimeout(4500);
	expect(answers).toEqual([403]);
	await stranger.close();
});

test('an owner ID cut off in the address (#owner=…) is let go at its 400: its message shows, and a queue, not "Connecting…"', async () => {
	const visitor = await browser.newPage();
	const cut = owner.slice(0, 20);
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${cut}`);
	await visitor.waitForFunction(() => /owner ID "[0-9a-f-]+" is not a UUID\. Use /.test(document.getElementById('queue-message')?.textContent ?? ''), undefined, { timeout: 15_000 });
	// The first owner's queue is asked for and shown: live, not "Connecting…" for ever.
	await visitor.locator('#queue-live.on').waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#queue-live .live-text').textContent()).toBe('Live');
	expect(await visitor.locator('#queue-owner').inputValue()).toMatch(/^[0-9a-f-]{36}$/);
	expect(await visitor.locator('#queue-message').textContent()).toMatch(/is not a UUID/);
	await visitor.close();
});

test('an owner ID of no owner in the address (#owner=…) says which ID was not found and what to do; no other owner\'s queue is shown until one is picked', async () => {
	const visitor = await browser.newPage();
	const nobody = randomUUID();
	const answers: string[] = [];
	visitor.on('response', (response) => {
		const url = new URL(response.url());
		if (url.pathname.endsWith('/console/api/queue')) answers.push(`${response.status()} ${url.searchParams.get('userId') ?? 'first owner'}`);
	});
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${nobody}`);
	await visitor.waitForFunction((id) => (document.getElementById('queue-message')?.textContent ?? '').startsWith(`There is no owner with ID ${id} in this database, so no queue is shown for it.`), nobody, { timeout: 15_000 });
	expect(await visitor.locator('#queue-message').textContent()).toMatch(/Check the ID in the link you opened .* Pick (one of the \d+ owners|the owner) with a queue in the Owner list to see theirs\.$/);
	// Two polls after the 404 (they ask for the owners to pick from): still no owner's queue, the message
	// still there, live (answers, not an outage).
	for (const until = Date.now() + 15_000; answers.length < 3 && Date.now() < until;) await visitor.waitForTimeout(250);
	expect(answers.slice(0, 3)).toEqual([`404 ${nobody}`, '200 first owner', '200 first owner']);
	expect(await visitor.locator('#queue-message').textContent()).toMatch(new RegExp(`^There is no owner with ID ${nobody} `));
	expect(await visitor.isHidden('#queue-body')).toBe(true);
	expect(await visitor.locator('#queue-rows tr[data-item]').count()).toBe(0);
	expect(await visitor.locator('#queue-live .live-text').textContent()).toBe('Live');
	expect(await visitor.locator('#queue-owner-box').isVisible()).toBe(true);
	expect(await visitor.locator('#queue-owner').inputValue()).toBe('');
	// An owner picked from the list: their queue, the message gone.
	await visitor.selectOption('#queue-owner', owner);
	const rows = await dayRows();
	await visitor.waitForFunction((ids) => Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).map((row) => row.dataset.item).join() === ids, rows.map((row) => row.id).join(), { timeout: 15_000 });
	expect(await visitor.locator('#queue-message').textContent()).toBe('');
	expect(await visitor.locator('#queue-owner option[value=""]').count()).toBe(0);
	await visitor.close();
});

test('a refused key on the Queue tab brings up the key form there; the good key typed into it shows the queue', async () => {
	const visitor = await browser.newPage();
	await visitor.goto(consoleUrl('not-the-key'));
	// The key form, on the Queue tab itself (no other tab to visit first), saying the key was refused.
	await visitor.locator('#key-form-section:not([hidden])').waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#key-error').textContent()).toMatch(/^That key was refused\. Enter the key/);
	expect(await visitor.isHidden('#panel-queue')).toBe(true);
	await visitor.fill('#key-input', WEBHOOK_KEY.value);
	await visitor.press('#key-input', 'Enter');
	await visitor.locator('#key-form-section[hidden]').waitFor({ state: 'attached' });
	// The Queue tab again, without a click, with the key typed.
	expect(await visitor.locator('#tab-queue').getAttribute('aria-selected')).toBe('true');
	await visitor.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	await visitor.locator('#queue-live.on').waitFor({ timeout: 8000 });
	expect(await visitor.locator('#queue-message').textContent()).toBe('');
	await visitor.close();
});

test('a refused queue call answers what is wrong, the field and what to do: { status, error, field, hint }', async () => {
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };
	const bad = await n8n.callWebhook('leadflow/console/api/queue', { headers, query: { userId: owner, status: 'sending' } });
	expect({ status: bad.statusCode, body: bad.body }).toEqual({
		status: 400,
		body: { status: 400, error: expect.stringMatching(/status "sending" is not one of queued, claimed, sent, failed, cancelled, dead/), field: 'status', hint: 'Leave status out for every status.' },
	});
	const unknown = await n8n.callWebhook('leadflow/console/api/queue', { headers, query: { userId: '00000000-0000-4000-8000-000000000000' } });
	expect({ status: unknown.statusCode, body: unknown.body }).toEqual({
		status: 404,
		body: { status: 404, error: 'Owner ID: user 00000000-0000-4000-8000-000000000000 does not exist', hint: 'Use an owner ID from the answer\'s owners: ask without one (no userId) to get them.' },
	});
});
