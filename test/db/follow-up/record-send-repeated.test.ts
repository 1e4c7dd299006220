// automation_record_send called again with the same report by the same execution (Facebook Send
// repeats the call when its answer was lost, though the database had committed it): the answer is
// the first call's and nothing more is written; any other report is still lease_lost.
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, recordSend } from './stage-helpers';

const service = serviceClient({ now: NOW });
// Message ids unique to this run: the clock projects run this file on one database, where a
// message id is unique (a second run's outbound message would be dropped as already recorded).
const RUN = randomUUID().slice(0, 8);
const mid = (name: string) => `${name}_${RUN}`;
const plus = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

/** `count` contacts of a new rule, each moved to sending by `executionId`. */
async function sending(count: number, executionId: string, maxFollowUps = 3) {
	const world = await createWorld();
	const ruleId = await world.rule({ maxFollowUps });
	await world.contacts(count);
	const claimed = await claim(service, ruleId, executionId);
	const ids = claimed.map((contact) => contact.state_id).sort();
	await generate(service, executionId, ids);
	const begun = await beginSend(service, executionId, ids);
	expect(begun.map((row) => row.outcome)).toEqual(ids.map(() => 'send'));
	return { ruleId, ids, conversationIds: claimed.map((contact) => contact.conversation_id) };
}

/** Everything the record writes: the contacts, their stage history, the guard rows, the conversation's messages, the stops. */
const written = (ruleId: string, ids: string[], conversationIds: string[]) =>
	withDb(async (db) => ({
		states: (await db.query('select * from public.ai_automation_contact_states where id = any ($1::uuid[]) order by id', [ids])).rows,
		events: (await db.query('select count(*)::int as n from public.ai_automation_stage_events where state_id = any ($1::uuid[])', [ids])).rows[0].n,
		guards: (await db.query('select * from public.ai_automation_executions where rule_id = $1 order by id', [ruleId])).rows,
		outbound: (await db.query(`select count(*)::int as n from public.messenger_messages where direction = 'outbound' and conversation_id = any ($1::uuid[])`, [conversationIds])).rows[0].n,
		stops: (await db.query('select count(*)::int as n from public.ai_automation_stops where conversation_id = any ($1::uuid[])', [conversationIds])).rows[0].n,
	}));

it('the same batch recorded twice by the same execution: the second answer is the first, and nothing more is written', async () => {
	const { ruleId, ids, conversationIds } = await sending(5, 'exec-lost-answer');
	const [sentId, failedId, retryId, skippedId, uncertainId] = ids;
	const report = [
		{ state_id: sentId, outcome: 'sent', facebook_message_id: mid('m_once') },
		{ state_id: failedId, outcome: 'failed', error_code: '100/2018001', error_message: 'No matching user found' },
		{ state_id: retryId, outcome: 'failed', error_code: 'throttled', error_message: 'Graph 613', retry_after_seconds: 900 },
		{ state_id: skippedId, outcome: 'skipped', reason: 'unavailable', error_code: '551', error_message: 'This person isn\'t available right now.' },
		{ state_id: uncertainId, outcome: 'uncertain', error_message: 'timeout after 10000 ms' },
	];
	const first = await recordSend(service, 'exec-lost-answer', report, plus(1));
	expect(first).toEqual(
		[
			{ state_id: sentId, outcome: 'sent' },
			{ state_id: failedId, outcome: 'failed' },
			{ state_id: retryId, outcome: 'failed' },
			{ state_id: skippedId, outcome: 'skipped' },
			{ state_id: uncertainId, outcome: 'uncertain' },
		].sort((a, b) => a.state_id.localeCompare(b.state_id)),
	);
	const before = await written(ruleId, ids, conversationIds);
	expect(before.outbound).toBe(1);

	// The answer was lost; the node calls again a moment later, the same report.
	const again = await recordSend(service, 'exec-lost-answer', report, plus(1.5));

	expect(again).toEqual(first);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});

