// A campaign session's answer moves its Queue Ledger lead still waiting for its first message
// (migration 20261201001540): someone who said no to the outreach (rejected) becomes not_interested,
// and its message queued for tomorrow is cancelled, so nothing is claimed for them; interested or
// started work becomes engaged. A lead the queue or the owner already moved on (contacted,
// human_controlled) and a lead of no session are untouched. Real Postgres through PostgREST, fixed
// instants (p_now), never the machine's clock.
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../helpers/stack';
import { addLeads, claim, createOwner, ledger, messages, prepare, rpc, takeLead, NOW, TOMORROW } from './queue/fixtures';

const service = serviceClient();
// The reports are judged at NOW (the stack's X-Leadflow-Now), the instant they carry: a report dated
// after the database's clock is recorded at it (and more than 26 hours after, refused), so with the
// machine's clock they would depend on today's date.
const atNow = serviceClient({ now: new Date(NOW) });
const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
let phoneCounter = (Date.now() % 100_000) * 10;
const phones = (count: number) => Array.from({ length: count }, () => `+447854${String(phoneCounter++ % 1_000_000).padStart(6, '0')}`);

async function record(owner: string, sessionId: string, objective: string) {
	const { data, error } = await atNow.rpc('record_session_objective', {
		p_owner: owner,
		p_session_id: sessionId,
		p_objective: objective,
		p_value: true,
		p_source: 'whatsapp',
		p_occurred_at: NOW,
		p_event_key: `evt-${objective}-${sessionId}`,
	});
	if (error) throw new Error(`record_session_objective: ${error.message}`);
	return data as { outcome: string; status: string };
}

