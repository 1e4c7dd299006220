// A lead saved by the owner's app from a row it read earlier (supabase-js `update({...row, status})`
// carries the old updated_at) is dated at the database's now, not at the old updated_at it sent
// (migration 20261201001920): its ledger row comes after the rows before it, and the message it
// cancels is completed after it was created. A queue function still writes its own p_now. Real
// Postgres through PostgREST; the clock is fixed per request (X-Leadflow-Now) or per transaction
// (leadflow.now), never the machine's.
import { userClient, withDb } from '../../helpers/stack';
import { addLeads, createOwner, leadItems, ledger, messages, minutesAfter, NOW, prepare, takeLead, TOMORROW } from './fixtures';

const ADDED = minutesAfter(-60);
const SAVED = minutesAfter(10);

describe('leads.updated_at when no queue function writes', () => {
	it('the app saving a row it loaded before Prepare: the change is dated now, after Prepare; the cancelled message completes after it was created', async () => {
		const owner = await createOwner({ daily_capacity: 1 });
		const [{ lead_id: leadId }] = await addLeads(leadItems(owner, 1), ADDED);
		const { data: loaded, error } = await userClient(owner).from('leads').select('*').eq('id', leadId).single();
		expect(error).toBeNull();
		expect(new Date(loaded.updated_at).toISOString()).toBe(ADDED);
		expect((await prepare(owner, NOW))[0].queued).toBe(1);

		const saved = await userClient(owner, { now: new Date(SAVED) }).from('leads').update({ ...loaded, status: 'do_not_contact' }).eq('id', leadId);
		expect(saved.error).toBeNull();

		const lead = await withDb(async (db) => (await db.query('select status, updated_at from public.leads where id = $1', [leadId])).rows[0]);
		expect(lead).toEqual({ status: 'do_not_contact', updated_at: new Date(SAVED) });
		const rows = (await ledger(owner)).filter((row) => row.lead_id === leadId);
		expect(rows.map((row) => [row.queue, row.to_status, row.reason, row.at.toISOString()])).toEqual([
			['leads', 'new', 'added', ADDED],
			['lead_processing_queue', 'queued', 'added', ADDED],
			['lead_processing_queue', 'claimed', 'prepared', NOW],
			['leads', 'queued', 'prepared', NOW],
			['whatsapp_message_queue', 'queued', 'prepared', NOW],
			['leads', 'do_not_contact', 'updated', SAVED],
			['whatsapp_message_queue', 'cancelled', 'lead_do_not_contact', SAVED],
			['lead_processing_queue', 'cancelled', 'lead_do_not_contact', SAVED],
		]);
		// In order of writing, never earlier than what preceded it.
		expect(rows.map((row) => row.at.getTime())).toEqual([...rows.map((row) => row.at.getTime())].sort((a, b) => a - b));
		const [message] = await messages(owner);
		const created = await withDb(async (db) => (await db.query('select created_at from public.whatsapp_message_queue where id = $1', [message.id])).rows[0].created_at as Date);
		expect(message).toMatchObject({ status: 'cancelled', completed_at: new Date(SAVED) });
		expect(message.completed_at!.getTime()).toBeGreaterThanOrEqual(created.getTime());
	});

	it('any writer without a queue actor (SQL by hand, a service-role update) gets now whatever updated_at it sends; a queue function keeps its p_now', async () => {
		const owner = await createOwner({ daily_capacity: 2 });
		const [first, second] = await addLeads(leadItems(owner, 2), ADDED);
		await withDb(async (db) => {
			await db.query('begin');
			await db.query(`select set_config('leadflow.now', $1, true)`, [SAVED]);
			await db.query(`update public.leads set name = 'Renamed', updated_at = '2020-01-01T00:00:00Z' where id = $1`, [first.lead_id]);
			await db.query('commit');
		});
		const at = async (leadId: string) => withDb(async (db) => (await db.query('select updated_at from public.leads where id = $1', [leadId])).rows[0].updated_at as Date);
		expect(await at(first.lead_id)).toEqual(new Date(SAVED));
		// queue_take_lead writes its p_now (in the past of the clock here), as the ledger's time.
		const TAKEN = `${TOMORROW}T10:00:00.000Z`;
		await takeLead(second.lead_id, { now: TAKEN });
		expect(await at(second.lead_id)).toEqual(new Date(TAKEN));
		expect((await ledger(owner)).find((row) => row.lead_id === second.lead_id && row.to_status === 'human_controlled')?.at).toEqual(new Date(TAKEN));
	});
});
