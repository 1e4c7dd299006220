// Add Leads from a campaign's sessions right after a big launch (migration 20261201002440). The
// statistics of session_info and numbers knew only the owners that were there when they were last
// analysed (autoanalyze had not run since the launch), so the planner expected one session and one
// number of the new owner, and the page's join read every number of the owner for each session: a
// 100,000-session campaign's first page ran past the 60 s statement timeout. Now the page is picked
// first and a session's phone-book name read by its key, whatever the statistics say.
//
// The file starts a stack of its own (and stops it): it needs statistics it controls (autovacuum
// off on the two tables, analysed once before the launch). What it counts is deterministic: the
// rows and index entries the call read on numbers (pg_stat_get_xact_tuples_returned), never a time.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { startStack, type RunningStack } from '../../../stack';
import { entriesRead } from '../../helpers/reads';

const NOW = '2026-11-25T12:00:00.000Z';
const SESSIONS = 2000;

let stack: RunningStack;
let db: Client;

beforeAll(async () => {
	stack = await startStack({ fast: true });
	db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
}, 180_000);

afterAll(async () => {
	await db?.end();
	await stack?.stop();
});

const owner = async () =>
	(await db.query<{ id: string }>(`insert into auth.users (email) values ('stale-' || gen_random_uuid() || '@leadflow.test') returning id`)).rows[0].id;

/** A launch of `count` tasks (phones from `first`); every other task without a name. */
async function launch(user: string, first: number, count: number): Promise<string> {
	const tasks = Array.from({ length: count }, (_, i) => ({
		phone: `+4475${String(40_000_000 + first + i)}`,
		session: `stale-${first + i}`,
		...(i % 2 === 0 ? { name: `Candidate ${i}` } : {}),
	}));
	const nameUid = `stale_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
	const { rows } = await db.query<{ r: { created: number } }>('select public.create_campaign_sessions($1, $2::jsonb, $3::jsonb, null, $4) as r', [
		user,
		JSON.stringify({ name_uid: nameUid, name: 'Plumbers' }),
		JSON.stringify(tasks),
		NOW,
	]);
	expect(rows[0].r.created).toBe(count);
	return (await db.query<{ id: string }>('select id from public.campaign_info where user_id = $1 and name_uid = $2', [user, nameUid])).rows[0].id;
}

test('the first page of a campaign launched after the last analyse reads each phone-book name by its key', async () => {
	await db.query('alter table public.session_info set (autovacuum_enabled = false); alter table public.numbers set (autovacuum_enabled = false)');
	// Another owner's campaign, analysed: the statistics know that owner only.
	await launch(await owner(), 0, SESSIONS);
	await db.query('analyze public.session_info; analyze public.numbers');

	// The new owner: a phone book naming the candidates launched without a name, then the launch.
	const user = await owner();
	await db.query(
		`insert into public.numbers (user_id, phone_e164, contact_name)
		 select $1, '+4475' || (40000000 + $2 + i)::text, 'Book ' || i from generate_series(1, $3 - 1, 2) i`,
		[user, SESSIONS, SESSIONS],
	);
	const campaign = await launch(user, SESSIONS, SESSIONS);

	await db.query('begin');
	try {
		const before = await entriesRead(db, ['public.numbers']);
		const { rows } = await db.query<{ outcome: string; name: string | null; phone: string }>(
			'select outcome, name, phone from public.queue_add_leads_from_crm($1, null, $2, $3, null, 1000)',
			[user, campaign, NOW],
		);
		const read = (await entriesRead(db, ['public.numbers'])) - before;
		expect(rows).toHaveLength(1000);
		expect(rows.every((row) => row.outcome === 'created')).toBe(true);
		// Each lead has its task's name, else its phone book's.
		const index = (row: { phone: string }) => Number(row.phone.slice(5)) - 40_000_000 - SESSIONS;
		expect(rows.filter((row) => row.name !== (index(row) % 2 === 0 ? `Candidate ${index(row)}` : `Book ${index(row)}`))).toEqual([]);
		// The page's nameless sessions (about 500) read one number each (the launch's reads are not
		// in this transaction); the join read the owner's numbers again for each session: 2,001,000.
		expect(read).toBeGreaterThanOrEqual(rows.length / 4);
		expect(read).toBeLessThan(2 * rows.length);
	} finally {
		await db.query('rollback');
	}
}, 180_000);
