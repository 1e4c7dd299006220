// The console's Rules tab in a real browser (Debian's Chromium driven by playwright-core) against
// real n8n with this package installed from its tarball and the local stack: a rule created through
// the form equals the row it wrote, its preview equals what automation_explain answers for it, an
// invalid form shows the database's message beside the field with nothing saved, the toggle and
// Monitor work, 375 px without sideways scrolling, no console error; the Page, model, language,
// history size and takeover-resume hours saved are the row written; the prompt shown is built for a
// real tagged contact (the first due, or the one picked); a refused field shows advice in plain
// words beside it with the database's words as a detail, nothing saved; a call the node refuses
// answers what to do (`hint`) on every Rules endpoint; a Delete sent twice (a double click, a retry
// after a lost answer) ends with the rule gone and the page saying so, not an error. Screenshots go to
// test/e2e/artifacts/ (not committed).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { createWorld, type World } from '../db/follow-up/fixtures';
import { serviceClient, testStack, withDb } from '../helpers/stack';
import { until } from '../helpers/until';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement {
	dataset: Record<string, string | undefined>;
	textContent: string | null;
	value: string;
	dispatchEvent(event: unknown): boolean;
	id?: string;
	disabled?: boolean;
	closest(selector: string): BrowserElement | null;
	getAttribute(name: string): string | null;
	hasAttribute(name: string): boolean;
}
declare const document: { getElementById(id: string): BrowserElement | null; activeElement: BrowserElement | null; documentElement: { scrollWidth: number } };
declare const Event: new (type: string, init?: { bubbles?: boolean }) => unknown;

const ARTIFACTS = path.resolve(__dirname, 'artifacts');
let n8n: RunningN8n;
let browser: Browser;
let page: Page;
let world: World;
const problems: string[] = [];

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	world = await createWorld();
	await world.contacts(3, { name: 'Rules Due' });
	await world.contacts(2, { name: 'Rules Late', lastMessageHoursAgo: 30 });
	// n8n judges at the database's own clock, not the fixtures' instant: the due contacts wrote an
	// hour before that clock.
	await withDb((db) =>
		db.query(`update public.messenger_conversations set last_customer_message_at = now() - interval '1 hour' where user_id = $1 and sender_name like 'Rules Due%'`, [world.userId]),
	);
	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
	const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	page = await context.newPage();
	page.on('console', (message) => {
		if (message.type() === 'error' && !/status of 400/.test(message.text())) problems.push(`console: ${message.text()}`);
	});
	page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
	page.on('requestfailed', (request) => problems.push(`failed: ${request.method()} ${request.url()}`));
	page.on('response', (response) => {
		// The refused rule below is a 400 by design; any other error answer is a problem.
		if (response.status() >= 400 && !(response.status() === 400 && /\/api\/rules\/save$/.test(response.url()))) {
			problems.push(`answer ${response.status()}: ${response.url()}`);
		}
	});
	mkdirSync(ARTIFACTS, { recursive: true });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

const rulesOf = () =>
	withDb(async (db) => (await db.query('select * from public.ai_automation_rules where user_id = $1 order by created_at', [world.userId])).rows);

async function chooseOwner() {
	// The owner picker shows when the database has rules or tags of several owners.
	await page.evaluate((owner) => {
		const picker = document.getElementById('owner-picker');
		if (picker) {
			picker.value = owner;
			picker.dispatchEvent(new Event('change', { bubbles: true }));
		}
	}, world.userId);
}

async function fillForm(values: { name: string; dailyLimit: string }) {
	await page.click('#rule-new');
	await page.fill('#f-name', values.name);
	await page.locator('#f-include label', { hasText: 'AI Lead' }).locator('input').check();
	await page.locator('#f-exclude label', { hasText: 'Do Not Contact' }).locator('input').check();
	await page.locator('input[name="tag_match"][value="any"]').check();
	await page.fill('#f-start', '00:00');
	await page.fill('#f-end', '00:00');
	await page.selectOption('#f-zone', 'Europe/Paris');
	await page.fill('#f-daily', values.dailyLimit);
	await page.fill('#f-max', '2');
	await page.fill('#f-interval', '3.5');
	await page.locator('#f-stop').uncheck();
	await page.fill('#f-instructions', 'Ask kindly whether they still want the quote.');
}

