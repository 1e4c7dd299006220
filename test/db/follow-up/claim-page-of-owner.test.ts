// A contact on a Page another owner connected is never claimed, and the console refuses such a Page
// for a rule (migration 20261201001620_claim_page_of_owner.sql). Since 20261201001600 row level
// security refuses a signed-in user's conversation on another owner's connected Page, but rows it
// never saw (written before, before the Page was connected, or with the service role, as here)
// were claimed: owner A's rule handed A's contacts on owner B's Page to B's send run. A Page nobody
// connected and A's own connected Page are claimed as before.
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { createTestUser, serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { createWorld, NOW, type World } from './fixtures';
import { claim, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const claimExplained = (ruleId: string, executionId: string, pageId?: string) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: 100,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
		...(pageId !== undefined && { p_page_id: pageId }),
	});

const connect = (pageId: string, userId: string) =>
	withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, userId]));

const sorted = (ids: string[]) => [...ids].sort();

/** Owner A (the world, its Page connected to it), owner B with a connected Page, and a Page nobody connected. */
async function twoOwners(): Promise<{ a: World; bUserId: string; pageOfB: string; freePage: string }> {
	const a = await createWorld();
	await connect(a.pageId, a.userId);
	const bUserId = await createTestUser('page-owner');
	const pageOfB = uniquePageId();
	await connect(pageOfB, bUserId);
	return { a, bUserId, pageOfB, freePage: uniquePageId() };
}

describe('the claim and a Page another owner connected', () => {
	it('passes over A\'s contacts on B\'s Page (page_of_another_owner) and claims those on A\'s own Page and on a Page nobody connected', async () => {
		const { a, pageOfB, freePage } = await twoOwners();
		const ruleId = await a.rule({ pageId: null });
		const own = await a.contacts(2);
		const free = await a.contacts(2, { pageId: freePage });
		// Written as the service role (direct SQL): row level security never saw them.
		const onB = await a.contacts(3, { pageId: pageOfB });

		const every = await claimExplained(ruleId, 'exec-every-page');
		expect(sorted(every.contacts.map((contact) => contact.conversation_id))).toEqual(sorted([...own, ...free]));
		expect(every.summary).toMatchObject({
			claimed: 4,
			reason: 'no_more_due',
			notClaimed: { page_of_another_owner: 3 },
			rules: [expect.objectContaining({ ruleId, status: 'no_more_due', claimed: 4, notClaimed: { page_of_another_owner: 3 } })],
		});

		// B's send run (p_page_id B's Page): nothing of A's, and why.
		const asB = await claimExplained(ruleId, 'exec-page-of-b', pageOfB);
		expect(asB.contacts).toEqual([]);
		expect(asB.summary).toMatchObject({ pageId: pageOfB, claimed: 0, reason: 'no_more_due', notClaimed: { page_of_another_owner: 3 } });

		// The plain claim: no row of them either; they get no state.
		expect(await claim(service, ruleId, 'exec-plain')).toEqual([]);
		const states = await withDb((db) =>
			db.query<{ n: number }>('select count(*)::int as n from public.ai_automation_contact_states where conversation_id = any ($1::uuid[])', [onB]),
		);
		expect(states.rows[0].n).toBe(0);

		// B's connection gone, B's Page is a Page nobody connected: A's contacts there are claimed.
		await withDb((db) => db.query('delete from public.messenger_pages where page_id = $1', [pageOfB]));
		const unconnected = await claimExplained(ruleId, 'exec-page-unconnected');
		expect(sorted(unconnected.contacts.map((contact) => contact.conversation_id))).toEqual(sorted(onB));
	});

	it('passes over them under a rule of B\'s Page too, those with a state as well; one another execution holds stays in_progress', async () => {
		const { a, pageOfB } = await twoOwners();
		const ruleId = await a.rule({ pageId: pageOfB });
		const [followedUp, atMaximum, held] = await a.contacts(3, { pageId: pageOfB });
		// States from before B connected the Page: one due again (judged), one at the rule's maximum
		// (passed over on its state), one being sent by another execution.
		await withDb((db) =>
			db.query(
				`insert into public.ai_automation_contact_states (rule_id, conversation_id, user_id, follow_up_count, last_follow_up_at)
				 values ($1, $2, $4, 1, $5::timestamptz - interval '10 hours'), ($1, $3, $4, 3, $5::timestamptz - interval '10 hours')`,
				[ruleId, followedUp, atMaximum, a.userId, NOW.toISOString()],
			),
		);
		await withDb(async (db) => {
			await db.query('insert into public.ai_automation_contact_states (rule_id, conversation_id, user_id) values ($1, $2, $3)', [ruleId, held, a.userId]);
			const moved = await db.query(
				`update public.ai_automation_contact_states set current_stage = 'checking', locked_by = 'exec-earlier',
				        locked_until = $3::timestamptz + interval '5 minutes'
				  where rule_id = $1 and conversation_id = $2`,
				[ruleId, held, NOW.toISOString()],
			);
			expect(moved.rowCount).toBe(1);
		});

		const asB = await claimExplained(ruleId, 'exec-rule-of-b', pageOfB);
		expect(asB.contacts).toEqual([]);
		expect(asB.summary).toMatchObject({ claimed: 0, notClaimed: { page_of_another_owner: 2, in_progress: 1 } });
		expect(await claim(service, ruleId, 'exec-rule-of-b-plain')).toEqual([]);
	});
});

