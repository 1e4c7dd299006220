// What a campaign launch writes (create_campaign_sessions): a task refused as a conflict (its session
// id belongs to another session) writes nothing, not even its number or a name on it, and a refused
// launch (every task conflicting, a reused Idempotency-Key) leaves the owner's data exactly as it
// was (migration 20261201002070); a blank or whitespace-only name is no name. Real Postgres through
// PostgREST, fixed instants (p_now).
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../helpers/stack';
import { addLeads, createOwner } from './queue/fixtures';

interface Launched {
	outcome: string;
	campaign?: { id: string; name: string; created: boolean; updated?: boolean };
	created: number;
	existing: number;
	names_updated?: number;
	sessions: Array<{ campaign_session_id: string; session: string; phone_number: string; name: string | null; created: boolean; name_updated?: boolean }>;
	conflicts: Array<{ task_index: number; phone_number: string }>;
}

const service = serviceClient();
const T0 = '2026-11-25T09:00:00.000Z';
const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const phones = (count: number, offset: number) => Array.from({ length: count }, (_, i) => `+447853${String(offset + i).padStart(6, '0')}`);

async function launch(owner: string, nameUid: string, tasks: Array<{ phone: string; session?: string; name?: string }>, options: { key?: string; campaign?: Record<string, unknown> } = {}) {
	const { data, error } = await service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: nameUid, name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} }, ...options.campaign },
		p_tasks: tasks,
		p_idempotency_key: options.key ?? null,
		p_now: T0,
	});
	if (error) throw new Error(`create_campaign_sessions: ${error.message}`);
	return data as Launched;
}

/** Every row of the owner a launch may touch, as JSON, in a stable order. */
const world = (owner: string) =>
	withDb(async (db) => {
		const rows = async (table: string, order: string) =>
			(await db.query<{ row: unknown }>(`select to_jsonb(t) as row from public.${table} t where t.user_id = $1 order by ${order}`, [owner])).rows.map((r) => r.row);
		return {
			numbers: await rows('numbers', 't.phone_e164'),
			campaign_info: await rows('campaign_info', 't.name_uid'),
			session_info: await rows('session_info', 't.session_id'),
			campaigns: await rows('campaigns', 't.session_info_id'),
			campaign_session_requests: await rows('campaign_session_requests', 't.idempotency_key'),
			leads: await rows('leads', 't.id'),
			queue_ledger: await rows('queue_ledger', 't.id'),
		};
	});

const numbersOf = (owner: string, list: string[]) =>
	withDb(async (db) =>
		(await db.query<{ phone_e164: string; contact_name: string | null }>(
			'select phone_e164, contact_name from public.numbers where user_id = $1 and phone_e164 = any ($2) order by phone_e164', [owner, list])).rows);