test('a rule made with the form is the row it wrote, and its preview is automation_explain\'s judgement', async () => {
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=rules`);
	await page.waitForSelector('#rule-cards .rule-card, #rule-cards .empty');
	await chooseOwner();
	await fillForm({ name: 'Made in the browser', dailyLimit: '30' });

	await page.click('#rule-preview-button');
	await page.waitForFunction(() => Boolean(document.getElementById('rule-preview')?.dataset.explain));
	const preview = await page.evaluate(() => ({
		explain: JSON.parse(document.getElementById('rule-preview')?.dataset.explain ?? '{}') as { tagged: number; due: number; by_reason: Record<string, number> },
		text: document.getElementById('rule-preview')?.textContent ?? '',
	}));
	expect(await rulesOf()).toEqual([]);
	expect(preview.text).toMatch(/^With these settings 3 of 5 tagged contacts are due now; 2 outside the 24-hour messaging window/);
	expect(preview.explain).toEqual({ tagged: 5, due: 3, by_reason: { outside_window: 2 } });
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-rules-form.png'), fullPage: true });

	await page.click('#rule-save');
	await page.waitForSelector('.rule-card[aria-label="Made in the browser"]');
	// The form closed: the focus is on the saved rule's Edit, not the page's body.
	await page.waitForFunction(() => document.activeElement?.closest('.rule-card')?.getAttribute('aria-label') === 'Made in the browser' && document.activeElement?.hasAttribute('data-edit'), undefined, { timeout: 5000 });
	const rows = await rulesOf();
	expect(rows).toHaveLength(1);
	const [row] = rows;
	expect(row).toMatchObject({
		name: 'Made in the browser',
		enabled: true,
		include_tag_ids: [world.tags['AI Lead']],
		exclude_tag_ids: [world.tags['Do Not Contact']],
		tag_match: 'any',
		active_hours_start: '00:00:00',
		active_hours_end: '00:00:00',
		time_zone: 'Europe/Paris',
		active_days: [1, 2, 3, 4, 5, 6, 7],
		daily_limit: 30,
		max_follow_ups: 2,
		min_hours_between_follow_ups: '3.50',
		stop_on_reply: false,
		instructions: 'Ask kindly whether they still want the quote.',
	});

	// n8n judges at the database's clock: automation_explain at that clock, for the saved rule.
	const { data: judged, error } = await serviceClient().rpc('automation_explain', { p_rule_id: row.id });
	expect(error).toBeNull();
	const byReason: Record<string, number> = {};
	for (const contact of judged as { reason: string | null }[]) if (contact.reason) byReason[contact.reason] = (byReason[contact.reason] ?? 0) + 1;
	expect(preview.explain).toEqual({ tagged: judged.length, due: judged.filter((contact: { due: boolean }) => contact.due).length, by_reason: byReason });

	// The card: toggle off, then Monitor opens the Follow-ups tab on the rule.
	const card = page.locator('.rule-card[aria-label="Made in the browser"]');
	await card.locator('[data-toggle]').uncheck();
	await page.waitForFunction(() => /switched off/.test(document.getElementById('rules-status')?.textContent ?? ''));
	expect((await rulesOf())[0].enabled).toBe(false);
	// The list read again: the focus is on the same switch, drawn anew.
	await page.waitForFunction((id) => document.activeElement?.dataset.toggle === id && document.activeElement?.disabled === false, row.id, { timeout: 5000 });
	await page.locator('.rule-card[aria-label="Made in the browser"] [data-monitor]').click();
	await page.waitForSelector('#panel-followups:not([hidden])');
	// The Follow-ups tab polls the rule: its picker and its totals are the rule's.
	await page.waitForFunction((id) => document.getElementById('rule-picker')?.value === id && Boolean(document.getElementById('totals')?.textContent), row.id);
	expect(await page.evaluate(() => document.getElementById('rule-picker')?.value)).toBe(row.id);
});

test('an invalid form shows the database\'s message beside the field, nothing saved; 375 px fits', async () => {
	await page.click('#tab-rules');
	await page.waitForSelector('#panel-rules:not([hidden])');
	await chooseOwner();
	await fillForm({ name: 'Refused in the browser', dailyLimit: '0' });
	await page.click('#rule-save');
	const message = page.locator('[data-error="daily_limit"]');
	await message.waitFor({ state: 'visible' });
	expect(await message.textContent()).toMatch(/daily_limit_check/);
	expect(await page.getAttribute('#f-daily', 'aria-invalid')).toBe('true');
	expect((await rulesOf()).map((rule) => rule.name)).toEqual(['Made in the browser']);

	await page.setViewportSize({ width: 375, height: 800 });
	expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-rules-375.png'), fullPage: true });
	expect(problems).toEqual([]);
});

test('from the keyboard: New rule opens the form on its first field; Edit saves a change; Delete asks, then deletes, the focus on the next card\'s Delete', async () => {
	await page.setViewportSize({ width: 1280, height: 900 });
	await page.click('#rule-cancel');
	await page.focus('#rule-new');
	await page.keyboard.press('Enter');
	expect(await page.evaluate(() => (document as unknown as { activeElement: { id: string } }).activeElement.id)).toBe('f-name');
	await page.keyboard.press('Escape');
	await page.click('#rule-cancel');

	const [row] = await rulesOf();
	await page.locator(`.rule-card[data-rule="${row.id}"] [data-edit]`).focus();
	await page.keyboard.press('Enter');
	await page.fill('#f-daily', '45');
	await page.focus('#f-daily');
	await page.keyboard.press('Enter'); // submits the form
	await page.waitForSelector('#rule-form[hidden]', { state: 'attached' });
	// Closed, and off the screen: not drawn below the cards.
	expect(await page.isHidden('#rule-form')).toBe(true);
	const [edited] = await rulesOf();
	expect(edited).toMatchObject({ id: row.id, daily_limit: 45, name: 'Made in the browser', time_zone: 'Europe/Paris' });
	// Saved: the focus is back on the Edit that opened the form.
	await page.waitForFunction((id) => document.activeElement?.closest('.rule-card')?.getAttribute('data-rule') === id && document.activeElement?.hasAttribute('data-edit'), row.id, { timeout: 5000 });

	// Delete from the keyboard, with a second rule listed: the focus goes to the next card's Delete (the
	// one before's for the last card; New rule once no card is left), not to the page's body.
	const next = await world.rule({ name: 'Next in the list' });
	await page.click('#tab-rules');
	await page.waitForSelector(`.rule-card[data-rule="${next}"]`);
	for (const id of [row.id, next]) {
		const expected = await page.evaluate((deleted) => {
			const cards = Array.from((document as unknown as { querySelectorAll(s: string): ArrayLike<{ getAttribute(name: string): string | null }> }).querySelectorAll('.rule-card'))
				.map((card) => card.getAttribute('data-rule'));
			const at = cards.indexOf(deleted);
			return cards[at + 1] ?? cards[at - 1] ?? null;
		}, id);
		await page.locator(`.rule-card[data-rule="${id}"] [data-delete]`).focus();
		page.once('dialog', (dialog) => void dialog.accept());
		await page.keyboard.press('Enter');
		await page.waitForSelector(`.rule-card[data-rule="${id}"]`, { state: 'detached' });
		expect(await page.textContent('#rules-status')).toMatch(/^Deleted /);
		if (expected) {
			await page.waitForFunction((card) => document.activeElement?.closest('.rule-card')?.getAttribute('data-rule') === card && document.activeElement?.hasAttribute('data-delete'), expected, { timeout: 5000 });
		} else {
			await page.waitForFunction(() => (document.activeElement as unknown as { id?: string } | null)?.id === 'rule-new', undefined, { timeout: 5000 });
		}
	}
	expect(await rulesOf()).toEqual([]);
	expect(problems).toEqual([]);
});

test('Delete twice (a double click, or a retry after the answer was lost): the second finds the rule gone (404), and the page says it is deleted, no error', async () => {
	const ruleId = await world.rule({ name: 'Deleted twice' });
	await page.click('#tab-rules');
	await page.waitForSelector('.rule-card[aria-label="Deleted twice"]');
	// The first delete is held a moment on its way: the second (the card is still there) deletes the
	// rule, then the first reaches n8n and finds no rule.
	let deletes = 0;
	let answered = 0;
	const counted = (response: { url(): string }) => { if (/\/api\/rules\/delete$/.test(response.url())) answered += 1; };
	page.on('response', counted);
	await page.route('**/api/rules/delete', async (route) => {
		if ((deletes += 1) === 1) await new Promise((resolve) => setTimeout(resolve, 500));
		await route.continue();
	});
	const accept = (dialog: { accept(): Promise<void> }) => void dialog.accept();
	page.on('dialog', accept);
	const before = problems.length;
	try {
		const button = page.locator(`.rule-card[data-rule="${ruleId}"] [data-delete]`);
		await button.click();
		await button.click();
		expect(await until(() => answered === 2, 10_000)).toBe(true);
		// What the page made of the later answer, the 404.
		await page.waitForFunction(() => /already deleted|Not deleted/.test(document.getElementById('rules-status')?.textContent ?? ''));
	} finally {
		page.off('dialog', accept);
		page.off('response', counted);
		await page.unroute('**/api/rules/delete');
	}
	// The browser logs the 404 the later delete answered (taken out here, so the tests after this one
	// judge only their own); nothing else went wrong.
	expect(problems.splice(before).sort()).toEqual([expect.stringMatching(/^answer 404: .*\/api\/rules\/delete$/), expect.stringMatching(/^console: .*404/)]);
	await page.waitForSelector(`.rule-card[data-rule="${ruleId}"]`, { state: 'detached' });
	expect(await page.textContent('#rules-status')).toBe('Deleted twice was already deleted.');
	expect((await rulesOf()).filter((row) => row.id === ruleId)).toEqual([]);
});

test('a delete whose answer is lost: the page says so and shows the list as it is (the rule gone), no silent click', async () => {
	const ruleId = await world.rule({ name: 'Answer lost' });
	await page.click('#tab-rules');
	await page.waitForSelector('.rule-card[aria-label="Answer lost"]');
	// The delete reaches n8n and is made; its answer never reaches the page.
	await page.route('**/api/rules/delete', async (route) => {
		await route.fetch();
		await route.abort('connectionreset');
	});
	const accept = (dialog: { accept(): Promise<void> }) => void dialog.accept();
	page.on('dialog', accept);
	const before = problems.length;
	try {
		await page.locator(`.rule-card[data-rule="${ruleId}"] [data-delete]`).click();
		await page.waitForFunction(() => /^No answer to the delete of Answer lost/.test(document.getElementById('rules-status')?.textContent ?? ''));
	} finally {
		page.off('dialog', accept);
		await page.unroute('**/api/rules/delete');
	}
	expect(await page.textContent('#rules-status')).toMatch(/the list shows whether it is gone; Delete again if it is still there\.$/);
	await page.waitForSelector(`.rule-card[data-rule="${ruleId}"]`, { state: 'detached' });
	expect((await rulesOf()).filter((row) => row.id === ruleId)).toEqual([]);
	// The browser reports the failed request, and logs it (taken out here, so the tests after this one
	// judge only their own); nothing else.
	expect(problems.splice(before).sort()).toEqual([expect.stringMatching(/^console: .*ERR_CONNECTION_RESET/), expect.stringMatching(/^failed: POST .*\/api\/rules\/delete$/)]);
});

test('the new fields saved are the row written; the prompt shown is for a real contact, the first due by default, another when picked', async () => {
	// Each due contact's conversation: an older question and a newer one, both before the database's clock.
	const { rows: due } = await withDb((db) =>
		db.query<{ id: string }>(`select id from public.messenger_conversations where user_id = $1 and sender_name like 'Rules Due%' order by id`, [world.userId]),
	);
	await withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, d, t, now() - make_interval(mins => m)
			   from unnest($2::uuid[]) c
			  cross join (values ('inbound', 'Do you deliver to Lyon?', 240), ('outbound', 'We do, in two days.', 200), ('inbound', 'Is the quote still valid?', 180)) v (d, t, m)`,
			[world.userId, due.map((row) => row.id)],
		),
	);
	await page.click('#tab-rules');
	await page.waitForSelector('#panel-rules:not([hidden])');
	await chooseOwner();
	await fillForm({ name: 'Prompt in the browser', dailyLimit: '20' });
	await page.selectOption('#f-page', world.pageId);
	await page.fill('#f-model', 'gemini-2.5-flash');
	await page.fill('#f-language', 'Italian');
	await page.fill('#f-context', '2');
	await page.fill('#f-resume', '6.5');

	await page.click('#rule-prompt-button');
	await page.waitForSelector('#rule-prompt:not([hidden])');
	const shown = await page.evaluate(() => ({
		conversation: document.getElementById('rule-prompt')?.dataset.conversation ?? '',
		system: document.getElementById('rule-prompt-system')?.textContent ?? '',
		user: document.getElementById('rule-prompt-user')?.textContent ?? '',
	}));
	// Nothing saved by the preview.
	expect(await rulesOf()).toEqual([]);
	// The first due contact in the claim's order (all three wrote at the same instant: by id).
	expect(shown.conversation).toBe(due[0].id);
	expect(shown.system).toContain('Ask kindly whether they still want the quote.');
	expect(shown.system).toContain('Write in Italian.');
	expect(shown.user).toMatch(/^Contact name: Rules Due\n/);
	expect(shown.user).toContain('This is the 1st follow-up.');
	// Two messages of history: the answer and the newer question, not the first question.
	expect(shown.user).toContain('Business (');
	expect(shown.user).toContain('Contact (');
	expect(shown.user).toContain('Is the quote still valid?');
	expect(shown.user).not.toContain('Do you deliver to Lyon?');

	// Another real contact, picked in the list: a late one, with no messages on record.
	const late = await page.locator('#f-contact option', { hasText: 'Rules Late' }).first().getAttribute('value');
	expect(late).toBeTruthy();
	await page.selectOption('#f-contact', late as string);
	await page.waitForFunction((id) => document.getElementById('rule-prompt')?.dataset.conversation === id, late);
	expect(await page.evaluate(() => document.getElementById('rule-prompt-user')?.textContent ?? '')).toContain('There are no earlier messages to show.');
	await page.screenshot({ path: path.join(ARTIFACTS, 'console-rules-prompt.png'), fullPage: true });

	await page.click('#rule-save');
	await page.waitForSelector('.rule-card[aria-label="Prompt in the browser"]');
	const [row] = await rulesOf();
	expect(row).toMatchObject({
		name: 'Prompt in the browser',
		page_id: world.pageId,
		model: 'gemini-2.5-flash',
		language: 'Italian',
		context_message_count: 2,
		resume_after_takeover_hours: '6.50',
		daily_limit: 20,
	});
	// Edit shows the saved values in their controls.
	await page.locator(`.rule-card[data-rule="${row.id}"] [data-edit]`).click();
	expect(await page.inputValue('#f-page')).toBe(world.pageId);
	expect(await page.inputValue('#f-language')).toBe('Italian');
	expect(await page.inputValue('#f-context')).toBe('2');
	expect(await page.inputValue('#f-resume')).toBe('6.5');
	await page.click('#rule-cancel');
	expect(problems).toEqual([]);
});

