// The sweep of every owner's waiting webhook / notify actions takes each owner's in turn: one
// owner's backlog does not hold another owner's item back, and each owner's items keep their order.
// A sweep of every owner reaches every owner's items: this file runs on a stack of its own.
import type { SupabaseClient } from '@supabase/supabase-js';
import type { AnalysedContact, ClaimedOutboxItem, CompleteOutboxResult } from '../../../nodes/shared/contract';
import { serviceClient, useStackOfItsOwn, withDb } from '../../helpers/stack';
import { analysis, createPipelineWorld } from './fixtures';

useStackOfItsOwn();
// Made once that stack runs: a client reaches the stack testStack() names when it is made.
let own: SupabaseClient;
beforeAll(() => {
	own = serviceClient();
});
async function rpc<T>(name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await own.rpc(name, args);
	if (error) throw new Error(error.message);
	return data as T;
}
const assign = (items: AnalysedContact[], now: string) => rpc('pipeline_assign', { p_items: items, p_now: now });

const claim = (execution: string, now: string, limit: number) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: limit, p_lease_seconds: 300, p_now: now });
const complete = (execution: string, items: ClaimedOutboxItem[], now: string) =>
	rpc<CompleteOutboxResult[]>('pipeline_complete_outbox', { p_execution_id: execution, p_items: items.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })), p_now: now });
const at = (minutes: number) => new Date(Date.parse('2001-01-01T00:00:00.000Z') + minutes * 60_000).toISOString();

test('one owner\'s backlog of 1,200 does not hold back another owner\'s item queued a minute later (sweeps of 500)', async () => {
	const a = await createPipelineWorld();
	await a.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://a.example.test/x' }] });
	const aContacts = await a.contacts(1200);
	await assign(aContacts.slice(0, 1000).map((id) => analysis(id, 10)), at(0));
	await assign(aContacts.slice(1000).map((id) => analysis(id, 10)), at(0));
	const b = await createPipelineWorld();
	await b.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://b.example.test/won' }, { type: 'notify', message: 'Won' }] });
	const [bContact] = await b.contacts(1);
	await assign([analysis(bContact, 10)], at(1));

	// A's oldest 498, by (available_at, id): what a sweep of A alone would take first.
	const aOldest = await withDb(async (db) => (await db.query<{ id: string }>(
		'select id from public.pipeline_outbox where user_id = $1 order by available_at, id limit 498', [a.userId])).rows.map((row) => row.id));

	const first = await claim('sweep-1', at(15), 500);
	const ofB = first.filter((item) => item.payload.contact.conversation_id === bContact);
	expect(ofB.map((item) => item.kind).sort()).toEqual(['notify', 'webhook']);
	expect(first).toHaveLength(500);
	const ofA = first.filter((item) => item.payload.contact.conversation_id !== bContact);
	expect(ofA.map((item) => item.outbox_id).sort()).toEqual([...aOldest].sort());
	await complete('sweep-1', first, at(15));
	// The rest of A (702), over the next sweeps, every item once.
	const second = await claim('sweep-2', at(30), 500);
	expect(second).toHaveLength(500);
	await complete('sweep-2', second, at(30));
	const third = await claim('sweep-3', at(45), 500);
	expect(third).toHaveLength(202);
	await complete('sweep-3', third, at(45));
	expect(new Set([...first, ...second, ...third].map((item) => item.outbox_id)).size).toBe(1202);
});
