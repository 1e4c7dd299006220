// The upgrade cancels the waiting webhook / notify actions an older version left to go out wrongly
// (migration …2560, review U): before …2400 switching an automation off, or "off, remove action A,
// on", cancelled nothing until a claim read the items, so on a database upgraded with such items
// waiting, switching the automation on handed them out (A's event to B's webhook). The old state is
// seeded as the old version left it: the automation written with the trigger of …2400 disabled in
// the test's own transaction; then the migration file's own SQL is run. The repair reaches every
// owner's outbox: a stack of its own.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AssignResult, ClaimedOutboxItem } from '../../../nodes/shared/contract';
import { serviceClient, useStackOfItsOwn, withDb } from '../../helpers/stack';
import { analysis, createPipelineWorld, minutesAfter, NOW } from './fixtures';

const MIGRATION = path.resolve(__dirname, '..', '..', '..', 'supabase', 'migrations', '20261201002560_crm_pipelines_outbox_waiting_repaired.sql');

/** The migration's SQL, in one transaction as `npm run migrate` runs a file, the database's clock at `now`. */
const runMigration = (now: string) =>
	withDb(async (db) => {
		await db.query('begin');
		await db.query(`select set_config('leadflow.now', $1, true)`, [now]);
		await db.query(readFileSync(MIGRATION, 'utf8'));
		await db.query('commit');
	});

/** fixtures' rpc names the shared stack (its client is made on import): this file's calls name its own. */
async function rpc<T>(name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await serviceClient().rpc(name, args);
	if (error) throw new Error(`${name}: ${error.message}`);
	return data as T;
}

const claimIds = (execution: string, ids: string[], now: string, leaseSeconds = 300) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: 1000, p_lease_seconds: leaseSeconds, p_now: now, p_outbox_ids: ids });

interface Row {
	status: string;
	last_error: string | null;
	cancel_on_retry: string | null;
	completed_at: string | null;
}
const rowsOf = (ids: string[]) =>
	withDb(async (db) => (await db.query<Row>(
		`select status, last_error, cancel_on_retry, to_char(completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') as completed_at
		   from public.pipeline_outbox where id = any ($1) order by action_index, id`, [ids])).rows);

const A = { type: 'webhook', url: 'https://a.example.test/hot' };
const B = { type: 'webhook', url: 'https://b.example.test/crm' };
const INACTIVE = 'automation_inactive: the automation was switched off before this action was delivered';

/** "Hot alert" with `actions`, fired for one contact; `asBefore` writes it as a version before …2400 did (no trigger). */
async function hotAlert(actions: Array<Record<string, unknown>>) {
	const world = await createPipelineWorld();
	const automationId = await world.automation({ name: 'Hot alert', trigger_type: 'ENTERED_PIPELINE', actions });
	const [contact] = await world.contacts(1);
	const [row] = await rpc<AssignResult[]>('pipeline_assign', { p_items: [analysis(contact, 10)], p_now: NOW });
	const asBefore = (set: Record<string, unknown>) =>
		withDb(async (db) => {
			await db.query('begin');
			await db.query('alter table public.pipeline_automations disable trigger pipeline_automations_cancel_waiting');
			for (const [column, value] of Object.entries(set)) {
				await db.query(`update public.pipeline_automations set ${column} = $2 where id = $1`, [automationId, typeof value === 'boolean' ? value : JSON.stringify(value)]);
			}
			await db.query('alter table public.pipeline_automations enable trigger pipeline_automations_cancel_waiting');
			await db.query('commit');
		});
	return { ids: row.outbox_ids, asBefore };
}

describe('the upgrade cancels waiting actions an older version left to go out wrongly (migration …2560)', () => {
	useStackOfItsOwn();

	it('switched off before the upgrade, on after it: nothing handed out; off, A removed, on: A\'s event not sent to B; an edit in place still goes out; run again, nothing changes', async () => {
		// Switched off before the upgrade, nothing edited; one item claimed before, its lease ended.
		const off = await hotAlert([A, B]);
		await claimIds('crashed', [off.ids[0]], NOW, 60);
		await off.asBefore({ is_active: false });
		// The old docs' procedure done before the upgrade: off, A removed, on.
		const edited = await hotAlert([A, B]);
		await edited.asBefore({ is_active: false });
		await edited.asBefore({ actions: [B] });
		await edited.asBefore({ is_active: true });
		// B's URL fixed in place before the upgrade, and a second one being delivered now (a live lease) when its automation was switched off.
		const fixed = { type: 'webhook', url: 'https://b.example.test/v2/crm' };
		const inPlace = await hotAlert([A, B]);
		await inPlace.asBefore({ actions: [A, fixed] });
		const held = await hotAlert([A]);
		await claimIds('holder', held.ids, minutesAfter(9), 300);
		await held.asBefore({ is_active: false });
		// Nothing to repair: as fired.
		const untouched = await hotAlert([A, B]);

		await runMigration(minutesAfter(10));

		expect(await rowsOf(off.ids)).toEqual([
			{ status: 'cancelled', last_error: INACTIVE, cancel_on_retry: null, completed_at: '2026-11-25T12:10Z' },
			{ status: 'cancelled', last_error: INACTIVE, cancel_on_retry: null, completed_at: '2026-11-25T12:10Z' },
		]);
		expect((await rowsOf(edited.ids)).map((row) => [row.status, row.last_error])).toEqual([
			['cancelled', "action_changed: the automation's actions were inserted, removed or reordered: action 1 is now another webhook, not the one this was queued for"],
			['cancelled', "action_changed: the automation's action 2 is gone, no longer this webhook"],
		]);
		expect((await rowsOf(inPlace.ids)).map((row) => row.status)).toEqual(['pending', 'pending']);
		// Being delivered: left to its holder, marked (a retry it asks for is cancelled then), as the switch-off does.
		expect(await rowsOf(held.ids)).toEqual([{ status: 'claimed', last_error: null, cancel_on_retry: INACTIVE, completed_at: null }]);
		expect((await rowsOf(untouched.ids)).map((row) => row.status)).toEqual(['pending', 'pending']);

		// Switched on again after the upgrade: the next claim hands out nothing of them.
		await withDb((db) => db.query(`update public.pipeline_automations set is_active = true where name = 'Hot alert' and not is_active`));
		expect(await claimIds('sweep', [...off.ids, ...edited.ids, ...held.ids], minutesAfter(30))).toEqual([]);
		expect((await claimIds('sweep', inPlace.ids, minutesAfter(30))).map((item) => item.payload.action)).toEqual([A, fixed]);

		// On a repaired database the migration changes nothing.
		const all = [...off.ids, ...edited.ids, ...inPlace.ids, ...held.ids, ...untouched.ids];
		const before = await rowsOf(all);
		await runMigration(minutesAfter(40));
		expect(await rowsOf(all)).toEqual(before);
	});
});