describe('a campaign session\'s answer moves its lead still waiting for its first message', () => {
	it('rejected → not_interested (its queued message cancelled, nothing claimed), interested / started_work → engaged; contacted, taken over and session-less leads untouched', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const campaign = newCampaignId();
		const { error: launchError } = await service.rpc('create_campaign_sessions', {
			p_owner: owner,
			p_campaign: { name_uid: campaign, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } },
			p_tasks: phones(5).map((phone) => ({ phone })),
			p_now: NOW,
		});
		expect(launchError).toBeNull();
		const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);
		// The five sessions become leads before the outreach reaches anyone, plus one lead of no campaign.
		const fromCrm = await rpc<Array<{ lead_id: string; campaign_session_id: string; outcome: string }>>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW });
		expect(fromCrm.map((row) => row.outcome)).toEqual(['created', 'created', 'created', 'created', 'created']);
		const [walkIn] = await addLeads([{ user_id: owner, name: 'Walk-in', phone: '+14155550199', source: 'test' }]);
		const textIds = await withDb(async (db) => new Map((await db.query<{ id: string; session_id: string }>(
			'select id, session_id from public.session_info where user_id = $1', [owner])).rows.map((s) => [s.id, s.session_id])));
		const [rejected, interested, startedWork, takenOver, contacted] = fromCrm.map((row) => ({ lead: row.lead_id, session: textIds.get(row.campaign_session_id)! }));

		// Prepared for tomorrow: six messages queued, six leads queued.
		await prepare(owner, NOW);
		expect((await messages(owner)).map((m) => [m.day, m.status])).toEqual(Array.from({ length: 6 }, () => [TOMORROW, 'queued']));

		// The owner moved two on before the outreach's answers: one taken over, one marked contacted.
		await takeLead(takenOver.lead, { now: NOW });
		await withDb((db) => db.query(`update public.leads set status = 'contacted' where id = $1`, [contacted.lead]));

		expect(await record(owner, rejected.session, 'rejected')).toMatchObject({ outcome: 'ok', status: 'rejected' });
		expect(await record(owner, interested.session, 'interested')).toMatchObject({ outcome: 'ok', status: 'interested' });
		expect(await record(owner, startedWork.session, 'started_work')).toMatchObject({ outcome: 'ok', status: 'started_work' });
		expect(await record(owner, takenOver.session, 'rejected')).toMatchObject({ outcome: 'ok', status: 'rejected' });
		expect(await record(owner, contacted.session, 'rejected')).toMatchObject({ outcome: 'ok', status: 'rejected' });

		const leads = await withDb(async (db) => new Map((await db.query<{ id: string; status: string }>(
			'select id, status from public.leads where user_id = $1', [owner])).rows.map((l) => [l.id, l.status])));
		expect(leads.get(rejected.lead)).toBe('not_interested');
		expect(leads.get(interested.lead)).toBe('engaged');
		expect(leads.get(startedWork.lead)).toBe('engaged');
		expect(leads.get(takenOver.lead)).toBe('human_controlled');
		expect(leads.get(contacted.lead)).toBe('contacted');
		expect(leads.get(walkIn.lead_id)).toBe('queued');

		// The ledger says why: the lead moved by the session's answer (automation), its message and
		// backlog item cancelled because of the lead's new status.
		const rows = await ledger(owner);
		const of = (lead: string, queue: string) => rows.filter((r) => r.lead_id === lead && r.queue === queue).at(-1);
		expect(of(rejected.lead, 'leads')).toMatchObject({ from_status: 'queued', to_status: 'not_interested', actor: 'automation', reason: 'session_rejected' });
		expect(of(rejected.lead, 'whatsapp_message_queue')).toMatchObject({ from_status: 'queued', to_status: 'cancelled', reason: 'lead_not_interested' });
		expect(of(rejected.lead, 'lead_processing_queue')).toMatchObject({ to_status: 'cancelled' });
		expect(of(interested.lead, 'leads')).toMatchObject({ to_status: 'engaged', actor: 'automation', reason: 'session_interested' });
		expect(of(interested.lead, 'whatsapp_message_queue')).toMatchObject({ to_status: 'cancelled', reason: 'lead_engaged' });
		expect(of(startedWork.lead, 'leads')).toMatchObject({ to_status: 'engaged', reason: 'session_started_work' });
		// The leads moved on by the owner have no row of the sessions' answers.
		expect(rows.filter((r) => r.queue === 'leads' && r.reason.startsWith('session_')).map((r) => r.lead_id).sort())
			.toEqual([rejected.lead, interested.lead, startedWork.lead].sort());

		// Tomorrow's claim takes only the session-less lead's message: nobody who answered is messaged.
		const items = await claim('w-outcome', owner, `${TOMORROW}T16:59:00.000Z`);
		expect(items.map((item) => item.lead_id)).toEqual([walkIn.lead_id]);
		const byLead = new Map((await messages(owner)).map((m) => [m.lead_id, m.status]));
		expect(byLead.get(rejected.lead)).toBe('cancelled');
		expect(byLead.get(interested.lead)).toBe('cancelled');
		expect(byLead.get(startedWork.lead)).toBe('cancelled');
	});

	it('an answer that does not change the status (a retry, a value other than true) moves nothing; a lead set back to new after the answer stays new', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const campaign = newCampaignId();
		const { error: launchError } = await service.rpc('create_campaign_sessions', {
			p_owner: owner,
			p_campaign: { name_uid: campaign, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } },
			p_tasks: phones(1).map((phone) => ({ phone })),
			p_now: NOW,
		});
		expect(launchError).toBeNull();
		const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);
		const [row] = await rpc<Array<{ lead_id: string; campaign_session_id: string }>>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW });
		const sessionId = await withDb(async (db) => (await db.query<{ session_id: string }>('select session_id from public.session_info where id = $1', [row.campaign_session_id])).rows[0].session_id);
		const status = () => withDb(async (db) => (await db.query<{ status: string }>('select status from public.leads where id = $1', [row.lead_id])).rows[0].status);

		// "no" is recorded, not reached: the session stays pending and so does the lead.
		const { data: no, error } = await atNow.rpc('record_session_objective', { p_owner: owner, p_session_id: sessionId, p_objective: 'interested', p_value: 'no', p_event_key: 'k-no' });
		expect(error).toBeNull();
		expect(no).toMatchObject({ outcome: 'ok', status: 'pending' });
		expect(await status()).toBe('new');

		await record(owner, sessionId, 'rejected');
		expect(await status()).toBe('not_interested');
		// The owner puts the lead back: the same report again (a retry) does not move it a second time.
		await withDb((db) => db.query(`update public.leads set status = 'new' where id = $1`, [row.lead_id]));
		expect(await record(owner, sessionId, 'rejected')).toMatchObject({ outcome: 'ok', status: 'rejected' });
		expect(await status()).toBe('new');
	});
});
