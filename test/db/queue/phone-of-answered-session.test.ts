// A lead given the phone of someone who answered a campaign (migration 20261201001760): when a new or
// queued lead gets a phone, whoever writes it, and a session of the owner with that phone that no
// other lead holds had its outreach started (20261201001730's rule), the lead moves as that session's
// answer would have moved it (rejected: not_interested), its waiting message is cancelled, and
// nothing is prepared or sent to her. Before, (a) Add Leads filling the phone into an existing lead
// and (b) the owner's app correcting a queued lead's phone to hers left the lead queued, and the
// message went to the person who had said no. Real Postgres through PostgREST, fixed instants.
import { randomUUID } from 'node:crypto';
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { addLeads, claim, createOwner, ledger, messages, NOW, phone, prepare, TOMORROW } from './fixtures';

const service = serviceClient();
const tomorrowAt4 = `${TOMORROW}T16:00:00.000Z`;

/** A campaign of the owner with one session per phone, created before NOW. */
async function campaign(owner: string, numbers: string[]) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: `plumber-leeds_${randomUUID().replace(/-/g, '').slice(0, 10)}`, name: 'Plumber - Leeds', job_description: 'Plumber' },
		p_tasks: numbers.map((number, index) => ({ phone: number, name: `Person ${index}`, session: `s-${randomUUID().slice(0, 8)}` })),
		p_now: '2026-11-25T08:00:00.000Z',
	});
	if (error) throw new Error(error.message);
	return (data as { sessions: Array<{ campaign_session_id: string; session: string }> }).sessions;
}

async function answer(owner: string, session: string, objective: string) {
	const { error } = await service.rpc('record_session_objective', { p_owner: owner, p_session_id: session, p_objective: objective, p_value: true, p_source: 'whatsapp', p_event_key: `${objective}-${session}` });
	if (error) throw new Error(error.message);
}

const leadRow = (leadId: string) =>
	withDb(async (db) => (await db.query<{ status: string; phone: string | null }>('select status, phone from public.leads where id = $1', [leadId])).rows[0]);
const leadLedger = async (owner: string, leadId: string) =>
	(await ledger(owner)).filter((row) => row.lead_id === leadId).map((row) => [row.queue, row.from_status, row.to_status, row.actor, row.reason]);

