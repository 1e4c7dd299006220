// The console's Queue tab when the owner shown is deleted, in a real browser (Debian's Chromium driven
// by playwright-core) against real n8n with this package installed from its tarball, the console and
// queue-actions workflows, and a stack of its own (the page opened without #owner= shows the first of
// every owner, and the test deletes owners). The owner the page chose by itself (none asked for),
// deleted: the next owner's queue, with no "Pick an owner" and no message, the deleted owner no
// longer offered. An owner picked, deleted: "There is no owner with ID …", said as picked and deleted
// (not "Check the ID in the link"), counting and offering only the owners left (read again at once,
// not 30 s later). An owner opened from a link (#owner=), shown, deleted: said as shown and deleted.
// An export answered after the owner shown was deleted leaves "There is no owner …" and a disabled
// Export in place; one that fails after a Take Lead said meanwhile is said after the Take Lead's words
// (a success leaves them); one that fails while a Take Lead is under way stays after the Take Lead's
// answer until its Dismiss (the focus then on Export); Export stays disabled while its export runs,
// whatever the polls draw. Nothing here reads the machine's date or time zone: the queue is prepared
// for the day before the database's clock.
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureChromium } from '../../scripts/n8n/chromium';
import { testStack, useStackOfItsOwn, withDb } from '../helpers/stack';
import { WEBHOOK_KEY } from '../workflows/support/pipeline';
import { startN8n, type RunningN8n } from './support';

interface BrowserElement { dataset: Record<string, string | undefined>; textContent: string | null; value: string; hidden: boolean; id: string; className: string }
declare const document: {
	getElementById(id: string): BrowserElement | null;
	querySelector(selector: string): BrowserElement | null;
	querySelectorAll(selector: string): ArrayLike<BrowserElement>;
	activeElement: BrowserElement | null;
	body: BrowserElement;
	documentElement: { scrollWidth: number; clientWidth: number };
};

useStackOfItsOwn();

let n8n: RunningN8n;
let browser: Browser;
const owners: string[] = [];

/** An owner with a queue (three leads), prepared for the day before the database's clock. */
async function ownerWithQueue(): Promise<string> {
	// Imported here, once the stack of its own is named: the fixtures' client is made at import.
	const { addLeads, createOwner, leadItems, prepare } = await import('../db/queue/fixtures');
	const owner = await createOwner({ time_zone: 'UTC' });
	await addLeads(leadItems(owner, 3, () => 50));
	const { dbNow } = await withDb(async (db) => (await db.query<{ dbNow: Date }>('select now() as "dbNow"')).rows[0]);
	await prepare(owner, new Date(dbNow.getTime() - 86_400_000).toISOString());
	return owner;
}

