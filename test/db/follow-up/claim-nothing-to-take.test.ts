// automation_claim when no rule it reaches may take a contact now (switched off, outside its active
// hours, the day's limit used): it answers no rows at once (migration …1450), without the explained
// claim's walk, but still does what every claim does first: its arguments checked, expired leases
// reaped. And it still claims once one rule can, however many others cannot.
import type { SupabaseClient } from '@supabase/supabase-js';
import { serviceClient, useStackOfItsOwn, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { claim } from './stage-helpers';

const service = serviceClient({ now: NOW });
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

const stageOf = (conversationId: string, ruleId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ current_stage: string; locked_by: string | null; reason: string | null }>(
			`select current_stage, locked_by, stage_detail ->> 'reason' as reason
			   from public.ai_automation_contact_states where conversation_id = $1 and rule_id = $2`,
			[conversationId, ruleId],
		);
		return rows[0];
	});

describe('automation_claim with nothing to take', () => {
	it('reaps an expired lease and answers no rows when the rule is outside its active hours', async () => {
		const world = await createWorld();
		// NOW is 12:00 UTC: the hours 12:00–13:00 UTC are now, 14:00 is not.
		const ruleId = await world.rule({ activeHours: { start: '12:00', end: '13:00', timeZone: 'UTC' } });
		await world.contacts(2);
		const held = await claim(service, ruleId, 'exec-short-lease', 1, NOW, 5);
		expect(held).toHaveLength(1);
		const first = held[0].conversation_id;

		// Two hours on: the lease has run out, the hours are over. Nothing is claimed, and the
		// contact the dead execution held is claimable again (the claim reaped it).
		const rows = await claim(service, ruleId, 'exec-after-hours', 10, later(2 * 3600));
		expect(rows).toEqual([]);
		expect(await stageOf(first, ruleId)).toEqual({ current_stage: 'queued', locked_by: null, reason: 'lease_expired' });
	});

	it('checks its arguments as before when nothing can be taken', async () => {
		const world = await createWorld();
		const off = await world.rule({ enabled: false });
		await world.contacts(1);
		expect(await claim(service, off, 'exec-off')).toEqual([]);
		await expect(claim(service, off, 'exec-off', 0)).rejects.toThrow(/p_limit must be between 1 and 10000 \(got 0\).*22023/);
		await expect(claim(service, off, ' ')).rejects.toThrow(/p_execution_id is required.*22023/);
		await expect(claim(service, '00000000-0000-4000-8000-000000000000', 'exec-none')).rejects.toThrow(/automation rule .* does not exist.*P0002/);
	});
});

// A claim of every rule reaches every rule in the database: it takes every due contact it finds
// and, first, reaps every expired lease, at its own p_now. On the run's shared stack that would
// take, or reset, other test files' contacts (they all judge at fixed instants), whatever instant
// it ran at. So this test has a stack of its own, started and stopped here.
describe('automation_claim of every rule with nothing to take in one rule', () => {
	useStackOfItsOwn();
	// Made once that stack runs: a client reaches the stack testStack() names when it is made.
	let own: SupabaseClient;
	beforeAll(() => {
		own = serviceClient({ now: NOW });
	});

	it('reaps and answers no rows when the day\'s limit is used, and claims again once another rule can', async () => {
		const world = await createWorld();
		const full = await world.rule({ dailyLimit: 1 });
		await world.contacts(3);
		const held = await claim(own, full, 'exec-one', 1, NOW, 5);
		expect(held).toHaveLength(1);
		const first = held[0].conversation_id;
		// The lease runs out: the contact is back (first in the claim's order again), and the day's
		// limit counts only live leases and sends, so the rule may take one again: that one.
		expect((await claim(own, full, 'exec-two', 1, later(60), 600)).map((contact) => contact.conversation_id)).toEqual([first]);
		// Now the limit is used by a live lease: no rows, for the rule and for every rule.
		expect(await claim(own, full, 'exec-three', 5, later(120))).toEqual([]);
		// Every rule: another owner's rule with room is claimed from, the full one still not. Its rule and
		// contact on the same Page: a claim of every Page whose rules send as several Pages is refused
		// (migration …2820, claim-several-pages.test.ts).
		const other = await createWorld();
		const open = await other.rule({ pageId: world.pageId });
		const [theirs] = await other.contacts(1, { pageId: world.pageId });
		const everyRule = await claim(own, null, 'exec-every-rule', 10_000, later(180));
		expect(everyRule.filter((contact) => contact.rule_id === full)).toEqual([]);
		expect(everyRule.filter((contact) => contact.rule_id === open).map((contact) => contact.conversation_id)).toEqual([theirs]);
	});
});
