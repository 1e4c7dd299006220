// The console never says "nobody" while contacts wait, nor "not done" when it was done: in a real
// browser (Debian's Chromium driven by playwright-core) against real n8n with this package installed
// from its tarball (leadflow-console.json, tag-monitor-send.json, contact-move.json), the local
// stack and the simulators. A rule of the owner's other Page says so where it lists nobody, and its
// card names its Page; a move whose answer is lost on the way back (the card moved, its automation
// fired) and Trigger now behind a proxy's 504 (the run sent) say they may have been done and where
// to look, not "was not moved" / "Trigger failed"; another rule picked takes the last rule's Trigger
// now answer away, and a late answer for that rule is not written beside the new one; the header says
// "Not connected" until a key is given and is not shown on a tab that says its own state; #rule=…
// typed into the address is followed in place, the key kept (no reload, no key form).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { analysis, assign, createPipelineWorld, type PipelineWorld } from '../db/pipelines/fixtures';
import { testStack, withDb } from '../helpers/stack';
import { graphSends, PAGE_TOKEN, WEBHOOK_KEY } from '../workflows/support/pipeline';
import { seed001, type Seed001 } from '../workflows/support/seeds';
import { startN8n, withoutSchedule, type RunningN8n } from './support';

declare const window: { probe?: string };
declare const location: { hash: string };

let n8n: RunningN8n;
let sims: RunningSimulators;
let seed: Seed001;
let world: PipelineWorld;
let browser: Browser;
let context: BrowserContext;
/** A rule of the seed's owner on the owner's other Page, where no contact carries its tags. */
let otherPageRule: string;
const OTHER_PAGE = `9${Date.now() % 1e9}${Math.floor(Math.random() * 1e6)}`;
/** n8n answers CORS for the sandboxed page; an answer the test writes itself must too. */
const CORS = { 'Access-Control-Allow-Origin': '*' };

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	sims = await startSimulators();
	seed = await seed001();
	world = await createPipelineWorld();
	otherPageRule = await withDb(async (db) => {
		await db.query(`insert into public.messenger_pages (page_id, user_id, name) values ($1, $2, 'Course sales page')`, [OTHER_PAGE, seed.owner.userId]);
		return (await db.query<{ id: string }>(
			`insert into public.ai_automation_rules
			 select (jsonb_populate_record(null::public.ai_automation_rules, to_jsonb(r)
			   || jsonb_build_object('id', gen_random_uuid(), 'name', 'On the other Page', 'page_id', $2::text))).*
			   from public.ai_automation_rules r where r.id = $1
			 returning id`, [seed.ruleId, OTHER_PAGE])).rows[0].id;
	});
	n8n = await startN8n({
		workflows: [withoutSchedule('workflows/tag-monitor-send.json'), 'workflows/leadflow-console.json', 'workflows/contact-move.json'],
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
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
	await sims?.stop();
});

const consoleUrl = (fragment: string) => `${n8n.baseUrl}/webhook/leadflow/console${fragment}`;
const withKey = (rest = '') => `#key=${encodeURIComponent(WEBHOOK_KEY.value)}${rest}`;

async function open(fragment: string): Promise<Page> {
	const page = await context.newPage();
	await page.goto(consoleUrl(fragment));
	return page;
}

test('a rule of the owner\'s other Page says it follows up only that Page, where it lists nobody, and its card names the Page', async () => {
	const page = await open(withKey(`&rule=${otherPageRule}`));
	await page.locator('#monitor:not([hidden])').waitFor({ timeout: 15_000 });
	await page.locator('#contacts .empty').waitFor({ timeout: 15_000 });
	expect(await page.locator('#contacts .empty').textContent()).toBe(
		`No contact on Page ${OTHER_PAGE} carries this rule's tags: this rule follows up only that Page (Rules → Edit → Facebook Page). 15 contacts carry them on the owner's other Pages. A conversation of that Page tagged shows here within 2 seconds.`,
	);
	// The seed's rule (same tags, the owner's first Page) lists its contacts: they wait there.
	await page.locator('#rule-picker').selectOption(seed.ruleId);
	await page.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });

	await page.locator('#tab-rules').click();
	await page.locator(`[data-rule="${otherPageRule}"] [data-field="page"]`).waitFor({ timeout: 15_000 });
	expect(await page.locator(`[data-rule="${otherPageRule}"] [data-field="page"]`).textContent()).toBe(`Page: Course sales page (${OTHER_PAGE}) only`);
	// A Page not among the owner's connected Pages: its ID.
	expect(await page.locator(`[data-rule="${seed.ruleId}"] [data-field="page"]`).textContent()).toBe(`Page: ${seed.owner.pageId} only`);
	await page.close();
});

test('#rule=… typed into the address while the page is open shows that rule in place: no reload, no key form', async () => {
	const page = await open(withKey(`&rule=${seed.ruleId}`));
	await page.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	await page.evaluate(() => { window.probe = 'the same document'; });
	await page.evaluate((ruleId) => { location.hash = `#rule=${ruleId}`; }, otherPageRule);
	await page.locator('#contacts .empty').waitFor({ timeout: 15_000 });
	expect(await page.locator('#rule-picker').inputValue()).toBe(otherPageRule);
	expect(await page.locator('#key-form-section').isHidden()).toBe(true);
	expect(await page.evaluate(() => window.probe)).toBe('the same document');
	// #tab=… too: the Rules tab, the key still in memory.
	await page.evaluate(() => { location.hash = '#tab=rules'; });
	await page.locator(`[data-rule="${otherPageRule}"]`).waitFor({ timeout: 15_000 });
	expect(await page.evaluate(() => window.probe)).toBe('the same document');
	await page.close();
});

