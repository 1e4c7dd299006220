// Claim opens an owner's sending hours as the instants Prepare spreads the day's slots over
// ((day + send_from) at time zone, (day + send_until) at time zone), so on a day whose clocks
// change every slot is handed out when it is due, never a day later (migration
// 20261201002200_queue_claim_hours_as_prepare_slots.sql). Before, Claim compared the local
// wall-clock time with the hours: hours ending inside the hour the clock skips closed at the jump
// (half of Berlin's 01:30–02:30 waited for the next day), and hours ending inside the hour the
// clock shows twice closed during its first pass. Both DST days of two zones, and hours ending at
// 24:00 on the day before a midnight fall-back (Havana), each at fixed instants.
import { DateTime } from 'luxon';
import { addLeads, claim, createOwner, leadItems, messages, prepare } from './fixtures';

interface Case {
	name: string;
	zone: string;
	from: string;
	until: string;
	/** The Prepare's p_now: the local day before `day`. */
	prepareAt: string;
	day: string;
	/** The hours as instants (UTC), and as the owner's clock reads them. */
	start: string;
	end: string;
	local: [string, string];
}

const CAPACITY = 12;

const cases: Case[] = [
	{
		name: 'Europe/Berlin, spring (28 March 2027, 02:00 -> 03:00): 01:30–02:30 ends in the skipped hour, one real hour to 03:30 CEST',
		zone: 'Europe/Berlin',
		from: '01:30',
		until: '02:30',
		prepareAt: '2027-03-27T12:00:00.000Z',
		day: '2027-03-28',
		start: '2027-03-28T00:30:00.000Z',
		end: '2027-03-28T01:30:00.000Z',
		local: ['2027-03-28 01:30 +01:00', '2027-03-28 03:30 +02:00'],
	},
	{
		name: 'Europe/Berlin, autumn (31 October 2027, 03:00 -> 02:00): 01:00–02:30 ends in the second pass of the repeated hour, 2.5 real hours',
		zone: 'Europe/Berlin',
		from: '01:00',
		until: '02:30',
		prepareAt: '2027-10-30T12:00:00.000Z',
		day: '2027-10-31',
		start: '2027-10-30T23:00:00.000Z',
		end: '2027-10-31T01:30:00.000Z',
		local: ['2027-10-31 01:00 +02:00', '2027-10-31 02:30 +01:00'],
	},
	{
		name: 'America/New_York, spring (14 March 2027, 02:00 -> 03:00): 01:00–02:30 ends in the skipped hour, to 03:30 EDT',
		zone: 'America/New_York',
		from: '01:00',
		until: '02:30',
		prepareAt: '2027-03-13T17:00:00.000Z',
		day: '2027-03-14',
		start: '2027-03-14T06:00:00.000Z',
		end: '2027-03-14T07:30:00.000Z',
		local: ['2027-03-14 01:00 -05:00', '2027-03-14 03:30 -04:00'],
	},
	{
		name: 'America/New_York, autumn (7 November 2027, 02:00 -> 01:00): 00:30–01:30 ends in the second pass of the repeated hour, two real hours',
		zone: 'America/New_York',
		from: '00:30',
		until: '01:30',
		prepareAt: '2027-11-06T17:00:00.000Z',
		day: '2027-11-07',
		start: '2027-11-07T04:30:00.000Z',
		end: '2027-11-07T06:30:00.000Z',
		local: ['2027-11-07 00:30 -04:00', '2027-11-07 01:30 -05:00'],
	},
	{
		name: 'America/Havana, the day before the autumn change (7 November 2027, 01:00 -> 00:00): 20:00–24:00 ends at the second midnight, inside the next local day',
		zone: 'America/Havana',
		from: '20:00',
		until: '24:00',
		prepareAt: '2027-11-05T17:00:00.000Z',
		day: '2027-11-06',
		start: '2027-11-07T00:00:00.000Z',
		end: '2027-11-07T05:00:00.000Z',
		local: ['2027-11-06 20:00 -04:00', '2027-11-07 00:00 -05:00'],
	},
];

describe('queue_claim opens the hours Prepare scheduled, on the days the clocks change', () => {
	it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
		// The hours as the owner's clock reads them (luxon), as written above.
		expect([c.start, c.end].map((at) => DateTime.fromISO(at).setZone(c.zone).toFormat('yyyy-MM-dd HH:mm ZZ'))).toEqual(c.local);

		const userId = await createOwner({ time_zone: c.zone, daily_capacity: CAPACITY, send_from: c.from, send_until: c.until });
		await addLeads(leadItems(userId, CAPACITY, (i) => 100 - i));
		const [prepared] = await prepare(userId, c.prepareAt);
		expect(prepared).toMatchObject({ day: c.day, queued: CAPACITY });
		const day = await messages(userId);
		const slots = day.map((row) => row.scheduled_for.getTime());
		// Prepare's slots span the hours: the first at their start, the last inside them.
		expect(slots[0]).toBe(Date.parse(c.start));
		expect(Math.max(...slots)).toBeLessThan(Date.parse(c.end));

		// At the hours' end every message is due, and the hours are closed.
		expect(await claim(`w-end-${userId}`, userId, c.end)).toEqual([]);
		// At each slot's instant, that message is handed out: none waits for another day's hours.
		const late: string[] = [];
		for (const message of day) {
			const at = message.scheduled_for.toISOString();
			const handed = await claim(`w-${userId}`, userId, at, 100, 86_400);
			if (handed.map((row) => row.item_id).join() !== message.id) late.push(DateTime.fromISO(at).setZone(c.zone).toFormat('HH:mm ZZ'));
		}
		expect(late).toEqual([]);
	});
});
