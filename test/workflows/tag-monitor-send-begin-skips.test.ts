// workflows/tag-monitor-send.json, "Trigger Now", when the rule no longer allows a claimed contact by
// the time its send begins (docs/follow-up.md, What the begin checks again), changed while Gemini is
// still answering: one of the two generated contacts given the tag the rule now excludes, or the rule
// switched off. Facebook Send skips such a contact (excluded_tag, rule_disabled) without calling
// Facebook, sends the rest, and the run's answer counts it in skippedByReason by that word. The node
// for every reason: test/nodes/FacebookSend/begin-skip-reasons.test.ts.
import { startSimulators, type RunningSimulators } from '../../simulators';
import { withDb } from '../helpers/stack';
import { graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.gemini.control.reset();
});

test('a contact given an excluded tag between Generate and Send: skipped excluded_tag, counted in skippedByReason, the other sent', async () => {
	const seed = await dueContacts(2, 10, 'begin-skips');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	// Gemini holds its answers until released: the run is then between the claim and the send.
	await sims.gemini.control.addFault({ effect: { kind: 'hold' } });

	const run = triggerNow(credentials, { ruleId: seed.ruleId });
	await sims.gemini.control.waitForRequests(2, { timeoutMs: 60_000 });
	await withDb(async (db) => {
		const tag = await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Do not contact') returning id`, [seed.owner.userId]);
		await db.query('update public.ai_automation_rules set exclude_tag_ids = array[$2::uuid] where id = $1', [seed.ruleId, tag.rows[0].id]);
		await db.query(
			`insert into public.conversation_tags (user_id, conversation_id, tag_id)
			 select user_id, id, $3 from public.messenger_conversations where user_id = $1 and sender_id = $2`,
			[seed.owner.userId, seed.psids[0], tag.rows[0].id],
		);
	});
	await sims.gemini.control.clearFaults();
	await sims.gemini.control.release();
	const { result, summary } = await run;

	expect(result.response?.statusCode).toBe(200);
	expect(summary).toMatchObject({ claimed: 2, sent: 1, skipped: 1, failed: 0, skippedByReason: { excluded_tag: 1 } });
	expect(Object.keys(summary.skippedByReason)).toEqual(['excluded_tag']);
	// Facebook was asked for the other contact only.
	expect((await graphSends(sims)).map((call) => call.recipient)).toEqual([seed.psids[1]]);
});

test('the rule switched off between Generate and Send: both skipped rule_disabled, counted in skippedByReason, Facebook not called', async () => {
	const seed = await dueContacts(2, 10, 'begin-skips-off');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	await sims.gemini.control.addFault({ effect: { kind: 'hold' } });

	const run = triggerNow(credentials, { ruleId: seed.ruleId });
	await sims.gemini.control.waitForRequests(2, { timeoutMs: 60_000 });
	await withDb((db) => db.query('update public.ai_automation_rules set enabled = false where id = $1', [seed.ruleId]));
	await sims.gemini.control.clearFaults();
	await sims.gemini.control.release();
	const { result, summary } = await run;

	expect(result.response?.statusCode).toBe(200);
	expect(summary).toMatchObject({ claimed: 2, sent: 0, skipped: 2, failed: 0, skippedByReason: { rule_disabled: 2 } });
	expect(Object.keys(summary.skippedByReason)).toEqual(['rule_disabled']);
	expect(await graphSends(sims)).toEqual([]);
});
