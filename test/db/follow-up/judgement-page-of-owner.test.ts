// Explain, the monitor, the snapshot and the views say page_of_another_owner for a contact on a Page
// another owner connected, as the claim does (migration
// 20261201001690_follow_up_judgement_page_of_another_owner.sql). Since …1620 the claim passes such a
// contact over; the judgement did not read messenger_pages, so the contact showed due (due now) in
// Explain, in the console's monitor and in the snapshot while no run ever claimed it. A Page nobody
// connected and the owner's own connected Page stay due.
import type { ClaimExplained, ContactJudgement, EligibleContact } from '../../../nodes/shared/contract';
import { createTestUser, serviceClient, uniquePageId, userClient, withDb } from '../../helpers/stack';
import { createWorld, NOW, type World } from './fixtures';
import { explain, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const connect = (pageId: string, userId: string) =>
	withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, userId]));

const sorted = (ids: string[]) => [...ids].sort();

interface MonitorPage {
	stats: Record<string, unknown> & { skipped_by_reason: Record<string, number> };
	contacts: { total: number; rows: Array<Record<string, unknown>> };
}
const monitorPage = (ruleId: string, args: Record<string, unknown> = {}) =>
	rpc<MonitorPage>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_limit: 500, p_now: NOW.toISOString(), ...args });

interface Snapshot {
	stats: Record<string, unknown> & { skipped_by_reason: Record<string, number> };
	eligibleContacts: Array<Record<string, unknown>>;
}
const snapshot = (ruleId: string) => rpc<Snapshot>(service, 'automation_snapshot', { p_rule_id: ruleId, p_contact_limit: 100_000, p_now: NOW.toISOString() });

/** Owner A (the world, its Page connected to it), owner B with a connected Page, and a Page nobody connected. */
async function twoOwners(): Promise<{ a: World; bUserId: string; pageOfB: string; freePage: string }> {
	const a = await createWorld();
	await connect(a.pageId, a.userId);
	const bUserId = await createTestUser('page-owner');
	const pageOfB = uniquePageId();
	await connect(pageOfB, bUserId);
	return { a, bUserId, pageOfB, freePage: uniquePageId() };
}

