// The console's Rules tab saving a new rule twice, in a real browser (Debian's Chromium driven by
// playwright-core) against real n8n with this package installed from its tarball and the local
// stack: the form sends one key (the Idempotency-Key header) with every save of it, so a double
// click on Save, and a Save repeated after an answer lost on the way back, make one rule. A save
// whose answer was lost, then the form changed and saved again, is refused beside the changed field
// and the form then edits the rule created, which the list then shows: Save again applies the change
// to that rule.
import { chromium, type Browser, type Page, type Route } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { createWorld, type World } from '../db/follow-up/fixtures';
import { testStack, withDb } from '../helpers/stack';
import { until } from '../helpers/until';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement { value: string; textContent: string | null; dispatchEvent(event: unknown): boolean }
declare const document: { getElementById(id: string): BrowserElement | null };
declare const Event: new (type: string, init?: { bubbles?: boolean }) => unknown;

let n8n: RunningN8n;
let browser: Browser;
let page: Page;
let world: World;
const pageErrors: string[] = [];
/** Every save the page sent: its body's ruleId and its Idempotency-Key header. */
const saves: Array<{ ruleId: string; key: string | undefined }> = [];
/** How the next save is delivered: as sent, held a moment (a double click's first), or its answer lost. */
let nextSave: 'through' | 'held' | 'answer lost' = 'through';
/** Saves answered (n8n's answer reached the page). */
let answered = 0;

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	world = await createWorld();
	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	page = await context.newPage();
	page.on('pageerror', (error) => pageErrors.push(error.message));
	page.on('response', (response) => {
		if (/\/api\/rules\/save$/.test(response.url())) answered += 1;
	});
	await page.route('**/api/rules/save', async (route: Route) => {
		const request = route.request();
		if (request.method() !== 'POST') return route.continue();
		saves.push({ ruleId: (request.postDataJSON() as { ruleId: string }).ruleId, key: (await request.allHeaders())['idempotency-key'] });
		const how = nextSave;
		nextSave = 'through';
		if (how === 'held') {
			await new Promise((resolve) => setTimeout(resolve, 500));
			return route.continue();
		}
		if (how === 'answer lost') {
			// The save reaches n8n and the database; its answer never reaches the page.
			await route.fetch();
			return route.abort('connectionreset');
		}
		return route.continue();
	});
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=rules`);
	await page.waitForSelector('#rule-cards .rule-card, #rule-cards .empty');
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

const rulesOf = () =>
	withDb(async (db) => (await db.query('select * from public.ai_automation_rules where user_id = $1 order by created_at', [world.userId])).rows);

async function newForm(name: string, dailyLimit: string) {
	await page.click('#rule-new');
	// The owner picker shows when the database has rules or tags of several owners.
	await page.evaluate((owner) => {
		const picker = document.getElementById('owner-picker');
		if (picker) {
			picker.value = owner;
			picker.dispatchEvent(new Event('change', { bubbles: true }));
		}
	}, world.userId);
	await page.fill('#f-name', name);
	await page.locator('#f-include label', { hasText: 'AI Lead' }).locator('input').check();
	await page.fill('#f-daily', dailyLimit);
	await page.fill('#f-instructions', 'Ask kindly whether they still want the quote.');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a double click on Save sends one key twice and makes one rule', async () => {
	await newForm('Double clicked', '30');
	saves.length = 0;
	answered = 0;
	nextSave = 'held';
	await page.dblclick('#rule-save');
	await page.waitForSelector('.rule-card[aria-label="Double clicked"]');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(await until(() => answered === 2, 10_000)).toBe(true);
	expect(saves).toHaveLength(2);
	const rows = (await rulesOf()).filter((row) => row.name === 'Double clicked');
	expect(rows).toHaveLength(1);
	expect(saves[0].key).toMatch(UUID);
	expect(saves.map((save) => save.key)).toEqual([saves[0].key, saves[0].key]);
	expect(rows.map((row) => row.create_key)).toEqual([saves[0].key]);
	expect(pageErrors).toEqual([]);
});

test('Save again after an answer lost on the way back makes one rule; another form has another key', async () => {
	const before = saves.at(-1)?.key;
	await newForm('Answer lost', '30');
	saves.length = 0;
	nextSave = 'answer lost';
	await page.click('#rule-save');
	// The page says the save failed (no answer); the rule was written all the same.
	await page.waitForFunction(() => Boolean(document.getElementById('rule-form')?.textContent) && (document as unknown as { querySelector(s: string): BrowserElement | null }).querySelector('[data-error=""] .advice') !== null);
	expect((await rulesOf()).filter((row) => row.name === 'Answer lost')).toHaveLength(1);
	expect(await page.isHidden('#rule-form')).toBe(false);

	await page.click('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	await page.waitForSelector('.rule-card[aria-label="Answer lost"]');
	expect((await rulesOf()).filter((row) => row.name === 'Answer lost')).toHaveLength(1);
	expect(saves.map((save) => save.key)).toEqual([saves[0].key, saves[0].key]);
	expect(saves[0].key).toMatch(UUID);
	expect(saves[0].key).not.toBe(before);
	expect(pageErrors).toEqual([]);
});

test('changed after a lost answer: refused beside the field, then Save again changes the rule created', async () => {
	await newForm('Changed after', '30');
	saves.length = 0;
	nextSave = 'answer lost';
	await page.click('#rule-save');
	await page.waitForFunction(() => (document as unknown as { querySelector(s: string): BrowserElement | null }).querySelector('[data-error=""] .advice') !== null);
	expect((await rulesOf()).filter((row) => row.name === 'Changed after')).toHaveLength(1);
	const [created] = (await rulesOf()).filter((row) => row.name === 'Changed after');

	await page.fill('#f-daily', '35');
	await page.click('#rule-save');
	const message = page.locator('[data-error="daily_limit"]');
	await message.waitFor({ state: 'visible' });
	expect(await message.textContent()).toMatch(/already created it/);
	expect(await page.textContent('#rule-form-title')).toBe('Edit Changed after');
	expect((await rulesOf()).filter((row) => row.name === 'Changed after').map((row) => row.daily_limit)).toEqual([30]);
	// The rule the form now edits is in the list (the lost answer never reloaded it), the refusal still shown.
	await page.waitForSelector(`.rule-card[data-rule="${created.id}"]`, { timeout: 5_000 });
	expect(await message.textContent()).toMatch(/already created it/);

	await page.click('#rule-save');
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	expect(saves.map((save) => save.ruleId)).toEqual(['', '', created.id]);
	expect(saves[2].key).toBeUndefined();
	const rows = (await rulesOf()).filter((row) => row.name === 'Changed after');
	expect(rows.map((row) => [row.id, row.daily_limit])).toEqual([[created.id, 35]]);
	expect(pageErrors).toEqual([]);
});
