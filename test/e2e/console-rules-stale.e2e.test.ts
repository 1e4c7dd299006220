// The console's Rules tab when an answer is lost and when two tabs edit one rule (review K), in a real
// browser (Debian's Chromium driven by playwright-core) against real n8n with this package installed
// from its tarball and the local stack:
// - the Enabled switch and Save of an edit whose answer is lost on the way back (the write reaches n8n
//   and the database; the browser gets no answer) say the rule may have been changed, never "Not
//   changed", show the list as read again, and leave the switch usable;
// - a second tab's Edit form never undoes another tab's change: opened after it, it shows the rule as
//   it is and never sends `enabled`; opened before it, its Save is refused ("changed since you opened
//   it", console_rule_write's version check) with nothing written, the form then keeps what was typed
//   and takes the other change in the fields left alone, and Save again writes the change alone;
// - a lost answer whose rule, read again, holds what was sent closes the form as Saved (the next edit
//   saves); one not made says so and Save again saves; the card's switch while the rule's Edit form is
//   open leaves its Save working; a double click on Save sends one save;
// - the cards' controls are named by their rule (Enabled: <rule>, Edit: <rule>, …).
import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { createWorld, type World } from '../db/follow-up/fixtures';
import { testStack, withDb } from '../helpers/stack';
import { until } from '../helpers/until';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement { textContent: string | null; disabled?: boolean; checked?: boolean; dataset?: Record<string, string | undefined> }
declare const document: { getElementById(id: string): BrowserElement | null; querySelector(selector: string): BrowserElement | null };

let n8n: RunningN8n;
let browser: Browser;
let context: BrowserContext;
let world: World;
const pageErrors: string[] = [];
/** How the next save of a page is delivered: as sent, or its answer lost (done, then the connection reset). */
const nextSave = new Map<Page, 'through' | 'answer lost'>();
/** Rule names of this run (the stack's rules of earlier runs are listed too). */
const run = Date.now().toString(36);
/** Every save body a page sent. */
const saves: Array<{ ruleId: string; settings: Record<string, unknown> }> = [];

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	world = await createWorld();
	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

