// Export (the seed's third button) pages through the queue with its leads in item_id order, filtered
// by day and status; the metrics are counted from the ledger, per queue day.
import type { DayMetrics, ExportPage, ExportRow } from '../../../nodes/shared/contract';
import { addLeads, claim, complete, createOwner, exportQueue, failed, failure, leadItems, ledger, metrics, minutesAfter, NOW, prepare, preparedOwner, rpc, sent, takeLead, TOMORROW } from './fixtures';

describe('queue_export', () => {
	it('pages by item_id (p_after) without repeating or skipping a row, across days, filtered by status', async () => {
		const { userId } = await preparedOwner(25, { daily_capacity: 10 });
		await prepare(userId, minutesAfter(24 * 60)); // 10 more for Friday
		const pages: ExportRow[][] = [];
		let after: string | undefined;
		do {
			pages.push(await exportQueue(userId, TOMORROW, '2026-11-27', { after, limit: 7 }));
			after = pages.at(-1)!.at(-1)?.item_id;
		} while (pages.at(-1)!.length === 7);
		const ids = pages.flat().map((row) => row.item_id);
		expect(pages.map((page) => page.length)).toEqual([7, 7, 6]);
		expect(ids).toEqual([...new Set(ids)].sort());
		expect(new Set(pages.flat().map((row) => row.day))).toEqual(new Set([TOMORROW, '2026-11-27']));

		const [item] = await claim('w-export', userId, `${TOMORROW}T09:00:00.000Z`, 1);
		await complete('w-export', [failed(item, { code: '131000', message: 'Something went wrong' })], `${TOMORROW}T09:00:00.000Z`);
		const failedRows = await exportQueue(userId, TOMORROW, TOMORROW, { statuses: ['failed', 'dead'] });
		expect(failedRows).toEqual([expect.objectContaining({ item_id: item.item_id, status: 'failed', attempts: 1, last_error: '131000: Something went wrong' })]);
		expect(await exportQueue(userId, '2026-11-28', '2026-11-30')).toEqual([]);
	});
});

describe('queue_export_pages', () => {
	it('says where each page of queue_export starts and ends, across days and filtered by status, as keyset paging finds them', async () => {
		const { userId } = await preparedOwner(25, { daily_capacity: 10 });
		await prepare(userId, minutesAfter(24 * 60)); // 10 more for Friday
		const pagesOf = (statuses: string[] | null) =>
			rpc<ExportPage[]>('queue_export_pages', { p_user_id: userId, p_from: TOMORROW, p_to: '2026-11-27', p_statuses: statuses, p_rows: 7 });
		const ids = (await exportQueue(userId, TOMORROW, '2026-11-27')).map((row) => row.item_id);
		expect(ids).toHaveLength(20);
		expect(await pagesOf(null)).toEqual([
			{ page: 1, after_item_id: null, last_item_id: ids[6] },
			{ page: 2, after_item_id: ids[6], last_item_id: ids[13] },
			{ page: 3, after_item_id: ids[13], last_item_id: null },
		]);
		// Each page read from its start and cut at its end: every row once, in order.
		const read: string[] = [];
		for (const one of await pagesOf(null)) {
			const rows = await exportQueue(userId, TOMORROW, '2026-11-27', { after: one.after_item_id ?? undefined, limit: 7 });
			read.push(...rows.map((row) => row.item_id).filter((id) => one.last_item_id === null || id <= one.last_item_id));
		}
		expect(read).toEqual(ids);

		// Only the statuses asked for count; none: one page, open at both ends.
		const [item] = await claim('w-pages', userId, `${TOMORROW}T09:00:00.000Z`, 1);
		expect(await pagesOf(['claimed'])).toEqual([{ page: 1, after_item_id: null, last_item_id: null }]);
		expect((await exportQueue(userId, TOMORROW, '2026-11-27', { statuses: ['claimed'], limit: 7 })).map((row) => row.item_id)).toEqual([item.item_id]);
		expect(await rpc<ExportPage[]>('queue_export_pages', { p_user_id: userId, p_from: '2026-11-28', p_to: '2026-11-30', p_rows: 7 })).toEqual([
			{ page: 1, after_item_id: null, last_item_id: null },
		]);
	});

	it('refuses a page size out of range, a day range backwards, an unknown owner, naming the argument', async () => {
		const { userId } = await preparedOwner(1);
		const rows = await failure(rpc('queue_export_pages', { p_user_id: userId, p_from: TOMORROW, p_to: TOMORROW, p_rows: 1001 }));
		expect([rows.code, rows.message]).toEqual(['22023', 'p_rows: must be between 1 and 1000 (got 1001)']);
		const backwards = await failure(rpc('queue_export_pages', { p_user_id: userId, p_from: '2026-11-27', p_to: TOMORROW }));
		expect(backwards.message).toMatch(/^p_from, p_to: required, p_from on or before p_to/);
		const unknown = await failure(rpc('queue_export_pages', { p_user_id: '00000000-0000-4000-8000-0000000000aa', p_from: TOMORROW, p_to: TOMORROW }));
		expect([unknown.code, unknown.message]).toEqual(['P0002', 'p_user_id: user 00000000-0000-4000-8000-0000000000aa does not exist']);
	});
});