beforeAll(async () => {
	const stack = testStack();
	const executablePath = ensureChromium();
	for (let i = 0; i < 3; i++) owners.push(await ownerWithQueue());
	n8n = await startN8n({
		workflows: ['workflows/leadflow-console.json', 'workflows/queue-actions.json'],
		credentials: { httpHeaderAuth: WEBHOOK_KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
	browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
}, 300_000);

afterAll(async () => {
	await browser?.close();
	await n8n?.stop();
});

/**
 * Waits until `owner` is picked and their own queue is drawn: every row one of their leads. The picker
 * says the owner at once (the pick), while the queue drawn stays the one before until the owner's
 * poll answers (rows there, but not theirs): under load that took longer than any fixed wait.
 */
async function queueDrawnOf(page: Page, owner: string) {
	const leads = (await withDb(async (db) => (await db.query<{ id: string }>('select id::text from public.leads where user_id = $1', [owner])).rows)).map((row) => row.id);
	await page.waitForFunction(({ owner, leads }) => {
		const rows = Array.from(document.querySelectorAll('#queue-rows tr[data-item]'));
		return document.getElementById('queue-owner')!.value === owner && rows.length > 0 && rows.every((row) => leads.includes(row.dataset.lead ?? ''));
	}, { owner, leads }, { timeout: 15_000 });
}

const deleteOwner = (owner: string) => withDb((db) => db.query('delete from auth.users where id = $1', [owner]));
const ownersListed = async () => (await withDb(async (db) => (await db.query<{ user_id: string }>('select user_id::text from public.user_queue_settings')).rows)).map((row) => row.user_id);

/** What the page shows: the message, the owner picked and offered, the queue's rows, the live indicator, the focus. */
const view = (page: Page) => page.evaluate(() => {
	const active = document.activeElement;
	return {
		message: document.getElementById('queue-message')!.textContent,
		messageClass: document.getElementById('queue-message')!.className.trim(),
		take: document.getElementById('queue-take-message')!.textContent,
		takeClass: document.getElementById('queue-take-message')!.className.trim(),
		exportLine: document.getElementById('queue-export-message')!.textContent,
		exportDismissHidden: document.getElementById('queue-export-dismiss')!.hidden,
		picker: document.getElementById('queue-owner')!.value,
		pickerHidden: document.getElementById('queue-owner-box')!.hidden,
		options: Array.from(document.querySelectorAll('#queue-owner option')).map((option) => option.value),
		rows: Array.from(document.querySelectorAll('#queue-rows tr[data-item]')).length,
		bodyHidden: document.getElementById('queue-body')!.hidden,
		live: document.querySelector('#queue-live .live-text')!.textContent,
		focus: !active || active === document.body ? 'body' : `#${active.id}`,
	};
});

test('the owner the page chose by itself (no #owner=) deleted: the next owner\'s queue, no "Pick an owner"; an owner picked, deleted: the message counts and offers only the owners left', async () => {
	expect((await ownersListed()).sort()).toEqual([...owners].sort());
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue`);
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	const chosen = (await view(page)).picker;
	expect(owners).toContain(chosen);
	await deleteOwner(chosen);
	// The next owner's queue, as nobody asked for the deleted one: no message, the deleted owner not offered.
	await page.waitForFunction((gone) => {
		const picker = document.getElementById('queue-owner')!.value;
		return picker !== '' && picker !== gone && document.querySelectorAll('#queue-rows tr[data-item]').length > 0;
	}, chosen, { timeout: 15_000 });
	const next = await view(page);
	const left = owners.filter((owner) => owner !== chosen);
	expect(next).toMatchObject({ message: '', bodyHidden: false, rows: 3, live: 'Live', pickerHidden: false });
	expect(left).toContain(next.picker);
	expect([...next.options].sort()).toEqual([...left].sort());
	// An owner picked, deleted: no queue in its place, the message counts the one owner left and the
	// picker offers only them (the list read again at the 404, not up to 30 s later).
	const picked = left.find((owner) => owner !== next.picker)!;
	const last = left.find((owner) => owner !== picked)!;
	await page.selectOption('#queue-owner', picked);
	await page.waitForFunction((owner) => document.getElementById('queue-owner')!.value === owner && document.querySelectorAll('#queue-rows tr[data-item]').length > 0, picked, { timeout: 15_000 });
	await deleteOwner(picked);
	await page.waitForFunction(() => (document.getElementById('queue-message')!.textContent ?? '').startsWith('There is no owner with ID'), undefined, { timeout: 15_000 });
	const missing = await view(page);
	// Said as what happened: the owner was picked in the list, so deleted meanwhile; no link to check.
	expect(missing.message).toBe(`There is no owner with ID ${picked} in this database any more: the owner picked in the Owner list was deleted meanwhile, `
		+ 'so no queue is shown for it. Pick the owner with a queue in the Owner list to see theirs.');
	expect(missing).toMatchObject({ picker: '', options: ['', last], bodyHidden: true, live: 'Live' });
	await page.close();
});

test('from the keyboard: the owner shown deleted while in the search box gives the focus to the Owner picker; the one owner left picked there (the picker hides) gives it to the search', async () => {
	const [last] = await ownersListed();
	const gone = await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${gone}`);
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	await page.focus('#queue-search');
	await deleteOwner(gone);
	await page.waitForFunction(() => (document.getElementById('queue-message')!.textContent ?? '').startsWith('There is no owner with ID'), undefined, { timeout: 15_000 });
	await page.waitForTimeout(300);
	// The search box is hidden with the queue: the focus is on the picker, where the next step is.
	expect(await view(page)).toMatchObject({ bodyHidden: true, options: ['', last], focus: '#queue-owner' });
	// The owner left, picked from the keyboard: the picker hides itself (one owner) and the focus goes
	// to the queue's search, not the page's body.
	await page.keyboard.press('ArrowDown');
	await page.waitForFunction((owner) => document.getElementById('queue-owner')!.value === owner && !document.getElementById('queue-body')!.hidden, last, { timeout: 15_000 });
	await page.waitForTimeout(300);
	expect(await view(page)).toMatchObject({ message: '', pickerHidden: true, bodyHidden: false, focus: '#queue-search' });
	await page.close();
});

test('an export answered after the owner shown was deleted does not cover "There is no owner …" with its own ending, nor enable Export beside no queue', async () => {
	const owner = await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	// Every message the page says and every change of Export's disabled state, in order (from the first
	// draw on, so nothing said between two looks is missed).
	await page.addInitScript(() => {
		const record: Array<[string, string | boolean]> = [];
		const browser = globalThis as unknown as {
			said: typeof record;
			MutationObserver: new (callback: () => void) => { observe(node: unknown, options: object): void };
			document: { getElementById(id: string): { textContent: string | null; disabled?: boolean } | null };
		};
		browser.said = record;
		const watch = () => {
			const message = browser.document.getElementById('queue-message');
			const exportButton = browser.document.getElementById('queue-export');
			if (!message || !exportButton) return false;
			new browser.MutationObserver(() => record.push(['message', message.textContent ?? ''])).observe(message, { childList: true, characterData: true, subtree: true });
			new browser.MutationObserver(() => record.push(['exportDisabled', Boolean(exportButton.disabled)])).observe(exportButton, { attributes: true, attributeFilter: ['disabled'] });
			return true;
		};
		const timer = setInterval(() => { if (watch()) clearInterval(timer); }, 10);
	});
	// The export is answered by the server at once (the owner still there), and that answer held
	// until the owner is deleted and the page says so.
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => { release = resolve; });
	let heldSeen: () => void = () => undefined;
	const held = new Promise<void>((resolve) => { heldSeen = resolve; });
	await page.route('**/queue/export?**', async (route) => {
		const response = await route.fetch();
		heldSeen();
		await gate;
		await route.fulfill({ response });
	});
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`);
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	await page.click('#queue-export');
	await held;
	await deleteOwner(owner);
	await page.waitForFunction(() => (document.getElementById('queue-message')!.textContent ?? '').startsWith('There is no owner with ID'), undefined, { timeout: 15_000 });
	const words = (await view(page)).message!;
	// The export's answer now: the file still downloads (it was asked for and answered), then one more
	// poll of the queue is answered.
	const download = page.waitForEvent('download');
	release();
	await download;
	await page.waitForResponse((response) => response.url().includes('/api/queue?'), { timeout: 15_000 });
	const said = await page.evaluate(() => (globalThis as unknown as { said: Array<[string, string | boolean]> }).said);
	const from = said.findIndex(([what, value]) => what === 'message' && value === words);
	expect(from).toBeGreaterThanOrEqual(0);
	// From "There is no owner …" on: no other message (no "Downloaded …"), and Export never enabled.
	expect(said.slice(from).filter(([what, value]) => (what === 'message' && value !== words) || (what === 'exportDisabled' && value === false))).toEqual([]);
	expect(await view(page)).toMatchObject({ message: words, bodyHidden: true });
	expect(await page.locator('#queue-export').isDisabled()).toBe(true);
	await page.close();
});

test('an owner opened from a link (#owner=), shown, then deleted is said as shown and deleted, not as a link to check', async () => {
	const owner = await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`);
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	await deleteOwner(owner);
	await page.waitForFunction(() => (document.getElementById('queue-message')!.textContent ?? '').startsWith('There is no owner with ID'), undefined, { timeout: 15_000 });
	const left = await ownersListed();
	expect(left.length).toBeGreaterThan(0);
	const next = left.length === 1 ? 'Pick the owner with a queue in the Owner list to see theirs.' : `Pick one of the ${left.length} owners with a queue in the Owner list to see theirs.`;
	expect((await view(page)).message).toBe(`There is no owner with ID ${owner} in this database any more: the owner whose queue was shown was deleted meanwhile, `
		+ `so no queue is shown for it. ${next}`);
	await page.close();
});

