// The Queue tab's given-up messages (console/src/queue.ts, run in jsdom): a `dead` message says in
// words under its status what it means and what to do, not by its colour alone: one whose send was
// `uncertain` may have been delivered (never sent again by itself: check, then set the lead), any
// other was not sent (docs/troubleshooting.md, *WhatsApp lead queue*; docs/console.md, the Queue tab).
import { statusMeaningInWords } from '../../console/src/queue-words';
import { pageDom, type PageDom } from './page-dom';

const DAY = '2026-12-06';

function row(id: string, status: string, lastError: string | null, attempts = 1, leadStatus = 'queued') {
	return {
		item_id: id, lead_id: `lead-${id}`, name: `Lead ${id}`, phone: '+447700900123', lead_status: leadStatus, lead_score: 50, status,
		attempts, scheduled_for: `${DAY}T09:00:00.000Z`, completed_at: status === 'dead' ? `${DAY}T09:01:00.000Z` : null, message_id: null,
		last_error: lastError, taken_over_at: null, taken_over_by: null, conversation_id: null, follow_ups_stopped: false, last_event: null,
	};
}

const rows = [
	row('uncertain', 'dead', 'uncertain: No outcome recorded: the run of worker w1 began sending it at 09:00 and its lease ran out without a report'),
	row('refused', 'dead', '131047: Re-engagement message'),
	row('retry', 'failed', '131000: Something went wrong'),
	row('sent', 'sent', null),
	// Its lead taken over while the message was being sent: the database leaves its status alone.
	row('taken', 'dead', '132001: Template name does not exist in the translation', 1, 'human_controlled'),
];

let page: PageDom;
let tab: { show(): void; hide(): void };

beforeEach(async () => {
	page = pageDom(async (url) => {
		if (url.includes('/queue/metrics')) return { status: 200, json: { days: [] } };
		return {
			status: 200,
			json: {
				owners: ['owner-1'], ownerLabels: { 'owner-1': 'Shop' }, owner: 'owner-1', generatedAt: `${DAY}T10:00:00.000Z`,
				settings: { time_zone: 'UTC', daily_capacity: 10, send_from: '09:00:00', send_until: '17:00:00', max_attempts: 3 },
				timeZone: 'UTC', today: DAY, day: DAY, counts: { total: 4, dead: 2, failed: 1, sent: 1 }, earlierOpen: { total: 0, days: [] },
				rows: { total: 4, offset: 0, limit: 25, rows },
			},
		};
	});
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { initQueue } = require('../../console/src/queue') as { initQueue: (context: unknown, panel: unknown) => typeof tab };
	tab = initQueue(page.context, page.panel);
	tab.show();
	await page.flush();
});

afterEach(() => tab.hide());

const statusCell = (id: string) => page.document.querySelector(`#queue-rows tr[data-item="${id}"] td[data-label="Status"]`);
const meaning = (id: string) => statusCell(id)?.querySelector('.status-meaning')?.textContent as string | undefined;

test('a dead message whose send was uncertain says, under its status, that it may have been delivered and what to do', () => {
	expect(statusCell('uncertain')).not.toBeNull();
	// Before: the badge "Given up" and the error only, nothing said what it means.
	const words = meaning('uncertain');
	expect(words).toBe(statusMeaningInWords('dead', rows[0].last_error));
	expect(words).toMatch(/^May have been delivered/);
	expect(words).toMatch(/never sent again by itself/);
	expect(words).toMatch(/contacted if it arrived \(a newer message waiting for it is then cancelled\), new to have it queued and sent again\.$/);
	// In words after the status and its error, in the cell a screen reader reads with the status.
	expect(statusCell('uncertain').textContent.replace(/\s+/g, ' ')).toMatch(/Given up .*uncertain: No outcome recorded.*May have been delivered/);
});

test('any other dead message says it was not sent and not tried again, and what becomes of its lead', () => {
	const words = meaning('refused');
	expect(words).toMatch(/^Not sent, and not tried again: Meta refused it for good, or it failed on its last attempt/);
	expect(words).toMatch(/131026 makes the lead invalid and 131050 keeps it out of the queue/);
	expect(words).not.toMatch(/May have been delivered/);
});

test('the other statuses say nothing more than their name (a failed one says "will retry" in its badge)', () => {
	expect(meaning('retry')).toBeUndefined();
	expect(meaning('sent')).toBeUndefined();
	expect(statusCell('retry').querySelector('.badge').textContent).toBe('Failed, will retry');
});