describe('create_campaign_sessions: what a refused task or launch writes', () => {
	let owner: string;
	beforeAll(async () => {
		owner = await createOwner({});
	});

	it('a task that conflicts writes no number and no name; the other tasks are created with theirs', async () => {
		const [p1, newPhone, knownPhone, goodPhone] = phones(4, 500_000);
		// p1's session id is taken; knownPhone is a number of the owner without a name (another campaign's).
		const first = await launch(owner, newCampaignId(), [{ phone: p1 }, { phone: knownPhone }]);
		const taken = first.sessions[0].session;
		const takenToo = first.sessions[1].session;

		const result = await launch(owner, newCampaignId(), [
			{ phone: newPhone, session: taken, name: 'Nora New' },
			{ phone: knownPhone, session: `${takenToo}`, name: 'Kim Known' },
			{ phone: goodPhone, name: 'Gina Good' },
		]);
		// knownPhone's own session id: a task of another campaign with the same session id and phone is a conflict too.
		expect(result.conflicts).toEqual([{ task_index: 0, phone_number: newPhone }, { task_index: 1, phone_number: knownPhone }]);
		expect(result.sessions.map((s) => s.phone_number)).toEqual([goodPhone]);
		expect(await numbersOf(owner, [newPhone, knownPhone, goodPhone])).toEqual([
			{ phone_e164: knownPhone, contact_name: null },
			{ phone_e164: goodPhone, contact_name: 'Gina Good' },
		]);
	});

	it('a refused launch (every task conflicting; a reused Idempotency-Key) leaves the owner\'s numbers, campaigns, sessions, keys, leads and ledger as they were', async () => {
		const known = phones(2, 500_100);
		const first = await launch(owner, newCampaignId(), known.map((phone) => ({ phone })), { key: `launch-${randomUUID()}` });
		await addLeads([{ user_id: owner, name: 'Lena Lead', phone: phones(1, 500_150)[0], source: 'campaign' }], T0);
		const before = await world(owner);

		const allConflict = await launch(owner, newCampaignId(), [
			{ phone: phones(1, 500_200)[0], session: first.sessions[0].session, name: 'Ada' },
			{ phone: known[1], session: first.sessions[0].session, name: 'Bea' },
		], { key: `launch-${randomUUID()}`, campaign: { job_description: 'Other' } });
		expect(allConflict.outcome).toBe('all_conflict');
		expect(await world(owner)).toEqual(before);

		const key = `launch-${randomUUID()}`;
		const campaign = newCampaignId();
		await launch(owner, campaign, [{ phone: phones(1, 500_300)[0] }], { key });
		const beforeReuse = await world(owner);
		const reused = await launch(owner, campaign, [{ phone: phones(1, 500_301)[0], name: 'Cy' }, { phone: known[0], name: 'Dee' }], { key });
		expect(reused).toEqual({ outcome: 'idempotency_key_reused', campaign: { id: campaign, name: 'Plumber - London', same_campaign: true } });
		expect(await world(owner)).toEqual(beforeReuse);
	});
});

describe('create_campaign_sessions: a blank name is no name', () => {
	it('"" or spaces store no name, and a later launch\'s name fills it', async () => {
		const owner = await createOwner({});
		const [blank, spaces] = phones(2, 500_400);
		const result = await launch(owner, newCampaignId(), [{ phone: blank, name: '' }, { phone: spaces, name: '   ' }]);
		expect(result.sessions.map((s) => [s.phone_number, s.name])).toEqual([[blank, null], [spaces, null]]);
		expect(await numbersOf(owner, [blank, spaces])).toEqual([
			{ phone_e164: blank, contact_name: null },
			{ phone_e164: spaces, contact_name: null },
		]);
		await launch(owner, newCampaignId(), [{ phone: blank, name: 'Bo' }, { phone: spaces, name: ' Sam ' }]);
		expect(await numbersOf(owner, [blank, spaces])).toEqual([
			{ phone_e164: blank, contact_name: 'Bo' },
			{ phone_e164: spaces, contact_name: 'Sam' },
		]);
	});
});

describe('create_campaign_sessions: a name of only invisible characters is no name, as the nodes read it', () => {
	// A direct call (not through the node, which drops such a name): a name made only of format
	// characters (U+200B zero width space, U+2060 word joiner, U+00AD soft hyphen) and white space is
	// blank (leadflow_private.is_blank, migration 20261201002380), stored as "" and spaces are: no name
	// on the session, none in numbers, and on a relaunch the stored name is kept.
	it('a launch stores null for it (session and number), a later name fills it, and a relaunch with it keeps the stored name', async () => {
		const owner = await createOwner({});
		const campaign = newCampaignId();
		const [zwsp, mixed, named] = phones(3, 500_900);
		const result = await launch(owner, campaign, [{ phone: zwsp, name: '\u200b' }, { phone: mixed, name: ' \u2060\u00ad\u200b ' }, { phone: named, name: 'Nia' }]);
		expect(result.sessions.map((s) => [s.phone_number, s.name])).toEqual([[zwsp, null], [mixed, null], [named, 'Nia']]);
		expect(await numbersOf(owner, [zwsp, mixed, named])).toEqual([
			{ phone_e164: zwsp, contact_name: null },
			{ phone_e164: mixed, contact_name: null },
			{ phone_e164: named, contact_name: 'Nia' },
		]);
		const filled = await launch(owner, campaign, [{ phone: zwsp, name: 'Zoe' }, { phone: mixed }, { phone: named, name: '\u200b\u200b' }]);
		expect(filled.sessions.map((s) => [s.phone_number, s.name, s.name_updated])).toEqual([[zwsp, 'Zoe', true], [mixed, null, false], [named, 'Nia', false]]);
		expect(filled.names_updated).toBe(1);
	});
});