test('an export that ends while a Take Lead was said meanwhile is said on the export\'s own line (the webhook\'s 500, no answer, a success), the Take Lead\'s words left as they are', async () => {
	const owner = await ownerWithQueue();
	for (const ending of ['500', 'no answer', 'ok'] as const) {
		const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => { release = resolve; });
		let heldSeen: () => void = () => undefined;
		const held = new Promise<void>((resolve) => { heldSeen = resolve; });
		await page.route('**/queue/export?**', async (route) => {
			heldSeen();
			await gate;
			if (ending === '500') {
				await route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'The export failed: the database did not answer', hint: 'Try again in a minute.' }) });
			} else if (ending === 'no answer') {
				await route.abort('connectionreset');
			} else {
				await route.continue();
			}
		});
		await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`);
		await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().waitFor({ timeout: 15_000 });
		await page.click('#queue-export');
		await held;
		// While the export is under way, a lead is taken over: its words are the newer message.
		await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().click();
		await page.waitForFunction(() => {
			const text = document.getElementById('queue-take-message')!.textContent ?? '';
			return text !== '' && !text.startsWith('Taking over');
		}, undefined, { timeout: 15_000 });
		const taken = (await view(page)).take!;
		expect(taken).toMatch(/ is yours now: /);
		expect((await view(page)).exportLine).toBe('Exporting…');
		const download = ending === 'ok' ? page.waitForEvent('download') : undefined;
		release();
		await download;
		await page.waitForFunction(() => (document.getElementById('queue-export-message')!.textContent ?? '') !== 'Exporting…', undefined, { timeout: 10_000 });
		const shown = await view(page);
		// The Take Lead's words stay alone on the message line, not red; the export's ending on its own line.
		expect(shown).toMatchObject({ take: taken, takeClass: 'queue-message' });
		if (ending === 'ok') expect(shown).toMatchObject({ exportLine: expect.stringMatching(/^Downloaded leadflow-queue-.+\.csv\.$/), exportDismissHidden: true });
		else if (ending === '500') expect(shown).toMatchObject({ exportLine: 'Export failed: The export failed: the database did not answer. Try again in a minute.', exportDismissHidden: false });
		else expect(shown).toMatchObject({ exportLine: expect.stringMatching(/^Export failed: \S/), exportDismissHidden: false });
		expect(await page.locator('#queue-export').isDisabled()).toBe(false);
		await page.close();
	}
});

test('an export\'s failure said while a Take Lead is under way stays on its own line when the Take Lead answers, which is said alone and not red, until the failure is dismissed (from the keyboard: the focus goes to Export)', async () => {
	const owner = await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	// The export and the take each held until released: the export fails (the webhook's 500) while the
	// take is still under way, and the take answers after it.
	let releaseExport: () => void = () => undefined;
	const exportGate = new Promise<void>((resolve) => { releaseExport = resolve; });
	let exportSeen: () => void = () => undefined;
	const exportHeld = new Promise<void>((resolve) => { exportSeen = resolve; });
	await page.route('**/queue/export?**', async (route) => {
		exportSeen();
		await exportGate;
		await route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'The export failed: the database did not answer', hint: 'Try again in a minute.' }) });
	});
	let releaseTake: () => void = () => undefined;
	const takeGate = new Promise<void>((resolve) => { releaseTake = resolve; });
	let takeSeen: () => void = () => undefined;
	const takeHeld = new Promise<void>((resolve) => { takeSeen = resolve; });
	await page.route('**/leadflow/leads/*/take', async (route) => {
		takeSeen();
		await takeGate;
		await route.continue();
	});
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`);
	await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().waitFor({ timeout: 15_000 });
	await page.click('#queue-export');
	await exportHeld;
	await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().click();
	await takeHeld;
	const failure = 'Export failed: The export failed: the database did not answer. Try again in a minute.';
	releaseExport();
	await page.waitForFunction(() => (document.getElementById('queue-export-message')!.textContent ?? '').includes('Export failed'), undefined, { timeout: 10_000 });
	expect(await view(page)).toMatchObject({ take: expect.stringMatching(/^Taking over .+…$/), exportLine: failure });
	// The take answers now: its words replace "Taking over…", alone and not red; the export's failure stays on its line.
	releaseTake();
	await page.waitForFunction(() => / is yours now: /.test(document.getElementById('queue-take-message')!.textContent ?? ''), undefined, { timeout: 15_000 });
	const shown = await view(page);
	expect(shown).toMatchObject({ take: expect.stringMatching(/ is yours now: [^]+\.$/), takeClass: 'queue-message', exportLine: failure, exportDismissHidden: false });
	expect(shown.take).not.toContain('Export failed');
	const taken = shown.take;
	// Polls later, still there.
	await page.waitForResponse((response) => response.url().includes('/api/queue?'), { timeout: 15_000 });
	await page.waitForResponse((response) => response.url().includes('/api/queue?'), { timeout: 15_000 });
	expect(await view(page)).toMatchObject({ take: taken, exportLine: failure });
	// Dismissed from the keyboard: the failure goes, the Take Lead's words stay, the focus is on Export.
	await page.locator('#queue-export-dismiss').focus();
	await page.keyboard.press('Enter');
	expect(await view(page)).toMatchObject({ take: taken, exportLine: '', focus: '#queue-export' });
	expect(await page.locator('#queue-export-dismiss').isHidden()).toBe(true);
	expect(await page.locator('#queue-export').isDisabled()).toBe(false);
	await page.close();
});

