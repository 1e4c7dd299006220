// A message dead `uncertain` (it may have reached the person) leaves its lead `queued` with its
// backlog item dead, which Prepare never takes, and the owner decides: `contacted` if it arrived, `new`
// to have it queued and sent again (docs/whatsapp.md, What each error leads to; the console's words
// under the message). A lead the owner set back to `new` while its message was being sent stayed
// `new` instead, its backlog item dead: no Prepare took it, and setting it to `new` again changed no
// status, so nothing ever queued it (review RM2 F2a). Migration
// 20261201002930_queue_uncertain_lead_stays_queued.sql makes such a lead `queued` on both deaths:
// Send's own report through queue_complete, and queue_claim ending a send whose lease ran out.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { userClient, withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, prepare, preparedOwner, rpc, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const UNCERTAIN = { code: 'uncertain', message: 'No answer within 30000 ms: it may have been sent', permanent: true };

const leadState = (leadId: string) =>
	withDb(async (db) => (await db.query<{ lead: string; backlog: string }>(
		'select l.status as lead, p.status as backlog from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.id = $1', [leadId])).rows[0]);
const beginSend = (worker: string, items: Array<{ item_id: string; phone: string }>, now: string) =>
	rpc('queue_begin_send', { p_worker: worker, p_item_ids: items.map((item) => item.item_id), p_phones: items.map((item) => item.phone), p_lease_seconds: 300, p_now: now });
/** The owner's app writes the lead's status (as the signed-in owner, at a set time). */
async function ownerSets(userId: string, leadIds: string[], status: string, time: string, day?: string) {
	const { error } = await userClient(userId, { now: new Date(at(time, day)) }).from('leads').update({ status }).in('id', leadIds);
	expect(error).toBeNull();
}
const leadRows = async (userId: string, leadId: string) =>
	(await ledger(userId)).filter((row) => row.queue === 'leads' && row.lead_id === leadId).map((row) => [row.from_status, row.to_status, row.actor, row.reason, row.at.toISOString()]);

/** Then the owner's decision works: set to new, the next Prepare queues the lead again (for the day after). */
async function newQueuesItAgain(userId: string, leadId: string) {
	// Left alone, no Prepare takes it.
	expect((await prepare(userId, at('20:00')))[0]).toMatchObject({ day: '2026-11-27', queued: 0 });
	await ownerSets(userId, [leadId], 'new', '21:00');
	expect(await leadState(leadId)).toEqual({ lead: 'new', backlog: 'queued' });
	expect((await prepare(userId, at('12:00', '2026-11-27')))[0]).toMatchObject({ day: '2026-11-28', queued: 1 });
}

it('Send reports uncertain for a lead set back to new while its message was being sent: the lead is made queued, and setting it to new queues it again', async () => {
	const { userId } = await preparedOwner(1);
	const [item] = await claim('w-unc-new', userId, at('10:00'));
	await beginSend('w-unc-new', [item], at('10:00'));
	await ownerSets(userId, [item.lead_id], 'new', '10:00');
	expect(await leadState(item.lead_id)).toEqual({ lead: 'new', backlog: 'claimed' });

	expect((await complete('w-unc-new', [failed(item, UNCERTAIN)], at('10:01')))[0]).toMatchObject({ accepted: true, status: 'dead' });
	// Before migration …2930: { lead: 'new', backlog: 'dead' }, and the owner's new below changed nothing.
	expect(await leadState(item.lead_id)).toEqual({ lead: 'queued', backlog: 'dead' });
	expect((await leadRows(userId, item.lead_id)).slice(-2)).toEqual([
		['queued', 'new', 'user', 'updated', at('10:00')],
		['new', 'queued', 'automation', 'message_dead', at('10:01')],
	]);
	await newQueuesItAgain(userId, item.lead_id);
});

it('Claim ends a send whose lease ran out (uncertain) for a lead set back to new meanwhile: the lead is made queued (ledger send_uncertain), and new queues it again', async () => {
	const { userId } = await preparedOwner(1);
	const [item] = await claim('w-unc-dies', userId, at('10:00'));
	await beginSend('w-unc-dies', [item], at('10:00'));
	await ownerSets(userId, [item.lead_id], 'new', '10:02');
	// 10:06: the lease (10:05) ran out without a report.
	expect(await claim('w-unc-next', userId, at('10:06'))).toEqual([]);
	expect(await leadState(item.lead_id)).toEqual({ lead: 'queued', backlog: 'dead' });
	expect((await leadRows(userId, item.lead_id)).slice(-2)).toEqual([
		['queued', 'new', 'user', 'updated', at('10:02')],
		['new', 'queued', 'automation', 'send_uncertain', at('10:06')],
	]);
	await newQueuesItAgain(userId, item.lead_id);
});