// A relaunch: another launch of a campaign that exists (its id again, or its name again without a
// key), not a replay of the same Idempotency-Key. It states the campaign as it is now, so its name
// (when it gives one), job description and objectives replace the stored ones (migration
// 20261201002080); a replay of a key already used changes nothing and answers as the first did.
describe('create_campaign_sessions: a relaunch updates the campaign, a replay of its key does not', () => {
	const details = (owner: string, nameUid: string) =>
		withDb(async (db) => (await db.query<{ name: string; job_description: string; objectives: unknown }>(
			'select name, job_description, objectives from public.campaign_info where user_id = $1 and name_uid = $2', [owner, nameUid])).rows);

	it('a relaunch with another name, job description and objectives updates them and says so; the same details again update nothing', async () => {
		const owner = await createOwner({});
		const campaign = newCampaignId();
		const [p1, p2] = phones(2, 500_500);
		const first = await launch(owner, campaign, [{ phone: p1 }]);

		const changed = { name: 'Plumber - Leeds', job_description: 'Plumber, Leeds', objectives: { interested: {}, booked_call: { weight: 2 } } };
		const relaunch = await launch(owner, campaign, [{ phone: p1 }, { phone: p2 }], { campaign: changed });
		expect(await details(owner, campaign)).toEqual([changed]);
		expect(first.campaign).toMatchObject({ name: 'Plumber - London', created: true, updated: false });
		expect(relaunch).toMatchObject({ outcome: 'ok', campaign: { id: campaign, name: 'Plumber - Leeds', created: false, updated: true }, created: 1, existing: 1 });

		expect((await launch(owner, campaign, [{ phone: p2 }], { campaign: changed })).campaign).toMatchObject({ name: 'Plumber - Leeds', updated: false });
		// A launch without a name (its campaign id only) keeps the stored name, and updates the rest.
		const noName = await launch(owner, campaign, [{ phone: p2 }], { campaign: { name: undefined, job_description: 'Plumber, York', objectives: {} } });
		expect(noName.campaign).toMatchObject({ name: 'Plumber - Leeds', updated: true });
		expect(await details(owner, campaign)).toEqual([{ name: 'Plumber - Leeds', job_description: 'Plumber, York', objectives: {} }]);
	});

	it('a replay with the same Idempotency-Key changes nothing, whatever details it carries; a new key updates', async () => {
		const owner = await createOwner({});
		const campaign = newCampaignId();
		const tasks = phones(2, 500_600).map((phone) => ({ phone }));
		const key = `launch-${randomUUID()}`;
		await launch(owner, campaign, tasks, { key });
		const replay = await launch(owner, campaign, tasks, { key, campaign: { name: 'Changed', job_description: 'Changed', objectives: { changed: {} } } });
		expect(await details(owner, campaign)).toEqual([{ name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } }]);
		expect(replay).toMatchObject({ outcome: 'ok', campaign: { name: 'Plumber - London', created: false }, existing: 2 });

		const relaunch = await launch(owner, campaign, tasks, { key: `launch-${randomUUID()}`, campaign: { name: 'Changed', job_description: 'Changed', objectives: { changed: {} } } });
		expect(await details(owner, campaign)).toEqual([{ name: 'Changed', job_description: 'Changed', objectives: { changed: {} } }]);
		expect(relaunch.campaign).toMatchObject({ name: 'Changed', updated: true });
		expect(replay.campaign?.updated).toBe(false);
	});

	// The candidates' names are the campaign's too: a relaunch gives an existing session its task's
	// non-blank name (a corrected one, or one a nameless candidate now has), so the Queue Ledger's Add
	// Leads, which takes the session's name first, gives the lead the new one (migration 20261201002280).
	it('a relaunch gives existing sessions their tasks\' new names, never blanks one; a replay of its key renames nothing', async () => {
		const owner = await createOwner({});
		const campaign = newCampaignId();
		const [bob, nameless, kept, blank] = phones(4, 500_800);
		const key = `launch-${randomUUID()}`;
		await launch(owner, campaign, [{ phone: bob, name: 'Bob Doyle' }, { phone: nameless }, { phone: kept, name: 'Kay' }, { phone: blank, name: 'Bea' }], { key });
		const names = () => withDb(async (db) => (await db.query<{ phone_e164: string; display_name: string | null }>(
			`select s.phone_e164, s.display_name from public.session_info s join public.campaign_info c on c.id = s.campaign_id
			  where c.user_id = $1 and c.name_uid = $2 order by s.phone_e164`, [owner, campaign])).rows.map((row) => [row.phone_e164, row.display_name]));
		const asFirst = [[bob, 'Bob Doyle'], [nameless, null], [kept, 'Kay'], [blank, 'Bea']];
		const corrected = [{ phone: bob, name: 'Robert Doyle' }, { phone: nameless, name: ' Carol Evans ' }, { phone: kept }, { phone: blank, name: '  ' }];

		// The same key with the corrected names: a replay, answered as the first; nothing renamed.
		const replay = await launch(owner, campaign, corrected, { key });
		expect(replay).toMatchObject({ outcome: 'ok', names_updated: 0 });
		expect(await names()).toEqual(asFirst);

		const relaunch = await launch(owner, campaign, corrected, { key: `launch-${randomUUID()}` });
		expect(await names()).toEqual([[bob, 'Robert Doyle'], [nameless, 'Carol Evans'], [kept, 'Kay'], [blank, 'Bea']]);
		expect(relaunch).toMatchObject({ outcome: 'ok', created: 0, existing: 4, names_updated: 2 });
		expect(relaunch.sessions.map((s) => [s.phone_number, s.name, s.name_updated])).toEqual([
			[bob, 'Robert Doyle', true],
			[nameless, 'Carol Evans', true],
			[kept, 'Kay', false],
			[blank, 'Bea', false],
		]);
		// The same names again change nothing.
		expect(await launch(owner, campaign, corrected)).toMatchObject({ names_updated: 0 });

		// Add Leads with the renamed session gives the lead its new name.
		const [lead] = await addLeads([{ user_id: owner, campaign_session_id: relaunch.sessions[0].campaign_session_id, source: 'campaign' }], T0);
		const leadName = await withDb(async (db) => (await db.query<{ name: string | null }>('select name from public.leads where id = $1', [lead.lead_id])).rows);
		expect(leadName).toEqual([{ name: 'Robert Doyle' }]);
	});

	it('a relaunch refused whole (every task conflicting) updates nothing', async () => {
		const owner = await createOwner({});
		const campaign = newCampaignId();
		const first = await launch(owner, campaign, [{ phone: phones(1, 500_700)[0] }]);
		const refused = await launch(owner, newCampaignId(), [{ phone: phones(1, 500_701)[0] }]);
		const conflicting = await launch(owner, campaign, [{ phone: phones(1, 500_702)[0], session: refused.sessions[0].session }], {
			campaign: { name: 'Changed', job_description: 'Changed', objectives: {} },
		});
		expect(conflicting.outcome).toBe('all_conflict');
		expect(first.outcome).toBe('ok');
		expect(await details(owner, campaign)).toEqual([{ name: 'Plumber - London', job_description: 'Plumber', objectives: { interested: {} } }]);
	});
});
