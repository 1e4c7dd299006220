// automation_claim_explained keeps to one Page when given p_page_id (migration
// 20261201001110_follow_up_claim_one_page.sql): Facebook Send sends as the one Page of its
// credential and fails another Page's contact for good (page_mismatch), so a workflow that sends as
// Page A must claim only A's contacts, and leave B's due for the copy that sends as B. Without
// p_page_id the claim is what it was: every Page.
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const claimExplained = (ruleId: string, executionId: string, pageId?: string) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: 100,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
		...(pageId !== undefined && { p_page_id: pageId }),
	});

const statesOf = (conversationIds: string[]) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ n: number }>('select count(*)::int as n from public.ai_automation_contact_states where conversation_id = any ($1::uuid[])', [
			conversationIds,
		]);
		return rows[0].n;
	});

const sorted = (ids: string[]) => [...ids].sort();

describe('automation_claim_explained with p_page_id: one Page\'s contacts', () => {
	it('claims and counts only the contacts of the Page asked for, under a rule for every Page; the other Page\'s stay due for its own claim', async () => {
		const world = await createWorld();
		const pageA = world.pageId;
		const pageB = uniquePageId();
		const ruleId = await world.rule({ pageId: null, exclude: ['Do Not Contact'] });
		const dueA = await world.contacts(3);
		await world.contacts(1, { lastMessageHoursAgo: 30 });
		const dueB = await world.contacts(2, { pageId: pageB });
		const closedB = await world.contacts(2, { pageId: pageB, lastMessageHoursAgo: 30 });
		const excludedB = await world.contact({ pageId: pageB, tags: ['AI Lead', 'Do Not Contact'] });
		const stoppedB = await world.contact({ pageId: pageB });
		await withDb((db) =>
			db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, 'manual')`, [world.userId, stoppedB, ruleId]),
		);

		// Page A's claim: A's three due contacts; B's neither claimed, nor given a state, nor counted.
		const a = await claimExplained(ruleId, 'exec-page-a', pageA);
		expect(sorted(a.contacts.map((contact) => contact.conversation_id))).toEqual(sorted(dueA));
		expect(a.contacts.every((contact) => contact.page_id === pageA)).toBe(true);
		expect(a.summary).toEqual({
			requested: 100,
			pageId: pageA,
			claimed: 3,
			reason: 'no_more_due',
			notClaimed: { outside_window: 1 },
			rules: [expect.objectContaining({ ruleId, status: 'no_more_due', claimed: 3, notClaimed: { outside_window: 1 } })],
		});
		expect(await statesOf([...dueB, ...closedB, excludedB, stoppedB])).toBe(0);

		// Page B's claim: B's two due contacts, B's reasons; A's, held by the first claim, not counted.
		const b = await claimExplained(ruleId, 'exec-page-b', pageB);
		expect(sorted(b.contacts.map((contact) => contact.conversation_id))).toEqual(sorted(dueB));
		expect(b.contacts.every((contact) => contact.page_id === pageB)).toBe(true);
		expect(b.summary).toMatchObject({
			pageId: pageB,
			claimed: 2,
			reason: 'no_more_due',
			notClaimed: { outside_window: 2, excluded_tag: 1, stopped: 1 },
		});

		// Without a Page (the call as before, named or positional): every Page, nothing left to take.
		const all = await claimExplained(ruleId, 'exec-every-page');
		expect(all.contacts).toEqual([]);
		expect(all.summary).toMatchObject({ pageId: null, claimed: 0, notClaimed: { in_progress: 5, outside_window: 3, excluded_tag: 1, stopped: 1 } });
		const positional = await withDb(async (db) => {
			const { rows } = await db.query<{ j: ClaimExplained }>(`select public.automation_claim_explained($1, 10, 'exec-positional', 600, $2) as j`, [
				ruleId,
				NOW.toISOString(),
			]);
			return rows[0].j;
		});
		expect(positional.summary).toMatchObject({ pageId: null, claimed: 0, notClaimed: { in_progress: 5 } });
	});

	it('goes through the rules of that Page and of every Page; a rule of another Page asked for by id is refused', async () => {
		const world = await createWorld();
		const pageA = world.pageId;
		const pageB = uniquePageId();
		const ruleA = await world.rule({ name: 'Page A' });
		const ruleB = await world.rule({ name: 'Page B', pageId: pageB });
		const dueA = await world.contacts(2);
		const dueB = await world.contacts(2, { pageId: pageB });

		const a = await claimExplained(ruleA, 'exec-rule-a', pageA);
		expect(sorted(a.contacts.map((contact) => contact.conversation_id))).toEqual(sorted(dueA));
		expect(a.summary).toMatchObject({ pageId: pageA, claimed: 2, rules: [expect.objectContaining({ ruleId: ruleA, claimed: 2 })] });

		await expect(claimExplained(ruleB, 'exec-rule-b-as-a', pageA)).rejects.toThrow(
			new RegExp(`^automation_claim_explained: automation rule ${ruleB} sends as Page ${pageB}, not as p_page_id ${pageA} \\(22023\\)$`),
		);
		expect(await statesOf(dueB)).toBe(0);
		// What a caller reads instead of the message's words (migration …2260): the DETAIL names the
		// refused argument, why, and the rule's Page; the code stays 22023 (invalid input).
		const refusal = await withDb(async (db) => {
			try {
				await db.query(`select public.automation_claim_explained($1, 10, 'exec-rule-b-detail', 600, $2, $3)`, [ruleB, NOW.toISOString(), pageA]);
				return null;
			} catch (error) {
				const { code, detail } = error as { code?: string; detail?: string };
				return { code, detail: detail === undefined ? undefined : (JSON.parse(detail) as unknown) };
			}
		});
		expect(refusal).toEqual({ code: '22023', detail: { field: 'p_rule_id', reason: 'rule_of_another_page', rule_page_id: pageB } });
	});

	it('refuses a p_page_id that is not a Page id (1 to 32 digits), naming it, and claims nothing', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ pageId: null });
		const due = await world.contacts(2);
		for (const bad of ['', ' ', 'abc', `${world.pageId} `, '12-34', '1'.repeat(33), '１２３', '-1']) {
			await expect(claimExplained(ruleId, 'exec-bad-page', bad)).rejects.toThrow(
				/^automation_claim_explained: p_page_id must be a Facebook Page id \(1 to 32 digits\), or null for every Page \(22023\)$/,
			);
		}
		expect(await statesOf(due)).toBe(0);
	});
});
