// A lead of a campaign session sent by the Queue Ledger (queue_add_leads_from_crm, queue_prepare,
// queue_claim, queue_complete) marks the session contacted: its status, the campaign stats, and a
// replayed launch that no longer hands it to the outreach. The send counts, whatever the lead's
// status: one taken over or moved on by the owner while its message went out (migration
// 20261201001510). Real Postgres through PostgREST, fixed
// instants (p_now), never the machine's clock.
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../helpers/stack';
import { addLeads, claim, complete, createOwner, failed, prepare, rpc, sent, takeLead, NOW, TOMORROW } from './queue/fixtures';

interface Launched {
	created: number;
	emitted: number;
	outreach_started: number;
}

const service = serviceClient();
const after = (minutes: number, from: string) => new Date(Date.parse(from) + minutes * 60_000).toISOString();
const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const phones = (count: number) => Array.from({ length: count }, (_, i) => `+447853${String(300_000 + i).padStart(6, '0')}`);

async function launch(owner: string, nameUid: string, tasks: string[], now: string) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } },
		p_tasks: tasks.map((phone) => ({ phone })),
		p_now: now,
	});
	if (error) throw new Error(`create_campaign_sessions: ${error.message}`);
	return data as Launched;
}

describe('a campaign lead the Queue Ledger sends marks its session contacted', () => {
	it('queue_complete: the sent lead\'s session is contacted (stats count it) and never handed out again; the failed one stays pending', async () => {
		const owner = await createOwner({ daily_capacity: 10, max_attempts: 1 });
		const campaign = newCampaignId();
		const launched = await launch(owner, campaign, phones(3), NOW);
		const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);
		// Two of the three sessions go to the queue (Add Leads from the campaign), plus one lead of no campaign.
		const fromCrm = await rpc<Array<{ lead_id: string; campaign_session_id: string }>>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW, p_limit: 2 });
		expect(fromCrm).toHaveLength(2);
		await addLeads([{ user_id: owner, name: 'Walk-in', phone: '+14155550123', source: 'test' }]);
		await prepare(owner, NOW);
		const at = `${TOMORROW}T16:00:00.000Z`;
		const items = await claim('w-campaign', owner, at);
		expect(items).toHaveLength(3);
		const sessionOfLead = new Map(fromCrm.map((row) => [row.lead_id, row.campaign_session_id]));
		const campaignItems = items.filter((item) => sessionOfLead.has(item.lead_id));
		const walkIn = items.find((item) => !sessionOfLead.has(item.lead_id))!;
		await complete('w-campaign', [sent(campaignItems[0]), failed(campaignItems[1], { code: '131026', message: 'Message undeliverable', permanent: true }), sent(walkIn)], at);

		const sessions = await withDb(async (db) => (await db.query<{ id: string; status: string; contacted_at: Date | null }>(
			'select id, status, contacted_at from public.session_info where user_id = $1', [owner])).rows);
		const byId = new Map(sessions.map((s) => [s.id, s]));
		expect(byId.get(sessionOfLead.get(campaignItems[0].lead_id)!)).toMatchObject({ status: 'contacted', contacted_at: new Date(at) });
		expect(byId.get(sessionOfLead.get(campaignItems[1].lead_id)!)).toMatchObject({ status: 'pending', contacted_at: null });
		expect(sessions.filter((s) => s.contacted_at !== null)).toHaveLength(1);

		const { data: stats, error } = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: campaign });
		expect(error).toBeNull();
		expect(stats).toMatchObject({ sessions: 3, contacted: 1, statuses: { pending: 2, contacted: 1 } });

		// A replay long after the lease hands out only the session never put on the Queue Ledger: not
		// the contacted one, nor the failed one (its lead is the outreach's, 20261201001350).
		const replay = await launch(owner, campaign, phones(3), after(60 * 24 * 3, NOW));
		expect(replay).toMatchObject({ created: 0, emitted: 1, outreach_started: 2 });
		expect(launched.emitted).toBe(3);
	});

	it('a message sent while its lead was taken over or moved to engaged marks the session contacted too (the earliest contact kept)', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const campaign = newCampaignId();
		await launch(owner, campaign, phones(3), NOW);
		const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);
		const fromCrm = await rpc<Array<{ lead_id: string; campaign_session_id: string }>>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW });
		expect(fromCrm).toHaveLength(3);
		const sessionOfLead = new Map(fromCrm.map((row) => [row.lead_id, row.campaign_session_id]));
		await prepare(owner, NOW);
		const at = `${TOMORROW}T16:00:00.000Z`;
		const items = await claim('w-inflight', owner, at);
		expect(items).toHaveLength(3);
		await rpc('queue_begin_send', { p_worker: 'w-inflight', p_item_ids: items.map((item) => item.item_id), p_phones: items.map((item) => item.phone), p_lease_seconds: 300, p_now: at });
		const [takenOver, engaged, earlier] = items;
		// While the messages go out: a person takes the first lead over, the owner moves the second to
		// engaged, and the third's session was contacted before (a call, say) at NOW.
		expect((await takeLead(takenOver.lead_id, { now: after(1, at) }))[0].sending).toHaveLength(1);
		await withDb(async (db) => {
			await db.query(`update public.leads set status = 'engaged' where id = $1`, [engaged.lead_id]);
			await db.query('update public.session_info set contacted_at = $1 where id = $2', [NOW, sessionOfLead.get(earlier.lead_id)]);
		});
		const sentAt = after(2, at);
		const reports = await complete('w-inflight', items.map((item) => sent(item)), sentAt);
		expect(reports.map((report) => [report.status, report.accepted])).toEqual([
			['sent', true],
			['sent', true],
			['sent', true],
		]);

		const rows = await withDb(async (db) => (await db.query<{ lead_id: string; lead: string; status: string; contacted_at: Date | null }>(
			`select l.id as lead_id, l.status as lead, s.status, s.contacted_at
			   from public.leads l join public.session_info s on s.id = l.campaign_session_id where l.user_id = $1`, [owner])).rows);
		const byLead = new Map(rows.map((row) => [row.lead_id, row]));
		expect(byLead.get(takenOver.lead_id)).toMatchObject({ lead: 'human_controlled', status: 'contacted', contacted_at: new Date(sentAt) });
		expect(byLead.get(engaged.lead_id)).toMatchObject({ lead: 'engaged', status: 'contacted', contacted_at: new Date(sentAt) });
		expect(byLead.get(earlier.lead_id)).toMatchObject({ lead: 'contacted', status: 'contacted', contacted_at: new Date(NOW) });

		const { data: stats, error } = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: campaign });
		expect(error).toBeNull();
		expect(stats).toMatchObject({ sessions: 3, contacted: 3, statuses: { contacted: 3 } });
	});
});
