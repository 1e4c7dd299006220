// A lead's phone changed or removed while Prepare waits for the lead (migration 20261201001760): the
// change's transaction holds the lead's row, Prepare has read the old phone and waits for that lock;
// once the change commits, Prepare does not queue the old number: it fails with 40001 (nothing
// written), and the next call queues the new number (or skips the lead, which has none). Before,
// the message was inserted with the old number after the phone's trigger had run, and Claim handed
// it out. Two connections make the race happen every time (Prepare is known to wait before the
// change commits), real Postgres, fixed instants (p_now).
import type { Client } from 'pg';
import { untilWaitingForLock, withDb } from '../../helpers/stack';
import { addLeads, claim, createOwner, messages, NOW, phone, prepare, TOMORROW } from './fixtures';

/** queue_prepare(owner, NOW) on `b` while `a` changes the lead's phone in a transaction it commits once `b` waits for it. */
async function prepareWhilePhoneChanges(a: Client, b: Client, owner: string, leadId: string, value: string | null) {
	await a.query('begin');
	await a.query('update public.leads set phone = $2 where id = $1', [leadId, value]);
	const pid = (await b.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
	const pending = b.query('select queued from public.queue_prepare($1, $2)', [owner, NOW]).then(
		(result) => ({ queued: result.rows[0].queued as number, error: null }),
		(error: { code?: string; message: string }) => ({ queued: null, error: { code: error.code, message: error.message } }),
	);
	await untilWaitingForLock(pid, 'queue_prepare never waited for the lead the phone change holds');
	await a.query('commit');
	return await pending;
}

describe('Prepare while the lead\'s phone changes', () => {
	it('corrected: that call writes nothing (40001), the next queues the new number, and the claim hands out only it', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [oldNumber, corrected] = [phone(), phone()];
		const [ann] = await addLeads([{ user_id: owner, name: 'Ann', phone: oldNumber }]);

		const during = await withDb((a) => withDb((b) => prepareWhilePhoneChanges(a, b, owner, ann.lead_id, corrected)));
		expect(during).toEqual({ queued: null, error: { code: '40001', message: 'a lead changed while the queue was being prepared; nothing was written' } });
		expect(await messages(owner)).toEqual([]);

		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 1 });
		expect((await messages(owner)).map((m) => [m.lead_id, m.day, m.phone, m.status])).toEqual([[ann.lead_id, TOMORROW, corrected, 'queued']]);
		expect((await claim('w-1', owner, `${TOMORROW}T16:00:00.000Z`)).map((item) => item.phone)).toEqual([corrected]);
	});

	it('removed: that call writes nothing (40001), the next skips the lead (no_phone), nothing is sent', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [bob] = await addLeads([{ user_id: owner, name: 'Bob', phone: phone() }]);

		const during = await withDb((a) => withDb((b) => prepareWhilePhoneChanges(a, b, owner, bob.lead_id, null)));
		expect(during.error?.code).toBe('40001');
		expect(await messages(owner)).toEqual([]);

		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 0, skipped: expect.objectContaining({ no_phone: 1 }) });
		expect(await claim('w-1', owner, `${TOMORROW}T16:00:00.000Z`)).toEqual([]);
	});
});
