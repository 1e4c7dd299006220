// The Leadflow console in a real browser (Debian's Chromium driven by playwright-core) against real
// n8n 2.41.1 with this package installed from its tarball, the local stack and the simulators:
// every number on the page is the database's, a contact tagged a second ago shows, Trigger now
// sends what the Graph simulator receives and the page follows, a sent contact's timeline, the
// keyboard, 375 px, no console error or failed request, no data without the key, and a refused
// call answers what to do (the monitor's and the timeline's `hint`); a rule ID cut off in the
// address is let go with its message, a poll the server holds is not shown as Live, and a late
// Timeline answer for another contact is not drawn. Screenshots
// (desktop and 375 px) are written to test/e2e/artifacts/ (not committed).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { addContacts } from '../../scripts/demo/seed';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { serviceClient, testStack, withDb } from '../helpers/stack';
import { graphSends, PAGE_TOKEN, WEBHOOK_KEY } from '../workflows/support/pipeline';
import { seed001, type Seed001 } from '../workflows/support/seeds';
import { startN8n, withoutSchedule, type RunningN8n } from './support';

// What the functions run in the page (page.evaluate) use of the browser: this project compiles
// without the DOM library, which would clash with Node's types.
interface BrowserElement {
	dataset: Record<string, string | undefined>;
	textContent: string | null;
	value?: string;
	id?: string;
	querySelector(selector: string): BrowserElement | null;
	dispatchEvent(event: unknown): boolean;
}
declare const document: {
	querySelectorAll(selector: string): ArrayLike<BrowserElement>;
	getElementById(id: string): BrowserElement | null;
	activeElement: BrowserElement | null;
	documentElement: { scrollWidth: number };
};
declare const window: { scrollTo(x: number, y: number): void; scrollY: number; probe?: string };
declare const location: { pathname: string; hash: string; href: string };
declare const Event: new (type: string, init?: { bubbles?: boolean }) => unknown;

const ARTIFACTS = path.resolve(__dirname, 'artifacts');
let n8n: RunningN8n;
let sims: RunningSimulators;
let seed: Seed001;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

