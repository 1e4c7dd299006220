// Export through n8n's engine for an owner in Asia/Kolkata sending 09:00–18:00: the file's times are
// the owner's clock with its offset (09:00+05:30 for the day's first send, not 03:30+00:00), so the
// day column and the times agree for a person and stay one instant for a machine.
import { serviceClient, withDb } from '../../helpers/stack';
import { EXPORT_COLUMNS } from '../../../nodes/QueueLedger/helpers/csv';
import type { PrepareResult } from '../../../nodes/shared/contract';
import { exported, exportParameters } from './support/export';
import { leadsOf, queueOwner } from './support/queue';

/** Prepared at a fixed instant (noon UTC, 17:30 in Kolkata): its tomorrow is 2026-12-04. */
const PREPARED_AT = new Date('2026-12-03T12:00:00.000Z');
const DAY = '2026-12-04';

test('the CSV\'s scheduled_for, created_at and updated_at are in the owner\'s time zone with its offset', async () => {
	const owner = await queueOwner();
	await withDb((db) => db.query(`update public.user_queue_settings set time_zone = 'Asia/Kolkata', send_from = '09:00', send_until = '18:00' where user_id = $1`, [owner]));
	await leadsOf(owner, 2);
	const { data, error } = await serviceClient({ now: PREPARED_AT }).rpc('queue_prepare', { p_user_id: owner });
	expect(error).toBeNull();
	expect((data as PrepareResult[])[0]).toMatchObject({ day: DAY, queued: 2 });

	const file = await exported(exportParameters(owner, DAY, DAY));
	const [header, ...rows] = file.records;
	expect(header).toEqual([...EXPORT_COLUMNS]);
	const column = (name: (typeof EXPORT_COLUMNS)[number]) => EXPORT_COLUMNS.indexOf(name);
	// The day's capacity of 100 spread over 09:00–18:00 local: a slot every 5 min 24 s from 09:00.
	expect(rows.map((row) => [row[column('day')], row[column('scheduled_for')]]).sort()).toEqual([
		[DAY, `${DAY}T09:00:00+05:30`],
		[DAY, `${DAY}T09:05:24+05:30`],
	]);
	for (const row of rows) {
		// Written at PREPARED_AT, 17:30 on the 3rd in Kolkata.
		expect(row[column('created_at')]).toMatch(/^2026-12-03T17:30:00(\.\d+)?\+05:30$/);
		expect(row[column('updated_at')]).toMatch(/^2026-12-03T17:30:00(\.\d+)?\+05:30$/);
	}
	expect(file.json).toMatchObject({ owner, from: DAY, to: DAY, rows: 2 });
});
