// console_queue_page (migration 20261201002230): what the Queue tab needs beyond one day. The open
// messages (queued, claimed, failed with a retry to come) of the days before the owner's today are
// counted by day, whichever day is shown, so an empty today never reads "nothing" while the claim
// still has messages to send; a phone is found as people write it (spaces, brackets, a leading +, 00
// or trunk 0); the owners come with a label (their Pages', else their campaigns' names).
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../../helpers/stack';
import { addLeads, claim, complete, createOwner, failed, prepare, preparedOwner, sent, TOMORROW } from './fixtures';

interface QueuePage {
	owners?: string[];
	ownerLabels?: Record<string, string | null>;
	owner: string | null;
	today: string;
	day: string;
	counts: Record<string, number>;
	earlierOpen: { total: number; days: Array<{ day: string; open: number }> };
	rows: { total: number; rows: Array<{ item_id: string; lead_id: string; phone: string; status: string }> };
}

async function page(args: Record<string, unknown>, now: string): Promise<QueuePage> {
	const { data, error } = await serviceClient({ now: new Date(now) }).rpc('console_queue_page', args);
	if (error) throw new Error(`${error.code}: ${error.message}`);
	return data as QueuePage;
}

// The day after the queue's day (TOMORROW), at noon UTC: TOMORROW is an earlier day then.
const NEXT_DAY = '2026-11-27';
const NEXT_DAY_NOON = `${NEXT_DAY}T12:00:00.000Z`;

test('an earlier day\'s open messages (queued, claimed, failed to retry) are counted by day beside an empty today; sent ones are not', async () => {
	const { userId } = await preparedOwner(5);
	const at = `${TOMORROW}T13:00:00.000Z`; // three of the five due by then (09:00–17:00)
	const [a, b, c] = await claim('w-earlier', userId, at, 3);
	expect(c).toBeDefined();
	// a sent, b failed (its retry to come), c claimed, two never claimed.
	await complete('w-earlier', [sent(a), failed(b)], at);

	const today = await page({ p_user_id: userId, p_owners: false }, NEXT_DAY_NOON);
	expect(today).toMatchObject({ today: NEXT_DAY, day: NEXT_DAY, counts: { total: 0 } });
	expect(today.earlierOpen).toEqual({ total: 4, days: [{ day: TOMORROW, open: 4 }] });
	const statuses = await withDb(async (db) => (await db.query<{ id: string; status: string }>(
		'select id, status from public.whatsapp_message_queue where user_id = $1 and day = $2', [userId, TOMORROW])).rows);
	expect(statuses.filter((row) => ['queued', 'claimed', 'failed'].includes(row.status))).toHaveLength(4);
	expect(statuses.find((row) => row.id === c.item_id)?.status).toBe('claimed');

	// Shown, that day lists them (the failed one with its Take Lead), and still says they are open.
	const shown = await page({ p_user_id: userId, p_owners: false, p_day: TOMORROW }, NEXT_DAY_NOON);
	expect(shown.rows.rows.map((row) => row.status).sort()).toEqual(statuses.map((row) => row.status).sort());
	expect(shown.rows.rows.find((row) => row.item_id === b.item_id)?.status).toBe('failed');
	expect(shown.earlierOpen.total).toBe(4);

	// On its own day it is today, not an earlier day.
	expect((await page({ p_user_id: userId, p_owners: false }, `${TOMORROW}T12:00:00.000Z`)).earlierOpen).toEqual({ total: 0, days: [] });
});

test('a search of a phone as people write it finds its E.164 form; fewer than 6 digits stay a plain search', async () => {
	const userId = await createOwner({ daily_capacity: 5 });
	const added = await addLeads([
		{ user_id: userId, name: 'Ada', phone: '+447853724011', source: 'test', lead_score: 50 },
		{ user_id: userId, name: 'Bo', phone: '+14155550123', source: 'test', lead_score: 40 },
	]);
	await prepare(userId);
	const [ada, bo] = added.map((row) => row.lead_id);
	const found = async (search: string) =>
		(await page({ p_user_id: userId, p_owners: false, p_search: search }, `${TOMORROW}T08:00:00.000Z`)).rows.rows.map((row) => row.lead_id);

	for (const search of ['07853 724011', '07853724011', '+44 7853 724011', '0044 (7853) 724-011', '7853724011', '+447853724011', '44 7853.724011']) {
		expect([search, await found(search)]).toEqual([search, [ada]]);
	}
	expect(await found('(415) 555-0123')).toEqual([bo]);
	expect(await found('0415 555')).toEqual([bo]);
	// Not a phone (letters), or too few digits: the plain search of name or phone.
	expect(await found('0785')).toEqual([]);
	expect(await found('Ada 0785')).toEqual([]);
	expect(await found('Ada')).toEqual([ada]);
	expect(await found('07853 724012')).toEqual([]);
});

test('the owners come with a label: their named Pages, else their campaigns, else null', async () => {
	const withPages = await createOwner();
	const withCampaigns = await createOwner();
	const bare = await createOwner();
	const pageIds = [1, 2, 3, 4].map(() => String(Math.floor(Math.random() * 1e15)).padStart(15, '9'));
	await withDb(async (db) => {
		await db.query(
			`insert into public.messenger_pages (page_id, user_id, name, connected_at)
			 select p, $1, n, t from unnest($2::text[], $3::text[], $4::timestamptz[]) x (p, n, t)`,
			[withPages, pageIds, ['Acme Plumbing', 'Acme Boilers', null, 'Acme Drains'], ['2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-11-03T00:00:00Z', '2026-11-04T00:00:00Z']],
		);
		await db.query(`insert into public.campaign_info (user_id, name_uid, name) values ($1, $2, 'Plumber London')`, [withPages, `plumber-london_${randomUUID().slice(0, 8)}`]);
		await db.query(`insert into public.campaign_info (user_id, name_uid, name, created_at) values ($1, $2, 'Electrician Leeds', '2026-11-01'), ($1, $3, 'Plumber London', '2026-11-02')`,
			[withCampaigns, `electrician-leeds_${randomUUID().slice(0, 8)}`, `plumber-london_${randomUUID().slice(0, 8)}`]);
	});
	const answer = await page({ p_user_id: bare }, `${TOMORROW}T12:00:00.000Z`);
	expect(answer.owners).toEqual(expect.arrayContaining([withPages, withCampaigns, bare]));
	expect(Object.keys(answer.ownerLabels!).sort()).toEqual([...answer.owners!].sort());
	expect(answer.ownerLabels![withPages]).toBe('Acme Plumbing, Acme Boilers, Acme Drains');
	expect(answer.ownerLabels![withCampaigns]).toBe('Electrician Leeds, Plumber London');
	expect(answer.ownerLabels![bare]).toBeNull();

	await withDb((db) => db.query(`insert into public.messenger_pages (page_id, user_id, name) values ($1, $2, 'Acme Roofs')`, [String(Math.floor(Math.random() * 1e15)).padStart(16, '8'), withPages]));
	expect((await page({ p_user_id: bare }, `${TOMORROW}T12:00:00.000Z`)).ownerLabels![withPages]).toBe('Acme Plumbing, Acme Boilers, Acme Drains +1 more');
	// Without the owners (the poll between two refreshes of the picker), no labels either.
	expect(await page({ p_user_id: bare, p_owners: false }, `${TOMORROW}T12:00:00.000Z`)).not.toHaveProperty('ownerLabels');
});