/** Records console errors, page errors, failed requests and error answers. */
function watch(target: Page, into: string[]) {
	target.on('console', (message) => {
		if (message.type() === 'error') into.push(`console: ${message.text()}`);
	});
	target.on('pageerror', (error) => into.push(`page error: ${error.message}`));
	target.on('requestfailed', (request) => into.push(`failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
	target.on('response', (response) => {
		if (response.status() >= 400) into.push(`answer ${response.status()}: ${response.request().method()} ${response.url()}`);
	});
}

const consoleUrl = (fragment: string) => `${n8n.baseUrl}/webhook/leadflow/console${fragment}`;

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	sims = await startSimulators();
	seed = await seed001();
	n8n = await startN8n({
		workflows: [withoutSchedule('workflows/tag-monitor-send.json'), 'workflows/leadflow-console.json'],
		credentials: {
			httpHeaderAuth: WEBHOOK_KEY,
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
			leadflowGeminiApi: { apiKeys: 'e2e-gemini-key', baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
			leadflowFacebookPageApi: { pageId: seed.owner.pageId, accessToken: PAGE_TOKEN, appSecret: '', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		},
	});
	// --no-sandbox: Chromium's own sandbox cannot start as root (CI containers).
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	page = await context.newPage();
	watch(page, problems);
	mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
	await sims?.stop();
});

interface DbPage {
	stats: Record<string, number> & { skipped_by_reason: Record<string, number> };
	stages: Array<{ stage: string; contact_count: number }>;
	contacts: { total: number; rows: Array<{ conversation_id: string; contact_status: string; status_reason: string | null }> };
}

async function database(): Promise<DbPage> {
	const { data, error } = await serviceClient().rpc('automation_monitor_page', { p_rule_id: seed.ruleId, p_limit: 50 });
	if (error) throw new Error(error.message);
	return data as DbPage;
}

/** What the page shows: totals, reasons, stage counts (as displayed text), and each row's status. */
async function shown() {
	return await page.evaluate(() => {
		const text = (element: BrowserElement | null) => element?.textContent?.trim() ?? '';
		const all = (selector: string) => Array.from(document.querySelectorAll(selector));
		const totals = Object.fromEntries(all('[data-total]').map((row) => [row.dataset.total, text(row.querySelector('dd'))]));
		const reasons = Object.fromEntries(all('#totals [data-reason]').map((row) => [row.dataset.reason, text(row.querySelector('dd'))]));
		const stages = Object.fromEntries(all('#stages [data-stage]').map((card) => [card.dataset.stage, text(card.querySelector('.count'))]));
		const rows = all('#contacts tr[data-contact]').map((row) => ({
			conversation_id: row.dataset.contact,
			contact_status: row.dataset.status,
			status_reason: row.dataset.reason || null,
			statusText: text(row.querySelector('.badge')),
			why: text(row.querySelector('td[data-label="Why"]')),
		}));
		return { totals, reasons, stages, rows, pageInfo: text(document.getElementById('page-info')) };
	});
}

const en = (value: number) => new Intl.NumberFormat('en-US').format(value);
const STATUS_WORDS: Record<string, string> = { eligible: 'Eligible', processing: 'Processing', recently_sent: 'Recently sent', stopped: 'Stopped', skipped: 'Skipped' };

/** The page equals the database: every total, reason and stage count, every contact's status and reason. */
async function expectPageEqualsDatabase() {
	const db = await database();
	const onPage = await shown();
	for (const field of ['total_with_tags', 'eligible_count', 'active_count', 'recently_sent_count', 'sent_today_count', 'used_today', 'daily_limit', 'failed_count', 'skipped_count', 'stopped_count']) {
		expect({ field, shown: onPage.totals[field] }).toEqual({ field, shown: en(db.stats[field]) });
	}
	expect(onPage.reasons).toEqual(Object.fromEntries(Object.entries(db.stats.skipped_by_reason).map(([reason, n]) => [reason, en(n)])));
	expect(onPage.stages).toEqual(Object.fromEntries(db.stages.map((stage) => [stage.stage, en(stage.contact_count)])));
	expect(onPage.rows.map(({ conversation_id, contact_status, status_reason }) => ({ conversation_id, contact_status, status_reason }))).toEqual(
		db.contacts.rows.map(({ conversation_id, contact_status, status_reason }) => ({ conversation_id, contact_status, status_reason })),
	);
	for (const row of onPage.rows) expect(row.statusText).toBe(STATUS_WORDS[row.contact_status!]);
	expect(onPage.pageInfo).toBe(`1–${en(db.contacts.rows.length)} of ${en(db.contacts.total)}`);
	return { db, onPage };
}

/** Retries `check` until it passes (the page polls every 2 s), for at most `ms`. */
async function eventually(check: () => Promise<unknown>, ms = 8000): Promise<void> {
	const deadline = Date.now() + ms;
	for (;;) {
		try {
			await check();
			return;
		} catch (error) {
			if (Date.now() > deadline) throw error;
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
	}
}

test('every number on the page is the database\'s; a contact tagged a second ago shows within one poll', async () => {
	await page.goto(consoleUrl(`#key=${encodeURIComponent(WEBHOOK_KEY.value)}&rule=${seed.ruleId}`));
	await page.locator('#live.on').waitFor({ timeout: 15_000 });
	await eventually(async () => {
		const { db } = await expectPageEqualsDatabase();
		expect(db.stats.total_with_tags).toBe(15);
	});
	// Reasons in words, not codes.
	const shownWhy = (await shown()).rows.map((row) => row.why).join(' | ');
	expect(shownWhy).toContain('Outside the 24-hour messaging window');
	expect(shownWhy).toContain('Stopped: a person took over');
	expect(shownWhy).not.toMatch(/outside_window|excluded_tag/);

	// Tagged now, before any run (the monitor once said "No contacts" here): on the page at the next poll.
	const tagged = await withDb(async (db) => {
		const { rows } = await db.query<{ id: string }>(`select id from public.tags where user_id = $1 and name = 'AI follow-up'`, [seed.owner.userId]);
		return await addContacts(db, seed.owner, { label: 'Tagged just now', count: 1, tagIds: [rows[0].id], lastMessageMinutesAgo: 1 });
	});
	const taggedAt = Date.now();
	await page.locator(`#contacts tr[data-contact="${tagged.conversationIds[0]}"][data-status="eligible"]`).waitFor({ timeout: 6000 });
	process.stderr.write(`a contact tagged now was on the page ${Date.now() - taggedAt} ms later\n`);
	await eventually(async () => {
		const { db } = await expectPageEqualsDatabase();
		expect(db.stats.total_with_tags).toBe(16);
		expect(db.stats.eligible_count).toBe(11);
	});
});

test('Trigger now: the page shows the run\'s answer, and the sent count rises to what the Graph simulator received', async () => {
	const before = (await graphSends(sims)).length;
	// From the keyboard: the focus stays on Trigger now through its run (not the page's body).
	await page.focus('#trigger-now');
	await page.keyboard.press('Enter');
	await page.locator('#trigger-result[data-sent]').waitFor({ timeout: 60_000 });
	await page.waitForFunction(() => document.activeElement?.id === 'trigger-now', undefined, { timeout: 5000 });
	const sends = (await graphSends(sims)).length - before;
	expect(sends).toBe(11);
	expect(await page.locator('#trigger-result').textContent()).toMatch(/^Claimed 11, sent 11, skipped 0, failed 0/);
	// Why not more: the claim's word and its counts by reason, in words.
	const answerShown = await page.locator('#trigger-result').textContent();
	expect(answerShown).toMatch(/ · Nothing more was due: /);
	for (const part of ['2 outside the 24-hour messaging window', '1 carries an excluded tag', '1 conversation inactive', '1 stopped']) expect(answerShown).toContain(part);
	await eventually(async () => {
		const { db, onPage } = await expectPageEqualsDatabase();
		expect(db.stats.sent_today_count).toBe(sends);
		expect(onPage.totals.sent_today_count).toBe(en(sends));
		// Every send counts against the daily limit (nothing else is claimed now).
		expect(db.stats.used_today).toBe(sends);
	});
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-desktop.png'), fullPage: true });
	// The first screen, as docs/console.png shows it.
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-first-screen.png') });
});

test('a sent contact\'s timeline opens from the keyboard and shows its stages up to sent, with times', async () => {
	const sent = (await database()).contacts.rows.find((row) => row.contact_status === 'recently_sent');
	expect(sent).toBeDefined();
	const button = page.locator(`#contacts [data-timeline="${sent!.conversation_id}"]`);
	await button.focus();
	// The 2-second refresh keeps the focused control.
	await page.waitForTimeout(2500);
	expect(await page.evaluate(() => document.activeElement?.dataset.timeline)).toBe(sent!.conversation_id);
	await page.keyboard.press('Enter');
	const dialog = page.locator('#timeline-dialog[open]');
	await dialog.locator('li[data-event]').first().waitFor();
	const events = await dialog.locator('li[data-event]').evaluateAll((items) => items.map((item) => (item as unknown as BrowserElement).dataset.event));
	expect(events[events.length - 1]).toBe('sent');
	expect(events).toEqual(expect.arrayContaining(['generating', 'ready_to_send', 'sending', 'sent']));
	expect(await dialog.locator('time').count()).toBe(events.length);
	// Closed, it gives the focus back to the contact that opened it (drawn anew by the refreshes meanwhile).
	await page.waitForTimeout(2500);
	await page.keyboard.press('Escape');
	await expect(dialog.count()).resolves.toBe(0);
	await page.waitForFunction((id) => document.activeElement?.dataset.timeline === id, sent!.conversation_id, { timeout: 5000 });
});

test('at 375 px the page fits the width (no sideways scroll); scroll position survives the refresh', async () => {
	await page.setViewportSize({ width: 375, height: 812 });
	await page.waitForTimeout(500);
	expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
	await page.evaluate(() => window.scrollTo(0, 600));
	await page.waitForTimeout(4500);
	expect(await page.evaluate(() => window.scrollY)).toBe(600);
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-375.png'), fullPage: true });
	await page.setViewportSize({ width: 1280, height: 900 });
});

test('no console error, no failed request, no error answer while the page ran', () => {
	expect(problems).toEqual([]);
});

test('without the key there is no data: the endpoints answer 403, and the page asks for the key', async () => {
	const stranger = await context.newPage();
	const seen: string[] = [];
	watch(stranger, seen);
	await stranger.goto(consoleUrl(''));
	await stranger.locator('#key-form-section:not([hidden])').waitFor();
	expect(await stranger.locator('#contacts tr').count()).toBe(0);
	// The page never called the API without a key.
	expect(seen).toEqual([]);

	const answers = await stranger.evaluate(async () => {
		const call = async (url: string, headers: Record<string, string>) => {
			const response = await fetch(url, { headers });
			return { status: response.status, body: await response.text() };
		};
		const base = location.pathname;
		return [
			await call(`${base}/api/monitor`, {}),
			await call(`${base}/api/monitor`, { 'X-Leadflow-Key': 'guess' }),
			await call(`${base}/api/timeline?ruleId=x&conversationId=y`, {}),
		];
	});
	for (const answer of answers) {
		expect(answer.status).toBe(403);
		expect(answer.body).not.toMatch(/total_with_tags|sender_|rules/);
	}

	// A wrong key in the address: refused, the key form again, no rows.
	await stranger.goto(consoleUrl('#key=wrong-key'));
	await stranger.locator('#key-error:has-text("refused")').waitFor();
	expect(await stranger.locator('#contacts tr').count()).toBe(0);
	await stranger.close();
});

/** A new tab of the same browser, opened on the console with the key and the seed's rule. */
async function openConsole(fragment = `#key=${encodeURIComponent(WEBHOOK_KEY.value)}&rule=${seed.ruleId}`): Promise<Page> {
	const visitor = await context.newPage();
	await visitor.goto(consoleUrl(fragment));
	return visitor;
}

/** Types into the search box past its maxlength (as a script or an old browser could), then waits out its pause. */
async function searchFor(target: Page, text: string) {
	await target.evaluate((value) => {
		const input = document.getElementById('search')!;
		input.value = value;
		input.dispatchEvent(new Event('input', { bubbles: true }));
	}, text);
}

test('the key leaves the address once read; a key typed in the form is kept in memory only (no reload, no #key=)', async () => {
	const visitor = await openConsole();
	await visitor.locator('#live.on').waitFor({ timeout: 15_000 });
	const hash = await visitor.evaluate(() => location.hash);
	expect(hash).not.toMatch(/key=/);
	// The rest of the fragment stays.
	expect(hash).toContain(`rule=${seed.ruleId}`);
	await visitor.close();

	const typed = await openConsole(`#rule=${seed.ruleId}`);
	await typed.locator('#key-form-section:not([hidden])').waitFor();
	await typed.evaluate(() => { window.probe = 'the same document'; });
	await typed.fill('#key-input', WEBHOOK_KEY.value);
	await typed.press('#key-input', 'Enter');
	await typed.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	expect(await typed.evaluate(() => location.href)).not.toMatch(/key=/);
	// No reload: the page's own state is still there.
	expect(await typed.evaluate(() => window.probe)).toBe('the same document');
	expect(await typed.locator('#key-form-section').isHidden()).toBe(true);
	await typed.close();
});

test('a search the server refuses (over 200 characters) shows its message, keeps the rule, and Trigger now still names the rule', async () => {
	const visitor = await openConsole();
	// Trigger now answered here (nothing sent): what matters is the ruleId the page posts.
	const posted: Array<{ ruleId?: string }> = [];
	await visitor.route((url) => url.pathname.endsWith('/webhook/leadflow/trigger'), async (route) => {
		if (route.request().method() !== 'POST') return await route.continue();
		posted.push(JSON.parse(route.request().postData() ?? '{}') as { ruleId?: string });
		await route.fulfill({ status: 200, headers: { 'Access-Control-Allow-Origin': '*' }, contentType: 'application/json', body: JSON.stringify({ claimed: 0, sent: 0, skipped: 0, failed: 0 }) });
	});
	await visitor.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#search').getAttribute('maxlength')).toBe('200');

	await searchFor(visitor, 'x'.repeat(201));
	await visitor.locator('#monitor-error:has-text("at most 200 characters")').waitFor({ timeout: 8000 });
	// Two polls later: still the same rule, still the message.
	await visitor.waitForTimeout(4500);
	expect(await visitor.locator('#rule-picker').inputValue()).toBe(seed.ruleId);
	expect(await visitor.locator('#monitor-error').textContent()).toMatch(/at most 200 characters/);
	await visitor.getByRole('button', { name: 'Trigger now' }).click();
	await visitor.locator('#trigger-result[data-sent]').waitFor({ timeout: 15_000 });
	expect(posted).toEqual([{ ruleId: seed.ruleId }]);

	// A search the server takes: the message goes, the rows come back.
	await searchFor(visitor, '');
	await eventually(async () => expect(await visitor.locator('#monitor-error').textContent()).toBe(''));
	await visitor.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 8000 });
	await visitor.close();
});