test('the words: uncertain only by its code, a dead message with no error is given the general meaning', () => {
	expect(statusMeaningInWords('dead', 'uncertain')).toMatch(/^May have been delivered/);
	expect(statusMeaningInWords('dead', 'uncertain_left: x')).toMatch(/^Not sent/);
	expect(statusMeaningInWords('dead', '131050: The person stopped marketing messages. It mentions uncertain: x')).toMatch(/^Not sent/);
	expect(statusMeaningInWords('dead', null)).toMatch(/^Not sent/);
	for (const status of ['queued', 'claimed', 'sent', 'failed', 'cancelled']) expect(statusMeaningInWords(status, 'uncertain: x')).toBe('');
});

test('a dead message whose lead is taken over says the lead keeps its status, not that it is set back to new (review RM2 F2b)', () => {
	// Before: "any other error sets the lead back to new, queued again for a later day" beside the row's "Taken over".
	const words = meaning('taken');
	expect(words).toBe(statusMeaningInWords('dead', rows[4].last_error, 'human_controlled'));
	expect(words).toMatch(/^Not sent, and not tried again/);
	expect(words).toMatch(/Its lead is taken over, a status this leaves as it is: given back \(set to new\), it is queued again for a later day/);
	expect(words).not.toMatch(/sets the lead back to new|makes the lead invalid/);
	// The lead's status said in the row is the one the words speak of.
	expect(page.document.querySelector('#queue-rows tr[data-item="taken"]').textContent).toMatch(/Taken over/);
});

test('the words by the lead\'s status: a lead new or queued (or invalid after 131026) as the error leaves it; any other keeps its status, said so', () => {
	const uncertain = 'uncertain: No answer within 30000 ms';
	// New, queued, or no status given: what the database does to such a lead.
	for (const leadStatus of ['new', 'queued', undefined, null, 'some_new_status', 'constructor', 'toString']) {
		if (leadStatus !== 'new') expect(statusMeaningInWords('dead', uncertain, leadStatus)).toMatch(/and its lead stays queued\. Check the lead's WhatsApp chat/);
		expect(statusMeaningInWords('dead', '132001: x', leadStatus)).toMatch(/any other error sets the lead back to new/);
	}
	// No button shown (review RMF1 F2): after Send again the lead is new, not "stays queued"; a lead queued
	// again with a newer message waiting: contacted cancels that one.
	const settledNew = statusMeaningInWords('dead', uncertain, 'new', []);
	expect(settledNew).toContain('its lead is new again, so the next Prepare queues a new message for it');
	expect(settledNew).toContain('if it arrived after all, set the lead to contacted in your app');
	expect(settledNew).not.toMatch(/stays queued|new to have it queued/);
	expect(statusMeaningInWords('dead', uncertain, 'queued', [])).toContain('contacted if it arrived (a newer message waiting for it is then cancelled)');
	expect(statusMeaningInWords('dead', '131026: Message undeliverable', 'invalid')).toMatch(/131026 makes the lead invalid/);
	// Taken over: given back, it is queued again (after uncertain: sent again, so check first; after 131050: kept out).
	expect(statusMeaningInWords('dead', uncertain, 'human_controlled')).toBe(
		'May have been delivered: Meta gave no answer, or the run ended before recording one. It is never sent again by itself, as a retry could send it twice. '
		+ 'Its lead is taken over, a status this leaves as it is: given back (set to new), it is queued and sent again, so check the lead\'s WhatsApp chat before giving it back.');
	expect(statusMeaningInWords('dead', '131050: stopped marketing messages', 'human_controlled')).toMatch(/given back, it is made queued and stays out of the queue until it is set to new/);
	// Any other status the database never changes: said as it is, no status predicted.
	for (const [leadStatus, label] of [['contacted', 'contacted'], ['engaged', 'engaged'], ['booked', 'booked'], ['not_interested', 'not interested'],
		['do_not_contact', 'do not contact'], ['invalid', 'invalid']]) {
		for (const error of [uncertain, '132001: x', '131050: y', '131026: z']) {
			if (leadStatus === 'invalid' && error.startsWith('131026')) continue;
			const words = statusMeaningInWords('dead', error, leadStatus);
			expect(words).toContain(`Its lead is ${label}, a status this leaves as it is: nothing is queued for it unless it is set to new.`);
			expect(words).not.toMatch(/stays queued|sets the lead back to new|makes the lead invalid|set the lead in your app/);
		}
	}
});
