// Add Leads from items (queue_add_leads) skips, as the campaign import does, a person whose campaign
// outreach started (migration 20261201001730): an item that would make a new lead and names a
// session that was contacted, answered or has an objective recorded, or gives only the phone of such
// a session that no lead holds, is answered skipped with the campaign import's reason, and no lead is
// made, so nothing is prepared or sent to someone who said no. An item finding a lead is that lead,
// as before. The campaign import uses the same rule (one definition). Real Postgres through
// PostgREST, fixed instants (p_now), never the machine's clock.
import { randomUUID } from 'node:crypto';
import type { AddLeadsRow, AddLeadsFromCrmResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { addLeads, claim, createOwner, NOW, phone, prepare, rpc, rowCounts, TOMORROW } from './fixtures';

const service = serviceClient();
const nameUid = () => `plumber-leeds_${randomUUID().replace(/-/g, '').slice(0, 10)}`;

/** A campaign of the owner with one session per phone (name given), created before NOW. */
async function campaign(owner: string, people: Array<[string, string]>) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid(), name: 'Plumber - Leeds', job_description: 'Plumber' },
		p_tasks: people.map(([number, name]) => ({ phone: number, name, session: `s-${randomUUID().slice(0, 8)}` })),
		p_now: '2026-11-25T08:00:00.000Z',
	});
	if (error) throw new Error(error.message);
	const sessions = (data as { sessions: Array<{ campaign_session_id: string; session: string; phone_number: string }> }).sessions;
	const campaignId = await withDb(async (db) => (await db.query<{ campaign_id: string }>('select campaign_id from public.session_info where id = $1', [sessions[0].campaign_session_id])).rows[0].campaign_id);
	return { campaignId, sessions };
}

const reject = async (owner: string, sessionText: string) => {
	const { error } = await service.rpc('record_session_objective', { p_owner: owner, p_session_id: sessionText, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: `no-${sessionText}` });
	if (error) throw new Error(error.message);
};

describe('Add Leads from items: nobody whose campaign outreach started is made a lead', () => {
	it('an item naming a session contacted, rejected or with an objective, or giving only its phone, is skipped with the reason; nothing is prepared for them', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const numbers = [phone(), phone(), phone(), phone(), phone()];
		const { sessions } = await campaign(owner, [[numbers[0], 'Dana'], [numbers[1], 'Eve'], [numbers[2], 'Finn'], [numbers[3], 'Hal'], [numbers[4], 'Ivy']]);
		const [called, saidNo, objective, phoneOnly, untouched] = sessions;
		// The campaign's outreach called Dana; Eve and Hal said no; Finn answered a screening question.
		await withDb((db) => db.query(`insert into public.call_info (user_id, session_info_id, direction, outcome, started_at) values ($1, $2, 'outbound', 'completed', '2026-11-25T09:00:00Z')`, [owner, called.campaign_session_id]));
		await reject(owner, saidNo.session);
		await reject(owner, phoneOnly.session);
		await withDb((db) => db.query(`update public.session_info set objectives = '{"answered_screening": "yes"}' where id = $1`, [objective.campaign_session_id]));

		const rows = await rpc<AddLeadsRow[]>('queue_add_leads', {
			p_now: NOW,
			p_items: [
				{ user_id: owner, campaign_session_id: called.campaign_session_id },
				{ user_id: owner, campaign_session_id: saidNo.campaign_session_id, name: 'Eve S.' },
				{ user_id: owner, campaign_session_id: objective.campaign_session_id },
				{ user_id: owner, name: 'Hal', phone: numbers[3] },
				{ user_id: owner, campaign_session_id: untouched.campaign_session_id },
				{ user_id: owner, name: 'Walk-in', phone: phone() },
			],
		});
		const skipped = (index: number, name: string | null, number: string, session: string | null, reason: string) => ({
			item_index: index, lead_id: null, outcome: 'skipped', status: null, name, phone: number, conversation_id: null, campaign_session_id: session, field: null, message: null, reason,
		});
		expect(rows.slice(0, 4)).toEqual([
			skipped(0, 'Dana', numbers[0], called.campaign_session_id, 'session_contacted'),
			skipped(1, 'Eve S.', numbers[1], saidNo.campaign_session_id, 'session_rejected'),
			skipped(2, 'Finn', numbers[2], objective.campaign_session_id, 'session_objective_recorded'),
			skipped(3, 'Hal', numbers[3], null, 'session_rejected'),
		]);
		expect(rows.slice(4).map((row) => [row.outcome, row.status, row.reason])).toEqual([['created', 'new', null], ['created', 'new', null]]);
		expect(await rowCounts(owner)).toMatchObject({ leads: 2 });

		// Prepare queues the two leads only, and tomorrow's claim sends nobody who was reached or said no.
		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 2 });
		const items = await claim('w-items', owner, `${TOMORROW}T16:00:00.000Z`);
		expect(items.map((item) => item.phone).sort()).toEqual([numbers[4], rows[5].phone].sort());

		// Added again (a replay of the same items): the same answer, nothing more.
		const again = await addLeads([{ user_id: owner, campaign_session_id: saidNo.campaign_session_id }, { user_id: owner, campaign_session_id: untouched.campaign_session_id }]);
		expect(again.map((row) => [row.outcome, row.reason])).toEqual([['skipped', 'session_rejected'], ['existing', null]]);
		expect(await rowCounts(owner)).toMatchObject({ leads: 2 });
	});

	it('a lead found by any key is that lead as before; a phone whose session another lead holds is not the session\'s', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [held, other] = [phone(), phone()];
		const { sessions: [session] } = await campaign(owner, [[held, 'Gus']]);
		// Gus is a lead holding his session; then he says no (his lead moves to not_interested).
		const [gus] = await addLeads([{ user_id: owner, campaign_session_id: session.campaign_session_id }]);
		await reject(owner, session.session);
		const rows = await addLeads([{ user_id: owner, name: 'Gus', phone: held }, { user_id: owner, campaign_session_id: session.campaign_session_id }]);
		expect(rows.map((row) => [row.lead_id, row.outcome, row.status, row.reason])).toEqual([
			[gus.lead_id, 'existing', 'not_interested', null],
			[gus.lead_id, 'existing', 'not_interested', null],
		]);
		// The session is Gus's lead's: another phone is not paired with it, and becomes a lead.
		const [stranger] = await addLeads([{ user_id: owner, name: 'Other', phone: other }]);
		expect(stranger).toMatchObject({ outcome: 'created', reason: null });
	});

	it('the campaign import skips by the same rule: a session whose phone had another campaign\'s outreach answered', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const shared = phone();
		const first = await campaign(owner, [[shared, 'Jo']]);
		const second = await campaign(owner, [[shared, 'Jo'], [phone(), 'Kim']]);
		await reject(owner, first.sessions[0].session);

		const rows = await rpc<AddLeadsFromCrmResult[]>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: second.campaignId, p_now: NOW });
		const byFrom = new Map(rows.map((row) => [row.from_id, row]));
		expect(byFrom.get(second.sessions[0].campaign_session_id)).toEqual({
			from_id: second.sessions[0].campaign_session_id, lead_id: null, outcome: 'skipped', status: null, source: null, name: 'Jo', phone: shared,
			conversation_id: null, campaign_session_id: second.sessions[0].campaign_session_id, reason: 'session_rejected',
		});
		expect(byFrom.get(second.sessions[1].campaign_session_id)).toMatchObject({ outcome: 'created', source: 'campaign', reason: null });
	});
});
