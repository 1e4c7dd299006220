// queue_export writes its times in the owner's time zone with that instant's offset (ISO 8601), so
// the day column and the times are read on the same clock: a 09:00 send in Kolkata says 09:00, not
// 03:30. Each instant keeps its own offset across a DST change, the instant itself is unchanged, and
// the caller's own TimeZone setting is left as it was.
import { withDb } from '../../helpers/stack';
import { addLeads, createOwner, exportQueue, leadItems, local, messages, prepare } from './fixtures';

const OFFSET_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:\d\d$/;

describe('queue_export times', () => {
	it('a half-hour zone (Asia/Kolkata, sending 09:00–17:00): scheduled_for, created_at and updated_at in +05:30, one day and a range of days', async () => {
		const zone = 'Asia/Kolkata';
		const userId = await createOwner({ time_zone: zone, daily_capacity: 2, send_from: '09:00', send_until: '17:00' });
		await addLeads(leadItems(userId, 4, (i) => 100 - i));
		await prepare(userId, local('2026-11-25T12:00', zone));
		await prepare(userId, local('2026-11-26T12:00', zone));

		const day = await exportQueue(userId, '2026-11-26', '2026-11-26');
		expect(day.map((row) => [row.day, row.scheduled_for]).sort()).toEqual([
			['2026-11-26', '2026-11-26T09:00:00+05:30'],
			['2026-11-26', '2026-11-26T13:00:00+05:30'],
		]);
		const range = await exportQueue(userId, '2026-11-26', '2026-11-27');
		expect(range.map((row) => [row.day, row.scheduled_for]).sort()).toEqual([
			['2026-11-26', '2026-11-26T09:00:00+05:30'],
			['2026-11-26', '2026-11-26T13:00:00+05:30'],
			['2026-11-27', '2026-11-27T09:00:00+05:30'],
			['2026-11-27', '2026-11-27T13:00:00+05:30'],
		]);
		// The same instants as stored, each time written with the owner's offset.
		const stored = new Map((await messages(userId)).map((row) => [row.id, row]));
		for (const row of range) {
			expect(Date.parse(row.scheduled_for!)).toBe(stored.get(row.item_id)!.scheduled_for.getTime());
			for (const time of [row.scheduled_for, row.created_at, row.updated_at]) {
				expect(time).toMatch(OFFSET_TIME);
				expect(time).toMatch(/\+05:30$/);
			}
		}
	});

	it('across the spring DST change (Europe/Paris, 28 March 2027): 01:00 is +01:00, 03:00 and 04:00 are +02:00', async () => {
		const zone = 'Europe/Paris';
		const userId = await createOwner({ time_zone: zone, daily_capacity: 3, send_from: '01:00', send_until: '05:00' });
		await addLeads(leadItems(userId, 3, (i) => 100 - i));
		await prepare(userId, local('2027-03-27T12:00', zone));
		expect((await exportQueue(userId, '2027-03-28', '2027-03-28')).map((row) => row.scheduled_for).sort()).toEqual([
			'2027-03-28T01:00:00+01:00',
			'2027-03-28T03:00:00+02:00',
			'2027-03-28T04:00:00+02:00',
		]);
	});

	it('the caller\'s TimeZone is its own again after the call', async () => {
		const userId = await createOwner({ time_zone: 'Asia/Kolkata' });
		await addLeads(leadItems(userId, 1));
		await prepare(userId);
		const zoneAfter = await withDb(async (db) => {
			await db.query('begin');
			try {
				await db.query(`set local time zone 'America/New_York'`);
				const { rows } = await db.query<{ scheduled_for: string }>(`select scheduled_for from public.queue_export($1, '2026-11-26', '2026-11-26')`, [userId]);
				expect(rows[0].scheduled_for).toMatch(/\+05:30$/);
				return (await db.query<{ zone: string }>(`select current_setting('TimeZone') as zone`)).rows[0].zone;
			} finally {
				await db.query('rollback');
			}
		});
		expect(zoneAfter).toBe('America/New_York');
	});
});
