// A CRM automation's stop_follow_up makes the contact's stop last (migration 20261201002050), as Take
// Lead's does since …2030. A person answering from the Page inbox stops the contact for every rule
// with last_human_message_at, a stop a rule with resume_after_takeover_hours lifts by itself; a
// contact then reaching a stage whose automation stops follow-ups must stay stopped after those
// hours. Before …2050 the action found that row, answered unchanged / already_stopped, wrote nothing,
// and the rule claimed the contact again 2 h after the person wrote. Real Postgres through
// PostgREST, fixed instants.
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from '../follow-up/fixtures';
import { claim, judgementOf } from '../follow-up/stage-helpers';
import { INBOX_APP_ID, connectPage, echo, recordEvents, senderOf } from '../messenger/fixtures';
import { move, runs } from './fixtures';

const service = serviceClient();
const hoursAfter = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);
const stopsOf = (conversationId: string) =>
	withDb(async (db) =>
		(
			await db.query<{ rule_id: string | null; reason: string; note: string | null; last_human_message_at: Date | null }>(
				'select rule_id, reason, note, last_human_message_at from public.ai_automation_stops where conversation_id = $1 order by rule_id nulls first',
				[conversationId],
			)
		).rows,
	);
const claimedAt = async (ruleId: string, executionId: string, hours: number) =>
	(await claim(service, ruleId, executionId, 100, hoursAfter(hours))).map((contact) => contact.conversation_id);

/**
 * An owner's follow-up rule resuming 2 h after a takeover, a contact due under it, and a pipeline
 * (New Lead, Won, Lost) whose automations entering Won and Lost run the given actions.
 */
async function world(actions: { won: (ruleId: string) => Array<Record<string, unknown>>; lost?: (ruleId: string) => Array<Record<string, unknown>> }) {
	const owner = await createWorld();
	await connectPage(owner.pageId, owner.userId);
	const ruleId = await owner.rule({ minHours: 0 });
	await withDb((db) => db.query('update public.ai_automation_rules set resume_after_takeover_hours = 2 where id = $1', [ruleId]));
	const conversationId = await owner.contact({ lastMessageHoursAgo: 5 });
	const ids = await withDb(async (db) => {
		const pipelineId = (await db.query<{ id: string }>(`insert into public.pipelines (user_id, name) values ($1, 'Sales') returning id`, [owner.userId])).rows[0].id;
		const stages = Object.fromEntries(
			(
				await db.query<{ id: string; name: string }>(
					`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_statuses)
					 values ($1, $2, 'New Lead', 1, '{}'), ($1, $2, 'Won', 2, '{WON}'), ($1, $2, 'Lost', 3, '{LOST}') returning id, name`,
					[owner.userId, pipelineId],
				)
			).rows.map((row) => [row.name, row.id]),
		);
		const automation = async (name: string, stageId: string, list: Array<Record<string, unknown>>) =>
			(
				await db.query<{ id: string }>(
					`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions)
					 values ($1, $2, $3, 'STAGE_CHANGED', $4, $5) returning id`,
					[owner.userId, pipelineId, name, JSON.stringify({ to_stage_id: stageId }), JSON.stringify(list)],
				)
			).rows[0].id;
		return {
			stages,
			won: await automation('won', stages.Won, actions.won(ruleId)),
			lost: actions.lost ? await automation('lost', stages.Lost, actions.lost(ruleId)) : null,
		};
	});
	return { owner, ruleId, conversationId, ...ids };
}

/** A person answers from the Page inbox half an hour before NOW: a liftable stop for every rule. */
async function inboxTakeover(pageId: string, conversationId: string) {
	const [recorded] = await recordEvents(service, [echo(pageId, await senderOf(conversationId), -0.5, INBOX_APP_ID, 'Anna here, I will take it from here')]);
	expect(recorded.stop_reason).toBe('human_takeover');
	expect(await stopsOf(conversationId)).toEqual([expect.objectContaining({ rule_id: null, reason: 'human_takeover', last_human_message_at: hoursAfter(-0.5) })]);
}

