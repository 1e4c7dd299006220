// automation_claim_explained with no Page (p_page_id null) refuses when the rules it goes through send
// as more than one Page (migration 20261201002820_follow_up_claim_several_pages_refused.sql): one copy
// of the follow-up workflow sends as the one Page of its Facebook credential, so another Page's
// contacts claimed there were generated (the model paid) and then failed for good at Facebook Send
// (page_mismatch), while the run ended in success (review RF4, finding 1). The Pages counted: each
// enabled rule's page_id, or for a rule of every Page (page_id null) every Page its owner connected in
// messenger_pages. These tests ask for one rule each (p_rule_id): the shared stack holds other files'
// rules of other Pages, so a claim of every rule there is refused whatever these seed; that case runs
// on a stack of its own in test/workflows/tag-monitor-send-as-shipped.test.ts.
//
// They are the guard against a later re-creation of the function that drops the check (a copy of an
// older version, …2710 or before): every refusal below would then claim instead and fail here.
import { serviceClient, uniquePageId, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';

const service = serviceClient({ now: NOW });

const claimExplained = (ruleId: string, executionId: string, pageId?: string) =>
	service.rpc('automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: 100,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
		...(pageId !== undefined && { p_page_id: pageId }),
	});

/** The contact states of these conversations, and the leases any execution holds on them. */
const statesOf = (conversationIds: string[]) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ n: number }>('select count(*)::int as n from public.ai_automation_contact_states where conversation_id = any ($1::uuid[])', [
			conversationIds,
		]);
		return rows[0].n;
	});

const connect = (pageId: string, userId: string) =>
	withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, userId]));

describe('automation_claim_explained with no Page ID, while its rules send as several Pages', () => {
	it('refuses a rule for every Page whose owner connected two Pages: 22023, the Pages named, marked for machines, the advice naming the Page ID; nothing claimed, no state written', async () => {
		const world = await createWorld();
		const pageB = uniquePageId();
		await connect(world.pageId, world.userId);
		await connect(pageB, world.userId);
		const ruleId = await world.rule({ pageId: null });
		const dueA = await world.contacts(3);
		const dueB = await world.contacts(2, { pageId: pageB });

		const { data, error } = await claimExplained(ruleId, 'exec-several-pages');
		expect(data).toBeNull();
		const pages = [world.pageId, pageB].sort();
		expect(error).toMatchObject({
			code: '22023',
			message: `Page ID is empty, but the rules this claim goes through send as 2 Pages (${pages.join(', ')}): one workflow sends as the one Page of its Facebook credential, so the other Pages' contacts would be claimed, generated and then failed for good (page_mismatch). Nothing was claimed.`,
			hint: expect.stringContaining("Set Claim Due Contacts' Page ID to the Page ID of this workflow's Facebook credential"),
		});
		expect(error?.hint).toContain('README, Using it, step 4');
		expect(JSON.parse(error!.details)).toEqual({ field: 'p_page_id', reason: 'several_pages', page_ids: pages, page_count: 2 });
		expect(await statesOf([...dueA, ...dueB])).toBe(0);
		// The plain claim is the explained claim's contacts as rows (p_page_id null): refused alike.
		const plain = await service.rpc('automation_claim', { p_rule_id: ruleId, p_limit: 100, p_execution_id: 'exec-plain', p_now: NOW.toISOString() });
		expect(plain.error).toMatchObject({ code: '22023', message: expect.stringMatching(/^Page ID is empty, but the rules this claim goes through send as 2 Pages/) });
		expect(await statesOf([...dueA, ...dueB])).toBe(0);

		// Each Page's own claim (README step 4: one copy per Page credential) takes its own contacts.
		for (const [pageId, due] of [
			[world.pageId, dueA],
			[pageB, dueB],
		] as const) {
			const own = await claimExplained(ruleId, `exec-own-${pageId}`, pageId);
			expect(own.error).toBeNull();
			expect((own.data as { contacts: Array<{ conversation_id: string }> }).contacts.map((contact) => contact.conversation_id).sort()).toEqual([...due].sort());
		}
	});

	it('claims as before when the rule sends as one Page: a rule with its Page, a rule for every Page of an owner with one connected Page (or none), a switched-off rule', async () => {
		const world = await createWorld();
		await connect(world.pageId, world.userId);
		const withPage = await world.rule({ name: 'its Page' });
		const everyPage = await world.rule({ name: 'every Page', pageId: null, include: ['Hot'] });
		const due = await world.contacts(2);
		const hot = await world.contacts(2, { tags: ['Hot'] });

		const a = await claimExplained(withPage, 'exec-one-page-a');
		expect(a.error).toBeNull();
		expect((a.data as { summary: { claimed: number } }).summary.claimed).toBe(2);
		const b = await claimExplained(everyPage, 'exec-one-page-b');
		expect(b.error).toBeNull();
		expect((b.data as { summary: { claimed: number } }).summary.claimed).toBe(2);
		expect(await statesOf([...due, ...hot])).toBe(4);

		// An owner who connected no Page: its rule for every Page counts no Page (the contacts' Pages are not read).
		const unconnected = await createWorld();
		const rule = await unconnected.rule({ pageId: null });
		await unconnected.contacts(1);
		await unconnected.contacts(1, { pageId: uniquePageId() });
		const c = await claimExplained(rule, 'exec-unconnected');
		expect(c.error).toBeNull();
		expect((c.data as { summary: { claimed: number } }).summary.claimed).toBe(2);

		// A switched-off rule for every Page of an owner with two Pages claims nothing anyway: its summary says so, no refusal.
		const two = await createWorld();
		await connect(two.pageId, two.userId);
		await connect(uniquePageId(), two.userId);
		const off = await two.rule({ pageId: null, enabled: false });
		const d = await claimExplained(off, 'exec-off');
		expect(d.error).toBeNull();
		expect((d.data as { summary: { rules: Array<{ status: string }> } }).summary.rules).toEqual([expect.objectContaining({ ruleId: off, status: 'rule_disabled' })]);
	});

	it('is one function (one signature for PostgREST), granted to the service role only', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ args: string; anon: boolean; authenticated: boolean; service: boolean }>(
				`select pg_get_function_identity_arguments(p.oid) as args,
				        has_function_privilege('anon', p.oid, 'execute') as anon,
				        has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
				        has_function_privilege('service_role', p.oid, 'execute') as service
				   from pg_proc p where p.proname = 'automation_claim_explained' and p.pronamespace = 'public'::regnamespace`,
			),
		);
		expect(rows).toEqual([
			{
				args: 'p_rule_id uuid, p_limit integer, p_execution_id text, p_lease_seconds integer, p_now timestamp with time zone, p_page_id text',
				anon: false,
				authenticated: false,
				service: true,
			},
		]);
	});
});