test('Export stays disabled while its export runs, whatever the polls draw meanwhile: one export, one ending', async () => {
	const owner = await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	let exports = 0;
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => { release = resolve; });
	let heldSeen: () => void = () => undefined;
	const held = new Promise<void>((resolve) => { heldSeen = resolve; });
	await page.route('**/queue/export?**', async (route) => {
		exports += 1;
		const response = await route.fetch();
		heldSeen();
		await gate;
		await route.fulfill({ response });
	});
	await page.goto(`${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue&owner=${owner}`);
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	await page.click('#queue-export');
	await held;
	// Two polls answered and drawn while the export is held: Export is still disabled.
	for (let i = 0; i < 2; i++) await page.waitForResponse((response) => response.url().includes('/api/queue?'), { timeout: 15_000 });
	await page.waitForTimeout(200);
	expect(await page.locator('#queue-export').isDisabled()).toBe(true);
	expect((await view(page)).exportLine).toBe('Exporting…');
	// A press on it meanwhile starts no second export.
	await page.locator('#queue-export').click({ force: true });
	const download = page.waitForEvent('download');
	release();
	await download;
	await page.waitForFunction(() => (document.getElementById('queue-export-message')!.textContent ?? '').startsWith('Downloaded '), undefined, { timeout: 10_000 });
	expect(await page.locator('#queue-export').isDisabled()).toBe(false);
	expect(exports).toBe(1);
	await page.close();
});

