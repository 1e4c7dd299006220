// What the begin checks again (docs/follow-up.md), at the node: a claimed contact the rule no longer
// allows when its send begins leaves on Facebook Send's Skipped output with automation_begin_send's
// reason (rule_disabled, not_tagged, not_on_rule_page, excluded_tag, page_of_another_owner,
// max_follow_ups), Facebook is not called for it, and the rest of the batch is sent. The database
// side: test/db/follow-up/begin-send-rule-allows.test.ts, begin-send-rule-page.test.ts.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { createTestUser, serviceClient, testStack, uniquePageId, withDb } from '../../helpers/stack';
import { PAGE_ID, readyContacts, statesOf, type ReadyBatch } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

const sql = (text: string, values: unknown[]) => withDb((db) => db.query(text, values));

/** Each skipped item's contact and reason, and what Graph was asked. */
async function sendAndRead(batch: ReadyBatch) {
	const run = await runSend(batch.items, FAST, credentials());
	const skipped = run.skipped.map((item) => [item.conversation_id, (item.send as { outcome: string; reason: string }).outcome, (item.send as { reason: string }).reason]);
	const calls = (await sims.graph.control.requests()).map((call) => call.recipient);
	return { run, skipped, calls };
}

test('tags, Page and excluded tag changed after the claim: not_tagged, not_on_rule_page, excluded_tag on Skipped; the untouched contact sent', async () => {
	const batch = await readyContacts({ count: 4 });
	const [untagged, moved, excluded, untouched] = batch.items.map((item) => String(item.conversation_id));
	const psidOf = (conversationId: string) => String(batch.items.find((item) => item.conversation_id === conversationId)!.recipient_id);
	// The rule's include tag taken off one; another conversation moved to another Page of the owner's;
	// a third given the tag the rule now excludes.
	await sql('delete from public.conversation_tags where conversation_id = $1', [untagged]);
	await sql('update public.messenger_conversations set page_id = $2 where id = $1', [moved, uniquePageId()]);
	const dnc = await sql(`insert into public.tags (user_id, name) values ($1, 'Do Not Contact') returning id`, [batch.owner]);
	const dncId = (dnc.rows[0] as { id: string }).id;
	await sql('update public.ai_automation_rules set exclude_tag_ids = array[$2::uuid] where id = $1', [batch.ruleId, dncId]);
	await sql('insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)', [excluded, dncId, batch.owner]);

	const { run, skipped, calls } = await sendAndRead(batch);

	expect(skipped).toEqual(expect.arrayContaining([
		[untagged, 'skipped', 'not_tagged'],
		[moved, 'skipped', 'not_on_rule_page'],
		[excluded, 'skipped', 'excluded_tag'],
	]));
	expect(skipped).toHaveLength(3);
	expect(run.sent.map((item) => item.conversation_id)).toEqual([untouched]);
	expect(run.failed).toEqual([]);
	expect(calls).toEqual([psidOf(untouched)]);
});

test('the rule switched off after the claim: rule_disabled on Skipped, Facebook not called', async () => {
	const batch = await readyContacts({ count: 2 });
	await sql('update public.ai_automation_rules set enabled = false where id = $1', [batch.ruleId]);

	const { run, skipped, calls } = await sendAndRead(batch);

	expect(skipped).toEqual(expect.arrayContaining(batch.conversationIds.map((id) => [id, 'skipped', 'rule_disabled'])));
	expect(skipped).toHaveLength(2);
	expect(run.sent).toEqual([]);
	expect(calls).toEqual([]);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.skip_reason])).toEqual([
		['skipped', 'rule_disabled'],
		['skipped', 'rule_disabled'],
	]);
});

test("another owner connects the contact's Page after the claim: page_of_another_owner on Skipped, Facebook not called", async () => {
	const batch = await readyContacts({ count: 1 });
	// A rule of every Page; the contact's conversation on a Page of its own, which another owner connects.
	const page = uniquePageId();
	await sql('update public.ai_automation_rules set page_id = null where id = $1', [batch.ruleId]);
	await sql('update public.messenger_conversations set page_id = $2 where id = $1', [batch.conversationIds[0], page]);
	await sql('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [page, await createTestUser('other-owner')]);

	const { run, skipped, calls } = await sendAndRead(batch);

	expect(skipped).toEqual([[batch.conversationIds[0], 'skipped', 'page_of_another_owner']]);
	expect(run.sent).toEqual([]);
	expect(calls).toEqual([]);
});

test('follow-ups per contact lowered to what was sent after the next was claimed: max_follow_ups on Skipped, Facebook not called', async () => {
	const batch = await readyContacts({ count: 1, maxFollowUps: 3 });
	const first = await runSend(batch.items, FAST, credentials());
	expect(first.sent).toHaveLength(1);
	await sims.graph.control.reset();
	// Follow-up 2 claimed and generated (the rule waits 0 h between follow-ups), then the maximum lowered to 1.
	const executionId = `exec-${randomUUID()}`;
	const { data: claimed, error } = await serviceClient().rpc('automation_claim', { p_rule_id: batch.ruleId, p_limit: 10, p_execution_id: executionId, p_lease_seconds: 600 });
	expect(error).toBeNull();
	expect(claimed).toEqual([expect.objectContaining({ follow_up_number: 2 })]);
	const stateIds = (claimed as Array<{ state_id: string }>).map((row) => row.state_id);
	expect((await serviceClient().rpc('automation_mark_generating', { p_execution_id: executionId, p_state_ids: stateIds })).error).toBeNull();
	expect((await serviceClient().rpc('automation_record_generation', {
		p_execution_id: executionId,
		p_items: stateIds.map((id) => ({ state_id: id, message: 'Still interested?', generation_ms: 5, model: 'gemini-3-flash' })),
	})).error).toBeNull();
	await sql('update public.ai_automation_rules set max_follow_ups = 1 where id = $1', [batch.ruleId]);

	const second = await sendAndRead({
		...batch,
		executionId,
		items: (claimed as Array<Record<string, unknown>>).map((row) => ({ ...row, followUp: { message: 'Still interested?', model: 'gemini-3-flash' } })),
	});

	expect(second.skipped).toEqual([[batch.conversationIds[0], 'skipped', 'max_follow_ups']]);
	expect(second.run.sent).toEqual([]);
	expect(second.calls).toEqual([]);
	expect((await statesOf(batch.stateIds))[0]).toMatchObject({ current_stage: 'skipped', skip_reason: 'max_follow_ups', follow_up_count: 1 });
});