test('Trigger now that fails shows the run\'s own message and what to do', async () => {
	const visitor = await openConsole();
	// The answer tag-monitor-send.json gives when Facebook Send fails as a node (Page token expired).
	await visitor.route((url) => url.pathname.endsWith('/webhook/leadflow/trigger'), async (route) => {
		if (route.request().method() !== 'POST') return await route.continue();
		const body = { status: 500, error: 'The Page token is invalid or expired: reconnect the credential', field: null, hint: 'Sending the batch failed in its own execution.' };
		await route.fulfill({ status: 500, headers: { 'Access-Control-Allow-Origin': '*' }, contentType: 'application/json', body: JSON.stringify(body) });
	});
	await visitor.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	await visitor.getByRole('button', { name: 'Trigger now' }).click();
	await visitor.locator('#trigger-result:has-text("Trigger failed")').waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#trigger-result').textContent()).toBe(
		'Trigger failed: The Page token is invalid or expired: reconnect the credential. Sending the batch failed in its own execution.',
	);
	await visitor.close();
});

test('a filter changed while a poll is under way is asked for as soon as that poll ends, not a refresh later', async () => {
	const visitor = await openConsole();
	await visitor.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => { release = resolve; });
	let holding = true;
	let held: (() => void) | undefined;
	const heldSeen = new Promise<void>((resolve) => { held = resolve; });
	const asked: Array<{ url: string; at: number }> = [];
	let heldRequest: unknown;
	let heldEnded = 0;
	await visitor.route((url) => url.pathname.endsWith('/api/monitor'), async (route) => {
		asked.push({ url: route.request().url(), at: Date.now() });
		if (holding) {
			holding = false;
			heldRequest = route.request();
			held?.();
			await gate;
		}
		await route.continue();
	});
	visitor.on('requestfinished', (request) => {
		if (request === heldRequest) heldEnded = Date.now();
	});
	await heldSeen;
	await visitor.selectOption('#status-filter', 'stopped');
	release();
	const filteredCall = () => asked.find((call) => call.url.includes('status=stopped'));
	await eventually(async () => expect(filteredCall()).toBeDefined(), 15_000);
	const filtered = filteredCall();
	await eventually(async () => expect(heldEnded).toBeGreaterThan(0));
	// Then, not the 2-second refresh later.
	expect(filtered!.at - heldEnded).toBeLessThan(1000);
	await eventually(async () => {
		const statuses = await visitor.locator('#contacts tr[data-contact]').evaluateAll((rows) => rows.map((row) => (row as unknown as BrowserElement).dataset.status));
		expect(statuses.length).toBeGreaterThan(0);
		expect(new Set(statuses)).toEqual(new Set(['stopped']));
	});
	await visitor.close();
});