test('a refused field shows the friendly message beside it, the database\'s words as a detail, and nothing is saved', async () => {
	const before = await rulesOf();
	await fillForm({ name: 'Too much history', dailyLimit: '20' });
	await page.fill('#f-context', '500');
	await page.click('#rule-save');
	const message = page.locator('[data-error="context_message_count"]');
	await message.waitFor({ state: 'visible' });
	expect(await message.locator('.advice').textContent()).toBe('Messages of history is how many past messages the AI reads: a whole number, from 0 to 100.');
	expect(await message.locator('.database-message').textContent()).toMatch(/context_message_count_check/);
	expect(await page.getAttribute('#f-context', 'aria-invalid')).toBe('true');
	expect(await rulesOf()).toEqual(before);

	// The Page: a value not of digits is refused beside the Page control.
	await page.fill('#f-context', '10');
	await page.evaluate(() => {
		const select = document.getElementById('f-page') as unknown as { innerHTML: string; value: string };
		select.innerHTML += '<option value="my-page">my-page</option>';
		select.value = 'my-page';
	});
	await page.click('#rule-save');
	const pageMessage = page.locator('[data-error="page_id"] .advice');
	await pageMessage.waitFor({ state: 'visible' });
	expect(await pageMessage.textContent()).toMatch(/Pick one of your Facebook Pages/);
	expect(await page.locator('[data-error="context_message_count"]').textContent()).toBe('');
	expect(await rulesOf()).toEqual(before);
	expect(problems).toEqual([]);
});