describe('console_rule_write and a Page another owner connected', () => {
	const write = (args: Record<string, unknown>) => rpc<Record<string, unknown>>(service, 'console_rule_write', { p_now: NOW.toISOString(), ...args });
	const rulesOf = (userId: string) =>
		withDb(async (db) => (await db.query<{ id: string; page_id: string | null; enabled: boolean }>('select id, page_id, enabled from public.ai_automation_rules where user_id = $1', [userId])).rows);
	const REFUSED = {
		saved: false,
		error: {
			field: 'page_id',
			message: expect.stringMatching(/^Page \d+ is connected to another owner, not to this rule's owner [0-9a-f-]{36}$/),
			hint: expect.stringMatching(/Page this owner connected.*page_id empty/),
		},
	};

	it('refuses a create for A on B\'s Page naming page_id, and writes nothing; A\'s own Page and a Page nobody connected are saved', async () => {
		const { a, pageOfB, freePage } = await twoOwners();
		const settings = { name: 'On B\'s Page', include_tag_ids: [a.tags['AI Lead']], instructions: 'Ask whether they are still interested.' };

		expect(await write({ p_user_id: a.userId, p_settings: { ...settings, page_id: pageOfB } })).toMatchObject(REFUSED);
		expect(await write({ p_user_id: a.userId, p_settings: { ...settings, page_id: pageOfB }, p_save: false })).toMatchObject(REFUSED);
		expect(await write({ p_user_id: a.userId, p_settings: { ...settings, page_id: pageOfB }, p_create_key: '6f1d2f0e-8a53-4c1b-9a57-2f8f3f1a0b11' })).toMatchObject(
			REFUSED,
		);
		expect(await rulesOf(a.userId)).toEqual([]);

		expect(await write({ p_user_id: a.userId, p_settings: { ...settings, page_id: a.pageId } })).toMatchObject({ saved: true, rule: { page_id: a.pageId } });
		expect(await write({ p_user_id: a.userId, p_settings: { ...settings, page_id: freePage } })).toMatchObject({ saved: true, rule: { page_id: freePage } });
		expect(await write({ p_user_id: a.userId, p_settings: settings })).toMatchObject({ saved: true, rule: { page_id: null } });
	});

	it('refuses a change of A\'s rule to B\'s Page; a rule already there may be switched off, or moved away', async () => {
		const { a, pageOfB } = await twoOwners();
		const ownRule = await a.rule();
		expect(await write({ p_rule_id: ownRule, p_settings: { page_id: pageOfB } })).toMatchObject(REFUSED);
		expect((await rulesOf(a.userId))[0].page_id).toBe(a.pageId);

		// Written before (direct SQL, as the service role could): not refused for what the save does not set.
		const stale = await a.rule({ pageId: pageOfB, name: 'Stale' });
		expect(await write({ p_rule_id: stale, p_settings: { enabled: false } })).toMatchObject({ saved: true, rule: { enabled: false, page_id: pageOfB } });
		expect(await write({ p_rule_id: stale, p_settings: { page_id: null } })).toMatchObject({ saved: true, rule: { page_id: null } });
	});
});