test('Follow-ups: a page past the end (contacts untagged meanwhile) moves back to the last page with contacts', async () => {
	const tagId = await withDb(async (db) => (await db.query<{ id: string }>(`select id from public.tags where user_id = $1 and name = 'AI follow-up'`, [seed.owner.userId])).rows[0].id);
	const added = await withDb((db) => addContacts(db, seed.owner, { label: 'Second page', count: 40, tagIds: [tagId], lastMessageMinutesAgo: 1 }));
	const total = (await database()).contacts.total;
	expect(total).toBeGreaterThan(50);
	const visitor = await openConsole();
	await visitor.locator(`#page-info:has-text("1–50 of ${en(total)}")`).waitFor({ timeout: 15_000 });
	await visitor.click('#next-page');
	await visitor.locator(`#page-info:has-text("51–${en(total)} of ${en(total)}")`).waitFor({ timeout: 8000 });
	// Untagged in another tab until 45 are left: the second page is past the end.
	const untag = added.conversationIds.slice(0, total - 45);
	await withDb((db) => db.query('delete from public.conversation_tags where conversation_id = any($1::uuid[])', [untag]));
	await visitor.locator('#page-info:has-text("1–45 of 45")').waitFor({ timeout: 8000 });
	expect(await visitor.locator('#contacts tr[data-contact]').count()).toBe(45);
	expect(await visitor.locator('#contacts').textContent()).not.toMatch(/No contact carries/);
	await visitor.close();
});

