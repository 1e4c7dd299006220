// automation_requeue (migration …1500): a rule's failed contacts due again on the owner's word. A
// send Facebook refused for good is requeued with its guard released, so the same follow-up goes
// out; a send that may have arrived (send_uncertain) stays unless the owner says it was checked; the
// contacts asked for that had not failed, or were never claimed, say so; bad arguments are refused
// naming them.
import type { RequeueResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, judgementOf, recordSend, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plus = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const requeue = (ruleId: string, conversationIds: string[] | null, uncertain: string, now: Date) =>
	rpc<RequeueResult[]>(service, 'automation_requeue', { p_rule_id: ruleId, p_conversation_ids: conversationIds, p_uncertain: uncertain, p_now: now.toISOString() });

const guards = (conversationId: string) =>
	withDb(async (db) => (await db.query<{ follow_up_number: number; status: string }>(
		'select follow_up_number, status from public.ai_automation_executions where conversation_id = $1 order by attempted_at, status',
		[conversationId],
	)).rows);

/** Claimed, generated and begun at NOW; returns the state id. */
async function begun(ruleId: string, executionId: string, leaseSeconds = 120): Promise<string> {
	const [claimed] = await claim(service, ruleId, executionId, 1);
	await generate(service, executionId, [claimed.state_id]);
	expect((await beginSend(service, executionId, [claimed.state_id], NOW, leaseSeconds))[0].outcome).toBe('send');
	return claimed.state_id;
}

/** The next run at `now`: claim, generate, begin and record sent; the outcomes. */
async function sendAgain(ruleId: string, executionId: string, now: Date) {
	const claimed = await claim(service, ruleId, executionId, 10, now);
	if (claimed.length === 0) return { claimed };
	const ids = claimed.map((contact) => contact.state_id);
	await generate(service, executionId, ids, now);
	const begins = await beginSend(service, executionId, ids, now);
	return { claimed, begins };
}

describe('automation_requeue', () => {
	it('requeues a send Facebook refused for good: due now, its guard released, the same follow-up sent', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const stateId = await begun(ruleId, 'exec-refused');
		await recordSend(service, 'exec-refused', [{ state_id: stateId, outcome: 'failed', error_code: '10', error_message: 'Permission denied' }], plus(1));
		expect(await judgementOf(service, ruleId, conversationId, plus(2))).toMatchObject({ reason: 'failed', due_at: null });
		expect(await sendAgain(ruleId, 'exec-before', plus(2))).toEqual({ claimed: [] });

		// The owner fixed the Page's permission.
		expect(await requeue(ruleId, null, 'leave', plus(3))).toEqual([
			{ conversation_id: conversationId, state_id: stateId, outcome: 'requeued', stage: null, error_code: '10', released_guard: true },
		]);
		const again = await sendAgain(ruleId, 'exec-after', plus(4));
		expect(again.claimed.map((contact) => [contact.conversation_id, contact.follow_up_number])).toEqual([[conversationId, 1]]);
		expect(again.begins?.map((begin) => begin.outcome)).toEqual(['send']);
		expect(await guards(conversationId)).toEqual([
			{ follow_up_number: 1, status: 'released' },
			{ follow_up_number: 1, status: 'sending' },
		]);
	});

	it('leaves a send that may have arrived unless told it was checked; then releases its guard and sends it again', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const stateId = await begun(ruleId, 'exec-crash', 30);
		// The sender dies mid-send; the next claim reaps it into send_uncertain.
		expect(await claim(service, ruleId, 'exec-reaper', 10, plus(5))).toEqual([]);

		expect(await requeue(ruleId, null, 'leave', plus(6))).toEqual([
			{ conversation_id: conversationId, state_id: stateId, outcome: 'uncertain_left', stage: null, error_code: 'send_uncertain', released_guard: false },
		]);
		expect(await judgementOf(service, ruleId, conversationId, plus(7))).toMatchObject({ reason: 'failed' });
		expect(await guards(conversationId)).toEqual([{ follow_up_number: 1, status: 'uncertain' }]);

		expect(await requeue(ruleId, [conversationId], 'requeue', plus(8))).toEqual([
			{ conversation_id: conversationId, state_id: stateId, outcome: 'requeued', stage: null, error_code: 'send_uncertain', released_guard: true },
		]);
		const again = await sendAgain(ruleId, 'exec-checked', plus(9));
		expect(again.begins?.map((begin) => begin.outcome)).toEqual(['send']);
		// The release no longer counts toward the day's limit: one send in flight, not two.
		const summary = await rpc<{ summary: { rules: Array<{ usedToday: number }> } }>(service, 'automation_claim_explained', {
			p_rule_id: ruleId, p_limit: 1, p_execution_id: 'exec-count', p_now: plus(10).toISOString(),
		});
		expect(summary.summary.rules[0].usedToday).toBe(1);
	});

	it('answers the contacts asked for that had not failed, or were never claimed, and changes nothing for them', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const [queued, untouched] = await world.contacts(2);
		const [claimed] = await claim(service, ruleId, 'exec-held', 1);
		const held = claimed.conversation_id;
		const never = held === queued ? untouched : queued;
		expect(await requeue(ruleId, [held, never, held], 'leave', plus(1))).toEqual(
			[
				{ conversation_id: held, state_id: claimed.state_id, outcome: 'not_failed', stage: 'eligible', error_code: null, released_guard: false },
				{ conversation_id: never, state_id: null, outcome: 'not_found', stage: null, error_code: null, released_guard: false },
			].sort((a, b) => a.conversation_id.localeCompare(b.conversation_id)),
		);
		expect(await requeue(ruleId, null, 'leave', plus(1))).toEqual([]);
	});

	it('refuses a bad argument naming it', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await expect(requeue(ruleId, null, 'maybe', NOW)).rejects.toThrow(/p_uncertain must be leave or requeue \(got maybe\).*22023/);
		await expect(requeue(ruleId, [], 'leave', NOW)).rejects.toThrow(/p_conversation_ids must hold 1 to 1000 ids.*22023/);
		await expect(requeue('00000000-0000-4000-8000-000000000000', null, 'leave', NOW)).rejects.toThrow(/automation rule .* does not exist.*P0002/);
	});
});
