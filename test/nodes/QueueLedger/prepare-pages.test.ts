// Prepare Tomorrow for every owner of an installation with more than 1,000 of them: one output item
// per owner, every one (the Data API answers at most 1,000 rows a call, so the node takes the owners
// a page of 1,000 at a time, the two halves of the user_id space at once). Preparing every owner
// commits for every owner of the database, so this
// file starts a stack of its own (and stops it); its requests are judged at a fixed instant (the
// test stack's clock header, added by the pass-through in front of it), never the real date.
import { Client } from 'pg';
import { startStack, type RunningStack } from '../../../stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { runQueue } from './support/queue';

const NOW = '2026-11-25T12:00:00.000Z';
// 1,001 owners whose user_id is in the lower half (two pages there) and one in the upper half.
const LOWER = 1001;
const OWNERS = LOWER + 1;

let stack: RunningStack;
let db: Client;
let counter: RpcCounter;
let owners: string[];

beforeAll(async () => {
	stack = await startStack({ fast: true, clockHeader: true });
	db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	counter = await startRpcCounter(stack.supabaseUrl, { headers: { 'X-Leadflow-Now': NOW } });
	// The owners, each sending every day in UTC with a capacity of 1 and one new lead with a phone.
	const { rows } = await db.query<{ id: string }>(
		`insert into auth.users (id, email)
		 select (case when n <= $1 then '0' else 'f' end || substr(gen_random_uuid()::text, 2))::uuid, 'pages-' || n || '@leadflow.test'
		   from generate_series(1, $2) n returning id`,
		[LOWER, OWNERS],
	);
	owners = rows.map((row) => row.id).sort();
	await db.query(
		`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, message)
		 select u, 1, '09:00', '17:00', 'UTC', '{1,2,3,4,5,6,7}', '{"type": "text", "text": "Hi {{name}}"}'::jsonb from unnest($1::uuid[]) u`,
		[owners],
	);
	for (let start = 0; start < OWNERS; start += 1000) {
		const leads = owners.slice(start, start + 1000).map((owner, i) => ({ user_id: owner, name: `Lead ${start + i}`, phone: `+1415${String(5_000_000 + start + i)}`, source: 'test' }));
		await db.query('select count(*) from public.queue_add_leads($1::jsonb, $2)', [JSON.stringify(leads), NOW]);
	}
}, 180_000);

afterAll(async () => {
	await counter?.stop();
	await db?.end();
	await stack?.stop();
});

const credentials = () => ({ leadflowSupabaseApi: { url: counter.url, serviceRoleKey: stack.serviceRoleKey } });
const prepareEveryOwner = () => runQueue([{}], { resource: 'message', operation: 'prepareTomorrow' }, credentials());
const queuedPerOwner = async () =>
	(await db.query<{ n: number }>(`select count(*)::int as n from public.whatsapp_message_queue where day = '2026-11-26' group by user_id`)).rows.map((row) => row.n);

it('a later page refused: the owners the other calls prepared are counted in the error, and a run again prepares the others, nothing twice', async () => {
	// The lower half's first page and the upper half's only page go at once; the third call is the
	// lower half's second page (the upper half's page came back short): it is refused.
	counter.failNext('/rpc/queue_prepare', 1, { after: 2 });
	const stopped = await prepareEveryOwner();
	expect(stopped.result.error?.description).toContain(
		'1001 owners were prepared by the run\'s other calls and stay prepared; running Prepare Tomorrow again prepares the others (it queues nothing twice).',
	);
	expect((await queuedPerOwner()).length).toBe(1001);

	counter.reset();
	const again = await prepareEveryOwner();
	expect(again.result.error).toBeUndefined();
	expect(counter.paths.filter((path) => path.endsWith('/rpc/queue_prepare'))).toHaveLength(3);
	expect(counter.peakInFlight('/rpc/queue_prepare')).toBe(2);
	const items = again.outputs[0] ?? [];
	expect(items.map((item) => item.user_id)).toEqual(owners);
	// Only the lower half's 1,001st owner was left; it comes before the upper half's owner.
	expect(items.map((item) => [item.day, item.queued, item.already_queued])).toEqual([
		...Array.from({ length: 1000 }, () => ['2026-11-26', 0, 1]),
		['2026-11-26', 1, 0],
		['2026-11-26', 0, 1],
	]);
	const perOwner = await queuedPerOwner();
	expect(perOwner).toHaveLength(OWNERS);
	expect(perOwner.every((n) => n === 1)).toBe(true);
});