test('Follow-ups: a rule deleted in another tab is let go at its 404: the page picks another rule, with no error shown', async () => {
	const ruleId = await withDb(async (db) => (await db.query<{ id: string }>(
		`insert into public.ai_automation_rules
		 select (jsonb_populate_record(null::public.ai_automation_rules, to_jsonb(r) || jsonb_build_object('id', gen_random_uuid(), 'name', 'Deleted in another tab'))).*
		   from public.ai_automation_rules r where r.id = $1
		 returning id`, [seed.ruleId])).rows[0].id);
	const visitor = await openConsole(`#key=${encodeURIComponent(WEBHOOK_KEY.value)}&rule=${ruleId}`);
	const seen: string[] = [];
	watch(visitor, seen);
	await eventually(async () => expect(await visitor.locator('#rule-picker').inputValue()).toBe(ruleId), 15_000);
	await withDb((db) => db.query('delete from public.ai_automation_rules where id = $1', [ruleId]));
	await eventually(async () => {
		const chosen = await visitor.locator('#rule-picker').inputValue();
		expect(chosen).toMatch(/^[0-9a-f-]{36}$/);
		expect(chosen).not.toBe(ruleId);
	}, 15_000);
	expect(await visitor.locator('#monitor-error').textContent()).toBe('');
	// The deleted rule's monitor answered 404 (the browser logs it), and nothing else failed.
	const monitor404 = (line: string) => new RegExp(`answer 404: GET .*/api/monitor\\?.*ruleId=${ruleId}`).test(line);
	expect(seen.some(monitor404)).toBe(true);
	expect(seen.filter((line) => !monitor404(line) && !/^console: Failed to load resource: the server responded with a status of 404/.test(line))).toEqual([]);
	await visitor.close();
});