const EXPORT_FAILS = { status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'The export failed: the database did not answer', hint: 'Try again in a minute.' }) };
const FAILURE = 'Export failed: The export failed: the database did not answer. Try again in a minute.';
const consoleAt = (owner?: string) => `${n8n.baseUrl}/webhook/leadflow/console#key=${encodeURIComponent(WEBHOOK_KEY.value)}&tab=queue${owner ? `&owner=${owner}` : ''}`;
/** An owner's name as the export's line says it: their label and the start of their id, else the id. */
const ownerInWords = (page: Page, owner: string) => page.evaluate((id) => {
	const option = document.querySelector(`#queue-owner option[value="${id}"]`);
	const label = option ? (option.textContent ?? '').replace(/ · [0-9a-f]{8}…$/, '') : '';
	return label && label !== id ? `${label} (${id.slice(0, 8)}…)` : id;
}, owner);

test('the owner the page chose by itself, its export\'s failure shown, deleted: the next owner drawn takes the failure (and its Dismiss) away', async () => {
	await ownerWithQueue();
	await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	await page.route('**/queue/export?**', (route) => route.fulfill(EXPORT_FAILS));
	await page.goto(consoleAt());
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	const chosen = (await view(page)).picker;
	await page.click('#queue-export');
	await page.waitForFunction(() => (document.getElementById('queue-export-message')!.textContent ?? '').startsWith('Export failed'), undefined, { timeout: 10_000 });
	expect(await view(page)).toMatchObject({ exportLine: FAILURE, exportDismissHidden: false, message: '' });
	await deleteOwner(chosen);
	await page.waitForFunction((gone) => {
		const picker = document.getElementById('queue-owner')!.value;
		return picker !== '' && picker !== gone && document.querySelectorAll('#queue-rows tr[data-item]').length > 0;
	}, chosen, { timeout: 15_000 });
	await page.waitForTimeout(300);
	// The failure was the deleted owner's: not kept beside the next owner's queue.
	expect(await view(page)).toMatchObject({ exportLine: '', exportDismissHidden: true, message: '', rows: 3 });
	await page.close();
});