test('a rule naming a tag that no longer exists says so on its card and in its form, with what to do; Save removes the tag', async () => {
	// Saved before migration …1670 kept tags in use, or written directly: an "all tags" rule whose
	// "Hot" tag is gone follows up nobody. The delete goes around the trigger that now refuses it.
	const other = await createWorld();
	const ruleId = await other.rule({ name: 'Needs a deleted tag', include: ['AI Lead', 'Hot'], tagMatch: 'all', exclude: ['Do Not Contact'] });
	await withDb(async (db) => {
		await db.query('begin');
		await db.query('set local session_replication_role = replica');
		await db.query('delete from public.tags where id = $1', [other.tags.Hot]);
		await db.query('commit');
	});
	const visitor = await browser.newPage();
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=rules`);
	const card = visitor.locator(`.rule-card[data-rule="${ruleId}"]`);
	await card.waitFor({ timeout: 15_000 });
	expect(await card.locator('[data-field="tags"]').textContent()).toBe('Tags: AI Lead · not Do Not Contact');
	expect(await card.locator('[data-field="missing-tags"]').textContent()).toBe(
		'This rule names a tag that no longer exists among the tags it follows up, and a contact needs all of them, so it follows up nobody. '
		+ 'Remove it from the rule (Edit, then Save: the form keeps only tags that exist), or create the tag again and pick it in the rule.',
	);

	// The form says it beside the tags followed up (not beside the excluded ones), and what Save does.
	await card.locator('[data-edit]').click();
	const note = visitor.locator('[data-missing="include_tag_ids"]');
	await note.waitFor({ state: 'visible' });
	expect(await note.textContent()).toBe('This rule names a tag that no longer exists among the tags it follows up. Saving removes it from the rule; to follow up by that tag again, create it again and tick it here.');
	expect(await visitor.locator('[data-missing="exclude_tag_ids"]').isHidden()).toBe(true);
	await visitor.click('#rule-save');
	await visitor.locator('#rule-form').waitFor({ state: 'hidden' });
	const saved = await withDb(async (db) => (await db.query('select include_tag_ids, exclude_tag_ids, tag_match from public.ai_automation_rules where id = $1', [ruleId])).rows[0]);
	expect(saved).toEqual({ include_tag_ids: [other.tags['AI Lead']], exclude_tag_ids: [other.tags['Do Not Contact']], tag_match: 'all' });
	await card.locator('[data-field="missing-tags"]').waitFor({ state: 'detached' });
	// A rule whose tags all exist opens its form without the note.
	await card.locator('[data-edit]').click();
	await visitor.locator('#rule-form').waitFor({ state: 'visible' });
	expect(await note.isHidden()).toBe(true);
	await visitor.close();
});

test('a Page another owner connected is refused beside the Page control in its own words: pick a Page of this owner, or Every Page', async () => {
	const before = await rulesOf();
	const stranger = await createWorld();
	await withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [stranger.pageId, stranger.userId]));
	await fillForm({ name: 'On a Page of another owner', dailyLimit: '20' });
	await page.evaluate((pageId) => {
		const select = document.getElementById('f-page') as unknown as { innerHTML: string; value: string };
		select.innerHTML += `<option value="${pageId}">${pageId}</option>`;
		select.value = pageId;
	}, stranger.pageId);
	await page.click('#rule-save');
	const pageMessage = page.locator('[data-error="page_id"]');
	await pageMessage.locator('.advice').waitFor({ state: 'visible' });
	expect(await pageMessage.locator('.advice').textContent()).toBe(
		'This Page is connected to another owner, so the rule cannot send as it: pick one of this owner\'s own Facebook Pages, or "Every Page" (leave it empty) to follow up on every Page of the owner.',
	);
	expect(await pageMessage.locator('.database-message').textContent()).toMatch(new RegExp(`^Page ${stranger.pageId} is connected to another owner`));
	expect(await rulesOf()).toEqual(before);
	await page.click('#rule-cancel');
	expect(problems).toEqual([]);
});

test('"Could not read the rules" goes once the rules are read again', async () => {
	const visitor = await browser.newPage();
	// The first read of the list fails (the server is down a moment), the next ones are answered.
	let refused = 0;
	await visitor.route((url) => url.pathname.endsWith('/api/rules'), async (route) => {
		if (refused > 0) return await route.continue();
		refused += 1;
		await route.fulfill({ status: 503, headers: { 'Access-Control-Allow-Origin': '*' }, contentType: 'application/json', body: JSON.stringify({ error: 'Down for a moment' }) });
	});
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=rules`);
	await visitor.waitForFunction(() => /^Could not read the rules: Down for a moment/.test(document.getElementById('rules-status')?.textContent ?? ''));
	// The tab shown again reads the list again.
	await visitor.click('#tab-followups');
	await visitor.click('#tab-rules');
	await visitor.locator('#rule-cards .rule-card').first().waitFor({ timeout: 15_000 });
	await visitor.waitForFunction(() => (document.getElementById('rules-status')?.textContent ?? '') === '', undefined, { timeout: 8000 });
	await visitor.close();
});

