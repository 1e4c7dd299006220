// workflows/tag-monitor-send.json, "Trigger Now", when Facebook refuses a follow-up for the 24 h
// window (Graph 10 / 2018278) while the database's window still looks open: the contact is
// skipped outside_window once, and the next runs neither claim it nor call Gemini or Graph for it,
// until the person writes again (migration 20261201001660_follow_up_window_refusal_not_due.sql).
// Before, every run claimed it again, paid a generation and called Graph again.
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

const explainOf = (ruleId: string) =>
	withDb(async (db) => (await db.query<{ reason: string | null; current_stage: string | null }>(`select reason, current_stage from public.automation_explain($1)`, [ruleId])).rows);

test('after Facebook refuses a follow-up for the window, the next Trigger Now claims nothing and calls neither Gemini nor Graph; a new message makes it due', async () => {
	const seed = await dueContacts(1, 10, 'window-refused');
	const credentials = pipelineCredentials(sims, seed.owner.pageId);
	await sims.graph.control.addFault({ match: { recipient: seed.psids[0] }, effect: { kind: 'graphError', code: 10, subcode: 2018278 } });

	const first = await triggerNow(credentials, { ruleId: seed.ruleId });
	expect(first.summary).toMatchObject({ claimed: 1, sent: 0, skipped: 1, skippedByReason: { outside_window: 1 } });
	expect(await sims.gemini.control.requests()).toHaveLength(1);
	expect(await graphSends(sims)).toHaveLength(1);

	// The next runs (the schedule's, five minutes apart): nothing claimed, nothing generated or sent.
	for (let run = 0; run < 2; run++) {
		await sims.gemini.control.clearRequests();
		await sims.graph.control.clearRequests();
		const again = await triggerNow(credentials, { ruleId: seed.ruleId });
		expect(again.result.response?.statusCode).toBe(200);
		expect(again.summary).toMatchObject({ claimed: 0, claimReason: 'no_more_due', notClaimedByReason: { outside_window: 1 }, sent: 0, skipped: 0 });
		expect(again.result.executedNodes).not.toContain('Generate Follow-Up');
		expect(await sims.gemini.control.requests()).toEqual([]);
		expect(await graphSends(sims)).toEqual([]);
	}
	// Explain (and the monitor) say why: outside_window, though the database's window is open.
	expect(await explainOf(seed.ruleId)).toEqual([{ reason: 'outside_window', current_stage: 'skipped' }]);

	// The person writes again (an inbound message, as the webhook records it): a new window, claimed again.
	await withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text)
			 select user_id, id, 'inbound', 'Hello again' from public.messenger_conversations where user_id = $1`,
			[seed.owner.userId],
		),
	);
	await sims.graph.control.reset();
	await sims.gemini.control.clearRequests();
	const afterMessage = await triggerNow(credentials, { ruleId: seed.ruleId });
	expect(afterMessage.summary).toMatchObject({ claimed: 1, sent: 1, skipped: 0 });
	expect(await graphSends(sims)).toHaveLength(1);
});
