// A phone shared by two campaigns of one owner has one Queue Ledger lead (leads are unique per owner
// and phone), holding the session imported first; the other campaign's session is paired with it
// all the same (migration 20261201001570): a campaign session's lead is the owner's lead holding it,
// or else the owner's lead with its phone. So the second campaign's import says why its row holds
// the other session, its "no" and its outreach's first message move the lead, the queue's send
// marks both sessions contacted, and a replay never hands the second session out again. A session
// a lead holds stays that lead's when another lead has its phone. Real Postgres through
// PostgREST, fixed instants (p_now, the stack's clock header), never the machine's clock.
import { randomUUID } from 'node:crypto';
import { serviceClient, userClient, withDb } from '../helpers/stack';
import { claim, complete, createOwner, ledger, messages, prepare, rpc, sent, takeLead, NOW, TOMORROW } from './queue/fixtures';

interface LaunchedSession {
	campaign_session_id: string;
	session: string;
	phone_number: string;
	emitted: boolean;
	outreach_started: boolean;
}

interface Launched {
	emitted: number;
	outreach_started: number;
	sessions: LaunchedSession[];
}

interface CrmRow {
	from_id: string;
	lead_id: string | null;
	outcome: string;
	phone: string | null;
	campaign_session_id: string | null;
	reason: string | null;
}