describe('a lead given the phone of a person whose campaign outreach started', () => {
	it('(a) Add Leads fills her phone into an existing Messenger lead: the lead is not_interested, nothing is prepared for it', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const rita = phone();
		const [session] = await campaign(owner, [rita]);
		await answer(owner, session.session, 'rejected');
		const conversation = await withDb(async (db) =>
			(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1049000000001', $2, 'Rita M') returning id`, [owner, `24${Date.now()}`])).rows[0].id,
		);
		const [messengerLead] = await addLeads([{ user_id: owner, conversation_id: conversation }]);
		expect(messengerLead).toMatchObject({ outcome: 'created', status: 'new', phone: null });

		const [filled] = await addLeads([{ user_id: owner, conversation_id: conversation, phone: rita }], '2026-11-25T11:05:00.000Z');
		expect(filled).toMatchObject({ lead_id: messengerLead.lead_id, outcome: 'existing', status: 'not_interested', phone: rita });
		expect((await leadLedger(owner, messengerLead.lead_id)).slice(-2)).toEqual([
			['leads', 'new', 'not_interested', 'automation', 'session_rejected'],
			['lead_processing_queue', 'queued', 'cancelled', 'automation', 'lead_not_interested'],
		]);
		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 0 });
		expect(await claim('w-1', owner, tomorrowAt4)).toEqual([]);
	});

	it('(b) the owner\'s app corrects a queued lead\'s phone to hers: the message is cancelled, not sent to her', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const rex = phone();
		const [session] = await campaign(owner, [rex]);
		await answer(owner, session.session, 'rejected');
		const [bo] = await addLeads([{ user_id: owner, name: 'Bo', phone: phone() }]);
		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 1 });

		const { error } = await userClient(owner, { now: new Date('2026-11-25T13:00:00.000Z') }).from('leads').update({ phone: rex }).eq('id', bo.lead_id);
		expect(error).toBeNull();
		expect(await leadRow(bo.lead_id)).toEqual({ status: 'not_interested', phone: rex });
		expect((await messages(owner)).map((m) => [m.status, m.phone])).toEqual([['cancelled', rex]]);
		expect((await leadLedger(owner, bo.lead_id)).slice(-3)).toEqual([
			['leads', 'queued', 'not_interested', 'automation', 'session_rejected'],
			['whatsapp_message_queue', 'queued', 'cancelled', 'automation', 'lead_not_interested'],
			['lead_processing_queue', 'claimed', 'cancelled', 'automation', 'lead_not_interested'],
		]);
		expect(await claim('w-1', owner, tomorrowAt4)).toEqual([]);
	});

	it('(c) the owner\'s app inserts leads itself, one with her phone: that one is not_interested and nothing is sent to her; the other is queued as before', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [rita, other] = [phone(), phone()];
		const [session] = await campaign(owner, [rita]);
		await answer(owner, session.session, 'rejected');

		const app = userClient(owner, { now: new Date('2026-11-25T11:10:00.000Z') });
		const { data, error } = await app
			.from('leads')
			.insert([
				{ user_id: owner, name: 'Rita (typed in)', phone: rita },
				{ user_id: owner, name: 'Ola', phone: other },
			])
			.select('id, name');
		expect(error).toBeNull();
		const idOf = (name: string) => (data as Array<{ id: string; name: string }>).find((row) => row.name === name)!.id;
		expect(await leadRow(idOf('Rita (typed in)'))).toEqual({ status: 'not_interested', phone: rita });
		expect(await leadRow(idOf('Ola'))).toEqual({ status: 'new', phone: other });
		expect((await leadLedger(owner, idOf('Rita (typed in)'))).slice(-2)).toEqual([
			['leads', 'new', 'not_interested', 'automation', 'session_rejected'],
			['lead_processing_queue', 'queued', 'cancelled', 'automation', 'lead_not_interested'],
		]);
		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 1 });
		expect((await claim('w-1', owner, tomorrowAt4)).map((item) => item.phone)).toEqual([other]);
	});

	it('a phone whose sessions were not answered, or whose answered session another lead holds, moves nothing: the message follows the phone', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [untouched, heldElsewhere] = [phone(), phone()];
		const [, answered] = await campaign(owner, [untouched, heldElsewhere]);
		// Gus's lead holds the second session with another number of his (the owner's app gave it the
		// session: Add Leads refuses a phone other than the session's); then he says no.
		const [gus] = await addLeads([{ user_id: owner, name: 'Gus', phone: phone() }]);
		const held = await userClient(owner, { now: new Date(NOW) }).from('leads').update({ campaign_session_id: answered.campaign_session_id }).eq('id', gus.lead_id);
		expect(held.error).toBeNull();
		await answer(owner, answered.session, 'rejected');
		expect(await leadRow(gus.lead_id)).toMatchObject({ status: 'not_interested' });

		const [cy, di] = await addLeads([{ user_id: owner, name: 'Cy', phone: phone() }, { user_id: owner, name: 'Di', phone: phone() }]);
		expect((await prepare(owner, NOW))[0]).toMatchObject({ queued: 2 });
		const app = userClient(owner, { now: new Date('2026-11-25T13:00:00.000Z') });
		expect((await app.from('leads').update({ phone: untouched }).eq('id', cy.lead_id)).error).toBeNull();
		expect((await app.from('leads').update({ phone: heldElsewhere }).eq('id', di.lead_id)).error).toBeNull();

		expect(await leadRow(cy.lead_id)).toEqual({ status: 'queued', phone: untouched });
		expect(await leadRow(di.lead_id)).toEqual({ status: 'queued', phone: heldElsewhere });
		expect((await claim('w-1', owner, tomorrowAt4)).map((item) => item.phone).sort()).toEqual([untouched, heldElsewhere].sort());
	});
});