test('Follow-ups: n8n\'s own 404 (the console workflow not registered, e.g. while it is re-activated) keeps the chosen rule', async () => {
	// A switched-off copy of the seed's rule: were it let go, the page would pick the enabled one.
	const ruleId = await withDb(async (db) => (await db.query<{ id: string }>(
		`insert into public.ai_automation_rules
		 select (jsonb_populate_record(null::public.ai_automation_rules, to_jsonb(r) || jsonb_build_object('id', gen_random_uuid(), 'name', 'Kept through a 404', 'enabled', false))).*
		   from public.ai_automation_rules r where r.id = $1
		 returning id`, [seed.ruleId])).rows[0].id);
	try {
		const visitor = await openConsole(`#key=${encodeURIComponent(WEBHOOK_KEY.value)}&rule=${ruleId}`);
		await eventually(async () => expect(await visitor.locator('#rule-picker').inputValue()).toBe(ruleId), 15_000);
		let answered = 0;
		// Two polls answered as n8n answers a webhook that is not registered, then the real ones again.
		await visitor.route('**/api/monitor?**', async (route) => {
			if (answered >= 2) return route.continue();
			answered += 1;
			await route.fulfill({
				status: 404,
				headers: { 'Access-Control-Allow-Origin': '*' },
				contentType: 'application/json',
				body: JSON.stringify({ code: 404, message: 'The requested webhook "GET leadflow/console/api/monitor" is not registered.' }),
			});
		});
		await eventually(async () => expect(answered).toBe(2), 15_000);
		await visitor.unroute('**/api/monitor?**');
		// Two real polls later: still the chosen rule.
		await visitor.waitForTimeout(4500);
		expect(await visitor.locator('#rule-picker').inputValue()).toBe(ruleId);
		await visitor.close();
	} finally {
		await withDb((db) => db.query('delete from public.ai_automation_rules where id = $1', [ruleId]));
	}
});

test('Follow-ups: a rule ID cut off in the address (#rule=…) is let go at its 400: its message shows, the page picks a rule, and asks for the cut one once', async () => {
	const cut = seed.ruleId.slice(0, 20);
	const visitor = await context.newPage();
	const asked: string[] = [];
	visitor.on('request', (request) => { if (/\/api\/monitor\?/.test(request.url())) asked.push(request.url()); });
	await visitor.goto(consoleUrl(`#key=${encodeURIComponent(WEBHOOK_KEY.value)}&rule=${cut}`));
	await eventually(async () => expect(await visitor.locator('#rule-picker').inputValue()).toMatch(/^[0-9a-f-]{36}$/), 15_000);
	await visitor.locator('#contacts tr[data-contact], #contacts .empty').first().waitFor({ timeout: 8000 });
	// The server's message and its hint, beside the filters; the page is live, Trigger now can run.
	expect(await visitor.locator('#monitor-error').textContent()).toMatch(/rule ID "[0-9a-f-]+" is not a UUID\. Use the id of a rule from the answer's rules list/);
	expect(await visitor.locator('#trigger-now').isDisabled()).toBe(false);
	await visitor.locator('#live.on').waitFor({ timeout: 8000 });
	// Two polls later: the cut ID was asked for once, not again every 2 s.
	await visitor.waitForTimeout(4500);
	expect(asked.filter((url) => new URL(url).searchParams.get('ruleId') === cut)).toHaveLength(1);
	await visitor.close();
});

test('Live: a poll the server does not answer turns the indicator to "Offline, retrying" (no frozen Live); answers bring Live back', async () => {
	const visitor = await openConsole();
	await visitor.locator('#live.on').waitFor({ timeout: 15_000 });
	let holding = true;
	const held: Array<() => void> = [];
	await visitor.route('**/api/monitor?**', async (route) => {
		if (holding) await new Promise<void>((resolve) => held.push(resolve));
		// The page may have given the call up meanwhile (its time-out): nothing to continue then.
		await route.continue().catch(() => undefined);
	});
	const hungAt = Date.now();
	await visitor.locator('#live.off').waitFor({ timeout: 20_000 });
	expect(await visitor.locator('#live .live-text').textContent()).toMatch(/^Offline, retrying · last update /);
	// Within a few polls, not only once the call's time-out (15 s) ends it.
	expect(Date.now() - hungAt).toBeLessThan(14_000);
	holding = false;
	for (const release of held) release();
	await visitor.locator('#live.on').waitFor({ timeout: 20_000 });
	await visitor.close();
});

test('Timeline: the answer for a contact asked for earlier, come late, does not replace the one asked for last', async () => {
	const visitor = await openConsole();
	const buttons = visitor.locator('#contacts [data-timeline]');
	await buttons.nth(1).waitFor({ timeout: 15_000 });
	const [first, second] = await buttons.evaluateAll((items) => items.slice(0, 2).map((item) => (item as unknown as BrowserElement).dataset.timeline ?? ''));
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => { release = resolve; });
	let lateAnswered = false;
	await visitor.route('**/api/timeline?**', async (route) => {
		if (!route.request().url().includes(`conversationId=${first}`)) return await route.continue();
		await gate;
		// The first contact's answer, come after the second's: marked, so that it shows if drawn.
		await route.fulfill({
			status: 200,
			headers: { 'Access-Control-Allow-Origin': '*' },
			contentType: 'application/json',
			body: JSON.stringify({ events: [{ from_stage: null, to_stage: 'late-answer', occurred_at: new Date().toISOString(), seconds_in_previous_stage: null }] }),
		});
		lateAnswered = true;
	});
	await visitor.locator(`#contacts [data-timeline="${first}"]`).click();
	await visitor.locator('#timeline-dialog[open]').waitFor();
	await visitor.keyboard.press('Escape');
	await visitor.locator(`#contacts [data-timeline="${second}"]`).click();
	await visitor.locator('#timeline-dialog[open]').waitFor();
	await visitor.waitForFunction(() => document.getElementById('timeline-body')?.textContent !== 'Loading…');
	const secondBody = await visitor.locator('#timeline-body').innerHTML();
	release();
	await eventually(async () => expect(lateAnswered).toBe(true));
	await visitor.waitForTimeout(500);
	expect(await visitor.locator('#timeline-body [data-event="late-answer"]').count()).toBe(0);
	expect(await visitor.locator('#timeline-body').innerHTML()).toBe(secondBody);
	await visitor.close();
});