test('an owner picked while an export runs: the export\'s line names the owner whose queue it exports (under way, failed, downloaded), no Dismiss beside the other queue, and a Take Lead there is said alone, not red', async () => {
	const x = await ownerWithQueue();
	const y = await ownerWithQueue();
	for (const ending of ['500', 'ok'] as const) {
		const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => { release = resolve; });
		let heldSeen: () => void = () => undefined;
		const held = new Promise<void>((resolve) => { heldSeen = resolve; });
		const asked: string[] = [];
		await page.route('**/queue/export?**', async (route) => {
			asked.push(route.request().headers()['x-leadflow-owner'] ?? '');
			heldSeen();
			await gate;
			if (ending === '500') await route.fulfill(EXPORT_FAILS);
			else await route.continue();
		});
		await page.goto(consoleAt(x));
		await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
		await page.click('#queue-export');
		await held;
		expect(asked).toEqual([x]);
		const xInWords = await ownerInWords(page, x);
		await page.selectOption('#queue-owner', y);
		await queueDrawnOf(page, y);
		await page.waitForTimeout(300);
		// Under way, named: it is not the queue shown.
		expect(await view(page)).toMatchObject({ exportLine: `Exporting the queue of ${xInWords}, not the one shown…`, exportDismissHidden: true });
		const download = ending === 'ok' ? page.waitForEvent('download') : undefined;
		release();
		await download;
		await page.waitForFunction(() => !(document.getElementById('queue-export-message')!.textContent ?? '').startsWith('Exporting'), undefined, { timeout: 10_000 });
		if (ending === '500') {
			expect(await view(page)).toMatchObject({ picker: y, exportLine: `The export of ${xInWords}'s queue failed: The export failed: the database did not answer. Try again in a minute.`, exportDismissHidden: true, message: '' });
			// A Take Lead on y's queue: its words alone, not red.
			await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().click();
			await page.waitForFunction(() => / is yours now: /.test(document.getElementById('queue-take-message')!.textContent ?? ''), undefined, { timeout: 15_000 });
			const taken = await view(page);
			expect(taken.take).not.toContain('export');
			expect(taken.takeClass).toBe('queue-message');
		} else {
			expect(await view(page)).toMatchObject({ picker: y, exportLine: expect.stringMatching(new RegExp(`^Downloaded leadflow-queue-.+\\.csv: the queue of ${xInWords.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, not the one shown\\.$`)), exportDismissHidden: true });
		}
		await page.close();
	}
});