it('a contact completed by the first call is answered completed again; its count is not raised twice', async () => {
	const { ruleId, ids, conversationIds } = await sending(1, 'exec-complete', 1);
	const report = [{ state_id: ids[0], outcome: 'sent', facebook_message_id: mid('m_last') }];
	expect(await recordSend(service, 'exec-complete', report, plus(1))).toEqual([{ state_id: ids[0], outcome: 'completed' }]);
	const before = await written(ruleId, ids, conversationIds);
	expect(before.states[0]).toMatchObject({ current_stage: 'completed', follow_up_count: 1 });

	expect(await recordSend(service, 'exec-complete', report, plus(2))).toEqual([{ state_id: ids[0], outcome: 'completed' }]);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});

it('a different report, or the same one from another execution, is still lease_lost and writes nothing', async () => {
	const { ruleId, ids, conversationIds } = await sending(3, 'exec-first');
	const [a, b, c] = ids;
	await recordSend(
		service,
		'exec-first',
		[
			{ state_id: a, outcome: 'sent', facebook_message_id: mid('m_a') },
			{ state_id: b, outcome: 'failed', error_code: 'throttled', retry_after_seconds: 900 },
			{ state_id: c, outcome: 'skipped', reason: 'outside_window', error_code: '10' },
		],
		plus(1),
	);
	const before = await written(ruleId, ids, conversationIds);
	const lost = (rows: Array<{ state_id: string; outcome: string }>) => rows.map((row) => row.outcome);

	// Another execution sending the very same report.
	expect(
		lost(
			await recordSend(
				service,
				'exec-other',
				[
					{ state_id: a, outcome: 'sent', facebook_message_id: mid('m_a') },
					{ state_id: b, outcome: 'failed', error_code: 'throttled', retry_after_seconds: 900 },
					{ state_id: c, outcome: 'skipped', reason: 'outside_window', error_code: '10' },
				],
				plus(2),
			),
		),
	).toEqual(['lease_lost', 'lease_lost', 'lease_lost']);
	// The same execution, a different outcome, message id, error or reason.
	const different = await recordSend(
		service,
		'exec-first',
		[
			{ state_id: a, outcome: 'sent', facebook_message_id: mid('m_other') },
			{ state_id: b, outcome: 'failed', error_code: 'throttled', retry_after_seconds: 60 },
			{ state_id: c, outcome: 'sent', facebook_message_id: mid('m_c') },
		],
		plus(2),
	);
	expect(lost(different)).toEqual(['lease_lost', 'lease_lost', 'lease_lost']);
	expect(
		lost(await recordSend(service, 'exec-first', [{ state_id: a, outcome: 'uncertain' }, { state_id: b, outcome: 'failed', error_code: '2' }, { state_id: c, outcome: 'skipped', reason: 'unavailable', error_code: '551' }], plus(2))),
	).toEqual(['lease_lost', 'lease_lost', 'lease_lost']);
	expect(await written(ruleId, ids, conversationIds)).toEqual(before);
});

it('contacts the reaper turned send_uncertain are not taken for this execution\'s late uncertain or failed report: lease_lost', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ maxFollowUps: 3, minHours: 0 });
	await world.contacts(2);
	const claimed = await claim(service, ruleId, 'exec-slow');
	const [reaped, retaken] = claimed.map((contact) => contact.state_id).sort();
	await generate(service, 'exec-slow', [reaped, retaken]);
	await beginSend(service, 'exec-slow', [reaped, retaken], NOW, 30);
	// The lease ran out; the next claim reaps both: failed send_uncertain, never resent.
	await claim(service, ruleId, 'exec-next', 10, plus(5));
	const conversationIds = claimed.map((contact) => contact.conversation_id);
	const before = await written(ruleId, [reaped, retaken], conversationIds);
	expect(before.states.map((state) => [state.current_stage, state.error_code])).toEqual([
		['failed', 'send_uncertain'],
		['failed', 'send_uncertain'],
	]);

	const late = await recordSend(service, 'exec-slow', [{ state_id: reaped, outcome: 'uncertain', error_message: 'timeout' }, { state_id: retaken, outcome: 'failed', error_code: 'throttled', retry_after_seconds: 900 }], plus(6));

	expect(late).toEqual([
		{ state_id: reaped, outcome: 'lease_lost' },
		{ state_id: retaken, outcome: 'lease_lost' },
	]);
	expect(await written(ruleId, [reaped, retaken], conversationIds)).toEqual(before);
});
