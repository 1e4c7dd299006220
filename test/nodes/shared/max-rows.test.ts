// A Supabase project whose Data API answers fewer rows than Leadflow reads (Max Rows lowered from
// Supabase's 1,000): a call whose answer is cut stops the node with an error that names the setting,
// where the rows past the cut used to be missing from the output without a word. This file starts a
// stack of its own with Max Rows at 5 (and stops it).
import { Client } from 'pg';
import type { INode } from 'n8n-workflow';
import { callRpc, type SupabaseContext } from '../../../nodes/shared/supabase';
import { createAuthUser, startStack, type RunningStack } from '../../../stack';
import { runQueue } from '../QueueLedger/support/queue';

const MAX_ROWS = 5;

let stack: RunningStack;
let db: Client;

beforeAll(async () => {
	stack = await startStack({ fast: true, maxRows: MAX_ROWS });
	db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
}, 120_000);

afterAll(async () => {
	await db?.end();
	await stack?.stop();
});

const credentials = () => ({ leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } });
const addLeads = (owner: string, count: number, first: number) =>
	runQueue(
		Array.from({ length: count }, (_, i) => ({ name: `Lead ${first + i}`, phone: `+4478537${String(first + i).padStart(5, '0')}` })),
		{ resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, defaultCountry: 'GB', leadSource: 'test' },
		credentials(),
	);
const leadCount = async (owner: string) => (await db.query<{ n: number }>('select count(*)::int as n from public.leads where user_id = $1', [owner])).rows[0].n;

it('an answer within Max Rows is read whole; a cut one stops the node naming Max Rows, and what the call did is saved', async () => {
	const owner = await createAuthUser(stack.dbUrl, 'max-rows@leadflow.test');

	const within = await addLeads(owner, MAX_ROWS, 0);
	expect(within.result.error).toBeUndefined();
	expect(within.outputs[0]).toHaveLength(MAX_ROWS);

	const cut = await addLeads(owner, MAX_ROWS + 2, 100);
	expect(cut.result.error?.message).toBe(`queue_add_leads answered ${MAX_ROWS} of its ${MAX_ROWS + 2} rows: the Data API's Max Rows cut the answer`);
	expect(cut.result.error?.description).toMatch(/Raise the Data API's Max Rows to 1,000 or more \(Supabase: Project Settings → Data API → Max Rows; PostgREST: db-max-rows\)\. What the call did is saved in the database/);
	expect(await leadCount(owner)).toBe(MAX_ROWS + MAX_ROWS + 2);
});

it("Prepare Tomorrow for every owner: a page cut by Max Rows is an error, not the end of the owners", async () => {
	// Seven owners, all in the lower half of the user_id space: that half's page answers seven rows.
	const owners: string[] = [];
	for (let n = 0; n < MAX_ROWS + 2; n++) {
		owners.push(
			(await db.query<{ id: string }>(`insert into auth.users (id, email) values (('0' || substr(gen_random_uuid()::text, 2))::uuid, $1) returning id`, [`prepare-${n}@leadflow.test`])).rows[0].id,
		);
	}
	await db.query(
		`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, message)
		 select u, 1, '09:00', '17:00', 'UTC', '{1,2,3,4,5,6,7}', '{"type": "text", "text": "Hi {{name}}"}'::jsonb from unnest($1::uuid[]) u`,
		[owners],
	);
	const { result } = await runQueue([{}], { resource: 'message', operation: 'prepareTomorrow' }, credentials());
	expect(result.error?.message).toMatch(/^queue_prepare answered 5 of its 7 rows: the Data API's Max Rows cut the answer/);
});

it('a function answering one value is read whole, an empty JSON array or one longer than Max Rows included (PostgREST counts it as one row)', async () => {
	await db.query(`create function public.leadflow_test_value(n integer) returns jsonb language sql as $$ select coalesce(jsonb_agg(g), '[]'::jsonb) from generate_series(1, n) g $$;
		grant execute on function public.leadflow_test_value(integer) to service_role; notify pgrst, 'reload schema'`);
	const context: SupabaseContext = {
		getCredentials: async <T extends object>() => ({ url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey }) as unknown as T,
		getNode: () => ({ name: 'Test', type: 'test', typeVersion: 1, position: [0, 0], parameters: {} }) as unknown as INode,
	};
	const call = (n: number) => callRpc(context, 'leadflow_test_value' as never, { n } as never) as Promise<unknown>;
	// PostgREST reloads its schema cache on the notify: the first calls may not see the function yet.
	const deadline = Date.now() + 10_000;
	for (;;) {
		try {
			await call(0);
			break;
		} catch (error) {
			if (!/Could not find the function/.test(String((error as Error).message)) || Date.now() > deadline) throw error;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}
	expect(await call(0)).toEqual([]);
	expect(await call(MAX_ROWS + 3)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
});