test('back on the exporting owner while its export still runs: the export\'s line says plain "Exporting…" again, not "not the one shown" (review RM2)', async () => {
	const x = await ownerWithQueue();
	const y = await ownerWithQueue();
	const page = await browser.newPage({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
	let release: () => void = () => undefined;
	const gate = new Promise<void>((resolve) => { release = resolve; });
	await page.route('**/queue/export?**', async (route) => { await gate; await route.fulfill(EXPORT_FAILS); });
	await page.goto(consoleAt(x));
	await page.locator('#queue-rows tr[data-item]').first().waitFor({ timeout: 15_000 });
	await page.click('#queue-export');
	const xInWords = await ownerInWords(page, x);
	const showOwner = async (owner: string) => {
		await page.selectOption('#queue-owner', owner);
		// The owner's own queue drawn, not only picked: until it is, the export's line is about the queue
		// still shown (test/console/queue-export-picked.test.ts covers that moment), not what this test is about.
		await queueDrawnOf(page, owner);
		await page.waitForTimeout(300);
	};
	await showOwner(y);
	expect((await view(page)).exportLine).toBe(`Exporting the queue of ${xInWords}, not the one shown…`);
	await showOwner(x);
	expect((await view(page)).exportLine).toBe('Exporting…');
	// Beside its own queue it ends as an export of the queue shown: the failure with its Dismiss.
	release();
	await page.waitForFunction(() => (document.getElementById('queue-export-message')!.textContent ?? '').startsWith('Export failed'), undefined, { timeout: 10_000 });
	expect(await view(page)).toMatchObject({ picker: x, exportLine: FAILURE, exportDismissHidden: false });
	await page.close();
});

test('from the keyboard, at 375 px: Export pressed by Enter gives the focus back (to the failure\'s Dismiss, to Export after a success); the message line never repeats the failure', async () => {
	const owner = await ownerWithQueue();
	for (const ending of ['500', 'ok'] as const) {
		const page = await browser.newPage({ locale: 'en-US', viewport: { width: 375, height: 800 } });
		// Every text the message line's live region is given, in order.
		await page.addInitScript(() => {
			const record: string[] = [];
			const browser = globalThis as unknown as {
				said: string[];
				MutationObserver: new (callback: () => void) => { observe(node: unknown, options: object): void };
				document: { getElementById(id: string): { textContent: string | null } | null };
			};
			browser.said = record;
			const timer = setInterval(() => {
				const message = browser.document.getElementById('queue-take-message');
				if (!message) return;
				clearInterval(timer);
				new browser.MutationObserver(() => record.push(message.textContent ?? '')).observe(message, { childList: true, characterData: true, subtree: true });
			}, 10);
		});
		let release: () => void = () => undefined;
		const gate = new Promise<void>((resolve) => { release = resolve; });
		let heldSeen: () => void = () => undefined;
		const held = new Promise<void>((resolve) => { heldSeen = resolve; });
		await page.route('**/queue/export?**', async (route) => {
			heldSeen();
			await gate;
			if (ending === '500') await route.fulfill(EXPORT_FAILS);
			else await route.continue();
		});
		await page.goto(consoleAt(owner));
		await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().waitFor({ timeout: 15_000 });
		await page.locator('#queue-export').focus();
		await page.keyboard.press('Enter');
		await held;
		const download = ending === 'ok' ? page.waitForEvent('download') : undefined;
		release();
		await download;
		await page.waitForFunction(() => !(document.getElementById('queue-export-message')!.textContent ?? '').startsWith('Exporting'), undefined, { timeout: 10_000 });
		await page.waitForTimeout(300);
		if (ending === 'ok') {
			expect(await view(page)).toMatchObject({ focus: '#queue-export', exportDismissHidden: true });
		} else {
			expect(await view(page)).toMatchObject({ focus: '#queue-export-dismiss', exportLine: FAILURE, exportDismissHidden: false });
			// A Take Lead then: the message line says its words alone, once each, never with the failure.
			await page.locator('#queue-rows button.take:not(.stop-follow-ups)').first().click();
			await page.waitForFunction(() => / is yours now: /.test(document.getElementById('queue-take-message')!.textContent ?? ''), undefined, { timeout: 15_000 });
			await page.waitForResponse((response) => response.url().includes('/api/queue?'), { timeout: 15_000 });
			const said = await page.evaluate(() => (globalThis as unknown as { said: string[] }).said);
			expect(said.filter((text) => text.includes('Export failed'))).toEqual([]);
			expect(said.filter((text) => / is yours now: /.test(text))).toHaveLength(1);
			expect(await view(page)).toMatchObject({ exportLine: FAILURE, takeClass: 'queue-message' });
		}
		// No sideways scroll at 375 px with both lines shown.
		expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
		await page.close();
	}
});
