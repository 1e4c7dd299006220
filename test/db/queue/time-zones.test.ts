// Daily capacity and sending hours are the owner's, in their time zone: "tomorrow" is the local day
// after now, the hours are local hours (a half-hour zone, a day whose clocks change), the days of
// the week local days, and a claim hands nothing out while the owner's hours are closed. Every
// expected instant is computed with luxon from the local time, never written as UTC by hand.
import { DateTime } from 'luxon';
import { addLeads, claim, createOwner, leadItems, local, messages, prepare } from './fixtures';

/** The instants of `count` slots spread over [from, until) of a local day, as luxon computes them. */
function slots(day: string, from: string, until: string, zone: string, count: number): string[] {
	const start = DateTime.fromISO(`${day}T${from}`, { zone });
	const end = DateTime.fromISO(`${day}T${until}`, { zone });
	const step = end.diff(start).as('milliseconds') / count;
	return Array.from({ length: count }, (_, i) => start.plus({ milliseconds: step * i }).toUTC().toISO()!);
}

const scheduled = async (userId: string) => (await messages(userId)).map((row) => row.scheduled_for.toISOString());

describe('the owner\'s time zone', () => {
	it('a half-hour zone (Asia/Kolkata): tomorrow and the sending hours are local, and a claim waits for them', async () => {
		const zone = 'Asia/Kolkata';
		const userId = await createOwner({ time_zone: zone, daily_capacity: 4, send_from: '09:00', send_until: '17:00' });
		await addLeads(leadItems(userId, 6, (i) => 100 - i));
		// 23:59 on Wednesday in Kolkata (18:29 UTC): tomorrow is Thursday the 26th.
		const [prepared] = await prepare(userId, local('2026-11-25T23:59', zone));
		expect(prepared).toMatchObject({ day: '2026-11-26', time_zone: zone, queued: 4, skipped: { over_capacity: 2 } });
		expect(await scheduled(userId)).toEqual(slots('2026-11-26', '09:00', '17:00', zone, 4).map((at) => new Date(at).toISOString()));
		// Two minutes later it is Thursday there: tomorrow is Friday, with the rest of the backlog.
		const [friday] = await prepare(userId, local('2026-11-26T00:01', zone));
		expect(friday).toMatchObject({ day: '2026-11-27', queued: 2 });

		// 08:59 in Kolkata: the first message is not due yet; at 09:00 it is.
		expect(await claim('w-ist', userId, local('2026-11-26T08:59', zone))).toEqual([]);
		const first = await claim('w-ist', userId, local('2026-11-26T09:00', zone), 100, 86_400);
		expect(first).toHaveLength(1);
		// 17:00 Kolkata: closed again, though three more are due.
		expect(await claim('w-ist', userId, local('2026-11-26T17:00', zone))).toEqual([]);
		expect(await claim('w-ist', userId, local('2026-11-26T16:59', zone))).toHaveLength(3);
	});

	it('the spring DST change (Europe/Paris, 28 March 2027): 01:00–05:00 is three real hours, the capacity spread over them', async () => {
		const zone = 'Europe/Paris';
		const userId = await createOwner({ time_zone: zone, daily_capacity: 3, send_from: '01:00', send_until: '05:00' });
		await addLeads(leadItems(userId, 3, (i) => 100 - i));
		const [prepared] = await prepare(userId, local('2027-03-27T12:00', zone));
		expect(prepared).toMatchObject({ day: '2027-03-28', queued: 3 });
		const expected = slots('2027-03-28', '01:00', '05:00', zone, 3);
		expect(await scheduled(userId)).toEqual(expected.map((at) => new Date(at).toISOString()));
		// One real hour apart, 01:00 CET then 03:00 and 04:00 CEST.
		expect(expected.map((at) => DateTime.fromISO(at).setZone(zone).toFormat('HH:mm ZZZZ'))).toEqual(['01:00 GMT+1', '03:00 GMT+2', '04:00 GMT+2']);
		// 05:00 CEST is 03:00 UTC: closed from then.
		expect(await claim('w-dst', userId, local('2027-03-28T05:00', zone))).toEqual([]);
		expect(await claim('w-dst', userId, local('2027-03-28T04:59', zone))).toHaveLength(3);
	});

	it('the autumn DST change (America/New_York, 7 November 2027): 00:00–04:00 is five real hours', async () => {
		const zone = 'America/New_York';
		const userId = await createOwner({ time_zone: zone, daily_capacity: 5, send_from: '00:00', send_until: '04:00' });
		await addLeads(leadItems(userId, 5, (i) => 100 - i));
		await prepare(userId, local('2027-11-06T12:00', zone));
		const expected = slots('2027-11-07', '00:00', '04:00', zone, 5);
		expect(await scheduled(userId)).toEqual(expected.map((at) => new Date(at).toISOString()));
		expect(DateTime.fromISO(expected[4]).diff(DateTime.fromISO(expected[0]), 'hours').hours).toBe(4); // 5 slots an hour apart
	});

	it('days of the week are the owner\'s local days (Los Angeles: Thursday there while Friday in UTC)', async () => {
		const zone = 'America/Los_Angeles';
		const userId = await createOwner({ time_zone: zone, days_of_week: [4] });
		await addLeads(leadItems(userId, 2));
		// Wednesday 19:00 in Los Angeles is Thursday 03:00 UTC: tomorrow there is Thursday, a sending day.
		const [prepared] = await prepare(userId, local('2026-11-25T19:00', zone));
		expect(prepared).toMatchObject({ day: '2026-11-26', queued: 2 });
		// And a claim on Friday there (Thursday's messages still due) waits: Friday is not a sending day.
		expect(await claim('w-la', userId, local('2026-11-27T10:00', zone))).toEqual([]);
		expect(await claim('w-la', userId, local('2026-11-26T16:59', zone))).toHaveLength(2);
	});
});