test('a refused monitor or timeline call answers what is wrong and what to do: { status, error, field, hint }', async () => {
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };
	const monitor = (query: Record<string, string>) => n8n.callWebhook('leadflow/console/api/monitor', { headers, query });
	const bad = await monitor({ ruleId: 'rule-1' });
	expect({ status: bad.statusCode, body: bad.body }).toEqual({
		status: 400,
		body: { status: 400, error: expect.stringMatching(/rule ID "rule-1" is not a UUID/), field: 'ruleId', hint: 'Use the id of a rule from the answer\'s rules list, or leave ruleId out for the list only.' },
	});
	const gone = await monitor({ ruleId: '00000000-0000-4000-8000-000000000000' });
	expect({ status: gone.statusCode, body: gone.body }).toEqual({
		status: 404,
		body: { status: 404, error: expect.stringMatching(/no automation rule with ID 00000000-0000-4000-8000-000000000000/), hint: 'Pick a rule from the answer\'s rules list (ask without ruleId).' },
	});
	const timeline = await n8n.callWebhook('leadflow/console/api/timeline', { headers, query: { ruleId: seed.ruleId, conversationId: 'nope' } });
	expect({ status: timeline.statusCode, body: timeline.body }).toEqual({
		status: 400,
		body: { status: 400, error: expect.stringMatching(/conversation ID "nope" is not a UUID/), field: 'conversationId', hint: 'Use the conversation ID from the monitor\'s answer.' },
	});
});

