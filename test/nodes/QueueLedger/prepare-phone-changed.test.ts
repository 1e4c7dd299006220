// Prepare Tomorrow through n8n's engine while the owner's app changes a lead's phone (migration
// 20261201001760): the database call waits for the lead the change holds, then fails with 40001
// (nothing written); the node calls once more, and that call queues the new number. What the user
// sees is one normal run: the lead queued, at the number it has now. Before, the run queued the old
// number. The change's transaction commits only once the node's call waits for it, so the race
// happens every time. Real clock (as n8n runs it); nothing asserted depends on the date.
import { withDb } from '../../helpers/stack';
import { leadsOf, queueOwner, runQueue, ukMobile } from './support/queue';

test('a phone corrected while Prepare Tomorrow waits for the lead: the run queues the new number', async () => {
	const owner = await queueOwner({ daily_capacity: 5 });
	const [ann] = await leadsOf(owner, 1);
	const corrected = ukMobile();

	const outcome = await withDb(async (app) => {
		await app.query('begin');
		await app.query('update public.leads set phone = $2 where id = $1', [ann.leadId, corrected]);
		const appPid = (await app.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
		const run = runQueue([{}], { resource: 'message', operation: 'prepareTomorrow', ownerUserId: owner });
		// The node's queue_prepare (a Data API connection) waits for the lead the app holds.
		await withDb(async (watch) => {
			for (const until = Date.now() + 20_000; ; await new Promise((resolve) => setTimeout(resolve, 20))) {
				const { rows } = await watch.query('select 1 from pg_stat_activity where $1 = any (pg_blocking_pids(pid))', [appPid]);
				if (rows.length > 0) return;
				if (Date.now() > until) throw new Error('Prepare Tomorrow never waited for the lead the app holds');
			}
		});
		await app.query('commit');
		return await run;
	});

	expect(outcome.result.error).toBeUndefined();
	expect(outcome.outputs[0]).toEqual([expect.objectContaining({ user_id: owner, queued: 1, already_queued: 0 })]);
	const queued = await withDb(async (db) => (await db.query<{ lead_id: string; phone: string; status: string }>('select lead_id, phone, status from public.whatsapp_message_queue where user_id = $1', [owner])).rows);
	expect(queued).toEqual([{ lead_id: ann.leadId, phone: corrected, status: 'queued' }]);
});