describe('the judgement and a Page another owner connected', () => {
	it('Explain, the monitor, the snapshot and the views say page_of_another_owner, not due, for exactly the contacts the claim passes over', async () => {
		const { a, pageOfB, freePage } = await twoOwners();
		const ruleId = await a.rule({ pageId: null, exclude: ['Do Not Contact'] });
		const own = await a.contacts(2);
		const free = await a.contacts(2, { pageId: freePage });
		// Written as the service role (direct SQL): row level security never saw them.
		const onB = await a.contacts(3, { pageId: pageOfB });
		// On B's Page too, but excluded or inactive: the first reason is the one the claim counts.
		const excludedOnB = await a.contact({ pageId: pageOfB, tags: ['AI Lead', 'Do Not Contact'] });
		const inactiveOnB = await a.contact({ pageId: pageOfB, isActive: false });
		const due = [...own, ...free];

		// Explain: the reason, not due, no due time, skipped.
		const byId = new Map((await explain(service, ruleId)).map((row) => [row.conversation_id, row]));
		expect(byId.size).toBe(9);
		for (const id of due) expect(byId.get(id)).toMatchObject({ due: true, reason: null, contact_status: 'eligible' });
		for (const id of [...onB, inactiveOnB]) {
			expect(byId.get(id)).toMatchObject<Partial<ContactJudgement>>({ due: false, reason: 'page_of_another_owner', due_at: null, contact_status: 'skipped' });
		}
		expect(byId.get(excludedOnB)).toMatchObject({ due: false, reason: 'excluded_tag' });
		const onlyDue = await rpc<ContactJudgement[]>(service, 'automation_explain', { p_rule_id: ruleId, p_only_due: true, p_now: NOW.toISOString() });
		expect(sorted(onlyDue.map((row) => row.conversation_id))).toEqual(sorted(due));

		// The console's monitor: totals, the reason's count and filter, each row.
		const monitor = await monitorPage(ruleId);
		expect(monitor.stats).toMatchObject({ total_with_tags: 9, eligible_count: 4, skipped_count: 5 });
		expect(monitor.stats.skipped_by_reason).toEqual({ page_of_another_owner: 4, excluded_tag: 1 });
		const filtered = await monitorPage(ruleId, { p_reason: 'page_of_another_owner' });
		expect(filtered.contacts.total).toBe(4);
		expect(sorted(filtered.contacts.rows.map((row) => row.conversation_id as string))).toEqual(sorted([...onB, inactiveOnB]));
		expect(filtered.contacts.rows.map((row) => [row.contact_status, row.status_reason, row.due_at])).toEqual(
			filtered.contacts.rows.map(() => ['skipped', 'page_of_another_owner', null]),
		);
		const eligible = await monitorPage(ruleId, { p_status: 'eligible' });
		expect(sorted(eligible.contacts.rows.map((row) => row.conversation_id as string))).toEqual(sorted(due));

		// The snapshot (the monitor's webhook): the same totals and reasons.
		const snap = await snapshot(ruleId);
		expect(snap.stats).toMatchObject({ total_with_tags: 9, eligible_count: 4, skipped_by_reason: { page_of_another_owner: 4, excluded_tag: 1 } });
		const snapReasons = new Map(snap.eligibleContacts.map((row) => [row.conversation_id as string, row.status_reason]));
		expect([...onB, inactiveOnB].map((id) => snapReasons.get(id))).toEqual([...onB, inactiveOnB].map(() => 'page_of_another_owner'));

		// The views, read by A signed in: row level security shows A only A's Pages, and still the
		// judgement sees B's.
		const asA = userClient(a.userId, { now: NOW });
		const { data: rows, error } = await asA.from('automation_eligible_contacts').select('*').eq('rule_id', ruleId);
		expect(error).toBeNull();
		const viewReasons = new Map((rows as EligibleContact[]).map((row) => [row.conversation_id, row.status_reason]));
		expect(viewReasons.size).toBe(9);
		expect([...onB, inactiveOnB].map((id) => viewReasons.get(id))).toEqual([...onB, inactiveOnB].map(() => 'page_of_another_owner'));
		expect(due.map((id) => viewReasons.get(id))).toEqual(due.map(() => null));
		const { data: summary } = await asA.from('automation_monitor_summary').select('eligible_count, skipped_by_reason').eq('rule_id', ruleId).single();
		expect(summary).toEqual({ eligible_count: 4, skipped_by_reason: { page_of_another_owner: 4, excluded_tag: 1 } });

		// The claim agrees: it takes exactly the due ones and counts the others the same.
		const claimed = await rpc<ClaimExplained>(service, 'automation_claim_explained', {
			p_rule_id: ruleId, p_limit: 100, p_execution_id: 'exec-judgement-page-of-b', p_now: NOW.toISOString(),
		});
		expect(sorted(claimed.contacts.map((contact) => contact.conversation_id))).toEqual(sorted(due));
		expect(claimed.summary.notClaimed).toEqual({ page_of_another_owner: 4, excluded_tag: 1 });

		// B's connection gone, B's Page is a Page nobody connected: those contacts are due again.
		await withDb((db) => db.query('delete from public.messenger_pages where page_id = $1', [pageOfB]));
		const after = new Map((await explain(service, ruleId)).map((row) => [row.conversation_id, row]));
		for (const id of onB) expect(after.get(id)).toMatchObject({ due: true, reason: null });
		expect(after.get(inactiveOnB)).toMatchObject({ reason: 'inactive' });
	});

	it('a rule of B\'s Page: every contact, also one with a state, is page_of_another_owner but the one another execution holds', async () => {
		const { a, pageOfB } = await twoOwners();
		const ruleId = await a.rule({ pageId: pageOfB });
		const [fresh, atMaximum, held] = await a.contacts(3, { pageId: pageOfB });
		await withDb(async (db) => {
			await db.query(
				`insert into public.ai_automation_contact_states (rule_id, conversation_id, user_id, follow_up_count, last_follow_up_at)
				 values ($1, $2, $3, 3, $4::timestamptz - interval '10 hours')`,
				[ruleId, atMaximum, a.userId, NOW.toISOString()],
			);
			await db.query('insert into public.ai_automation_contact_states (rule_id, conversation_id, user_id) values ($1, $2, $3)', [ruleId, held, a.userId]);
			await db.query(
				`update public.ai_automation_contact_states set current_stage = 'checking', locked_by = 'exec-earlier', locked_until = $3::timestamptz + interval '5 minutes'
				  where rule_id = $1 and conversation_id = $2`,
				[ruleId, held, NOW.toISOString()],
			);
		});
		const reasons = new Map((await explain(service, ruleId)).map((row) => [row.conversation_id, row.reason]));
		expect([reasons.get(fresh), reasons.get(atMaximum), reasons.get(held)]).toEqual(['page_of_another_owner', 'page_of_another_owner', 'in_progress']);
		const claimed = await rpc<ClaimExplained>(service, 'automation_claim_explained', {
			p_rule_id: ruleId, p_limit: 100, p_execution_id: 'exec-rule-of-b', p_page_id: pageOfB, p_now: NOW.toISOString(),
		});
		expect(claimed.summary).toMatchObject({ claimed: 0, notClaimed: { page_of_another_owner: 2, in_progress: 1 } });
		expect((await monitorPage(ruleId)).stats.skipped_by_reason).toEqual({ page_of_another_owner: 2 });
	});

	it('tells a signed-in user about their own rules only', async () => {
		const { a, bUserId, pageOfB } = await twoOwners();
		const ruleId = await a.rule({ pageId: null });
		await a.contact({ pageId: pageOfB });
		const pagesAs = (userId: string | null) =>
			withDb(async (db) => {
				await db.query('begin');
				try {
					if (userId) await db.query(`select set_config('request.jwt.claim.sub', $1, true)`, [userId]);
					const { rows } = await db.query<{ pages: string[] }>('select leadflow_private.automation_other_owner_pages($1) as pages', [ruleId]);
					return rows[0].pages;
				} finally {
					await db.query('rollback');
				}
			});
		expect(await pagesAs(null)).toEqual([pageOfB]);
		expect(await pagesAs(a.userId)).toEqual([pageOfB]);
		expect(await pagesAs(bUserId)).toEqual([]);
	});
});