describe('queue_metrics', () => {
	it('per queue day, from the ledger: queued, sent, failed attempts, cancelled, taken over, mean wait and processing; zeros for days without messages', async () => {
		const { userId } = await preparedOwner(4, { daily_capacity: 4, send_from: '09:00', send_until: '17:00' });
		// Slots 09:00, 11:00, 13:00, 15:00. Claimed at 09:30 (the first waited 30 min), 11:00 (on time).
		const [first] = await claim('w-m', userId, `${TOMORROW}T09:30:00.000Z`);
		await complete('w-m', [sent(first)], `${TOMORROW}T09:30:20.000Z`);
		const [second] = await claim('w-m', userId, `${TOMORROW}T11:00:00.000Z`);
		await complete('w-m', [failed(second)], `${TOMORROW}T11:00:40.000Z`);
		const [third] = (await claim('w-m', userId, `${TOMORROW}T13:00:00.000Z`)).filter((c) => c.item_id !== second.item_id);
		await takeLead(third.lead_id, { now: `${TOMORROW}T13:01:00.000Z` });
		const rows = await metrics(userId, '2026-11-25', '2026-11-27');
		expect(rows.map((row) => row.day)).toEqual(['2026-11-25', TOMORROW, '2026-11-27']);
		expect(rows[0]).toEqual({ day: '2026-11-25', queued: 0, sent: 0, failed: 0, cancelled: 0, taken_over: 0, mean_wait_seconds: null, mean_processing_seconds: null });
		expect(rows[1]).toMatchObject({ day: TOMORROW, queued: 4, sent: 1, failed: 1, cancelled: 1, taken_over: 1 });
		// Waits: 1,800 s, 0 s, and the third (due 13:00) and the second's retry (due 11:01:40) claimed at 13:00.
		const waits = [1800, 0, 0, 13 * 3600 - (11 * 3600 + 100)];
		expect(Number(rows[1].mean_wait_seconds)).toBeCloseTo(waits.reduce((a, b) => a + b) / waits.length, 3);
		expect(Number(rows[1].mean_processing_seconds)).toBeCloseTo((20 + 40) / 2, 3);
		// The same counts as the ledger's rows.
		const messageRows = (await ledger(userId)).filter((row) => row.queue === 'whatsapp_message_queue');
		expect(rows[1].sent).toBe(messageRows.filter((row) => row.to_status === 'sent').length);
		expect(rows[1].cancelled).toBe(messageRows.filter((row) => row.to_status === 'cancelled').length);
	});

	it('mean processing leaves out a send its worker never reported (ended dead, send_uncertain, by a later claim once its lease ran out)', async () => {
		const { userId } = await preparedOwner(3, { daily_capacity: 3, send_from: '09:00', send_until: '17:00' });
		// Slots 09:00, 11:40, 14:20, all due at 15:00. w-dies claims one, begins its send and dies.
		const at = (seconds: number) => new Date(Date.parse(`${TOMORROW}T15:00:00.000Z`) + seconds * 1000).toISOString();
		const [lost] = await claim('w-dies', userId, at(0), 1, 30);
		await rpc('queue_begin_send', { p_worker: 'w-dies', p_item_ids: [lost.item_id], p_phones: [lost.phone], p_lease_seconds: 30, p_now: at(1) });
		// 100 s later the next claim ends it dead (uncertain) and takes the other two; 10 s each to report.
		const next = await claim('w-next', userId, at(100), 2, 30);
		expect(next.map((item) => item.item_id)).not.toContain(lost.item_id);
		await complete('w-next', [sent(next[0]), failed(next[1])], at(110));
		const messageRows = (await ledger(userId)).filter((row) => row.queue === 'whatsapp_message_queue' && row.from_status === 'claimed');
		expect(messageRows.map((row) => [row.to_status, row.reason])).toEqual(expect.arrayContaining([['dead', 'send_uncertain'], ['sent', 'sent'], ['failed', 'send_failed']]));

		const [day] = await metrics(userId, TOMORROW, TOMORROW);
		expect(Number(day.mean_processing_seconds)).toBeCloseTo(10, 3);
		// Still a failed attempt: the message is dead.
		expect(day).toMatchObject({ sent: 1, failed: 2 });
	});

	it('without days: the owner\'s last 7 local days ending today at p_now in the owner\'s time zone, not UTC\'s', async () => {
		const days = (rows: DayMetrics[]) => rows.map((row) => row.day);
		// NOW, 2026-11-25 12:00 UTC, is 2026-11-26 01:00 in Auckland (UTC+13): its today is UTC's tomorrow.
		const auckland = await createOwner({ time_zone: 'Pacific/Auckland', daily_capacity: 2 });
		await addLeads(leadItems(auckland, 2));
		// Prepared a day earlier (Auckland's 2026-11-25): for its tomorrow, 2026-11-26, today at NOW.
		const [prepared] = await prepare(auckland, minutesAfter(-24 * 60));
		expect(prepared.day).toBe('2026-11-26');
		const week = await rpc<DayMetrics[]>('queue_metrics', { p_user_id: auckland, p_now: NOW });
		expect(days(week)).toEqual(['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26']);
		expect(week[6]).toMatchObject({ day: '2026-11-26', queued: 2 });
		// 2026-11-26 05:00 UTC is still 2026-11-25 in Los Angeles (UTC-8).
		const losAngeles = await createOwner({ time_zone: 'America/Los_Angeles' });
		const laWeek = await rpc<DayMetrics[]>('queue_metrics', { p_user_id: losAngeles, p_now: '2026-11-26T05:00:00.000Z' });
		expect([laWeek[0].day, laWeek[6].day, laWeek.length]).toEqual(['2026-11-19', '2026-11-25', 7]);
		// An owner without queue settings: UTC's day.
		const unset = await createOwner(null);
		expect(days(await rpc<DayMetrics[]>('queue_metrics', { p_user_id: unset, p_now: '2026-11-26T05:00:00.000Z' })).at(-1)).toBe('2026-11-26');
		// One day given: p_to alone takes the 7 days ending it; p_from alone runs to the owner's today.
		expect(days(await rpc<DayMetrics[]>('queue_metrics', { p_user_id: auckland, p_to: '2026-11-10', p_now: NOW }))).toEqual(['2026-11-04', '2026-11-05', '2026-11-06', '2026-11-07', '2026-11-08', '2026-11-09', '2026-11-10']);
		expect(days(await rpc<DayMetrics[]>('queue_metrics', { p_user_id: auckland, p_from: '2026-11-25', p_now: NOW }))).toEqual(['2026-11-25', '2026-11-26']);
		// A p_from after the owner's today is refused, naming the range it made.
		const ahead = await failure(rpc('queue_metrics', { p_user_id: auckland, p_from: '2026-11-28', p_now: NOW }));
		expect([ahead.code, ahead.message]).toEqual(['22023', 'p_from, p_to: p_from on or before p_to, at most 366 days (got 2026-11-28 to 2026-11-26)']);
	});
});