describe('pipeline_fire: stop_follow_up over a Page-inbox takeover', () => {
	it('a stop naming no rule makes the inbox stop last (applied), so the rule resuming 2 h after the takeover never claims the contact', async () => {
		const { owner, ruleId, conversationId, stages, won, lost } = await world({ won: () => [{ type: 'stop_follow_up' }], lost: () => [{ type: 'stop_follow_up' }] });
		await inboxTakeover(owner.pageId, conversationId);
		// Before the move the inbox's stop is lifted for this rule 2 h after the person wrote.
		expect(await judgementOf(service, ruleId, conversationId, hoursAfter(2))).toMatchObject({ due: true });

		const [moved] = await move([{ conversation_id: conversationId, stage_id: stages.Won }], NOW.toISOString());
		expect(moved).toMatchObject({ outcome: 'assigned', automations_fired: 1 });
		// Before …2050: status unchanged, reason already_stopped, and the stop left liftable (11:30, the inbox's note).
		const [run] = await runs(owner.userId);
		expect(run).toMatchObject({ automation_id: won, status: 'completed', results: [{ index: 0, type: 'stop_follow_up', rule_id: null, status: 'applied' }] });
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: null, reason: 'human_takeover', note: `pipeline automation "won" (${won})`, last_human_message_at: null }]);
		expect(await judgementOf(service, ruleId, conversationId, hoursAfter(2))).toMatchObject({ due: false, stop_reason: 'human_takeover', due_at: null });
		expect(await claimedAt(ruleId, 'exec-stop-lasts-2h', 2)).not.toContain(conversationId);

		// A person writing from the Page inbox again moves nothing: the stop still lasts.
		await recordEvents(service, [echo(owner.pageId, await senderOf(conversationId), 0.5, INBOX_APP_ID, 'Anna again')], { now: hoursAfter(0.5) });
		expect(await stopsOf(conversationId)).toEqual([expect.objectContaining({ note: `pipeline automation "won" (${won})`, last_human_message_at: null })]);
		expect(await claimedAt(ruleId, 'exec-stop-lasts-5h', 5)).not.toContain(conversationId);

		// A stop that lasts already is left as it is: unchanged, already_stopped.
		await move([{ conversation_id: conversationId, stage_id: stages.Lost }], hoursAfter(1).toISOString());
		const lostRun = (await runs(owner.userId)).find((row) => row.automation_id === lost);
		expect(lostRun?.results).toEqual([{ index: 0, type: 'stop_follow_up', rule_id: null, status: 'unchanged', reason: 'already_stopped' }]);
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: null, reason: 'human_takeover', note: `pipeline automation "won" (${won})`, last_human_message_at: null }]);
	});

	it('in a level, a stop then a stop: the first makes the stop last, the second finds it stopped; a resume of every rule after a stop still lifts it', async () => {
		const twice = await world({ won: () => [{ type: 'stop_follow_up' }, { type: 'stop_follow_up' }] });
		await inboxTakeover(twice.owner.pageId, twice.conversationId);
		await move([{ conversation_id: twice.conversationId, stage_id: twice.stages.Won }], NOW.toISOString());
		expect((await runs(twice.owner.userId))[0].results).toEqual([
			{ index: 0, type: 'stop_follow_up', rule_id: null, status: 'applied' },
			{ index: 1, type: 'stop_follow_up', rule_id: null, status: 'unchanged', reason: 'already_stopped' },
		]);
		expect(await stopsOf(twice.conversationId)).toEqual([expect.objectContaining({ rule_id: null, note: `pipeline automation "won" (${twice.won})`, last_human_message_at: null })]);

		const lifted = await world({ won: () => [{ type: 'stop_follow_up' }, { type: 'resume_follow_up' }] });
		await inboxTakeover(lifted.owner.pageId, lifted.conversationId);
		await move([{ conversation_id: lifted.conversationId, stage_id: lifted.stages.Won }], NOW.toISOString());
		expect((await runs(lifted.owner.userId))[0].results).toEqual([
			{ index: 0, type: 'stop_follow_up', rule_id: null, status: 'applied' },
			{ index: 1, type: 'resume_follow_up', rule_id: null, status: 'applied' },
		]);
		expect(await stopsOf(lifted.conversationId)).toEqual([]);
	});

	it("a stop naming a rule whose own stop is a liftable takeover makes that one last too", async () => {
		const { owner, ruleId, conversationId, stages, won } = await world({ won: (rule) => [{ type: 'stop_follow_up', rule_id: rule }] });
		// A takeover stop for this rule only (the table allows it; the inbox writes the every-rule one).
		await withDb((db) =>
			db.query(
				`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, last_human_message_at) values ($1, $2, $3, 'human_takeover', 'a person took over', $4)`,
				[owner.userId, conversationId, ruleId, hoursAfter(-0.5)],
			),
		);
		expect(await judgementOf(service, ruleId, conversationId, hoursAfter(2))).toMatchObject({ due: true });

		await move([{ conversation_id: conversationId, stage_id: stages.Won }], NOW.toISOString());
		expect((await runs(owner.userId))[0].results).toEqual([{ index: 0, type: 'stop_follow_up', rule_id: ruleId, status: 'applied' }]);
		expect(await stopsOf(conversationId)).toEqual([{ rule_id: ruleId, reason: 'human_takeover', note: `pipeline automation "won" (${won})`, last_human_message_at: null }]);
		expect(await claimedAt(ruleId, 'exec-rule-stop-lasts', 2)).not.toContain(conversationId);
	});
});