it('a lead of another status keeps it on either death: taken over, contacted or do not contact while its message was being sent', async () => {
	const { userId } = await preparedOwner(6, { daily_capacity: 6 });
	const items = await claim('w-unc-keep', userId, at('16:00'));
	expect(items).toHaveLength(6);
	const [takenA, contactedA, dncA, takenB, contactedB, dncB] = items;
	await beginSend('w-unc-keep', items, at('16:00'));
	for (const taken of [takenA, takenB]) await takeLead(taken.lead_id, { userId, now: at('16:00') });
	await ownerSets(userId, [contactedA.lead_id, contactedB.lead_id], 'contacted', '16:00');
	await ownerSets(userId, [dncA.lead_id, dncB.lead_id], 'do_not_contact', '16:00');
	// A: Send's report; B: the lease runs out (16:05) and the next claim ends them.
	await complete('w-unc-keep', [takenA, contactedA, dncA].map((item) => failed(item, UNCERTAIN)), at('16:01'));
	expect(await claim('w-unc-keep-next', userId, at('16:06'))).toEqual([]);
	const states = await Promise.all(items.map((item) => leadState(item.lead_id)));
	expect(states.map((state) => state.lead)).toEqual(['human_controlled', 'contacted', 'do_not_contact', 'human_controlled', 'contacted', 'do_not_contact']);
	expect(states.map((state) => state.backlog)).toEqual(Array(6).fill('dead'));
});

it('Claim never waits for a lead someone holds: its stranded send is left to a later claim, then ended and the lead made queued', async () => {
	const { userId } = await preparedOwner(1);
	const [item] = await claim('w-unc-held', userId, at('10:00'));
	await beginSend('w-unc-held', [item], at('10:00'));
	await ownerSets(userId, [item.lead_id], 'new', '10:02');
	await withDb(async (db) => {
		// Another transaction holds the lead (the owner's app, a Complete of the same message): lead
		// first is the lock order of the leads' trigger, queue_take_lead and queue_complete.
		await db.query('begin');
		await db.query('select 1 from public.leads where id = $1 for no key update', [item.lead_id]);
		try {
			const started = Date.now();
			expect(await claim('w-unc-held-next', userId, at('10:06'))).toEqual([]);
			expect(Date.now() - started).toBeLessThan(10_000);
			expect(await leadState(item.lead_id)).toEqual({ lead: 'new', backlog: 'claimed' });
		} finally {
			await db.query('rollback');
		}
	});
	expect(await claim('w-unc-held-next', userId, at('10:07'))).toEqual([]);
	expect(await leadState(item.lead_id)).toEqual({ lead: 'queued', backlog: 'dead' });
});

it('the migration makes queued a lead left new by an uncertain death before it (its backlog item dead), and no other lead', async () => {
	const { userId } = await preparedOwner(3, { daily_capacity: 3 });
	const [stranded, template, waiting] = await claim('w-unc-repair', userId, at('15:00'));
	await complete('w-unc-repair', [failed(stranded, UNCERTAIN), failed(template, { code: '132001', message: 'Template name does not exist', permanent: true })], at('15:01'));
	// As an uncertain death before migration …2930 left it: new, its backlog item dead (the leads'
	// trigger off for this one write, so it stays as an older database holds it).
	await withDb(async (db) => {
		await db.query('begin');
		await db.query("set local session_replication_role = 'replica'");
		await db.query("update public.leads set status = 'new' where id = $1", [stranded.lead_id]);
		await db.query('commit');
	});
	expect(await leadState(stranded.lead_id)).toEqual({ lead: 'new', backlog: 'dead' });
	const before = await Promise.all([template, waiting].map((item) => leadState(item.lead_id)));

	// The migration's closing statements, run again (the stack applied them to an empty database).
	const migration = readFileSync(path.join(__dirname, '../../../supabase/migrations/20261201002930_queue_uncertain_lead_stays_queued.sql'), 'utf8');
	const repair = migration.slice(migration.indexOf("select leadflow_private.queue_set_actor('automation', null, 'send_uncertain');"));
	expect(repair).toMatch(/^select leadflow_private\.queue_set_actor\('automation'[\s\S]*update public\.leads l[\s\S]*queue_set_actor\(null\);\s*$/);
	await withDb(async (db) => {
		await db.query('begin');
		await db.query(repair);
		await db.query('commit');
	});
	expect(await leadState(stranded.lead_id)).toEqual({ lead: 'queued', backlog: 'dead' });
	expect((await leadRows(userId, stranded.lead_id)).at(-1)?.slice(0, 4)).toEqual(['new', 'queued', 'automation', 'send_uncertain']);
	expect(await Promise.all([template, waiting].map((item) => leadState(item.lead_id)))).toEqual(before);
});
