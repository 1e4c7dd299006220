// Prepare Tomorrow with more messages than the sending hours have minutes: every slot of the day is
// due at a once-a-minute Claim inside the hours (workflows/queue-run.json claims every minute; Claim
// hands out only while local time < send_until), so the whole capacity goes out that day. The slots
// are spread evenly over [send_from, send_until − 1 minute]; with a minute or more between them
// (tested in prepare.test.ts and time-zones.test.ts) they are as before. Every instant is fixed.
import { addLeads, claim, complete, createOwner, leadItems, messages, prepare, sent, TOMORROW } from './fixtures';

/** Claims (and completes as sent) every minute from `first` to `last`, as the every-minute run does; the messages sent. */
async function everyMinute(userId: string, first: string, last: string): Promise<number> {
	let total = 0;
	for (let at = Date.parse(first); at <= Date.parse(last); at += 60_000) {
		const now = new Date(at).toISOString();
		const items = await claim('w-minute', userId, now, 100);
		if (items.length > 0) {
			const recorded = await complete('w-minute', items.map((item) => sent(item)), now);
			expect(recorded.every((row) => row.accepted)).toBe(true);
			total += items.length;
		}
	}
	return total;
}

describe('queue_prepare: more messages than the hours have minutes', () => {
	it('600 a day over 09:00–17:00 (48 s apart before): the last slot is 16:59, and a claim every minute sends all 600 that day', async () => {
		const userId = await createOwner({ daily_capacity: 600, send_from: '09:00', send_until: '17:00', time_zone: 'UTC' });
		await addLeads(leadItems(userId, 600, (i) => i % 101));
		const [prepared] = await prepare(userId);
		expect(prepared).toMatchObject({ day: TOMORROW, capacity: 600, queued: 600, already_queued: 0 });

		// Run again: the same queue.
		const before = await messages(userId);
		const [again] = await prepare(userId);
		expect(again).toMatchObject({ queued: 0, already_queued: 600 });
		expect(await messages(userId)).toEqual(before);

		// The every-minute run, on the minute, from 08:59 to 17:05: the 16:59 run takes the last one.
		expect(await everyMinute(userId, `${TOMORROW}T08:59:00.000Z`, `${TOMORROW}T17:05:00.000Z`)).toBe(600);
		expect((await messages(userId)).filter((row) => row.status !== 'sent').map((row) => row.scheduled_for.toISOString())).toEqual([]);
		// Nothing is left for the next day's first run.
		expect(await claim('w-minute', userId, '2026-11-27T09:00:00.000Z')).toEqual([]);

		// Evenly spread from 09:00 to 16:59: 599 steps of 28,740 s / 599 (47.98 s).
		const slots = before.map((row) => row.scheduled_for.getTime());
		expect(new Date(slots[0]).toISOString()).toBe(`${TOMORROW}T09:00:00.000Z`);
		expect(new Date(slots[599]).toISOString()).toBe(`${TOMORROW}T16:59:00.000Z`);
		const step = 28_740_000 / 599;
		for (let n = 1; n < 600; n++) expect(Math.abs(slots[n] - slots[n - 1] - step)).toBeLessThan(1);
	}, 120_000);

	it('a run that fires 30 s past each minute: 150 over 09:00–10:00 (24 s apart) all go out before 10:00', async () => {
		const userId = await createOwner({ daily_capacity: 150, send_from: '09:00', send_until: '10:00', time_zone: 'UTC' });
		await addLeads(leadItems(userId, 150));
		expect((await prepare(userId))[0]).toMatchObject({ queued: 150 });
		// The last run inside the hours is 09:59:30; 10:00:30 is closed.
		expect(await everyMinute(userId, `${TOMORROW}T08:59:30.000Z`, `${TOMORROW}T10:00:30.000Z`)).toBe(150);
		const rows = await messages(userId);
		expect(rows.every((row) => row.status === 'sent')).toBe(true);
		expect([rows[0], rows[149]].map((row) => row.scheduled_for.toISOString())).toEqual([`${TOMORROW}T09:00:00.000Z`, `${TOMORROW}T09:59:00.000Z`]);
	});

	it('hours of a minute or less: every slot at send_from, claimed by the one run inside them', async () => {
		const userId = await createOwner({ daily_capacity: 3, send_from: '09:00', send_until: '09:00:40', time_zone: 'UTC' });
		await addLeads(leadItems(userId, 3));
		expect((await prepare(userId))[0]).toMatchObject({ queued: 3 });
		expect(await claim('w-short', userId, `${TOMORROW}T09:00:00.000Z`)).toHaveLength(3);
		expect((await messages(userId)).map((row) => row.scheduled_for.toISOString())).toEqual(Array(3).fill(`${TOMORROW}T09:00:00.000Z`));
	});
});
