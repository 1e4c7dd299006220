// The campaign's own first contact moves the session's Queue Ledger lead still waiting for its first
// message (migration 20261201001550): an outbound chat_history or call_info row, written by the
// owner's app through the Data API, makes the lead contacted and cancels its message queued for
// tomorrow, so the queue does not contact the person a second time for the first time. An inbound
// row (the person wrote first), a lead taken over, and a message whose send began are left as they
// are. Real Postgres through PostgREST, fixed instants, never the machine's clock.
import { randomUUID } from 'node:crypto';
import type { BeginQueueSendResult } from '../../nodes/shared/contract';
import { serviceClient, userClient, withDb } from '../helpers/stack';
import { claim, complete, createOwner, failed, ledger, messages, prepare, rpc, sent, takeLead, NOW, TOMORROW } from './queue/fixtures';

const service = serviceClient();
const newCampaignId = () => `plumber-leeds_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
let phoneCounter = Number.parseInt(randomUUID().slice(0, 5), 16) * 10;
const phones = (count: number) => Array.from({ length: count }, () => `+447855${String(phoneCounter++ % 1_000_000).padStart(6, '0')}`);
const minutesAfterNow = (minutes: number) => new Date(Date.parse(NOW) + minutes * 60_000).toISOString();
const tomorrowAt = (time: string) => `${TOMORROW}T${time}:00.000Z`;

/** A campaign of `count` sessions, each made a lead before the outreach reached anyone; tomorrow's messages prepared. */
async function campaignLeads(count: number) {
	const owner = await createOwner({ daily_capacity: 10 });
	const campaign = newCampaignId();
	const { error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: campaign, name: 'Plumber - Leeds', job_description: 'Plumber', objectives: { interested: {} } },
		p_tasks: phones(count).map((phone) => ({ phone })),
		p_now: NOW,
	});
	expect(error).toBeNull();
	const campaignId = await withDb(async (db) => (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, campaign])).rows[0].id);
	const rows = await rpc<Array<{ lead_id: string; campaign_session_id: string; outcome: string }>>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW });
	expect(rows.map((row) => row.outcome)).toEqual(Array.from({ length: count }, () => 'created'));
	await prepare(owner, NOW);
	return { owner, leads: rows.map((row) => ({ lead: row.lead_id, session: row.campaign_session_id })) };
}

const leadStatuses = (owner: string) =>
	withDb(async (db) => new Map((await db.query<{ id: string; status: string }>('select id, status from public.leads where user_id = $1', [owner])).rows.map((l) => [l.id, l.status])));

describe('the campaign\'s first outbound message or call moves its lead still waiting for its first message', () => {
	it('an outbound message or call from the owner\'s app makes the lead contacted and cancels its queued message; inbound, taken over and untouched leads stay', async () => {
		const { owner, leads } = await campaignLeads(5);
		const [byChat, byCall, inboundOnly, takenOver, untouched] = leads;
		await takeLead(takenOver.lead, { now: NOW });

		// The owner's app records the outreach as the owner (authenticated, row-level security), at
		// 12:10 by the database's clock (the stack's X-Leadflow-Now).
		const app = userClient(owner, { now: new Date(minutesAfterNow(10)) });
		const { error: chatError } = await app.from('chat_history').insert([
			{ user_id: owner, session_info_id: byChat.session, direction: 'outbound', body: 'Hi, are you still looking for work?', sent_at: minutesAfterNow(5) },
			{ user_id: owner, session_info_id: inboundOnly.session, direction: 'inbound', body: 'Who is this?', sent_at: minutesAfterNow(6) },
			{ user_id: owner, session_info_id: takenOver.session, direction: 'outbound', body: 'Hi', sent_at: minutesAfterNow(7) },
		]);
		expect(chatError).toBeNull();
		const { error: callError } = await app.from('call_info').insert({
			user_id: owner, session_info_id: byCall.session, direction: 'outbound', outcome: 'completed', duration_seconds: 95, started_at: minutesAfterNow(8),
		});
		expect(callError).toBeNull();

		const statuses = await leadStatuses(owner);
		expect([byChat, byCall, inboundOnly, takenOver, untouched].map(({ lead }) => statuses.get(lead))).toEqual(
			['contacted', 'contacted', 'queued', 'human_controlled', 'queued'],
		);
		// The sessions are contacted at the outreach's own times, not at the lead's move.
		const contactedAt = await withDb(async (db) => new Map((await db.query<{ id: string; contacted_at: Date | null }>(
			'select id, contacted_at from public.session_info where user_id = $1', [owner])).rows.map((s) => [s.id, s.contacted_at?.toISOString() ?? null])));
		expect(contactedAt.get(byChat.session)).toBe(minutesAfterNow(5));
		expect(contactedAt.get(byCall.session)).toBe(minutesAfterNow(8));
		expect(contactedAt.get(inboundOnly.session)).toBeNull();

		// The ledger says why: the lead moved by the session's outreach (automation), its message and
		// backlog item cancelled because of the lead's new status.
		const rows = await ledger(owner);
		const last = (lead: string, queue: string) => rows.filter((r) => r.lead_id === lead && r.queue === queue).at(-1);
		for (const { lead } of [byChat, byCall]) {
			expect(last(lead, 'leads')).toMatchObject({ from_status: 'queued', to_status: 'contacted', actor: 'automation', reason: 'session_contacted', at: new Date(minutesAfterNow(10)) });
			expect(last(lead, 'whatsapp_message_queue')).toMatchObject({ from_status: 'queued', to_status: 'cancelled', reason: 'lead_contacted', at: new Date(minutesAfterNow(10)) });
			expect(last(lead, 'lead_processing_queue')).toMatchObject({ to_status: 'cancelled' });
		}
		expect(rows.filter((r) => r.reason === 'session_contacted').map((r) => r.lead_id).sort()).toEqual([byChat.lead, byCall.lead].sort());

		// Tomorrow's claim takes only the messages of the leads the outreach has not reached.
		const items = await claim('w-outreach', owner, tomorrowAt('16:59'));
		expect(items.map((item) => item.lead_id).sort()).toEqual([inboundOnly.lead, untouched.lead].sort());
	});

	it('a message whose send began is left to its worker: recorded sent, or not sent again after a failure', async () => {
		const { owner, leads } = await campaignLeads(2);
		const items = await claim('w-sending', owner, tomorrowAt('16:00'));
		expect(items).toHaveLength(2);
		const begun = await rpc<BeginQueueSendResult[]>('queue_begin_send', {
			p_worker: 'w-sending', p_item_ids: items.map((item) => item.item_id), p_phones: items.map((item) => item.phone), p_lease_seconds: 300, p_now: tomorrowAt('16:01'),
		});
		expect(begun.map((row) => row.send)).toEqual([true, true]);

		// While the two WhatsApp messages are on their way, the outreach calls both people.
		const { error } = await userClient(owner).from('call_info').insert(
			leads.map(({ session }) => ({ user_id: owner, session_info_id: session, direction: 'outbound', outcome: 'completed', started_at: tomorrowAt('16:01') })),
		);
		expect(error).toBeNull();
		expect([...(await leadStatuses(owner)).values()]).toEqual(['contacted', 'contacted']);
		expect((await messages(owner)).map((m) => m.status)).toEqual(['claimed', 'claimed']);

		// One went out, one failed: the first is recorded sent, the second is never sent again.
		const byLead = new Map(items.map((item) => [item.lead_id, item]));
		const [wentOut, didNot] = leads.map(({ lead }) => byLead.get(lead)!);
		await complete('w-sending', [sent(wentOut), failed(didNot)], tomorrowAt('16:02'));
		const after = new Map((await messages(owner)).map((m) => [m.lead_id, m.status]));
		expect(after.get(wentOut.lead_id)).toBe('sent');
		expect(after.get(didNot.lead_id)).toBe('cancelled');
		expect(await claim('w-later', owner, tomorrowAt('16:50'))).toEqual([]);
		expect([...(await leadStatuses(owner)).values()]).toEqual(['contacted', 'contacted']);
	});

	it('an answer moves the lead at the moment it is recorded, not at the lead\'s last change (its ledger row and its message\'s cancellation)', async () => {
		const { owner, leads } = await campaignLeads(1);
		const sessionId = await withDb(async (db) => (await db.query<{ session_id: string }>('select session_id from public.session_info where id = $1', [leads[0].session])).rows[0].session_id);
		const answeredAt = new Date(minutesAfterNow(30));
		const { data, error } = await serviceClient({ now: answeredAt }).rpc('record_session_objective', {
			p_owner: owner, p_session_id: sessionId, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: 'evt-no',
		});
		expect(error).toBeNull();
		expect(data).toMatchObject({ outcome: 'ok', status: 'rejected' });
		const rows = await ledger(owner);
		expect(rows.filter((r) => r.queue === 'leads').at(-1)).toMatchObject({ to_status: 'not_interested', reason: 'session_rejected', at: answeredAt });
		expect(rows.filter((r) => r.queue === 'whatsapp_message_queue').at(-1)).toMatchObject({ to_status: 'cancelled', at: answeredAt });
		expect((await messages(owner))[0]).toMatchObject({ status: 'cancelled', completed_at: answeredAt });
	});

	it('puts back the ledger actor of the statement that wrote the row', async () => {
		const { owner, leads } = await campaignLeads(1);
		const reason = await withDb(async (db) => {
			await db.query('begin');
			try {
				await db.query(`select leadflow_private.queue_set_actor('user', $1, 'imported_from_dialer')`, [owner]);
				await db.query(`insert into public.chat_history (user_id, session_info_id, direction, body, sent_at) values ($1, $2, 'outbound', 'Hi', $3)`,
					[owner, leads[0].session, minutesAfterNow(5)]);
				return (await db.query<{ reason: string }>(`select current_setting('leadflow.queue_reason', true) as reason`)).rows[0].reason;
			} finally {
				await db.query('commit');
			}
		});
		expect(reason).toBe('imported_from_dialer');
		expect((await ledger(owner)).filter((r) => r.queue === 'leads').at(-1)).toMatchObject({ to_status: 'contacted', actor: 'automation', reason: 'session_contacted' });
	});
});
