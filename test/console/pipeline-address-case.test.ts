// The Pipeline tab opened (or followed) with #pipeline=<ID> written otherwise than the server answers it:
// in capitals, or with spaces around it (console/src/pipeline.ts, run in jsdom). The board's endpoint
// trims the pipelineId and takes a UUID in any letter case, and answers the pipeline's id as PostgreSQL
// prints a uuid (lower case); the page sets its picker to the ID it asked for and words a Move's answer
// by comparing that ID with the pipeline drawn, both as text. With the ID kept as typed, the picker was
// left blank and a Move's answer said "while another pipeline was shown" though none was (review RMM2 F2,
// the class caed3c3 mended for #owner=).
import { deferred, pageDom, type PageDom } from './page-dom';

const P = 'aaaaaaaa-1111-4111-8111-111111111111';
const Q = 'bbbbbbbb-2222-4222-8222-222222222222';
type Answer = { status: number; json: unknown };

function board(id: string) {
	const stage = (n: number, name: string, cards: unknown[]) => ({ id: `s${n}`, name, stage_order: n, color: null, contact_count: cards.length, matching_count: cards.length, avg_seconds_in_stage: null, offset: 0, limit: 20, cards });
	const card = { conversation_id: 'c-A', sender_id: 'psid', sender_name: 'Ana', lead_score: 50, lead_status: 'QUALIFIED', stage_entered_at: '2026-12-06T10:00:00.000Z', seconds_in_stage: 100, analysis: null, last_activity: null };
	return {
		pipelines: [{ id: P, name: 'Sales', contact_count: 1 }, { id: Q, name: 'Courses', contact_count: 1 }],
		pipeline: { id, name: id === P ? 'Sales' : 'Courses', description: null }, generatedAt: '2026-12-06T10:00:00.000Z',
		stages: [stage(1, 'Qualified', [card]), stage(2, 'Won', [])],
	};
}

let asked: string[];
let moves: Array<ReturnType<typeof deferred<Answer>>>;
/** As the real endpoints answer: the board trims the pipelineId, takes any letter case, answers it in lower case. */
const server = async (url: string): Promise<Answer> => {
	if (url.includes('/contacts/move')) { const move = deferred<Answer>(); moves.push(move); return move.promise; }
	const id = new URL(url, 'https://n8n.example').searchParams.get('pipelineId');
	asked.push(id ?? '');
	if (id !== null && !/^[0-9a-f-]{36}$/i.test(id.trim())) {
		return { status: 400, json: { status: 400, error: `The pipeline ID "${id.trim()}" is not a UUID.`, field: 'pipelineId', hint: 'Use the id of a pipeline from the pipelines list.' } };
	}
	return { status: 200, json: board(id ? id.trim().toLowerCase() : P) };
};
beforeEach(() => { asked = []; moves = []; });

/** The tab as the page builds it, its module read afresh: it reads #pipeline= from the address as it loads. */
function load(page: PageDom) {
	let tab!: { show(): void; hide(): void; follow(next: Map<string, string>): void };
	jest.isolateModules(() => {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const { initPipeline } = require('../../console/src/pipeline') as { initPipeline: (context: unknown, panel: unknown) => typeof tab };
		tab = initPipeline(page.context, page.panel);
	});
	return tab;
}
const picker = (page: PageDom) => page.document.getElementById('pipeline-picker');

/** Ana moved to Won from the card's keyboard picker, the move answered: the line's words. */
async function moveAna(page: PageDom) {
	const choice = page.document.querySelector('[data-move-choice="c-A"]');
	choice.value = 's2';
	choice.dispatchEvent(new page.window.Event('change', { bubbles: true }));
	page.document.querySelector('[data-move="c-A"]').dispatchEvent(new page.window.MouseEvent('click', { bubbles: true }));
	await page.flush();
	moves.shift()!.resolve({ status: 200, json: { outcome: 'moved', stage: { id: 's2', name: 'Won' }, from_stage: { id: 's1', name: 'Qualified' }, automations_fired: 0, automations: [] } });
	await page.flush();
	return page.document.getElementById('pipeline-move-result').textContent as string;
}

test.each([
	['in capitals', `#pipeline=${Q.toUpperCase()}`],
	['with spaces around it', `#pipeline=%20${Q}%20`],
	['in mixed case with spaces', `#pipeline=%20${Q.slice(0, 18).toUpperCase()}${Q.slice(18)}%20`],
])('#pipeline= %s when the page opens: asked in lower case, the picker shows it, a Move is worded as on it', async (_name, hash) => {
	const page = pageDom(server, hash);
	const tab = load(page);
	tab.show();
	await page.flush();
	expect(picker(page).value).toBe(Q);
	expect(picker(page).selectedIndex).toBe(1);
	expect(await moveAna(page)).toBe('Moved Ana from Qualified to Won. No automation fired.');
	expect(asked[0]).toBe(Q);
	tab.hide();
});

test('#pipeline= typed into the open page in capitals: that pipeline in the picker; the same typed again with spaces asks nothing', async () => {
	const page = pageDom(server, `#pipeline=${P}`);
	const tab = load(page);
	tab.show();
	await page.flush();
	expect(picker(page).value).toBe(P);
	tab.follow(new Map([['pipeline', Q.toUpperCase()]]));
	await page.flush();
	expect(picker(page).value).toBe(Q);
	expect(asked.at(-1)).toBe(Q);
	const before = asked.length;
	tab.follow(new Map([['pipeline', ` ${Q} `]]));
	await page.flush();
	expect(asked).toHaveLength(before);
	expect(await moveAna(page)).toBe('Moved Ana from Qualified to Won. No automation fired.');
	tab.hide();
});

test('#pipeline= that is no UUID is asked trimmed, as typed (not lower-cased), so the refusal quotes it', async () => {
	const page = pageDom(server, '#pipeline=%20Not-A-Pipeline%20');
	const tab = load(page);
	tab.show();
	await page.flush();
	expect(asked[0]).toBe('Not-A-Pipeline');
	expect(page.panel.textContent).toContain('The pipeline ID "Not-A-Pipeline" is not a UUID.');
	tab.hide();
});
