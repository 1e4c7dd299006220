// A campaign session's status moves its Queue Ledger lead still waiting for its first message
// whoever writes the session (migration 20261201001720): the owner's app writing the session's
// objectives or contacted_at itself (row-level security lets it) moves the lead as
// record_session_objective does: rejected → not_interested, interested / started work → engaged,
// contacted → contacted, its queued message cancelled, the same ledger rows (actor automation,
// reason session_<status>). A session the app inserts already answered moves the lead of its phone.
// A lead the owner moved on is untouched, and record_session_objective moves a lead once. Real
// Postgres through PostgREST, fixed instants (the stack's clock header), never the machine's clock.
import { randomUUID } from 'node:crypto';
import { serviceClient, userClient, withDb } from '../helpers/stack';
import { addLeads, claim, createOwner, ledger, messages, prepare, rpc, NOW, TOMORROW } from './queue/fixtures';

const service = serviceClient();
const newCampaignId = () => `carer-york_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
let phoneCounter = Number.parseInt(randomUUID().slice(0, 5), 16) * 10;
const phones = (count: number) => Array.from({ length: count }, () => `+447856${String(phoneCounter++ % 1_000_000).padStart(6, '0')}`);
const minutesAfterNow = (minutes: number) => new Date(Date.parse(NOW) + minutes * 60_000);

/** A campaign of `count` sessions, each made a lead before the outreach reached anyone; tomorrow's messages prepared. */
async function campaignLeads(count: number) {
	const owner = await createOwner({ daily_capacity: 10 });
	const campaign = newCampaignId();
	const { error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: campaign, name: 'Carer - York', job_description: 'Carer', objectives: { interested: {} } },
		p_tasks: phones(count).map((phone) => ({ phone })),
		p_now: NOW,
	});
	expect(error).toBeNull();
	const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);
	const rows = await rpc<Array<{ lead_id: string; campaign_session_id: string; outcome: string }>>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW });
	expect(rows.map((row) => row.outcome)).toEqual(Array.from({ length: count }, () => 'created'));
	await prepare(owner, NOW);
	return { owner, campaignId, leads: rows.map((row) => ({ lead: row.lead_id, session: row.campaign_session_id })) };
}

const leadStatuses = (owner: string) =>
	withDb(async (db) => new Map((await db.query<{ id: string; status: string }>('select id, status from public.leads where user_id = $1', [owner])).rows.map((l) => [l.id, l.status])));

describe('a session written by the owner\'s app moves its lead still waiting for its first message', () => {
	it('objectives or contacted_at written on the session: rejected → not_interested, interested / started work → engaged, contacted → contacted; messages cancelled, nothing claimed', async () => {
		const { owner, leads } = await campaignLeads(5);
		const [rejected, interested, startedWork, contacted, movedOn] = leads;
		await withDb((db) => db.query(`update public.leads set status = 'booked' where id = $1`, [movedOn.lead]));

		// The recruiter app, signed in as the owner, records the answers on the sessions themselves.
		const at = minutesAfterNow(30);
		const app = userClient(owner, { now: at });
		for (const [session, change] of [
			[rejected.session, { objectives: { rejected: true } }],
			[interested.session, { objectives: { interested: true } }],
			[startedWork.session, { objectives: { started_work: true } }],
			[contacted.session, { contacted_at: minutesAfterNow(20).toISOString() }],
			[movedOn.session, { objectives: { rejected: true } }],
		] as const) {
			const { data, error } = await app.from('session_info').update(change).eq('id', session).select('status');
			expect(error).toBeNull();
			expect(data).toHaveLength(1);
		}

		const statuses = await leadStatuses(owner);
		expect(leads.map((l) => statuses.get(l.lead))).toEqual(['not_interested', 'engaged', 'engaged', 'contacted', 'booked']);
		const rows = await ledger(owner);
		const last = (lead: string, queue: string) => rows.filter((r) => r.lead_id === lead && r.queue === queue).at(-1);
		expect(last(rejected.lead, 'leads')).toMatchObject({ from_status: 'queued', to_status: 'not_interested', actor: 'automation', reason: 'session_rejected', at });
		expect(last(rejected.lead, 'whatsapp_message_queue')).toMatchObject({ from_status: 'queued', to_status: 'cancelled', reason: 'lead_not_interested', at });
		expect(last(interested.lead, 'leads')).toMatchObject({ to_status: 'engaged', actor: 'automation', reason: 'session_interested' });
		expect(last(startedWork.lead, 'leads')).toMatchObject({ to_status: 'engaged', actor: 'automation', reason: 'session_started_work' });
		expect(last(contacted.lead, 'leads')).toMatchObject({ to_status: 'contacted', actor: 'automation', reason: 'session_contacted' });
		expect(rows.filter((r) => r.queue === 'leads' && r.reason.startsWith('session_')).map((r) => r.lead_id).sort())
			.toEqual([rejected.lead, interested.lead, startedWork.lead, contacted.lead].sort());

		expect(await claim('w-app', owner, `${TOMORROW}T16:00:00.000Z`)).toEqual([]);
		expect((await messages(owner)).map((m) => m.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
	});

	it('a session the app inserts already rejected moves the waiting lead of its phone; record_session_objective moves a lead once', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [walkInPhone] = phones(1);
		const [walkIn] = await addLeads([{ user_id: owner, name: 'Walk-in', phone: walkInPhone }]);
		await prepare(owner, NOW);
		const campaign = newCampaignId();
		const { error: launchError } = await service.rpc('create_campaign_sessions', {
			p_owner: owner, p_campaign: { name_uid: campaign, name: 'Carer - York' }, p_tasks: [{ phone: phones(1)[0], session: 'other' }], p_now: NOW,
		});
		expect(launchError).toBeNull();
		const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);

		const app = userClient(owner, { now: minutesAfterNow(5) });
		expect((await app.from('numbers').insert({ user_id: owner, phone_e164: walkInPhone })).error).toBeNull();
		const { error } = await app.from('session_info').insert({
			user_id: owner, session_id: `s-${randomUUID().slice(0, 8)}`, campaign_id: campaignId, phone_e164: walkInPhone, objectives: { rejected: true },
		});
		expect(error).toBeNull();
		expect((await leadStatuses(owner)).get(walkIn.lead_id)).toBe('not_interested');
		expect((await messages(owner)).map((m) => m.status)).toEqual(['cancelled']);

		// Through record_session_objective: one ledger row of the lead, from the session's trigger.
		const { leads: [lead], owner: owner2 } = await campaignLeads(1);
		const sessionText = await withDb(async (db) => (await db.query<{ session_id: string }>('select session_id from public.session_info where id = $1', [lead.session])).rows[0].session_id);
		const { data, error: recordError } = await service.rpc('record_session_objective', {
			p_owner: owner2, p_session_id: sessionText, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: 'evt-no',
		});
		expect(recordError).toBeNull();
		expect(data).toMatchObject({ outcome: 'ok', status: 'rejected' });
		expect((await ledger(owner2)).filter((r) => r.queue === 'leads' && r.from_status !== null).map((r) => [r.from_status, r.to_status, r.actor, r.reason]))
			.toEqual([['new', 'queued', 'automation', 'prepared'], ['queued', 'not_interested', 'automation', 'session_rejected']]);
	});
});