test('Requeue: a failed contact\'s Requeue makes it due (the answer shown, the row eligible); Requeue failed leaves the uncertain one; checked, it is requeued; Trigger now sends both', async () => {
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value };
	const tagId = await withDb(async (db) => (await db.query<{ id: string }>(`select id from public.tags where user_id = $1 and name = 'AI follow-up'`, [seed.owner.userId])).rows[0].id);
	const added = await withDb((db) => addContacts(db, seed.owner, { label: 'Requeue me', count: 2, tagIds: [tagId], lastMessageMinutesAgo: 1 }));
	const [refused, uncertain] = added.conversationIds;
	const [refusedPsid, uncertainPsid] = added.psids;
	// Graph refuses one for good (no such user) and answers the other without a message id (send_uncertain).
	await sims.graph.control.addFault({ match: { recipient: refusedPsid }, effect: { kind: 'graphError', code: 100, subcode: 2018001 } });
	await sims.graph.control.addFault({ match: { recipient: uncertainPsid }, effect: { kind: 'answer', status: 200, body: { recipient_id: uncertainPsid } } });
	try {
		const run = await n8n.callWebhook('leadflow/trigger', { method: 'POST', headers, body: { ruleId: seed.ruleId } });
		expect(run.statusCode).toBe(200);
		expect((run.body as { failed: number }).failed).toBe(2);
	} finally {
		await sims.graph.control.clearFaults();
	}

	const visitor = await openConsole();
	const seen: string[] = [];
	watch(visitor, seen);
	const row = (id: string) => visitor.locator(`#contacts tr[data-contact="${id}"]`);
	await row(refused).locator('[data-requeue]').waitFor({ timeout: 15_000 });
	await row(uncertain).locator('[data-requeue]').waitFor();
	expect(await row(uncertain).textContent()).toContain('Its last send may have been delivered');
	// Failed for good (no retry of its own): the row says so and points at Requeue, no retry promised.
	expect(await row(refused).locator('td[data-label="Why"]').textContent()).toContain('Failed, no retry: Requeue it once the cause is fixed');
	expect(await row(refused).textContent()).not.toContain('retry pending');
	expect(await visitor.locator('#requeue-failed').isDisabled()).toBe(false);

	// One contact: the confirmation says what happens; no second choice for a send Facebook refused.
	// Opened and cancelled from the keyboard: the focus goes back to the row's Requeue.
	await row(refused).locator('[data-requeue]').focus();
	await visitor.keyboard.press('Enter');
	await visitor.locator('#requeue-dialog[open]').waitFor();
	await visitor.keyboard.press('Escape');
	await visitor.waitForFunction((id) => document.activeElement?.dataset.requeue === id, refused, { timeout: 5000 });
	await row(refused).locator('[data-requeue]').click();
	const dialog = visitor.locator('#requeue-dialog[open]');
	await dialog.waitFor();
	expect(await visitor.locator('#requeue-text').textContent()).toMatch(/follow-up failed \(no_matching_user\)\. Requeued, the contact is due now: the next run \(or Trigger now\) sends the follow-up/);
	expect(await visitor.locator('#requeue-uncertain-box').isHidden()).toBe(true);
	await dialog.getByRole('button', { name: 'Requeue' }).click();
	await visitor.locator('#requeue-result[data-requeued]').waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#requeue-result').textContent()).toBe('1 requeued');
	// The list refreshed: the contact is due now, without a Requeue button; the database agrees.
	await visitor.locator(`#contacts tr[data-contact="${refused}"][data-status="eligible"]`).waitFor({ timeout: 8000 });
	expect(await row(refused).locator('[data-requeue]').count()).toBe(0);
	// Its Requeue gone with the answer: the focus is on the row's other control, its name.
	await visitor.waitForFunction((id) => document.activeElement?.dataset.key === `c-${id}`, refused, { timeout: 5000 });
	const states = await withDb(async (db) => (await db.query<{ conversation_id: string; current_stage: string; requeued: boolean }>(
		`select conversation_id, current_stage, (stage_detail ? 'requeued_at') as requeued from public.ai_automation_contact_states where rule_id = $1 and conversation_id = any($2::uuid[]) order by conversation_id`,
		[seed.ruleId, added.conversationIds],
	)).rows);
	expect(states.find((state) => state.conversation_id === refused)).toMatchObject({ current_stage: 'failed', requeued: true });
	expect(states.find((state) => state.conversation_id === uncertain)).toMatchObject({ current_stage: 'failed', requeued: false });

	// The rule's Requeue failed, the second choice left as it is: the uncertain contact stays. Its
	// count is the Failed stage's, what Requeue takes: both (the requeued one stays Failed until a
	// claim takes it), though only the uncertain one's reason is still failed.
	await visitor.locator('#requeue-failed').click();
	await dialog.waitFor();
	expect(await visitor.locator('#requeue-text').textContent()).toMatch(/^Every failed contact of ".+" \(2 now\) is requeued: the next run \(or Trigger now\) sends the follow-up to each one the rule allows then/);
	expect(await visitor.locator('#requeue-uncertain-box').isHidden()).toBe(false);
	expect(await visitor.locator('#requeue-uncertain').isChecked()).toBe(false);
	expect(await visitor.locator('#requeue-uncertain-box').textContent()).toContain('I checked they were not delivered: requeue them too');
	await dialog.getByRole('button', { name: 'Requeue' }).click();
	await visitor.locator('#requeue-result:has-text("left uncertain")').waitFor({ timeout: 15_000 });
	// The refused contact, still failed until a claim takes it, is requeued again; the uncertain one left.
	expect(await visitor.locator('#requeue-result').textContent()).toMatch(/^1 requeued, 1 left uncertain \(may have been delivered/);
	// Back on Requeue failed, which opened the confirmation.
	await visitor.waitForFunction(() => document.activeElement?.id === 'requeue-failed', undefined, { timeout: 5000 });
	await visitor.waitForTimeout(2500);
	expect(await row(uncertain).locator('[data-requeue]').count()).toBe(1);

	// Checked in the Page inbox: the uncertain contact's own Requeue, the box ticked.
	await row(uncertain).locator('[data-requeue]').click();
	await dialog.waitFor();
	await visitor.getByLabel('I checked it was not delivered: requeue it too').check();
	await dialog.getByRole('button', { name: 'Requeue' }).click();
	await visitor.locator('#requeue-result:text-is("1 requeued")').waitFor({ timeout: 15_000 });
	await visitor.locator(`#contacts tr[data-contact="${uncertain}"][data-status="eligible"]`).waitFor({ timeout: 8000 });

	// Due: Trigger now sends both.
	const before = (await graphSends(sims)).length;
	await visitor.getByRole('button', { name: 'Trigger now' }).click();
	await visitor.locator('#trigger-result[data-sent]').waitFor({ timeout: 60_000 });
	const recipients = (await graphSends(sims)).slice(before).map((request) => (request.body as { recipient?: { id?: string } }).recipient?.id);
	expect(recipients.sort()).toEqual([refusedPsid, uncertainPsid].sort());
	await visitor.locator(`#contacts tr[data-contact="${refused}"][data-status="recently_sent"]`).waitFor({ timeout: 8000 });
	expect(seen).toEqual([]);
	await visitor.close();
});