test('a refused key on the Rules tab brings up the key form, as on the other tabs; the good key typed into it shows the rules', async () => {
	const visitor = await browser.newPage();
	const answers: number[] = [];
	visitor.on('response', (response) => { if (/\/api\/rules$/.test(response.url())) answers.push(response.status()); });
	await visitor.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=not-the-key&tab=rules`);
	await visitor.locator('#key-form-section:not([hidden])').waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#key-error').textContent()).toMatch(/^That key was refused\. Enter the key/);
	expect(answers).toEqual([403]);
	expect(await visitor.locator('#rule-cards .rule-card').count()).toBe(0);
	await visitor.fill('#key-input', WEBHOOK_KEY.value);
	await visitor.press('#key-input', 'Enter');
	expect(await visitor.locator('#tab-rules').getAttribute('aria-selected')).toBe('true');
	await visitor.locator('#rule-cards .rule-card').first().waitFor({ timeout: 15_000 });
	expect(await visitor.locator('#rules-status').textContent()).toBe('');
	await visitor.close();
});

test('a call the node refuses answers what is wrong and what to do on every Rules endpoint: { status, error, hint }', async () => {
	const headers = { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value, 'content-type': 'application/json' };
	const ruleIdHint = 'Use the rule ID from the rules list (GET …/api/rules).';
	const notUuid = { status: 400, error: expect.stringMatching(/rule ID "rule-1" is not a UUID/), field: 'ruleId', hint: ruleIdHint };
	for (const [endpoint, body] of [
		['save', { ruleId: 'rule-1', settings: {} }],
		['explain', { ruleId: 'rule-1', settings: {} }],
		['delete', { ruleId: 'rule-1' }],
	] as const) {
		const answer = await n8n.callWebhook(`leadflow/console/api/rules/${endpoint}`, { method: 'POST', headers, body });
		expect({ endpoint, status: answer.statusCode, body: answer.body }).toEqual({ endpoint, status: 400, body: notUuid });
	}
	const prompt = await n8n.callWebhook('leadflow/console/api/rules/prompt', {
		method: 'POST',
		headers,
		body: { userId: world.userId, settings: {}, conversationId: 'contact-1' },
	});
	expect({ status: prompt.statusCode, body: prompt.body }).toEqual({
		status: 400,
		body: { status: 400, error: expect.stringMatching(/conversation ID "contact-1" is not a UUID/), field: 'conversationId', hint: expect.stringMatching(/\S/) },
	});
	const list = await n8n.callWebhook('leadflow/console/api/rules', { headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value }, query: { userId: 'owner-1' } });
	expect({ status: list.statusCode, body: list.body }).toEqual({
		status: 400,
		body: { status: 400, error: 'The owner ID "owner-1" is not a UUID', field: 'userId', hint: 'Use the owner ID from the rules list (GET …/api/rules).' },
	});
});
