// A signed-in user's rows on a Facebook Page another owner has connected (migration
// 20261201001600_page_of_another_owner_refused.sql), over PostgREST with real JWTs: owner A may not
// insert, or update into, a conversation, a follow-up rule or a pipeline page setting on owner B's
// connected Page (messenger_pages: one owner per Page), else B's Page's follow-up claim would hand
// A's contacts and A's instructions to B's send run. A's own connected Page, a Page nobody has
// connected yet and a rule for every Page (page_id null) stay accepted; B is unaffected.
import type { SupabaseClient } from '@supabase/supabase-js';
import { createTestUser, uniquePageId, userClient, withDb } from '../helpers/stack';

interface Owner {
	userId: string;
	client: SupabaseClient;
	/** The owner's connected Page. */
	pageId: string;
	tagId: string;
	pipelineId: string;
}

const REFUSED = { code: '42501', message: expect.stringMatching(/new row violates row-level security policy/) };

let a: Owner;
let b: Owner;
/** A Page no owner has connected. */
let freePage: string;

async function owner(label: string): Promise<Owner> {
	const userId = await createTestUser(label);
	const pageId = uniquePageId();
	await withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, userId]));
	const client = userClient(userId);
	const tag = await client.from('tags').insert({ user_id: userId, name: 'AI Lead' }).select('id').single();
	expect(tag.error).toBeNull();
	const pipeline = await client.from('pipelines').insert({ user_id: userId, name: 'Sales' }).select('id').single();
	expect(pipeline.error).toBeNull();
	return { userId, client, pageId, tagId: tag.data!.id, pipelineId: pipeline.data!.id };
}

const conversation = (who: Owner, pageId: string) => ({ user_id: who.userId, page_id: pageId, sender_id: uniquePageId() });

const rule = (who: Owner, pageId: string | null) => ({
	user_id: who.userId,
	name: 'Follow up leads',
	enabled: true,
	page_id: pageId,
	include_tag_ids: [who.tagId],
	tag_match: 'any',
	exclude_tag_ids: [],
	daily_limit: 100,
	max_follow_ups: 3,
	min_hours_between_follow_ups: 0,
	stop_on_reply: true,
	active_hours_start: '00:00',
	active_hours_end: '23:59',
	time_zone: 'UTC',
	active_days: [1, 2, 3, 4, 5, 6, 7],
	instructions: 'Ask whether they are still interested.',
	context_message_count: 5,
});

const setting = (who: Owner, pageId: string) => ({ user_id: who.userId, page_id: pageId, pipeline_id: who.pipelineId });

beforeAll(async () => {
	a = await owner('page-owner-a');
	b = await owner('page-owner-b');
	freePage = uniquePageId();
});

describe("rows on another owner's connected Page", () => {
	it("A's conversation on B's Page is refused, on A's own Page or a Page not connected accepted", async () => {
		const refused = await a.client.from('messenger_conversations').insert(conversation(a, b.pageId)).select('id');
		expect(refused.error).toMatchObject(REFUSED);
		for (const pageId of [a.pageId, freePage]) {
			const accepted = await a.client.from('messenger_conversations').insert(conversation(a, pageId)).select('page_id').single();
			expect(accepted.error).toBeNull();
			expect(accepted.data).toEqual({ page_id: pageId });
		}
		const seen = await withDb((db) => db.query('select count(*)::int as n from public.messenger_conversations where user_id = $1 and page_id = $2', [a.userId, b.pageId]));
		expect(seen.rows).toEqual([{ n: 0 }]);
	});

	it("A's rule on B's Page is refused; on A's Page, a Page not connected or every Page accepted", async () => {
		const refused = await a.client.from('ai_automation_rules').insert(rule(a, b.pageId)).select('id');
		expect(refused.error).toMatchObject(REFUSED);
		for (const pageId of [a.pageId, freePage, null]) {
			const accepted = await a.client.from('ai_automation_rules').insert(rule(a, pageId)).select('page_id').single();
			expect(accepted.error).toBeNull();
			expect(accepted.data).toEqual({ page_id: pageId });
		}
	});

	it("A's pipeline page setting on B's Page is refused, on A's Page or a Page not connected accepted", async () => {
		const refused = await a.client.from('pipeline_page_settings').insert(setting(a, b.pageId)).select('page_id');
		expect(refused.error).toMatchObject(REFUSED);
		for (const pageId of [a.pageId, freePage]) {
			const accepted = await a.client.from('pipeline_page_settings').insert(setting(a, pageId)).select('page_id').single();
			expect(accepted.error).toBeNull();
			expect(accepted.data).toEqual({ page_id: pageId });
		}
	});

	it("A cannot move a row of A's onto B's Page, and may still move it onto a Page not connected or another Page of A's", async () => {
		const conv = await a.client.from('messenger_conversations').insert(conversation(a, freePage)).select('id').single();
		const ruleRow = await a.client.from('ai_automation_rules').insert(rule(a, null)).select('id').single();
		const pipeline = await a.client.from('pipelines').insert({ user_id: a.userId, name: 'Moves' }).select('id').single();
		const settingPage = uniquePageId();
		const set = await a.client.from('pipeline_page_settings').insert({ user_id: a.userId, page_id: settingPage, pipeline_id: pipeline.data!.id }).select('page_id').single();
		expect([conv.error, ruleRow.error, pipeline.error, set.error]).toEqual([null, null, null, null]);

		const moves = [
			(pageId: string) => a.client.from('messenger_conversations').update({ page_id: pageId }).eq('id', conv.data!.id).select('page_id'),
			(pageId: string) => a.client.from('ai_automation_rules').update({ page_id: pageId }).eq('id', ruleRow.data!.id).select('page_id'),
			(pageId: string) => a.client.from('pipeline_page_settings').update({ page_id: pageId }).eq('user_id', a.userId).eq('pipeline_id', pipeline.data!.id).select('page_id'),
		];
		// A second Page of A's, connected now.
		const aSecondPage = uniquePageId();
		await withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [aSecondPage, a.userId]));
		for (const move of moves) {
			expect((await move(b.pageId)).error).toMatchObject(REFUSED);
			const unconnected = uniquePageId();
			expect(await move(unconnected)).toMatchObject({ error: null, data: [{ page_id: unconnected }] });
			expect(await move(aSecondPage)).toMatchObject({ error: null, data: [{ page_id: aSecondPage }] });
		}
	});

	it("B writes and changes rows on B's own Page as before", async () => {
		const conv = await b.client.from('messenger_conversations').insert(conversation(b, b.pageId)).select('id, page_id').single();
		expect(conv.error).toBeNull();
		const ruleRow = await b.client.from('ai_automation_rules').insert(rule(b, b.pageId)).select('id, page_id').single();
		expect(ruleRow.error).toBeNull();
		const set = await b.client.from('pipeline_page_settings').insert(setting(b, b.pageId)).select('page_id').single();
		expect(set.error).toBeNull();
		const renamed = await b.client.from('ai_automation_rules').update({ name: 'Renamed' }).eq('id', ruleRow.data!.id).select('page_id');
		expect(renamed).toMatchObject({ error: null, data: [{ page_id: b.pageId }] });
		const closed = await b.client.from('messenger_conversations').update({ is_active: false }).eq('id', conv.data!.id).select('page_id');
		expect(closed).toMatchObject({ error: null, data: [{ page_id: b.pageId }] });
		const off = await b.client.from('pipeline_page_settings').update({ enabled: false }).eq('user_id', b.userId).eq('page_id', b.pageId).select('enabled');
		expect(off).toMatchObject({ error: null, data: [{ enabled: false }] });
	});
});