test('Trigger now behind a proxy that answers 504 after the run: "it may have run", never "Trigger failed"; the run did send', async () => {
	const page = await open(withKey(`&rule=${seed.ruleId}`));
	await page.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	let ran = 0;
	await page.route((url) => url.pathname.endsWith('/webhook/leadflow/trigger'), async (route) => {
		if (route.request().method() !== 'POST') return await route.continue();
		// n8n runs the rule and answers; the proxy in between has given up: 504, not the workflow's.
		ran = (await route.fetch({ timeout: 120_000 })).status();
		await route.fulfill({ status: 504, headers: CORS, contentType: 'text/html', body: '<html><body><h1>504 Gateway Time-out</h1></body></html>' });
	});
	const before = (await graphSends(sims)).length;
	await page.getByRole('button', { name: 'Trigger now' }).click();
	await page.locator('#trigger-result:has-text("No answer")').waitFor({ timeout: 120_000 });
	expect(ran).toBe(200);
	expect((await graphSends(sims)).length - before).toBeGreaterThan(0);
	expect(await page.locator('#trigger-result').textContent()).toBe(
		'No answer from the run (the server answered 504): it may have run and sent follow-ups. The stages and totals below, read again now, show what it did: check them before you trigger again.',
	);
	// Another rule picked: the first rule's answer is not left beside its button.
	await page.locator('#rule-picker').selectOption(otherPageRule);
	expect(await page.locator('#trigger-result').textContent()).toBe('');
	await page.close();
});

test('Trigger now\'s answer come after another rule was picked is not written beside that rule\'s button', async () => {
	const page = await open(withKey(`&rule=${seed.ruleId}`));
	await page.locator('#contacts tr[data-contact]').first().waitFor({ timeout: 15_000 });
	let release!: () => void;
	const released = new Promise<void>((resolve) => { release = resolve; });
	let asked!: () => void;
	const askedFor = new Promise<void>((resolve) => { asked = resolve; });
	await page.route((url) => url.pathname.endsWith('/webhook/leadflow/trigger'), async (route) => {
		if (route.request().method() !== 'POST') return await route.continue();
		asked();
		await released;
		const summary = { claimed: 3, sent: 3, skipped: 0, failed: 0, claimReason: null };
		await route.fulfill({ status: 200, headers: CORS, contentType: 'application/json', body: JSON.stringify(summary) });
	});
	await page.getByRole('button', { name: 'Trigger now' }).click();
	await askedFor;
	expect(await page.locator('#trigger-result').textContent()).toBe('Running…');
	await page.locator('#rule-picker').selectOption(otherPageRule);
	await page.locator('#contacts .empty').waitFor({ timeout: 15_000 });
	release();
	// The run's end re-enables Trigger now: by then its answer was dropped.
	await page.locator('#trigger-now:not([disabled])').waitFor({ timeout: 15_000 });
	expect(await page.locator('#trigger-result').textContent()).toBe('');
	await page.close();
});

test('a move whose answer is lost on the way back says it may have been moved, and the board shows it in its new column', async () => {
	const [contact] = await world.contacts(1);
	await assign([analysis(contact, 60)]);
	const won = world.pipeline.stages.Won;
	const page = await open(withKey(`&tab=pipeline&pipeline=${world.pipeline.id}`));
	const card = page.locator(`[data-card="${contact}"]`);
	await card.waitFor({ timeout: 15_000 });
	const name = (await card.locator('.deal-name').textContent())!;
	let moved = 0;
	await page.route((url) => url.pathname.endsWith('/webhook/leadflow/contacts/move'), async (route) => {
		if (route.request().method() !== 'POST') return await route.continue();
		moved = (await route.fetch()).status();
		await route.abort('connectionreset');
	});
	await page.locator(`[data-move-choice="${contact}"]`).selectOption(won);
	await page.locator(`[data-move="${contact}"]`).click();
	await page.locator('#pipeline-move-result:has-text("No answer")').waitFor({ timeout: 30_000 });
	expect(moved).toBe(200);
	const said = (await page.locator('#pipeline-move-result').textContent())!;
	expect(said).toMatch(new RegExp(`^No answer to the move of ${name} to Won \\(.+\\): it may have been moved, and its automations fired\\. The board, read again now, shows where it is: move it again only if it is not there\\.$`));
	expect(said).not.toContain('was not moved');
	expect(await withDb(async (db) => (await db.query<{ stage_id: string }>('select stage_id from public.pipeline_contacts where conversation_id = $1', [contact])).rows[0]?.stage_id)).toBe(won);
	await page.locator(`[data-stage-id="${won}"] [data-card="${contact}"]`).waitFor({ timeout: 15_000 });
	await page.close();
});

test('the header says "Not connected" until a key is given, and is shown only on the tab whose state it tells', async () => {
	const page = await open('');
	await page.locator('#key-form-section:not([hidden])').waitFor({ timeout: 15_000 });
	expect(await page.locator('#live .live-text').textContent()).toBe('Not connected');
	await page.fill('#key-input', WEBHOOK_KEY.value);
	await page.press('#key-input', 'Enter');
	await page.locator('#live.on').waitFor({ timeout: 15_000 });
	await page.close();

	const pipeline = await open(withKey(`&tab=pipeline&pipeline=${world.pipeline.id}`));
	await pipeline.locator('#pipeline-board [data-card]').first().waitFor({ timeout: 15_000 });
	// The Follow-ups tab never polled here: no "Connecting…" for ever beside the board.
	expect(await pipeline.locator('#live').isHidden()).toBe(true);
	await pipeline.locator('#tab-followups').click();
	await pipeline.locator('#live.on').waitFor({ timeout: 15_000 });
	expect(await pipeline.locator('#live').isVisible()).toBe(true);
	await pipeline.close();
});