const service = serviceClient();
const after = (minutes: number, from = NOW) => new Date(Date.parse(from) + minutes * 60_000).toISOString();
const tomorrowAt = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const campaignUid = (trade: string) => `${trade}-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const phones = (count: number) => Array.from({ length: count }, (_, i) => `+44785330${String(i + 1).padStart(4, '0')}`);

async function launch(owner: string, nameUid: string, tasks: string[], now: string): Promise<Launched> {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid, name: nameUid, job_description: 'Trades', objectives: { interested: {} } },
		p_tasks: tasks.map((phone) => ({ phone })),
		p_now: now,
	});
	if (error) throw new Error(`create_campaign_sessions: ${error.message}`);
	return data as Launched;
}

async function importCampaign(owner: string, nameUid: string): Promise<CrmRow[]> {
	const campaignId = await withDb(async (db) => (await db.query<{ id: string }>(
		'select id from public.campaign_info where user_id = $1 and name_uid = $2', [owner, nameUid])).rows[0].id);
	return await rpc<CrmRow[]>('queue_add_leads_from_crm', { p_user_id: owner, p_campaign_id: campaignId, p_now: NOW });
}

/**
 * The reviewer's scenario: the plumber and the electrician campaigns of one owner each have a
 * session for the same phones; the owner imports both to the Queue Ledger, the plumber first.
 */
async function sharedPhones(count = 1) {
	const owner = await createOwner({ daily_capacity: 10 });
	const plumber = campaignUid('plumber');
	const electrician = campaignUid('electrician');
	const shared = phones(count);
	const a = await launch(owner, plumber, shared, NOW);
	const b = await launch(owner, electrician, shared, NOW);
	const fromPlumber = await importCampaign(owner, plumber);
	const fromElectrician = await importCampaign(owner, electrician);
	const people = shared.map((phone) => {
		const first = fromPlumber.find((row) => row.phone === phone)!;
		expect(first).toMatchObject({ outcome: 'created', reason: null });
		return {
			phone,
			lead: first.lead_id!,
			a: a.sessions.find((s) => s.phone_number === phone)!,
			b: b.sessions.find((s) => s.phone_number === phone)!,
			second: fromElectrician.find((row) => row.phone === phone)!,
		};
	});
	return { owner, plumber, electrician, shared, people };
}

const leadStatus = (lead: string) =>
	withDb(async (db) => (await db.query<{ status: string }>('select status from public.leads where id = $1', [lead])).rows[0].status);
const sessionRows = (owner: string) =>
	withDb(async (db) => new Map((await db.query<{ id: string; status: string; contacted_at: Date | null }>(
		'select id, status, contacted_at from public.session_info where user_id = $1', [owner])).rows.map((s) => [s.id, s])));

async function stats(owner: string, nameUid: string) {
	const { data, error } = await service.rpc('campaign_session_stats', { p_owner: owner, p_campaign: nameUid });
	expect(error).toBeNull();
	return data as { contacted: number; statuses: Record<string, number> };
}

describe('two campaigns\' sessions for one phone share its one lead', () => {
	it('the second import finds the lead by phone and says it holds the other campaign\'s session', async () => {
		const { people: [person] } = await sharedPhones();
		expect(person.second).toEqual(expect.objectContaining({
			from_id: person.b.campaign_session_id,
			lead_id: person.lead,
			outcome: 'existing',
			campaign_session_id: person.a.campaign_session_id,
			reason: 'phone_holds_other_session',
		}));
	});

	it('(a) the second campaign\'s "no" moves the lead to not_interested: its queued message cancelled, nothing claimed', async () => {
		const { owner, people: [person] } = await sharedPhones();
		await prepare(owner, NOW);
		expect((await messages(owner)).map((m) => m.status)).toEqual(['queued']);

		const answeredAt = new Date(after(30));
		const { data, error } = await serviceClient({ now: answeredAt }).rpc('record_session_objective', {
			p_owner: owner, p_session_id: person.b.session, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: 'evt-no',
		});
		expect(error).toBeNull();
		expect(data).toMatchObject({ outcome: 'ok', status: 'rejected' });

		expect(await leadStatus(person.lead)).toBe('not_interested');
		expect((await ledger(owner)).filter((r) => r.queue === 'leads').at(-1)).toMatchObject({
			lead_id: person.lead, to_status: 'not_interested', actor: 'automation', reason: 'session_rejected', at: answeredAt,
		});
		expect((await messages(owner)).map((m) => m.status)).toEqual(['cancelled']);
		expect(await claim('w-no', owner, tomorrowAt('16:00'))).toEqual([]);
		// The plumber campaign's own session is as it was.
		expect((await sessionRows(owner)).get(person.a.campaign_session_id)).toMatchObject({ status: 'pending', contacted_at: null });
	});

	it('(b) the second campaign\'s outbound message makes the waiting lead contacted: its queued message cancelled', async () => {
		const { owner, people: [person] } = await sharedPhones();
		await prepare(owner, NOW);

		const app = userClient(owner, { now: new Date(after(10)) });
		const { error } = await app.from('chat_history').insert({
			user_id: owner, session_info_id: person.b.campaign_session_id, direction: 'outbound', body: 'Hi from the electrician campaign', sent_at: after(5),
		});
		expect(error).toBeNull();

		expect(await leadStatus(person.lead)).toBe('contacted');
		expect((await ledger(owner)).filter((r) => r.queue === 'leads').at(-1)).toMatchObject({
			lead_id: person.lead, to_status: 'contacted', actor: 'automation', reason: 'session_contacted',
		});
		expect((await messages(owner)).map((m) => m.status)).toEqual(['cancelled']);
		expect((await sessionRows(owner)).get(person.b.campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(after(5)) });
		expect(await claim('w-outreach', owner, tomorrowAt('16:00'))).toEqual([]);
	});

	it('(c) the queue\'s send marks both campaigns\' sessions contacted, also for a lead taken over while its message went out; a re-import answers the same', async () => {
		const { owner, plumber, electrician, people } = await sharedPhones(2);
		const [plain, takenOver] = people;
		await prepare(owner, NOW);
		const at = tomorrowAt('16:00');
		const items = await claim('w-send', owner, at);
		expect(items).toHaveLength(2);
		await rpc('queue_begin_send', { p_worker: 'w-send', p_item_ids: items.map((item) => item.item_id), p_phones: items.map((item) => item.phone), p_lease_seconds: 300, p_now: at });
		// A person takes the second lead over while its message goes out: the lead stays
		// human_controlled, so only queue_complete's own statement marks its sessions.
		await takeLead(takenOver.lead, { now: after(1, at) });
		const sentAt = after(2, at);
		const reports = await complete('w-send', items.map((item) => sent(item)), sentAt);
		expect(reports.map((report) => [report.status, report.accepted])).toEqual([['sent', true], ['sent', true]]);
		expect([await leadStatus(plain.lead), await leadStatus(takenOver.lead)]).toEqual(['contacted', 'human_controlled']);

		const sessions = await sessionRows(owner);
		for (const person of people) {
			for (const session of [person.a, person.b]) {
				expect(sessions.get(session.campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(sentAt) });
			}
		}
		expect(await stats(owner, plumber)).toMatchObject({ contacted: 2, statuses: { contacted: 2 } });
		expect(await stats(owner, electrician)).toMatchObject({ contacted: 2, statuses: { contacted: 2 } });

		// The electrician campaign imported again after the send: the same lead, not a skipped session.
		const again = await importCampaign(owner, electrician);
		expect(again.map((row) => [row.from_id, row.lead_id, row.outcome, row.reason]).sort()).toEqual(
			people.map((person) => [person.b.campaign_session_id, person.lead, 'existing', 'phone_holds_other_session']).sort(),
		);
	});

	it('(c) a lead the owner marks contacted, or inserts contacted, marks every campaign\'s session of its phone contacted', async () => {
		const { owner, people: [person] } = await sharedPhones();
		const markedAt = after(20);
		// The owner's app at markedAt (the lead's updated_at is the database's clock: 20261201001920).
		const marked = await userClient(owner, { now: new Date(markedAt) }).from('leads').update({ status: 'contacted' }).eq('id', person.lead);
		expect(marked.error).toBeNull();
		const sessions = await sessionRows(owner);
		expect(sessions.get(person.a.campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(markedAt) });
		expect(sessions.get(person.b.campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(markedAt) });

		// A phone in both campaigns, never imported: the owner's app inserts its lead contacted, without a session.
		const [other] = phones(2).slice(1);
		const owner2 = await createOwner({ daily_capacity: 10 });
		const a = await launch(owner2, campaignUid('plumber'), [other], NOW);
		const b = await launch(owner2, campaignUid('electrician'), [other], NOW);
		await withDb((db) => db.query(
			`insert into public.leads (user_id, name, phone, source, status, created_at, updated_at) values ($1, 'Imported', $2, 'import', 'contacted', $3, $3)`,
			[owner2, other, markedAt]));
		const sessions2 = await sessionRows(owner2);
		expect(sessions2.get(a.sessions[0].campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(markedAt) });
		expect(sessions2.get(b.sessions[0].campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(markedAt) });
	});

	it('(d) a replay after the lease hands neither session out again: both are on the Queue Ledger', async () => {
		const { owner, plumber, electrician, shared } = await sharedPhones();
		const later = after(3 * 60);
		for (const campaign of [plumber, electrician]) {
			const replay = await launch(owner, campaign, shared, later);
			expect(replay).toMatchObject({ emitted: 0, outreach_started: 1 });
			expect(replay.sessions[0]).toMatchObject({ emitted: false, outreach_started: true });
		}
	});
});

describe('a session a lead holds is that lead\'s even when another lead has its phone', () => {
	// The owner's app can give a lead a campaign session and another phone (Add Leads refuses such an
	// item since 20261201001920), and the session's phone be another lead's: the held pairing wins
	// (20261201001570).
	it('its answer and its outreach move the lead holding it; the lead with its phone, sent by the queue, leaves the session as it was', async () => {
		const owner = await createOwner({ daily_capacity: 10 });
		const [answeredPhone, reachedPhone, holderPhone, otherHolderPhone] = phones(4);
		const { sessions } = await launch(owner, campaignUid('plumber'), [answeredPhone, reachedPhone], NOW);
		const answered = sessions.find((s) => s.phone_number === answeredPhone)!;
		const reached = sessions.find((s) => s.phone_number === reachedPhone)!;
		// Inserted by the owner's app, as of NOW.
		const leads = await withDb(async (db) => (await db.query<{ id: string }>(
			`insert into public.leads (user_id, name, phone, campaign_session_id, source, created_at, updated_at)
			 select $1, l.name, l.phone, l.session, 'test', $2, $2 from unnest($3::text[], $4::text[], $5::uuid[]) with ordinality l (name, phone, session, n)
			  order by l.n returning id`,
			[owner, NOW,
				['Holds the answered session', 'Holds the reached session', 'Has the answered session\'s phone', 'Has the reached session\'s phone'],
				[holderPhone, otherHolderPhone, answeredPhone, reachedPhone],
				[answered.campaign_session_id, reached.campaign_session_id, null, null]])).rows.map((row) => row.id));
		const [, , byPhone, otherByPhone] = leads;
		await prepare(owner, NOW);

		// The answer moves the lead holding the session; the outreach's first message makes the
		// lead holding its session contacted. The leads with their phones stay queued.
		const { data, error } = await serviceClient({ now: new Date(after(10)) }).rpc('record_session_objective', {
			p_owner: owner, p_session_id: answered.session, p_objective: 'rejected', p_value: true, p_source: 'whatsapp', p_event_key: 'evt-held',
		});
		expect(error).toBeNull();
		expect(data).toMatchObject({ outcome: 'ok', status: 'rejected' });
		await withDb((db) => db.query(
			`insert into public.chat_history (user_id, session_info_id, direction, body, sent_at) values ($1, $2, 'outbound', 'Hi', $3)`,
			[owner, reached.campaign_session_id, after(15)]));
		expect(await Promise.all(leads.map(leadStatus))).toEqual(['not_interested', 'contacted', 'queued', 'queued']);

		// The queue sends the leads with the sessions' phones: neither session is theirs.
		const at = tomorrowAt('16:00');
		const items = await claim('w-held', owner, at);
		expect(items.map((item) => item.lead_id).sort()).toEqual([byPhone, otherByPhone].sort());
		const reports = await complete('w-held', items.map((item) => sent(item)), after(2, at));
		expect(reports.map((report) => [report.status, report.accepted])).toEqual([['sent', true], ['sent', true]]);
		expect(await Promise.all(leads.map(leadStatus))).toEqual(['not_interested', 'contacted', 'contacted', 'contacted']);
		const rows = await sessionRows(owner);
		expect(rows.get(answered.campaign_session_id)).toMatchObject({ status: 'rejected', contacted_at: null });
		expect(rows.get(reached.campaign_session_id)).toMatchObject({ status: 'contacted', contacted_at: new Date(after(15)) });
	});
});