async function openRules(): Promise<Page> {
	const page = await context.newPage();
	page.on('pageerror', (error) => pageErrors.push(error.message));
	await page.route('**/api/rules/save', async (route: Route) => {
		const request = route.request();
		if (request.method() !== 'POST') return route.continue();
		saves.push(request.postDataJSON() as { ruleId: string; settings: Record<string, unknown> });
		const how = nextSave.get(page) ?? 'through';
		nextSave.delete(page);
		if (how === 'answer lost') {
			await route.fetch();
			return route.abort('connectionreset');
		}
		return route.continue();
	});
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=rules`);
	await page.waitForSelector('#rule-cards .rule-card, #rule-cards .empty');
	return page;
}

/** The page's form shows the rule's version as it is now (its updated_at, as the API wrote it). */
const formShowsCurrent = (page: Page, id: string) =>
	until(async () => {
		const version = await page.evaluate(() => document.querySelector('#rule-form')?.dataset?.version ?? '');
		if (!version) return false;
		return withDb(async (db) => (await db.query<{ same: boolean }>('select updated_at = $2::timestamptz as same from public.ai_automation_rules where id = $1', [id, version])).rows[0].same);
	}, 10_000);

const ruleRow = (id: string) =>
	withDb(async (db) => (await db.query('select enabled, daily_limit, instructions from public.ai_automation_rules where id = $1', [id])).rows[0]);

test('the Enabled switch whose answer is lost says it may have been changed, shows the list as read again, and stays usable', async () => {
	const id = await world.rule({ name: `Lost switch ${run}`, enabled: true });
	const page = await openRules();
	const box = page.locator(`[data-toggle="${id}"]`);
	await box.waitFor();
	nextSave.set(page, 'answer lost');
	await box.uncheck();
	await page.waitForFunction(() => /^No answer to switching/.test(document.getElementById('rules-status')?.textContent ?? ''));
	const said = await page.textContent('#rules-status');
	expect(said).toMatch(/^No answer to switching Lost switch \w+ off \(.+\): it may have been changed\. Its switch, read again now, shows whether it is on: switch it again only if it is not as you want\.$/);
	expect(said).not.toMatch(/Not changed/);
	// The write was made: the list read again shows it off, and the switch is usable again.
	expect((await ruleRow(id)).enabled).toBe(false);
	await page.waitForFunction((rule) => {
		const element = document.querySelector(`[data-toggle="${rule}"]`);
		return element?.checked === false && element.disabled === false;
	}, id, { timeout: 10_000 });
	await box.check();
	await page.waitForFunction(() => /Lost switch \w+ enabled\./.test(document.getElementById('rules-status')?.textContent ?? ''));
	expect((await ruleRow(id)).enabled).toBe(true);
	await page.close();
});

test('Save of an edit whose answer is lost, the rule read again holding what was sent: closed as Saved, and the next edit saves', async () => {
	const id = await world.rule({ name: `Lost save ${run}`, dailyLimit: 200 });
	const page = await openRules();
	await page.locator(`[data-edit="${id}"]`).click();
	await page.locator('#rule-form').waitFor({ state: 'visible' });
	await page.fill('#f-daily', '150');
	nextSave.set(page, 'answer lost');
	await page.click('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(await page.textContent('#rules-status')).toMatch(/^Saved Lost save \w+: its answer was lost \(.+\), but the rule read again holds every setting you sent\.$/);
	expect((await ruleRow(id)).daily_limit).toBe(150);
	await page.waitForFunction((rule) => /^150 a day/.test(document.querySelector(`.rule-card[data-rule="${rule}"] [data-field="limits"]`)?.textContent ?? ''), id, { timeout: 10_000 });
	// Before: the form stayed open with the old version, and every later Save was refused as stale.
	await page.locator(`[data-edit="${id}"]`).click();
	await page.locator('#rule-form').waitFor({ state: 'visible' });
	await page.fill('#f-instructions', 'One more change.');
	await page.click('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(await ruleRow(id)).toMatchObject({ daily_limit: 150, instructions: 'One more change.' });
	await page.close();
});

test('Save of an edit whose answer is lost, not made: the form stays and says it was not saved; Save again saves', async () => {
	const id = await world.rule({ name: `Lost unsaved ${run}`, dailyLimit: 200 });
	const page = await openRules();
	await page.locator(`[data-edit="${id}"]`).click();
	await page.locator('#rule-form').waitFor({ state: 'visible' });
	await page.fill('#f-daily', '120');
	// The request never reaches n8n (no answer, nothing made).
	const unsent = (route: Route) => route.abort('connectionreset');
	await page.route('**/api/rules/save', unsent);
	await page.click('#rule-save');
	await page.waitForFunction(() => /^No answer to the save/.test(document.querySelector('[data-error=""]')?.textContent ?? ''));
	expect(await page.textContent('[data-error=""]')).toMatch(/^No answer to the save of Lost unsaved \w+ \(.+\): the rule, read again now, is as you opened it, so it was not saved\. Save again to save it\.$/);
	expect(await page.isVisible('#rule-form')).toBe(true);
	expect((await ruleRow(id)).daily_limit).toBe(200);
	await page.unroute('**/api/rules/save', unsent);
	await page.click('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect((await ruleRow(id)).daily_limit).toBe(120);
	await page.close();
});

test('the card\'s switch while the rule\'s Edit form is open keeps the edit: its Save is not refused and writes the typed text', async () => {
	const id = await world.rule({ name: `Edit and switch ${run}`, enabled: true });
	const page = await openRules();
	await page.locator(`[data-edit="${id}"]`).click();
	await page.locator('#rule-form').waitFor({ state: 'visible' });
	expect(await formShowsCurrent(page, id)).toBe(true);
	await page.fill('#f-instructions', 'Typed while the switch went off.');
	await page.locator(`[data-toggle="${id}"]`).uncheck();
	await page.waitForFunction(() => /Edit and switch \w+ switched off\./.test(document.getElementById('rules-status')?.textContent ?? ''));
	// The form carries the version the switch made (before: the old one, refused "changed since you opened it").
	expect(await formShowsCurrent(page, id)).toBe(true);
	await page.click('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(await ruleRow(id)).toMatchObject({ enabled: false, instructions: 'Typed while the switch went off.' });
	await page.close();
});

test('a double click on Save sends one save: never "changed since you opened it"', async () => {
	const id = await world.rule({ name: `Double click ${run}`, dailyLimit: 60 });
	const page = await openRules();
	await page.locator(`[data-edit="${id}"]`).click();
	await page.locator('#rule-form').waitFor({ state: 'visible' });
	await page.fill('#f-daily', '77');
	saves.length = 0;
	await page.dblclick('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(saves).toHaveLength(1);
	expect(await page.textContent('#rule-preview')).not.toMatch(/Not saved/);
	expect(await page.textContent('#rules-status')).toBe(`Saved Double click ${run}.`);
	expect((await ruleRow(id)).daily_limit).toBe(77);
	await page.close();
});

test('a second tab\'s Edit never undoes the first\'s change: opened after it, it shows it; opened before, its Save is refused and the form shows the rule as it is', async () => {
	const id = await world.rule({ name: `Two tabs ${run}`, enabled: true, dailyLimit: 200 });
	const a = await openRules();
	const b = await openRules();
	await b.locator(`[data-edit="${id}"]`).waitFor();

	// A switches the rule off; B, whose list was read before, edits the instructions and saves.
	await a.locator(`[data-toggle="${id}"]`).uncheck();
	await a.waitForFunction(() => /Two tabs \w+ switched off\./.test(document.getElementById('rules-status')?.textContent ?? ''));
	await b.locator(`[data-edit="${id}"]`).click();
	await b.locator('#rule-form').waitFor({ state: 'visible' });
	// Opened from B's list, read before A's change: Edit reads the rule again and the form shows it as it is.
	expect(await formShowsCurrent(b, id)).toBe(true);
	// The edit form has no Enabled box (the card's switch is the rule's) and sends no enabled.
	expect(await b.isHidden('#f-enabled')).toBe(true);
	await b.fill('#f-instructions', 'Mention the payment plan.');
	saves.length = 0;
	await b.click('#rule-save');
	await b.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(saves).toHaveLength(1);
	expect(saves[0].settings).not.toHaveProperty('enabled');
	expect(saves[0].settings.updated_at).toEqual(expect.any(String));
	expect(await ruleRow(id)).toEqual({ enabled: false, daily_limit: 200, instructions: 'Mention the payment plan.' });

	// B opens the form; A changes the daily limit meanwhile; B's Save is refused, nothing written.
	await b.locator(`[data-edit="${id}"]`).click();
	await b.locator('#rule-form').waitFor({ state: 'visible' });
	// B's list may be drawn before its save's re-read: the form shows the rule as B saved it before typing
	// (else B's own instructions count as changed elsewhere too, named beside the form).
	expect(await formShowsCurrent(b, id)).toBe(true);
	await b.fill('#f-instructions', 'Offer the early-bird price once, politely.');
	await a.locator(`[data-edit="${id}"]`).click();
	await a.locator('#rule-form').waitFor({ state: 'visible' });
	// A's list was read before B's save: its form shows the rule read again.
	expect(await formShowsCurrent(a, id)).toBe(true);
	await a.fill('#f-daily', '7');
	await a.click('#rule-save');
	await a.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect((await ruleRow(id)).daily_limit).toBe(7);

	await b.click('#rule-save');
	await b.waitForFunction(() => /changed since you opened it/.test(document.querySelector('[data-error=""]')?.textContent ?? ''));
	expect(await b.textContent('[data-error=""] .advice')).toBe(
		'This rule was changed since you opened it (in another tab, or by someone else), so nothing was saved. The form keeps what you typed and now shows the other change in the fields you left alone (Daily limit). Save again to apply what the form shows.',
	);
	expect(await b.textContent('#rule-preview')).toBe('Not saved: the rule was changed since you opened it.');
	expect(await ruleRow(id)).toEqual({ enabled: false, daily_limit: 7, instructions: 'Mention the payment plan.' });
	// The form keeps what B typed (before: reset to the rule, the typed text lost) and shows A's daily limit.
	expect(await b.inputValue('#f-daily')).toBe('7');
	expect(await b.inputValue('#f-instructions')).toBe('Offer the early-bird price once, politely.');
	expect(await formShowsCurrent(b, id)).toBe(true);
	await b.click('#rule-save');
	await b.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(await ruleRow(id)).toEqual({ enabled: false, daily_limit: 7, instructions: 'Offer the early-bird price once, politely.' });
	await a.close();
	await b.close();
});

test('each card\'s controls are named by their rule', async () => {
	await world.rule({ name: `Named one ${run}` });
	await world.rule({ name: `Named two ${run}` });
	const page = await openRules();
	await page.locator(`.rule-card[aria-label="Named two ${run}"]`).waitFor();
	const cards = await page.locator('.rule-card').count();
	expect(cards).toBeGreaterThan(1);
	for (const name of ['Enabled', 'Monitor', 'Edit', 'Delete']) {
		const role = name === 'Enabled' ? 'checkbox' : 'button';
		expect(await page.getByRole(role, { name, exact: true }).count()).toBe(0);
		expect(await page.getByRole(role, { name: `${name}: Named two ${run}`, exact: true }).count()).toBe(1);
	}
	await page.getByRole('button', { name: `Edit: Named one ${run}`, exact: true }).click();
	expect(await page.textContent('#rule-form-title')).toBe(`Edit Named one ${run}`);
	expect(pageErrors).toEqual([]);
	await page.close();
});
